import Foundation
import Testing

/// `-o PATH` with special files, input = output, and failing writes.
@Suite("Output files and write errors")
struct OutputFilesCLITests {
    static let input = "The cat sleeps.\nGood morning.\n"

    static func fileType(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
    }

    /// Runs `xlate` through /bin/sh with `redirections` (e.g. ">&-") applied to it.
    static func runInShell(_ arguments: [String], redirections: String, stdin: Data? = nil) throws -> CLIResult {
        let binary = try #require(CLI.binary, "build xlate first")
        return try CLI.run(
            ["-c", "\"$0\" \"$@\" \(redirections)", binary.path] + arguments, stdin: stdin,
            executable: URL(fileURLWithPath: "/bin/sh"))
    }

    @Test func anExistingFileKeepsItsMode() throws {
        try withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("secret.de").path
            try #require(FileManager.default.createFile(atPath: output, contents: Data("old\n".utf8)))
            try #require(chmod(output, 0o600) == 0)
            let result = try CLI.run(["--model", CLI.enDe, "-o", output], input: Self.input)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            var info = stat()
            #expect(stat(output, &info) == 0 && info.st_mode & 0o7777 == 0o600, "mode \(String(info.st_mode & 0o7777, radix: 8))")
            #expect(try String(contentsOfFile: output, encoding: .utf8).contains("Katze"))
            // The temporary file it was written to is gone.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["secret.de"])
        }
    }

    @Test func aSymlinkStaysALinkAndItsTargetGetsTheTranslation() throws {
        try withTemporaryDirectory { directory in
            let target = directory.appendingPathComponent("real.de").path
            let link = directory.appendingPathComponent("link.de").path
            try "old\n".write(toFile: target, atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.de")
            let result = try CLI.run(["--model", CLI.enDe, "-o", link], input: Self.input)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(Self.fileType(link) == S_IFLNK)
            #expect(try String(contentsOfFile: target, encoding: .utf8).contains("Katze"))
        }
    }

    /// A symlink to /dev/null: written through (the device is not replaced, the link stays).
    @Test func aDeviceIsWrittenThrough() throws {
        try withTemporaryDirectory { directory in
            let link = directory.appendingPathComponent("null").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/dev/null")
            let result = try CLI.run(["--model", CLI.enDe, "-o", link], input: Self.input)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(Self.fileType(link) == S_IFLNK)
            #expect(Self.fileType("/dev/null") == S_IFCHR)
        }
    }

    @Test func aFIFOIsWrittenThrough() throws {
        try withTemporaryDirectory { directory in
            let fifo = directory.appendingPathComponent("fifo").path
            try #require(mkfifo(fifo, 0o600) == 0)
            // A reader that is already there, so that xlate's open does not wait; the pipe keeps what it is sent.
            let reader = open(fifo, O_RDONLY | O_NONBLOCK)
            try #require(reader >= 0)
            defer { close(reader) }
            let result = try CLI.run(["--model", CLI.enDe, "-o", fifo], input: Self.input)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(Self.fileType(fifo) == S_IFIFO)
            var bytes = [UInt8](repeating: 0, count: 4096)
            let count = read(reader, &bytes, bytes.count)
            #expect(count > 0 && String(decoding: bytes[0..<max(count, 0)], as: UTF8.self).contains("Katze"))
        }
    }

    @Test func aMissingFolderIsAWriteError() throws {
        try withTemporaryDirectory { directory in
            let output = directory.appendingPathComponent("missing/out.de").path
            let result = try CLI.run(["--model", CLI.enDe, "-o", output], input: Self.input)
            #expect(result.status == 1)
            #expect(result.stderr == "xlate: cannot write \(output): no folder \(directory.appendingPathComponent("missing").path)\n")
        }
    }

    @Test(.enabled(if: geteuid() != 0, "root may write anywhere"))
    func aFolderWithoutPermissionIsAWriteError() throws {
        try withTemporaryDirectory { directory in
            let locked = directory.appendingPathComponent("locked")
            try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: false)
            try #require(chmod(locked.path, 0o500) == 0)
            defer { chmod(locked.path, 0o700) }
            let output = locked.appendingPathComponent("out.de").path
            let result = try CLI.run(["--model", CLI.enDe, "-o", output], input: Self.input)
            #expect(result.status == 1)
            #expect(result.stderr.contains("cannot write \(output): Permission denied"), "\(result.stderr)")
        }
    }

    /// However the output names the input (same path, hard link, symlink, stdin redirected from it), nothing is
    /// loaded or written: a usage error, the file unchanged.
    @Test(arguments: ["same", "hard link", "symlink", "stdin"])
    func inputThatIsTheOutputIsRefused(_ naming: String) throws {
        try withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("s.txt").path
            try Self.input.write(toFile: file, atomically: false, encoding: .utf8)
            var output = file
            if naming == "hard link" {
                output = directory.appendingPathComponent("hard.txt").path
                try #require(link(file, output) == 0)
            } else if naming == "symlink" {
                output = directory.appendingPathComponent("sym.txt").path
                try FileManager.default.createSymbolicLink(atPath: output, withDestinationPath: file)
            }
            let result = naming == "stdin"
                ? try Self.runInShell(["--model", CLI.enDe, "-o", output], redirections: "< '\(file)'")
                : try CLI.run(["--model", CLI.enDe, "-i", file, "-o", output])
            #expect(result.status == 64, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("is the output") && result.stderr.contains(output), "\(result.stderr)")
            #expect(try String(contentsOfFile: file, encoding: .utf8) == Self.input)
        }
    }

    @Test func aFullDeviceIsAOneLineErrorNamingStdout() throws {
        let result = try Self.runInShell(["--model", CLI.enDe], redirections: "> /dev/full", stdin: Data(Self.input.utf8))
        #expect(result.status == 1)
        #expect(result.stderr == "xlate: cannot write stdout: No space left on device\n")
    }

    @Test func aClosedStdoutIsAOneLineError() throws {
        let result = try Self.runInShell(["--model", CLI.enDe], redirections: ">&-", stdin: Data(Self.input.utf8))
        #expect(result.status == 1)
        #expect(result.stderr == "xlate: cannot write stdout: it is closed\n")
    }

    /// `xlate | head -1`: the reader goes away; xlate ends quietly with 128 + SIGPIPE, as `cat` would.
    @Test func aReaderThatGoesAwayEndsXlateQuietly() throws {
        let blank = Data(repeating: 0x0A, count: 200_000)  // blank lines: not translated, so fast
        // The echo runs inside the group to report xlate's own status (sh reports a pipeline's last command's).
        let grouped = try CLI.run(
            ["-c", "{ \"$0\" \"$@\"; echo \"status $?\" >&2; } | head -1 >/dev/null", try #require(CLI.binary).path,
             "--model", CLI.enDe],
            stdin: blank, executable: URL(fileURLWithPath: "/bin/sh"))
        #expect(grouped.stderr == "status 141\n")
    }
}
