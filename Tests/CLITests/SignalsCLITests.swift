import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM / SIGINT during the last chunk and while waiting for input; a terminal as stdin.
@Suite("Signals and typed input")
struct SignalsCLITests {
    /// One chunk of 64 lines in batches of 8 on one thread. The lines get shorter every 8 lines, so that the batches
    /// (longest first) run in input order. A terminal as stderr shows the progress line; the signal is sent once it
    /// says that a batch is done, and must stop the chunk between batches, not after the whole of it.
    @Test(arguments: [Int32(2), Int32(15)])
    func signalDuringTheOnlyChunkStopsBetweenBatches(_ number: Int32) throws {
        try withTemporaryDirectory { directory in
            let input = directory.appendingPathComponent("in.txt")
            let lines = (0..<64).map { k in
                "Line \(k): the cat sat on the mat" + String(repeating: " and the dog slept", count: 8 - k / 8) + "."
            }
            try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
            let terminal = try PseudoTerminal()
            let child = try LiveXlate(
                ["--model", CLI.enDe, "--beam", "1", "--threads", "1", "--batch-size", "8", "-i", input.path],
                stderr: terminal.follower)
            let progress = try terminal.read(until: { $0.range(of: "[1-9][0-9]* segments", options: .regularExpression) != nil }, timeout: 60)
            kill(child.process.processIdentifier, number)
            let result = try child.finish(timeout: 20)
            let messages = progress + (try terminal.read(until: { $0.contains("interrupted") }, timeout: 5))
            #expect(result.status == 128 + number, "stderr: \(messages)")
            let written = result.lines
            #expect(!written.isEmpty, "a batch was done before the signal")
            #expect(written.count < lines.count, "the whole chunk was translated after the signal")
            #expect(result.output.isEmpty || result.output.hasSuffix("\n"), "a partial line was written")
            #expect(messages.contains("interrupted: the first \(written.count) input lines"), "\(messages)")
            // In input order: output line k is the translation of input line k.
            for (k, line) in written.enumerated() { #expect(line.contains("\(k)"), "line \(k): \(line)") }
        }
    }

    /// A line that arrived through a pipe is translated without waiting for more input; a signal while xlate waits
    /// for the next line ends it at once, with the line already written.
    @Test func signalWhileWaitingForInputStopsAtOnce() throws {
        let child = try LiveXlate(["--model", CLI.enDe])
        try child.type("The cat sleeps.\n")
        let first = try child.readLine(timeout: 30)
        #expect(first.contains("Katze"), "\(first)")
        try child.type("Good")  // an unfinished line
        Thread.sleep(forTimeInterval: 0.2)
        kill(child.process.processIdentifier, SIGTERM)
        let result = try child.finish(timeout: 10)  // stdin is still open: only the signal can end it
        #expect(result.status == 143, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("interrupted: the first 1 input lines"), "\(result.stderr)")
        #expect(result.stderr.contains("unfinished line"), "\(result.stderr)")
    }

    /// On a terminal each line is translated as soon as it is entered, not at the end of input.
    @Test func typedLinesAreTranslatedAsTheyAreEntered() throws {
        let terminal = try PseudoTerminal()
        let child = try LiveXlate(["--model", CLI.enDe], stdin: terminal.follower)
        try terminal.type("The cat sleeps.\n")
        #expect(try child.readLine(timeout: 30).contains("Katze"))
        try terminal.type("Good morning.\n")
        #expect(try child.readLine(timeout: 30).contains("Morgen"))
        try terminal.type("\u{04}")  // Ctrl-D: end of input
        let result = try child.finish(timeout: 10)
        #expect(result.status == 0, "stderr: \(result.stderr)")
    }
}

/// A running `xlate` whose stdin the test writes (a pipe unless given) and whose stdout it reads as it comes.
final class LiveXlate {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors: URL
    private var received = Data()

    /// `stdin`, `stderr`: instead of a pipe the test writes, and of a file `finish` reads.
    init(_ arguments: [String], stdin: FileHandle? = nil, stderr: FileHandle? = nil) throws {
        guard let binary = CLI.binary else { throw CLIError(description: "build xlate first: swift build -c release --product xlate") }
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = CLI.repoRoot
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        process.standardInput = stdin ?? input
        process.standardOutput = output
        errors = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-live-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: errors.path, contents: nil) else {
            throw CLIError(description: "cannot create \(errors.path)")
        }
        process.standardError = try stderr ?? FileHandle(forWritingTo: errors)
        signal(SIGPIPE, SIG_IGN)
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: errors)  // cleanup only
    }

    /// Writes to the child's stdin pipe.
    func type(_ text: String) throws {
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    /// The next line of stdout (without "\n"); fails after `timeout` seconds without one.
    func readLine(timeout: TimeInterval) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        let descriptor = output.fileHandleForReading.fileDescriptor
        while true {
            if let newline = received.firstIndex(of: 0x0A) {
                defer { received.removeSubrange(received.startIndex...newline) }
                return String(decoding: received[received.startIndex..<newline], as: UTF8.self)
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw CLIError(description: "no output line within \(Int(timeout)) s") }
            var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, Int32(left * 1000)) > 0 else { continue }
            var block = [UInt8](repeating: 0, count: 4096)
            let count = read(descriptor, &block, block.count)
            guard count > 0 else { throw CLIError(description: "stdout ended without a line") }
            received.append(contentsOf: block[0..<count])
        }
    }

    /// Waits for the child to exit (killing it after `timeout` seconds) and returns the rest of its output.
    func finish(timeout: TimeInterval) throws -> CLIResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw CLIError(description: "xlate did not exit within \(Int(timeout)) s; killed")
        }
        process.waitUntilExit()
        received.append(output.fileHandleForReading.readDataToEndOfFile())
        return CLIResult(
            status: process.terminationStatus, stdout: received,
            stderr: String(decoding: try Data(contentsOf: errors), as: UTF8.self))
    }
}

/// A pseudo-terminal: the child reads `follower` as its terminal; the test types on the leader side.
final class PseudoTerminal {
    private let leader: Int32
    let follower: FileHandle

    init() throws {
        // openpty(3): in glibc's libc since 2.34, but not in Swift's Glibc module (it is declared in <pty.h>).
        typealias OpenPTY = @convention(c) (
            UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<CChar>?, UnsafeRawPointer?,
            UnsafeRawPointer?
        ) -> Int32
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "openpty") else {
            throw CLIError(description: "openpty not found in the C library")
        }
        var (leader, descriptor): (Int32, Int32) = (-1, -1)
        guard unsafeBitCast(symbol, to: OpenPTY.self)(&leader, &descriptor, nil, nil, nil) == 0 else {
            throw CLIError(description: "no pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        self.leader = leader
        follower = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        // Echoed input would fill the leader's buffer, which nobody reads.
        var settings = termios()
        tcgetattr(descriptor, &settings)
        settings.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(descriptor, TCSANOW, &settings)
    }

    deinit { close(leader) }

    /// What the child wrote to the terminal, read until `done` holds for all of it; fails after `timeout` seconds.
    func read(until done: (String) -> Bool, timeout: TimeInterval) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var text = Data()
        while !done(String(decoding: text, as: UTF8.self)) {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else {
                throw CLIError(description: "not seen on the terminal within \(Int(timeout)) s: \(String(decoding: text, as: UTF8.self))")
            }
            var ready = pollfd(fd: leader, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, Int32(left * 1000)) > 0 else { continue }
            var block = [UInt8](repeating: 0, count: 4096)
            let count = Glibc.read(leader, &block, block.count)
            guard count > 0 else { throw CLIError(description: "the terminal closed") }
            text.append(contentsOf: block[0..<count])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Types `text` (a line is delivered at "\n"; "\u{04}" at the start of a line is end of input).
    func type(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard write(leader, bytes, bytes.count) == bytes.count else {
            throw CLIError(description: "cannot type on the terminal: \(String(cString: strerror(errno)))")
        }
    }
}
