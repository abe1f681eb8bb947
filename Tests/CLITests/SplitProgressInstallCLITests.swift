import Foundation
import Testing

@testable import xlate

extension CLITests {
    @Suite struct Splitting {
        @Test func multiSentenceLineIsTranslatedSentenceBySentence() throws {
            let joined = try CLI.run(["--model", CLI.enDe, "--beam", "1"], input: "How are you? I am fine.\n")
            let separate = try CLI.run(["--model", CLI.enDe, "--beam", "1"], input: "How are you?\nI am fine.\n")
            #expect(joined.status == 0 && separate.status == 0, "stderr: \(joined.stderr) \(separate.stderr)")
            #expect(joined.lines.count == 1)
            #expect(joined.lines == [separate.lines.joined(separator: " ")], "joined: \(joined.output)")
        }

        @Test func overlongLineIsCutWithSplitAndTruncatedWithout() throws {
            let line = Array(repeating: "The cat sat on the mat.", count: 60).joined(separator: " ") + "\n"
            let split = try CLI.run(["--model", CLI.enDe, "--beam", "1", "--max-length", "6"], input: line)
            #expect(split.status == 0)
            #expect(split.lines.count == 1)
            // Nothing is truncated on the source side; the 6-token limit cuts the sentences' translations.
            #expect(!split.stderr.contains("longer than"), "stderr: \(split.stderr)")
            #expect(split.stderr.contains("line 1: the translation reached the length limit of 6 tokens"), "stderr: \(split.stderr)")
            let whole = try CLI.run(["--model", CLI.enDe, "--beam", "1", "--max-length", "6", "--split", "none"], input: line)
            #expect(whole.status == 0)
            #expect(whole.lines.count == 1)
            #expect(whole.stderr.contains("line 1 is longer than"), "stderr: \(whole.stderr)")
        }

        @Test func aTranslationCutByTheLengthLimitIsWarnedAbout() throws {
            // "Good morning." → "Guten Morgen." is 5 tokens with </s>: within 7 positions (start token included).
            let input = "Good morning.\nThe cat sat on the mat because it was tired.\n"
            let cut = try CLI.run(["--model", CLI.enDe, "--max-length", "7"], input: input)
            #expect(cut.status == 0)
            #expect(cut.lines.count == 2)
            #expect(cut.lines.first == "Guten Morgen.")
            #expect(
                cut.stderr == "xlate: warning: line 2: the translation reached the length limit of 7 tokens and may be cut; raise --max-length (the model allows up to 256)\n",
                "stderr: \(cut.stderr)")
            let quiet = try CLI.run(["--model", CLI.enDe, "--max-length", "7", "--quiet"], input: input)
            #expect(quiet.stderr.isEmpty, "stderr: \(quiet.stderr)")
            let free = try CLI.run(["--model", CLI.enDe], input: input)
            #expect(free.stderr.isEmpty, "stderr: \(free.stderr)")
            // Many cut lines: the first five are named, then one count.
            let many = try CLI.run(["--model", CLI.enDe, "--beam", "1", "--max-length", "3"], input: String(repeating: "The cat sleeps.\n", count: 12))
            let warnings = many.stderr.split(separator: "\n")
            #expect(warnings.count == 6, "stderr: \(many.stderr)")
            #expect(warnings.last == "xlate: warning: 12 lines in all reached the length limit of 3 tokens (the first 5 are named above)")
        }

        @Test func unknownSplitModeIsUsageError() throws {
            let result = try CLI.run(["--model", CLI.enDe, "--split", "paragraph"], input: "Hello.\n")
            #expect(result.status == 64)
            #expect(result.stderr.contains("paragraph"), "stderr: \(result.stderr)")
        }
    }

    @Suite struct ProgressDisplay {
        /// Lines enough for several redraws of the progress line, translated fast (greedy, short).
        static let input = String(repeating: "The cat sleeps.\nGood morning.\n", count: 64)

        @Test func nothingOnStderrWhenItIsNotATerminal() throws {
            try withTemporaryDirectory { directory in
                let file = directory.appendingPathComponent("in.en")
                try Self.input.write(to: file, atomically: true, encoding: .utf8)
                for arguments in [["-i", file.path], []] {
                    let result = try CLI.run(
                        ["--model", CLI.enDe, "--beam", "1"] + arguments,
                        stdin: arguments.isEmpty ? Data(Self.input.utf8) : nil)
                    #expect(result.status == 0)
                    #expect(result.lines.count == 128)
                    #expect(result.stderr.isEmpty, "stderr: \(result.stderr)")
                }
            }
        }

        @Test(arguments: [false, true])
        func shownOnATerminalUnlessQuiet(quiet: Bool) throws {
            try withTemporaryDirectory { directory in
                let file = directory.appendingPathComponent("in.en")
                try Self.input.write(to: file, atomically: true, encoding: .utf8)
                let terminal = try Terminal()
                let result = try CLI.run(
                    ["--model", CLI.enDe, "--beam", "1", "--batch-size", "8", "-i", file.path]
                        + (quiet ? ["--quiet"] : []),
                    stderr: terminal.child)
                let shown = terminal.readAll()
                #expect(result.status == 0)
                #expect(result.lines.count == 128)
                if quiet {
                    #expect(shown.isEmpty, "terminal: \(shown.debugDescription)")
                } else {
                    #expect(shown.contains("segments"), "terminal: \(shown.debugDescription)")
                    #expect(shown.contains("%"), "terminal: \(shown.debugDescription)")
                    #expect(shown.hasSuffix("\r\u{1B}[K"), "the line is not erased at the end: \(shown.debugDescription)")
                }
            }
        }

        @Test func lineFormat() {
            #expect(ProgressBar.line(segments: 120, seconds: 10, fraction: nil, width: 80) == "120 segments · 12.0/s")
            #expect(ProgressBar.line(segments: 0, seconds: 0, fraction: nil, width: 80) == "0 segments")
            let line = ProgressBar.line(segments: 250, seconds: 2, fraction: 0.25, width: 80)
            #expect(line == " 25% [" + String(repeating: "#", count: 7) + String(repeating: "·", count: 23) + "] 250 segments · 125/s · ETA 0:06")
            #expect(line.count < 80)
            // Narrow terminals drop the bar, then cut the text; the line never fills the width (it would wrap).
            #expect(ProgressBar.line(segments: 250, seconds: 2, fraction: 0.25, width: 45) == " 25% 250 segments · 125/s · ETA 0:06")
            #expect(ProgressBar.line(segments: 250, seconds: 2, fraction: 0.25, width: 12).count == 11)
            #expect(ProgressBar.duration(83) == "1:23")
            #expect(ProgressBar.duration(7425) == "2:03:45")
        }
    }

    @Suite struct Installed {
        /// `make install`'s layout (PREFIX/bin/xlate, PREFIX/share/xlate/models/*) run from `/`, with no
        /// XLATE_MODELS and no ~/.cache models: `--src/--tgt` must find the installed models.
        @Test func installedBinaryFindsItsModelsFromAnyDirectory() throws {
            let built = try #require(CLI.binary, "xlate not built")
            try withTemporaryDirectory { prefix in
                let bin = prefix.appendingPathComponent("bin")
                let models = prefix.appendingPathComponent("share/xlate/models")
                try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
                try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
                let installed = bin.appendingPathComponent("xlate")
                try FileManager.default.copyItem(at: built, to: installed)
                for name in ["xlate-en-de", "xlate-de-en"] {  // linked, not copied: the layout is what is tested
                    try FileManager.default.createSymbolicLink(
                        at: models.appendingPathComponent(name), withDestinationURL: CLI.repoRoot.appendingPathComponent("Models/\(name)"))
                }
                let root = URL(fileURLWithPath: "/")
                let listed = try CLI.run(["models"], executable: installed, directory: root)
                #expect(listed.status == 0)
                #expect(listed.lines.contains { $0.hasPrefix("en-de\t") && $0.contains("share/xlate/models/xlate-en-de") }, "\(listed.output)")
                let result = try CLI.run(["--src", "en", "--tgt", "de"], stdin: Data("Hello.\n".utf8), executable: installed, directory: root)
                #expect(result.status == 0, "stderr: \(result.stderr)")
                #expect(result.lines.count == 1 && !result.lines[0].isEmpty, "output: \(result.output)")
            }
        }
    }
}

/// A pseudo-terminal: the child side is given to a process as its stderr, the parent side reads what it wrote.
final class Terminal {
    let child: FileHandle
    private let parent: Int32

    init() throws {
        // glibc's pseudo-terminal calls are not in Swift's Glibc module; look them up.
        typealias Call = @convention(c) (Int32) -> Int32
        typealias Name = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?
        func symbol<T>(_ name: String, _: T.Type) throws -> T {
            guard let address = dlsym(nil, name) else { throw CLIError(description: "no \(name) in libc") }
            return unsafeBitCast(address, to: T.self)
        }
        let (openPT, grantPT, unlockPT, ptsName) = (
            try symbol("posix_openpt", Call.self), try symbol("grantpt", Call.self), try symbol("unlockpt", Call.self),
            try symbol("ptsname", Name.self))
        parent = openPT(O_RDWR | O_NOCTTY)
        guard parent >= 0, grantPT(parent) == 0, unlockPT(parent) == 0, let name = ptsName(parent) else {
            throw CLIError(description: "no pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        let descriptor = open(name, O_RDWR | O_NOCTTY)
        guard descriptor >= 0 else { throw CLIError(description: "cannot open \(String(cString: name))") }
        child = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        _ = fcntl(parent, F_SETFL, fcntl(parent, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(parent) }

    /// Everything written so far.
    func readAll() -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(parent, &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
