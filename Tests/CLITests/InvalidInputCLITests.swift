import Foundation
import Testing

/// Inputs that cannot be read, and lines that are not UTF-8.
@Suite("Unreadable input and invalid UTF-8")
struct InvalidInputCLITests {
    @Test func aFolderAsInputIsBadInput() throws {
        try withTemporaryDirectory { directory in
            let result = try CLI.run(["--model", CLI.enDe, "-i", directory.path])
            #expect(result.status == 4)
            #expect(result.stderr == "xlate: cannot read \(directory.path): Is a directory\n")
        }
    }

    @Test func aClosedStdinIsBadInput() throws {
        let binary = try #require(CLI.binary, "build xlate first")
        let result = try CLI.run(
            ["-c", "\"$0\" \"$@\" <&-", binary.path, "--model", CLI.enDe], executable: URL(fileURLWithPath: "/bin/sh"))
        #expect(result.status == 4)
        #expect(result.stderr == "xlate: cannot read stdin: it is closed\n")
    }

    /// Seven lines with invalid bytes among good ones: each is translated with U+FFFD in place of its bad bytes, so
    /// that output line k is still the translation of input line k; the first five are named, then a count.
    @Test func invalidLinesAreRepairedNamedAndCounted() throws {
        var input = Data("The cat sleeps.\n".utf8)
        for _ in 0..<7 { input.append(contentsOf: [0x48, 0xFF, 0xFE, 0x0A]) }
        input.append(Data("Good morning.\n".utf8))
        let result = try CLI.run(["--model", CLI.enDe], stdin: input)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.lines.count == 9, "output: \(result.output)")
        #expect(result.lines.first?.contains("Katze") == true)
        #expect(result.lines.last?.contains("Morgen") == true)
        for line in 2...6 { #expect(result.stderr.contains("warning: line \(line): invalid UTF-8 replaced by U+FFFD"), "\(result.stderr)") }
        #expect(!result.stderr.contains("line 7:"))
        #expect(result.stderr.contains("warning: 7 lines in all had invalid UTF-8 (the first 5 are named above)"), "\(result.stderr)")
    }

    @Test func quietSilencesTheWarnings() throws {
        let result = try CLI.run(["--model", CLI.enDe, "--quiet"], stdin: Data([0x48, 0xFF, 0x0A]))
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        #expect(result.lines.count == 1)
    }

    @Test func strictInputStopsAtTheFirstInvalidLine() throws {
        var input = Data("The cat sleeps.\n".utf8)
        input.append(contentsOf: [0x48, 0xFF, 0xFE, 0x0A])
        input.append(Data("Good morning.\n".utf8))
        let result = try CLI.run(["--model", CLI.enDe, "--strict-input"], stdin: input)
        #expect(result.status == 4)
        #expect(result.stderr.contains("stdin, line 2: invalid UTF-8"), "\(result.stderr)")
        #expect(result.lines.count == 1)
    }
}
