import Foundation
import Testing

/// Issue 17 items 12, 13 (n-best with sentence splitting) and 14, through the `xlate` process.
extension CLITests {
    @Suite struct SplitRound2 {
        @Test func emojiAfterASentenceIsCopiedNotTranslated() throws {
            let result = try CLI.run(["--model", CLI.enDe], input: "I love this place! 😍🎉\n😍🎉\n  ★ 42 !!\n🌞 Good morning\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let sentences = try CLI.run(["--model", CLI.enDe], input: "I love this place!\nGood morning\n")
            try #require(result.lines.count == 4 && sentences.lines.count == 2, "output: \(result.output)")
            #expect(result.lines[0] == sentences.lines[0] + " 😍🎉")
            #expect(result.lines[1] == "😍🎉")
            #expect(result.lines[2] == "★ 42 !!")
            // Emoji at the start (or end) of a sentence are set apart and copied too.
            #expect(result.lines[3] == "🌞 " + sentences.lines[1])
        }

        @Test func nbestOfASplitLineIsALineNBestList() throws {
            let line = "How are you? I am fine. See you tomorrow.\n"
            let best = try CLI.run(["--model", CLI.enDe, "--beam", "4"], input: line)
            let result = try CLI.run(["--model", CLI.enDe, "--beam", "4", "--nbest", "3"], input: line + "Good night.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            try #require(result.lines.count == 6, "output: \(result.output)")
            let texts = result.lines.map { String($0.split(separator: " ||| ")[0]) }
            #expect(texts[0] == best.lines.first)
            #expect(Set(texts[0..<3]).count == 3)
            // The runner-up changes one sentence only (gluing the second best of each sentence changed all three).
            let sentences = texts[0..<2].map { $0.split(separator: "? ", maxSplits: 1).flatMap { $0.split(separator: ". ") } }
            #expect(zip(sentences[0], sentences[1]).filter { $0 != $1 }.count == 1, "\(texts)")
        }

        @Test(arguments: [
            String(repeating: "the quick brown fox jumps over the lazy dog ", count: 500),
            String(repeating: "abcdefghij", count: 2_000),
        ])
        func longLinesAreTranslatedInPiecesInBoundedTime(_ line: String) throws {
            let start = Date()
            let result = try CLI.run(["--model", CLI.enDe, "--beam", "1", "--max-length", "3"], input: line + "\nok\n", timeout: 60)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines.count == 2)
            #expect(!result.stderr.contains("not translated"), "\(result.stderr)")
            #expect(Date().timeIntervalSince(start) < 60)
        }
    }
}
