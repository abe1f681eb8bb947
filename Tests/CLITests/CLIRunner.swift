import Foundation
import Testing

/// What one run of the `xlate` binary produced.
struct CLIResult {
    let status: Int32
    let stdout: Data
    let stderr: String

    var output: String { String(decoding: stdout, as: UTF8.self) }

    /// Output lines split on "\n" only (a Swift `Character` split would keep "\r\n" together).
    var lines: [String] {
        if stdout.isEmpty { return [] }
        var pieces = stdout.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if stdout.last == 0x0A { pieces.removeLast() }
        return pieces
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
}

/// Runs the built `xlate` executable as a child process.
enum CLI {
    /// Tests/CLITests/CLIRunner.swift → the repository root.
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let enDe = "Models/xlate-en-de"

    /// The `xlate` beside the test bundle in SwiftPM's build folder, else `.build/release/xlate`.
    static let binary: URL? = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" {
            if let found = executable(directory.appendingPathComponent("xlate")) { return found }
            directory = directory.deletingLastPathComponent()
        }
        return executable(repoRoot.appendingPathComponent(".build/release/xlate"))
    }()

    private static func executable(_ url: URL) -> URL? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue,
            FileManager.default.isExecutableFile(atPath: url.path)
        else { return nil }
        return url
    }

    /// Whether this build (the tests and the `xlate` built with them) runs under AddressSanitizer (`make test-asan`).
    static let underAddressSanitizer = dlsym(nil, "__asan_init") != nil  // RTLD_DEFAULT

    /// A child that exits early closes its stdin; writing to it must give EPIPE, not kill the test runner.
    private static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Runs `xlate arguments` in the repository root (or `directory`), feeding `stdin` through a pipe (no stdin:
    /// /dev/null). `executable` replaces the built binary; `stderr` (e.g. a terminal) replaces the captured stderr.
    /// `environment` is added to the child's. Kills the child and fails after `timeout` seconds.
    static func run(
        _ arguments: [String], stdin: Data? = nil, timeout: TimeInterval = 120, executable: URL? = nil, directory: URL? = nil,
        stderr: FileHandle? = nil, environment extra: [String: String] = [:]
    ) throws -> CLIResult {
        guard let binary = executable ?? binary else {
            throw CLIError(description: "xlate executable not found near \(CommandLine.arguments[0]) nor in .build/release; "
                + "build it with: swift build -c release --product xlate")
        }
        _ = ignoreSIGPIPE
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? repoRoot
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        // Hermetic model search: only the repository's Models/ folder (found from the binary's path).
        environment["XLATE_MODELS"] = nil
        environment["HOME"] = "/nonexistent-xlate-test-home"
        environment.merge(extra) { $1 }
        process.environment = environment

        // Files, not pipes, for the output: a child writing more than a pipe holds cannot block.
        let outputDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outputDirectory) }  // cleanup only; a leftover temp folder is harmless
        let stdoutURL = outputDirectory.appendingPathComponent("stdout")
        let stderrURL = outputDirectory.appendingPathComponent("stderr")
        for url in [stdoutURL, stderrURL] where !FileManager.default.createFile(atPath: url.path, contents: nil) {
            throw CLIError(description: "cannot create \(url.path)")
        }
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        process.standardOutput = stdoutHandle
        process.standardError = stderr ?? stderrHandle

        let inputPipe = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : inputPipe

        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        try stdoutHandle.close()
        try stderrHandle.close()

        if let stdin {
            let writer = inputPipe.fileHandleForWriting
            DispatchQueue.global().async {
                do { try writer.write(contentsOf: stdin) } catch {
                    // EPIPE: the child exited (usage error, bad model) without reading its input; its status says why.
                }
                try? writer.close()  // the child sees end of input; a close error leaves nothing to report
            }
        }

        if finished.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            if finished.wait(timeout: .now() + 5) == .timedOut { kill(process.processIdentifier, SIGKILL) }
            finished.wait()
            throw CLIError(description: "xlate \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s; killed")
        }
        return CLIResult(
            status: process.terminationStatus,
            stdout: try Data(contentsOf: stdoutURL),
            stderr: String(decoding: try Data(contentsOf: stderrURL), as: UTF8.self))
    }

    /// Runs `xlate arguments` with `input` as UTF-8 on stdin.
    static func run(_ arguments: [String], input: String, timeout: TimeInterval = 120) throws -> CLIResult {
        try run(arguments, stdin: Data(input.utf8), timeout: timeout)
    }
}

/// A fresh temporary folder for `body`, removed afterwards.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-cli-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }  // cleanup only
    return try body(directory)
}

/// Splits a `TEXT ||| SCORE` line; nil when the line is not of that form.
func splitScored(_ line: String) -> (text: String, score: Double)? {
    guard let separator = line.range(of: " ||| ", options: .backwards), let score = Double(line[separator.upperBound...])
    else { return nil }
    return (String(line[..<separator.lowerBound]), score)
}

/// Parses one JSON output line into an object.
func jsonObject(_ line: String) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(line.utf8))
    return try #require(value as? [String: Any], "not a JSON object: \(line)")
}
