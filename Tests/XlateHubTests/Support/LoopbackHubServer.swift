import Foundation
#if canImport(Glibc)
import Glibc
#endif

@testable import XlateHub

/// A Hugging Face Hub look-alike on 127.0.0.1 for download tests (ephemeral ports, a thread per connection, one
/// request per connection). Two listeners, so that a redirect changes origin as the real hub's does:
/// - the hub (`url`): `GET /api/models/{repo}/revision/{rev}[?blobs=true]` (JSON with `sha` and `siblings`; with
///   `blobs`, `size`, `blobId` and for LFS files `lfs: {sha256, size}`) and `GET /{repo}/resolve/{rev}/{file}`, with
///   `X-Repo-Commit` and `ETag`; small files are served there, LFS files answer 302 to the CDN with `X-Linked-Etag`
///   (the SHA-256) and `X-Linked-Size`. Errors carry the hub's `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`,
///   `EntryNotFound`).
/// - the CDN (`cdnURL`): the LFS files' bytes.
/// File bytes are served with `Content-Length` and `Accept-Ranges: bytes`, and honour `Range: bytes=N-` (206).
final class LoopbackHubServer: @unchecked Sendable {
    /// A file of a repository.
    struct File {
        var data: Data
        /// Stored in LFS: served by the CDN, its SHA-256 advertised.
        var lfs = false
        /// The SHA-256 advertised instead of the real one (to serve a corrupt file).
        var advertisedSHA256: String?

        var sha256: String {
            var hasher = SHA256()
            hasher.update(data)
            return hasher.finalizeHex()
        }
    }

    struct Repository {
        var commit: String
        /// Branch and tag names that resolve to `commit` (the commit itself always does).
        var revisions: Set<String>
        var files: [String: File]
    }

    /// A request as the server saw it.
    struct Request {
        let cdn: Bool
        let method: String
        /// The target as sent (path and query, percent-encoded).
        let target: String
        /// Header names lowercased.
        let headers: [String: String]
    }

    let url: URL
    let cdnURL: URL
    private let listeners: [Int32]
    private let acceptLoopsDone = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var repositories: [String: Repository] = [:]
    private var log: [Request] = []
    /// "repo/file" → (bytes of body sent before the connection is closed, how many more transfers to break).
    private var interruptions: [String: (after: Int, times: Int)] = [:]
    private var truncatedInfo: Set<String> = []
    private var token: String?
    private var stopped = false

    init() throws {
        let (hub, hubPort) = try Self.listen()
        let (cdn, cdnPort) = try Self.listen()
        listeners = [hub, cdn]
        url = URL(string: "http://127.0.0.1:\(hubPort)")!
        cdnURL = URL(string: "http://127.0.0.1:\(cdnPort)")!
        for (descriptor, isCDN) in [(hub, false), (cdn, true)] {
            Thread { [self] in
                while true {
                    let client = accept(descriptor, nil, nil)
                    if client < 0 {
                        if errno == EINTR { continue }
                        break
                    }
                    Thread { self.serve(client, cdn: isCDN) }.start()
                }
                acceptLoopsDone.signal()
            }.start()
        }
    }

    /// Stops listening (connections being served finish on their own). Call it: the accept threads keep the
    /// server alive until then.
    func stop() {
        let wasRunning = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard wasRunning else { return }
        for descriptor in listeners { shutdown(descriptor, Int32(SHUT_RDWR)) }
        for _ in listeners { acceptLoopsDone.wait() }
        for descriptor in listeners { close(descriptor) }
    }

    // MARK: Set-up and inspection

    /// Serves `repository` (`owner/name`) at `commit`, also under each of `revisions`.
    func add(_ repository: String, commit: String = LoopbackHubServer.commit(1), revisions: Set<String> = ["main"], files: [String: File]) {
        lock.withLock { repositories[repository] = Repository(commit: commit, revisions: revisions, files: files) }
    }

    /// The next `times` transfers of `file`'s bytes send headers for the whole file but only `bytes` bytes of body,
    /// then close the connection.
    func interruptTransfers(of file: String, in repository: String, after bytes: Int, times: Int = 1) {
        lock.withLock { interruptions["\(repository)/\(file)"] = (bytes, times) }
    }

    /// The model info of `repository` comes back cut in half (a complete HTTP response whose JSON ends early).
    func truncateModelInfo(of repository: String) {
        _ = lock.withLock { truncatedInfo.insert(repository) }
    }

    /// Every hub request without `Authorization: Bearer TOKEN` is refused with 401 (the CDN asks for nothing).
    func requireToken(_ token: String) {
        lock.withLock { self.token = token }
    }

    /// The requests so far, in order of arrival.
    var requests: [Request] {
        lock.withLock { log }
    }

    /// A commit id: 40 hex digits made from `n`.
    static func commit(_ n: Int) -> String {
        String(repeating: String(format: "%08x", n), count: 5)
    }

    // MARK: Serving

    private static func listen() throws -> (Int32, Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && Glibc.listen(descriptor, 64) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    private struct Reply {
        var status: Int
        var headers: [(String, String)] = []
        var body = Data()
        /// Send only this many bytes of the body, then close.
        var cutAfter: Int?
    }

    private func serve(_ client: Int32, cdn: Bool) {
        defer { close(client) }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.range(of: Data("\r\n\r\n".utf8)) == nil, received.count < 65536 {
            let count = recv(client, &buffer, buffer.count, 0)
            guard count > 0 else { return }
            received.append(contentsOf: buffer[0..<count])
        }
        guard let end = received.range(of: Data("\r\n\r\n".utf8)) else { return }
        let lines = String(decoding: received[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count == 3 else { return }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let request = Request(cdn: cdn, method: String(parts[0]), target: String(parts[1]), headers: headers)
        let reply = lock.withLock {
            log.append(request)
            return cdn ? cdnReply(request) : hubReply(request)
        }
        send(reply, head: request.method == "HEAD", to: client)
    }

    private func send(_ reply: Reply, head: Bool, to client: Int32) {
        let reasons = [200: "OK", 206: "Partial Content", 302: "Found", 401: "Unauthorized", 404: "Not Found", 416: "Range Not Satisfiable"]
        var text = "HTTP/1.1 \(reply.status) \(reasons[reply.status] ?? "Status")\r\n"
        for (name, value) in reply.headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(reply.body.count)\r\nConnection: close\r\n\r\n"
        var bytes = Data(text.utf8)
        if !head { bytes.append(reply.body.prefix(reply.cutAfter ?? reply.body.count)) }
        bytes.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let count = Glibc.send(client, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                guard count > 0 else { return }
                sent += count
            }
        }
    }

    private static func error(_ status: Int, code: String?, message: String) -> Reply {
        var headers = [("Content-Type", "application/json"), ("X-Error-Message", message)]
        if let code { headers.append(("X-Error-Code", code)) }
        return Reply(status: status, headers: headers, body: Data("{\"error\":\"\(message)\"}".utf8))
    }

    private func hubReply(_ request: Request) -> Reply {
        if let token, request.headers["authorization"] != "Bearer \(token)" {
            return Self.error(401, code: nil, message: "Invalid credentials in Authorization header")
        }
        let pieces = request.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(pieces[0]), query = pieces.count > 1 ? String(pieces[1]) : ""
        if path.hasPrefix("/api/models/"), let marker = path.range(of: "/revision/") {
            let id = String(path[path.index(path.startIndex, offsetBy: "/api/models/".count)..<marker.lowerBound])
            let revision = String(path[marker.upperBound...]).removingPercentEncoding ?? ""
            return modelInfo(id, revision: revision, blobs: query.split(separator: "&").contains("blobs=true"))
        }
        guard let marker = path.range(of: "/resolve/") else { return Self.error(404, code: nil, message: "Not Found") }
        let id = String(path.dropFirst()[..<marker.lowerBound])
        let rest = path[marker.upperBound...].split(separator: "/", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
        guard let repository = repositories[id] else { return Self.error(404, code: "RepoNotFound", message: "Repository not found") }
        guard rest.count == 2, rest[0] == repository.commit || repository.revisions.contains(rest[0]) else {
            return Self.error(404, code: "RevisionNotFound", message: "Invalid rev id: \(rest.first ?? "")")
        }
        guard let file = repository.files[rest[1]] else {
            return Self.error(404, code: "EntryNotFound", message: "\(rest[1]) does not exist on \"\(rest[0])\"")
        }
        var headers = [("X-Repo-Commit", repository.commit), ("ETag", "\"\(Self.blobID(file))\"")]
        guard file.lfs else {
            return content(file.data, key: "\(id)/\(rest[1])", range: request.headers["range"], headers: headers)
        }
        let sha = file.advertisedSHA256 ?? file.sha256
        headers += [
            ("X-Linked-Etag", "\"\(sha)\""), ("X-Linked-Size", "\(file.data.count)"),
            ("Location", cdnURL.absoluteString + "/cdn/\(id)/\(repository.commit)/\(rest[1])"),
        ]
        return Reply(status: 302, headers: headers)
    }

    private func cdnReply(_ request: Request) -> Reply {
        let parts = request.target.split(separator: "/").map(String.init)  // cdn, owner, name, commit, file
        guard parts.count == 5, parts[0] == "cdn", let repository = repositories["\(parts[1])/\(parts[2])"],
            repository.commit == parts[3], let file = repository.files[parts[4]], file.lfs
        else { return Reply(status: 404, body: Data("no such object".utf8)) }
        let sha = file.advertisedSHA256 ?? file.sha256
        return content(file.data, key: "\(parts[1])/\(parts[2])/\(parts[4])", range: request.headers["range"], headers: [("ETag", "\"\(sha)\"")])
    }

    /// File bytes, honouring `Range: bytes=N-` and the interruptions set for `key`.
    private func content(_ data: Data, key: String, range: String?, headers: [(String, String)]) -> Reply {
        var reply = Reply(status: 200, headers: headers + [("Accept-Ranges", "bytes")], body: data)
        if let range, range.hasPrefix("bytes="), let start = Int(range.dropFirst(6).prefix { $0.isNumber }) {
            guard start < data.count else {
                return Reply(status: 416, headers: [("Content-Range", "bytes */\(data.count)")])
            }
            reply.status = 206
            reply.headers.append(("Content-Range", "bytes \(start)-\(data.count - 1)/\(data.count)"))
            reply.body = data.subdata(in: start..<data.count)
        }
        if let interruption = interruptions[key], interruption.times > 0 {
            interruptions[key] = (interruption.after, interruption.times - 1)
            reply.cutAfter = interruption.after
        }
        return reply
    }

    private func modelInfo(_ id: String, revision: String, blobs: Bool) -> Reply {
        guard let repository = repositories[id] else { return Self.error(404, code: "RepoNotFound", message: "Repository not found") }
        guard revision == repository.commit || repository.revisions.contains(revision) else {
            return Self.error(404, code: "RevisionNotFound", message: "Invalid rev id: \(revision)")
        }
        let siblings = repository.files.keys.sorted().map { name -> [String: Any] in
            guard blobs, let file = repository.files[name] else { return ["rfilename": name] }
            var sibling: [String: Any] = ["rfilename": name, "size": file.data.count, "blobId": Self.blobID(file)]
            if file.lfs { sibling["lfs"] = ["sha256": file.advertisedSHA256 ?? file.sha256, "size": file.data.count, "pointerSize": 134] }
            return sibling
        }
        let object: [String: Any] = ["id": id, "modelId": id, "sha": repository.commit, "private": false, "siblings": siblings]
        var body = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])  // plain values: cannot fail
        if truncatedInfo.contains(id) { body = body.prefix(body.count / 2) }
        return Reply(status: 200, headers: [("Content-Type", "application/json")], body: body)
    }

    /// A stand-in for the git blob id (40 hex digits).
    private static func blobID(_ file: File) -> String { String(file.sha256.prefix(40)) }
}

extension LoopbackHubServer {
    /// A tiny Marian model as a hub repository: the `tied-swish` fixture (vocabulary 96) with the bundled models'
    /// SentencePiece files and a `vocab.json` of their first 95 pieces plus `<pad>` (id 95), so that it loads and
    /// translates (into nonsense, deterministically); `model.safetensors` in LFS. Plus files a download must skip:
    /// README, .gitattributes, TensorFlow / Flax / Rust weights and a `pytorch_model.bin` (skipped beside safetensors).
    static func tinyMarianRepository(repositoryRoot root: URL) throws -> (model: [String: File], skipped: [String: File]) {
        let fixture = root.appendingPathComponent("Fixtures/marian/tied-swish")
        let bundled = root.appendingPathComponent("Models/xlate-en-de")
        let vocabulary = try JSONDecoder().decode([String: Int].self, from: Data(contentsOf: bundled.appendingPathComponent("vocab.json")))
        var small = vocabulary.filter { $0.value < 95 }
        small["<pad>"] = 95
        let model: [String: File] = [
            "config.json": File(data: try Data(contentsOf: fixture.appendingPathComponent("config.json"))),
            "generation_config.json": File(data: try Data(contentsOf: fixture.appendingPathComponent("generation_config.json"))),
            "model.safetensors": File(data: try Data(contentsOf: fixture.appendingPathComponent("model.safetensors")), lfs: true),
            "source.spm": File(data: try Data(contentsOf: bundled.appendingPathComponent("source.spm"))),
            "target.spm": File(data: try Data(contentsOf: bundled.appendingPathComponent("target.spm"))),
            "vocab.json": File(data: try JSONSerialization.data(withJSONObject: small, options: [.sortedKeys])),
            "tokenizer_config.json": File(data: try Data(contentsOf: bundled.appendingPathComponent("tokenizer_config.json"))),
        ]
        let skipped: [String: File] = [
            "README.md": File(data: Data("# opus-mt\n".utf8)),
            ".gitattributes": File(data: Data("*.bin filter=lfs diff=lfs merge=lfs -text\n".utf8)),
            "tf_model.h5": File(data: Data(repeating: 1, count: 1000), lfs: true),
            "flax_model.msgpack": File(data: Data(repeating: 2, count: 1000), lfs: true),
            "rust_model.ot": File(data: Data(repeating: 3, count: 1000), lfs: true),
            "pytorch_model.bin": File(data: Data(repeating: 4, count: 1000), lfs: true),
        ]
        return (model, skipped)
    }

    /// Writes `files` into `directory` (a model folder to compare a download with).
    static func write(_ files: [String: File], to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, file) in files { try file.data.write(to: directory.appendingPathComponent(name)) }
    }
}
