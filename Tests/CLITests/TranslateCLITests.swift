import Foundation
import Testing

/// All CLI suites in one serialized parent: each child process uses every core, so running them side by side only
/// slows each down (and makes the timeouts flaky on a loaded machine).
@Suite(.serialized) struct CLITests {}

extension CLITests {
    @Suite struct Translating {
        static let cat = "The cat sat on the mat because it was tired."

        struct Pair: Sendable, CustomTestStringConvertible {
            let arguments: [String]
            let input: String
            let expected: String
            var testDescription: String { arguments.joined(separator: " ") }
        }

        @Test(arguments: [
            Pair(arguments: ["--model", CLI.enDe], input: cat, expected: "Katze"),
            Pair(arguments: ["--src", "en", "--tgt", "de"], input: cat, expected: "Katze"),
            Pair(arguments: ["-s", "de", "-t", "en"], input: "Die Katze schläft.", expected: "cat"),
        ])
        func translatesOneLine(_ pair: Pair) throws {
            let result = try CLI.run(pair.arguments, input: pair.input + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines.count == 1, "output: \(result.output)")
            #expect(result.lines.first?.contains(pair.expected) == true, "output: \(result.output)")
            #expect(result.output.hasSuffix("\n"))
        }

        @Test func computeTypeInt8TranslatesAndUnknownTypesAreUsageErrors() throws {
            let int8 = try CLI.run(["--src", "en", "--tgt", "de", "--compute-type", "int8"], input: Self.cat + "\n")
            #expect(int8.status == 0, "stderr: \(int8.stderr)")
            #expect(int8.lines.count == 1 && int8.lines[0].contains("Katze"), "output: \(int8.output)")
            let bad = try CLI.run(["--src", "en", "--tgt", "de", "--compute-type", "int4"], input: "Hello.\n")
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("float32") && bad.stderr.contains("int8"), "stderr: \(bad.stderr)")
        }

        @Test func keepsBlankAndWhitespaceLines() throws {
            let result = try CLI.run(["--src", "en", "--tgt", "de"], input: "Hello.\n\n  \nGood morning.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let lines = result.lines
            try #require(lines.count == 4, "output: \(result.output)")
            #expect(!lines[0].isEmpty)
            #expect(lines[1] == "")
            #expect(lines[2] == "")
            #expect(lines[3].contains("Morgen"))
        }

        @Test func translatesFinalLineWithoutNewline() throws {
            let result = try CLI.run(["--src", "en", "--tgt", "de"], input: "Hello.\nThe cat sleeps.")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines.count == 2, "output: \(result.output)")
            #expect(result.lines.last?.contains("Katze") == true, "output: \(result.output)")
            #expect(result.output.hasSuffix("\n"))
        }

        @Test func acceptsCRLFInput() throws {
            let result = try CLI.run(["--src", "en", "--tgt", "de"], input: "Good morning.\r\nThe cat sleeps.\r\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines.count == 2, "output: \(result.output)")
            #expect(result.lines.first?.contains("Morgen") == true)
            #expect(result.lines.last?.contains("Katze") == true)
            #expect(!result.stdout.contains(0x0D), "a carriage return leaked into the output")
        }

        @Test func greedyAndBeamBothTranslate() throws {
            let greedy = try CLI.run(["--model", CLI.enDe, "--beam", "1"], input: Self.cat + "\n")
            let beam = try CLI.run(["--model", CLI.enDe], input: Self.cat + "\n")
            for result in [greedy, beam] {
                #expect(result.status == 0, "stderr: \(result.stderr)")
                #expect(result.lines.count == 1)
                #expect(result.lines.first?.contains("Katze") == true, "output: \(result.output)")
            }
        }

        @Test func nbestPrintsSortedScoredLines() throws {
            let result = try CLI.run(["--model", CLI.enDe, "--nbest", "3", "--scores"], input: "The cat sleeps.\nGood morning.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let lines = result.lines
            try #require(lines.count == 6, "output: \(result.output)")
            for group in [lines[0..<3], lines[3..<6]] {
                let scored = group.compactMap(splitScored)
                try #require(scored.count == 3, "not TEXT ||| SCORE: \(group)")
                #expect(scored.allSatisfy { !$0.text.isEmpty && $0.score < 0 })
                #expect(scored.map(\.score) == scored.map(\.score).sorted(by: >), "scores not descending: \(group)")
            }
            #expect(lines[0].contains("Katze"))
            #expect(lines[3].contains("Morgen"))
        }

        /// Readers of n-best output group it by counting N lines per input (there is no sentence index), so an empty
        /// input line must give N lines too.
        @Test(arguments: ["text", "tsv"])
        func nbestGivesNLinesForEmptyInput(format: String) throws {
            let result = try CLI.run(["--model", CLI.enDe, "--nbest", "2", "--format", format], input: "The cat sleeps.\n\nGood morning.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let lines = result.lines
            try #require(lines.count == 6, "expected 2 lines per input line, got: \(lines)")
            #expect(lines[0].contains("Katze") && lines[1].contains("Katze"))
            #expect(lines[4].contains("Morgen") && lines[5].contains("Morgen"))
        }

        @Test func nbestAboveBeamIsUsageError() throws {
            let result = try CLI.run(["--model", CLI.enDe, "--nbest", "3", "--beam", "2"], input: "Hello.\n")
            #expect(result.status == 64)
            #expect(result.stderr.contains("beam"), "stderr: \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }

        @Test func textScores() throws {
            let result = try CLI.run(["--model", CLI.enDe, "--scores"], input: "The cat sleeps.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            try #require(result.lines.count == 1, "output: \(result.output)")
            let line = result.lines[0]
            #expect(line.wholeMatch(of: /.+ \|\|\| -\d+\.\d+/) != nil, "line: \(line)")
            let scored = try #require(splitScored(line))
            #expect(scored.text.contains("Katze"))
            #expect(scored.score < 0 && scored.score > -1, "score \(scored.score) of an easy sentence")
        }

        @Test func tsvFormat() throws {
            let source = "The cat sleeps."
            let plain = try CLI.run(["--model", CLI.enDe, "--format", "tsv"], input: source + "\n")
            #expect(plain.status == 0, "stderr: \(plain.stderr)")
            try #require(plain.lines.count == 1, "output: \(plain.output)")
            let columns = plain.lines[0].split(separator: "\t", omittingEmptySubsequences: false)
            try #require(columns.count == 2, "line: \(plain.lines[0])")
            #expect(columns[0] == source)
            #expect(columns[1].contains("Katze"))

            let scored = try CLI.run(["--model", CLI.enDe, "--format", "tsv", "--scores"], input: source + "\n")
            #expect(scored.status == 0, "stderr: \(scored.stderr)")
            try #require(scored.lines.count == 1, "output: \(scored.output)")
            let scoredColumns = scored.lines[0].split(separator: "\t", omittingEmptySubsequences: false)
            try #require(scoredColumns.count == 3, "line: \(scored.lines[0])")
            #expect(scoredColumns[0] == source)
            #expect(scoredColumns[1] == columns[1])
            let score = try #require(Double(scoredColumns[2]), "not a number: \(scoredColumns[2])")
            #expect(score < 0)
        }

        @Test func tsvFieldsHoldNoTabsOrLineBreaks() throws {
            // A carriage return or form feed inside a line is part of the source; in TSV it would end or break the
            // record, so every such character becomes a space.
            let result = try CLI.run(["--model", CLI.enDe, "--format", "tsv"], input: "The cat\tsleeps.\rGood\u{0C}night.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let line = try #require(result.output.split(separator: "\n", omittingEmptySubsequences: false).first)
            #expect(!line.contains("\r") && !line.contains("\u{0C}"), "line: \(line.debugDescription)")
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            #expect(columns.count == 2, "line: \(line.debugDescription)")
            #expect(columns.first == "The cat sleeps. Good night.")
        }

        @Test func jsonFormat() throws {
            let source = "The cat sleeps."
            let result = try CLI.run(["--model", CLI.enDe, "--format", "json"], input: source + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            try #require(result.lines.count == 1, "output: \(result.output)")
            let object = try jsonObject(result.lines[0])
            #expect(object["source"] as? String == source)
            let translation = try #require(object["translation"] as? String)
            #expect(translation.contains("Katze"))
            let tokens = try #require(object["tokens"] as? [String], "tokens: \(String(describing: object["tokens"]))")
            #expect(!tokens.isEmpty)
            let score = try #require(object["score"] as? Double, "score: \(String(describing: object["score"]))")
            #expect(score < 0)
            #expect(object["nbest"] == nil)
        }

        @Test func jsonNbest() throws {
            let result = try CLI.run(["--model", CLI.enDe, "--format", "json", "--nbest", "2"], input: "The cat sleeps.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            try #require(result.lines.count == 1, "output: \(result.output)")
            let object = try jsonObject(result.lines[0])
            let nbest = try #require(object["nbest"] as? [[String: Any]])
            try #require(nbest.count == 2)
            #expect(nbest[0]["translation"] as? String == object["translation"] as? String)
            let scores = nbest.compactMap { $0["score"] as? Double }
            #expect(scores.count == 2)
            #expect(scores == scores.sorted(by: >))
            #expect(nbest.allSatisfy { $0["tokens"] is [String] })
        }

        @Test func maxLengthShortensOutput() throws {
            let result = try CLI.run(["--model", CLI.enDe, "--format", "json", "--max-length", "5"], input: Self.cat + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            try #require(result.lines.count == 1, "output: \(result.output)")
            let tokens = try #require(try jsonObject(result.lines[0])["tokens"] as? [String])
            #expect(!tokens.isEmpty)
            #expect(tokens.count <= 4, "the limit counts the start token: \(tokens)")
        }

        @Test func maxLengthBeyondModelIsUsageError() throws {
            let result = try CLI.run(["--model", CLI.enDe, "--max-length", "1000"], input: "Hello.\n")
            #expect(result.status == 64)
            #expect(result.stderr.contains("256"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("position"), "stderr: \(result.stderr)")
        }

        @Test func longLinesAreTruncatedWithWarning() throws {
            let long = Array(repeating: "The cat sat on the mat because it was tired.", count: 40).joined(separator: " ")
            #expect(long.split(separator: " ").count == 400)
            // Two equal long lines: each warning must name its own line. (Split into sentences they would fit.)
            let result = try CLI.run(["--model", CLI.enDe, "--beam", "1", "--split", "none"], input: "Hello.\n\(long)\n\(long)\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let lines = result.lines
            try #require(lines.count == 3, "output: \(result.output)")
            #expect(!lines[1].isEmpty && lines[1] == lines[2])
            // (The 256-token sources also give translations that reach the 256-token limit: warned about separately.)
            let warnings = result.stderr.split(separator: "\n").filter { $0.contains("is longer than") }
            #expect(warnings.count == 2, "stderr: \(result.stderr)")
            #expect(warnings.allSatisfy { $0.contains("warning") && $0.contains("256") }, "stderr: \(result.stderr)")
            #expect(warnings.first?.contains("line 2 ") == true, "stderr: \(result.stderr)")
            #expect(warnings.last?.contains("line 3 ") == true, "stderr: \(result.stderr)")
        }

        @Test func quietSilencesTheLongLineWarning() throws {
            let long = Array(repeating: "The cat sat on the mat because it was tired.", count: 40).joined(separator: " ")
            let result = try CLI.run(["--model", CLI.enDe, "--beam", "1", "--split", "none", "--quiet"], input: long + "\n")
            #expect(result.status == 0)
            #expect(result.lines.count == 1)
            #expect(result.stderr.isEmpty, "stderr: \(result.stderr)")
        }

        /// Test names show the input escaped, so control characters do not garble the test log.
        struct Odd: Sendable, CustomTestStringConvertible {
            let text: String
            var testDescription: String { text.debugDescription }
        }

        @Test(arguments: ["Hello 😀 world\u{7}", "tab\tinside", "nul\u{0}byte", "\u{FEFF}Hello.", "lone\rreturn", "😀😀😀"].map(Odd.init))
        func controlCharactersAndEmoji(_ input: Odd) throws {
            let result = try CLI.run(["--model", CLI.enDe], input: input.text + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines.count == 1, "output: \(result.output)")
        }
    }
}
