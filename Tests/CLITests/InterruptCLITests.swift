import Foundation
import Testing

@Suite("Interrupting a translation")
struct InterruptCLITests {
    /// SIGINT (2) and SIGTERM (15).
    @Test(arguments: [Int32(2), Int32(15)])
    func signalWritesCompleteLinesOnlyAndExitsNonZero(_ number: Int32) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-interrupt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let input = directory.appendingPathComponent("in.txt")
        let output = directory.appendingPathComponent("out.txt")
        let lines = (0..<6000).map { "The cat number \($0) sat on the mat." }
        try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)

        let process = Process()
        guard let binary = CLI.binary else {
            Issue.record("build xlate first: swift build -c release --product xlate")
            return
        }
        process.executableURL = binary
        process.arguments = ["--model", CLI.repoRoot.appendingPathComponent(CLI.enDe).path, "--beam", "1",
                             "-i", input.path, "-o", output.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 3)
        kill(process.processIdentifier, number)
        process.waitUntilExit()
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)

        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 128 + number)
        #expect(message.contains("interrupted: the first"), "\(message)")
        let written = try String(contentsOf: output, encoding: .utf8)
        #expect(written.isEmpty || written.hasSuffix("\n"), "a partial line was written")
        let count = written.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        #expect(count < lines.count)
        #expect(message.contains("first \(count) input lines"), "\(message)")
    }
}
