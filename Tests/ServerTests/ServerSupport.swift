import Foundation
import Testing

/// The repository root (Tests/ServerTests/ServerSupport.swift → ../..).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

struct ServerTestError: Error, CustomStringConvertible {
    let description: String
}

/// The built `xlate` beside the test bundle in SwiftPM's build folder.
let xlateBinary: URL? = {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent("xlate")
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
            FileManager.default.isExecutableFile(atPath: candidate.path)
        {
            return candidate
        }
        directory = directory.deletingLastPathComponent()
    }
    return nil
}()

/// Output collected from a child's pipe on another thread.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) { lock.withLock { data.append(more) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

/// `xlate serve` as a child process on a free loopback port. Stopped by `stop()` or, at the latest, when released
/// (a failing test still stops it). Shared by client threads: only `request` (which touches no state) is called from them.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let log = Collected()

    /// Starts `xlate serve --host 127.0.0.1 --port 0 --model Models/xlate-en-de` plus `arguments`, and waits for its
    /// "listening on" line.
    init(_ arguments: [String] = [], model: Bool = true) throws {
        guard let binary = xlateBinary else {
            throw ServerTestError(description: "xlate executable not found near \(CommandLine.arguments[0]); build it with: swift build -c release --product xlate")
        }
        process.executableURL = binary
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0"]
            + (model ? ["--model", "Models/xlate-en-de"] : []) + arguments
        process.currentDirectoryURL = repositoryRoot
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        environment["XLATE_MODELS"] = nil
        environment["HOME"] = "/nonexistent-xlate-test-home"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let log = self.log
        errors.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { log.append(data) }
        }
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while true {
            if let range = log.text.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(log.text[range].split(separator: ":").last!)!
                return
            }
            if !process.isRunning {
                throw ServerTestError(description: "xlate serve exited (\(process.terminationStatus)) before listening:\n\(log.text)")
            }
            if Date() > deadline {
                process.terminate()
                throw ServerTestError(description: "xlate serve did not listen within 120 s:\n\(log.text)")
            }
            usleep(20_000)
        }
    }

    /// Sends SIGTERM and waits for the exit (SIGKILL after `timeout` seconds); the exit status.
    @discardableResult
    func stop(timeout: TimeInterval = 30) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return -1
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { stop(timeout: 5) } }

    /// One request on a new connection (`Connection: close`).
    func request(
        _ method: String, _ path: String, body: Data? = nil, contentType: String? = nil, headers: [String: String] = [:]
    ) throws -> HTTPReply {
        try HTTPReply.send(method, path, port: port, body: body, contentType: contentType, headers: headers)
    }

    /// A JSON request.
    func post(_ path: String, json: Any) throws -> HTTPReply {
        try request("POST", path, body: try JSONSerialization.data(withJSONObject: json), contentType: "application/json")
    }
}

/// An HTTP/1.1 response, read from a plain socket: the test controls every byte sent (a GET with a body, broken
/// JSON) and sees every byte answered.
struct HTTPReply {
    var status: Int
    /// Lowercased names.
    var headers: [String: String]
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object.
    var object: [String: Any] {
        get throws {
            guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw ServerTestError(description: "not a JSON object: \(text)")
            }
            return object
        }
    }

    /// `{"error": ...}`'s message.
    var error: String? { (try? object)?["error"] as? String }

    static func send(
        _ method: String, _ path: String, port: Int, body: Data?, contentType: String?, headers: [String: String]
    ) throws -> HTTPReply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerTestError(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ServerTestError(description: "connect to port \(port): errno \(errno)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        var request = Data((head + "\r\n").utf8)
        if let body { request.append(body) }
        try request.withUnsafeBytes { bytes in
            var sent = 0
            while sent < bytes.count {
                let count = Foundation.send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                guard count > 0 else { throw ServerTestError(description: "send: errno \(errno)") }
                sent += count
            }
        }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count < 0 { throw ServerTestError(description: "recv: errno \(errno)") }
            if count == 0 { break }
            response.append(contentsOf: buffer[0..<count])
        }
        return try parse(response)
    }

    static func parse(_ response: Data) throws -> HTTPReply {
        guard let end = response.range(of: Data("\r\n\r\n".utf8)) else {
            throw ServerTestError(description: "no HTTP head in \(String(decoding: response, as: UTF8.self))")
        }
        let lines = String(decoding: response[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw ServerTestError(description: "bad status line: \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(response[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = try dechunk(body) }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ data: Data) throws -> Data {
        var out = Data()
        var rest = data[...]
        while let lineEnd = rest.range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16) else { throw ServerTestError(description: "bad chunk size \(sizeText)") }
            if size == 0 { break }
            let start = lineEnd.upperBound
            out.append(rest[start..<(start + size)])
            rest = rest[(start + size + 2)...]
        }
        return out
    }
}

/// Runs `xlate` with `arguments` and `stdin` in the repository root; its stdout. Throws on a non-zero exit.
func runXlate(_ arguments: [String], stdin: String) throws -> String {
    guard let binary = xlateBinary else { throw ServerTestError(description: "xlate executable not found") }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.currentDirectoryURL = repositoryRoot
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    input.fileHandleForWriting.write(Data(stdin.utf8))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ServerTestError(description: "xlate \(arguments) exited \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}

/// Short English sentences from the shared evaluation set (`../shared/eval/newstest2014.en`), else a fixed list.
func evaluationSentences(_ count: Int) throws -> [String] {
    let path = repositoryRoot.appendingPathComponent("../shared/eval/newstest2014.en")
    let lines = try String(contentsOf: path, encoding: .utf8).split(separator: "\n").map(String.init)
        .filter { $0.count < 90 }
    return Array(lines.prefix(count))
}
