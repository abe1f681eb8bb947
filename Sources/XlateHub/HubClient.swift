import Foundation
import Xlate
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads model folders from the Hugging Face Hub (or a mirror of it) into xlate's cache, where
/// `ModelResolver` finds them. A library of its own (the `XlateHub` product) because URLSession on Linux
/// (FoundationNetworking) links libcurl: an app that only translates imports `Xlate` alone.
///
/// ```swift
/// import Xlate
/// import XlateHub
///
/// let hub = try HubClient()   // HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE and XLATE_CACHE from the environment
/// let model = try await hub.download("Helsinki-NLP/opus-mt-fr-en")
/// let translator = try Translator(modelAt: model.directory)
/// ```
///
/// Only the files xlate loads are fetched (`config.json`, `generation_config.json`, `model.safetensors` or the index
/// and its shards, else `pytorch_model.bin`, and the Marian / T5 tokenizer files), all from the one commit that the
/// revision names when the download starts. Each file is written to `NAME.incomplete` in a staging folder
/// (`CACHE/downloads/OWNER--NAME`); a broken transfer resumes with an HTTP range request, up to `maxAttempts` tries
/// in one call, and a later call resumes what an earlier one left. A file gets its name only when its size and (for
/// LFS files) SHA-256 match the hub's. The complete folder is then renamed to `CACHE/models/OWNER--NAME` in one step,
/// so no half-downloaded folder is ever taken for a model.
public struct HubClient: Sendable {
    /// `https://huggingface.co`, used when `HF_ENDPOINT` is not set.
    public static let defaultEndpoint = URL(string: "https://huggingface.co")!

    /// The hub: `HF_ENDPOINT`, as huggingface_hub reads it (a mirror, or a local server in tests).
    public var endpoint: URL
    /// Sent as `Authorization: Bearer TOKEN` to the hub (never to a host it redirects to); `HF_TOKEN`.
    public var token: String?
    /// Never touch the network: answer from the cache or fail (`HF_HUB_OFFLINE`).
    public var offline: Bool
    /// xlate's cache (`XLATE_CACHE`, else `~/.cache/xlate`); models go to its `models` folder.
    public var cacheDirectory: URL
    /// Tries per request when the connection fails, breaks off, or the hub answers 429 / 5xx.
    public var maxAttempts = 3
    /// The wait before another try.
    public var retryDelay: Duration = .seconds(1)

    /// A client with explicit settings.
    public init(cacheDirectory: URL, endpoint: URL = HubClient.defaultEndpoint, token: String? = nil, offline: Bool = false) {
        self.cacheDirectory = cacheDirectory
        self.endpoint = endpoint
        self.token = token
        self.offline = offline
    }

    /// A client set up as huggingface_hub would be from `HF_ENDPOINT`, `HF_TOKEN` and `HF_HUB_OFFLINE`
    /// (`1`, `true`, `yes` or `on`), with the cache of `ModelResolver.cacheDirectory(environment:)`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws(HubError) {
        guard let cache = ModelResolver.cacheDirectory(environment: environment) else {
            throw .configuration("no cache folder: set XLATE_CACHE (or HOME)")
        }
        var endpoint = Self.defaultEndpoint
        if let value = environment["HF_ENDPOINT"], !value.isEmpty {
            var text = value
            while text.hasSuffix("/") { text.removeLast() }
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                throw .configuration("HF_ENDPOINT is '\(value)'; it must be an http(s) URL such as https://huggingface.co")
            }
            endpoint = url
        }
        let token = environment["HF_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let offline = ["1", "TRUE", "YES", "ON"].contains(environment["HF_HUB_OFFLINE"]?.uppercased() ?? "")
        self.init(cacheDirectory: cache, endpoint: endpoint, token: token, offline: offline)
    }

    /// Where finished models are: `CACHE/models`, one of `ModelResolver`'s search paths.
    public var modelsDirectory: URL { cacheDirectory.appendingPathComponent("models") }

    /// Partial downloads and their lock files: `CACHE/downloads`.
    var downloadsDirectory: URL { cacheDirectory.appendingPathComponent("downloads") }

    /// The folder a repository is downloaded to: `CACHE/models/OWNER--NAME`.
    public func directory(for repository: HubRepository) -> URL {
        modelsDirectory.appendingPathComponent(repository.folderName)
    }

    /// Fetches the model files of `repository` at `revision` (a branch, tag or commit) into
    /// `directory(for:)`, replacing an older download there. When the cache already holds the commit the revision
    /// names, nothing is fetched; offline, the cached copy is returned if it was downloaded for that revision.
    /// `progress` is called (on another thread) as bytes arrive.
    public func download(
        _ repository: String, revision: String = "main", progress: (@Sendable (HubDownloadProgress) -> Void)? = nil
    ) async throws(HubError) -> HubDownload {
        let repo = try HubRepository(repository)
        let destination = directory(for: repo)
        let cached = DownloadRecord.read(from: destination).flatMap { $0.isComplete(in: destination) ? $0 : nil }
        if offline {
            guard let cached else {
                throw .offline(repository: repo.id, reason: "\(destination.path) holds no complete download of \(repo.id)")
            }
            guard cached.matches(revision: revision) else {
                throw .offline(
                    repository: repo.id,
                    reason: "the copy in \(destination.path) is revision '\(cached.revision)' (commit \(cached.commit)), not '\(revision)'")
            }
            return cached.download(at: destination, revision: revision)
        }

        let info = try await modelInfo(repo, revision: revision)
        if let cached, cached.commit == info.sha { return cached.download(at: destination, revision: revision) }
        let siblings = Dictionary(info.siblings.map { ($0.rfilename, $0) }, uniquingKeysWith: { first, _ in first })
        func bytes(_ names: [String]) -> Int { names.reduce(0) { $0 + (siblings[$1]?.fileSize ?? 0) } }
        var files = try ModelFiles.select(from: Set(siblings.keys), repository: repo.id, revision: revision)

        try FileSystem.createDirectory(modelsDirectory)
        try FileSystem.createDirectory(downloadsDirectory)
        let lockFile = downloadsDirectory.appendingPathComponent(repo.folderName + ".lock")
        let lock = try DownloadLock(path: lockFile.path, repository: repo.id)
        defer { lock.release() }
        let staging = downloadsDirectory.appendingPathComponent(repo.folderName)
        if DownloadRecord.read(from: staging)?.commit != info.sha {  // partial files of another commit are no use
            try FileSystem.remove(staging)
            try FileSystem.createDirectory(staging)
        }
        var record = DownloadRecord(
            repository: repo.id, revision: revision, commit: info.sha, endpoint: endpoint.absoluteString, files: [])
        try record.write(to: staging)

        let tracker = ProgressTracker(total: bytes(files), report: progress)
        var transferred = 0
        var next = 0
        while next < files.count {
            let name = files[next]
            record.files.append(try await fetch(
                name, expected: siblings[name], repository: repo, commit: info.sha, into: staging, tracker: tracker,
                transferred: &transferred))
            if name == ModelFiles.index {
                let shards = try ModelFiles.shards(
                    listedIn: staging.appendingPathComponent(name), available: Set(siblings.keys),
                    url: fileURL(repo, commit: info.sha, file: name).absoluteString)
                files += shards
                tracker.add(total: bytes(shards))
            }
            next += 1
        }
        try record.write(to: staging)
        try FileSystem.install(staging, at: destination, scratch: downloadsDirectory)
        return HubDownload(
            directory: destination, repository: repo.id, revision: revision, commit: info.sha, files: files,
            bytesDownloaded: transferred, fromCache: false)
    }

    // MARK: Requests

    /// What `GET /api/models/{repo}/revision/{rev}?blobs=true` returns, the part xlate reads.
    struct ModelInfo: Decodable {
        /// The commit the revision names.
        let sha: String
        let siblings: [Sibling]

        struct Sibling: Decodable {
            let rfilename: String
            let size: Int?
            let lfs: LFS?

            struct LFS: Decodable {
                let sha256: String
                let size: Int
            }

            var fileSize: Int? { lfs?.size ?? size }
        }
    }

    private func modelInfo(_ repo: HubRepository, revision: String) async throws(HubError) -> ModelInfo {
        let url = URL(string: endpointText + "/api/models/\(repo.id)/revision/\(Self.escape(revision))?blobs=true")!
        var attempt = 1
        while true {
            switch await HTTPGet.run(request(url)) {
            case .success(let response) where response.status == 200:
                return try Self.decodeInfo(response.body, url: url.absoluteString)
            case .success(let response) where !Self.retryable(response.status) || attempt >= maxAttempts:
                throw hubError(response, repository: repo, revision: revision, file: nil, url: url.absoluteString)
            case .failure(let failure) where attempt >= maxAttempts || Task.isCancelled:
                throw .network(url: url.absoluteString, reason: failure.reason)
            case .success, .failure:
                break
            }
            attempt += 1
            guard await pauseBeforeRetry() else { throw .network(url: url.absoluteString, reason: "cancelled") }
        }
    }

    private static func decodeInfo(_ body: Data, url: String) throws(HubError) -> ModelInfo {
        let info: ModelInfo
        do { info = try JSONDecoder().decode(ModelInfo.self, from: body) } catch {
            throw .invalidResponse(url: url, reason: Self.describe(error, bytes: body.count))
        }
        func isHex(_ text: String, _ count: Int) -> Bool { text.count == count && text.allSatisfy(\.isHexDigit) }
        guard isHex(info.sha, 40) else {
            throw .invalidResponse(url: url, reason: "the commit id '\(info.sha)' is not 40 hex digits")
        }
        if let bad = info.siblings.first(where: { $0.lfs.map { !isHex($0.sha256, 64) } ?? false }) {
            throw .invalidResponse(url: url, reason: "the SHA-256 of \(bad.rfilename) is not 64 hex digits")
        }
        return info
    }

    private static func describe(_ error: any Error, bytes: Int) -> String {
        switch error as? Swift.DecodingError {
        case .keyNotFound(let key, _)?:
            return "the model info has no '\(key.stringValue)'"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            return "the model info's '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        default:
            return "the model info is not valid JSON (\(bytes) bytes; truncated?)"
        }
    }

    /// Fetches one file into `staging` (resuming `NAME.incomplete`), checks it, and gives it its name.
    private func fetch(
        _ name: String, expected sibling: ModelInfo.Sibling?, repository: HubRepository, commit: String, into staging: URL,
        tracker: ProgressTracker, transferred: inout Int
    ) async throws(HubError) -> DownloadRecord.File {
        let final = staging.appendingPathComponent(name)
        var expectedSize = sibling?.fileSize
        var expectedSHA = sibling?.lfs?.sha256.lowercased()
        if let size = fileSize(final), expectedSize == nil || size == expectedSize {  // checked by an earlier call
            tracker.finished(size)
            return DownloadRecord.File(name: name, size: size, sha256: expectedSHA)
        }
        let partial = staging.appendingPathComponent(name + ".incomplete")
        let url = fileURL(repository, commit: commit, file: name)
        var attempt = 1
        transfer: while true {
            let handle = try FileSystem.openForAppending(partial)  // created if missing: an empty file is complete at once
            let offset = fileSize(partial) ?? 0
            if let expectedSize, offset >= expectedSize {
                try FileSystem.close(handle, path: partial)
                if offset == expectedSize { break transfer }
                try FileSystem.remove(partial)  // longer than the file: not ours to trust
                continue
            }
            var request = request(url)
            if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
            let sink = HTTPGet.Sink.file(handle, offset: offset) { tracker.update(file: name, length: $0) }
            let result = await HTTPGet.run(request, sink: sink)
            try FileSystem.close(handle, path: partial)
            let received = fileSize(partial) ?? 0
            transferred += max(0, received - offset)
            switch result {
            case .success(let response) where response.status == 200 || response.status == 206:
                expectedSize = expectedSize ?? Self.totalSize(response)
                expectedSHA = expectedSHA ?? Self.linkedSHA256(response)
                break transfer
            case .success(let response) where !Self.retryable(response.status) || attempt >= maxAttempts:
                throw hubError(response, repository: repository, revision: commit, file: name, url: url.absoluteString)
            case .failure(let failure) where attempt >= maxAttempts || Task.isCancelled:
                guard failure.responded || received > 0 else { throw .network(url: url.absoluteString, reason: failure.reason) }
                throw .interrupted(file: name, received: received, expected: expectedSize, reason: failure.reason)
            case .success, .failure:
                break
            }
            attempt += 1
            guard await pauseBeforeRetry() else {
                throw .interrupted(file: name, received: received, expected: expectedSize, reason: "cancelled")
            }
        }

        let size = fileSize(partial) ?? 0
        if let expectedSize, size != expectedSize {
            try FileSystem.remove(partial)
            throw .sizeMismatch(file: name, expected: expectedSize, actual: size)
        }
        if let expectedSHA {
            let actual: String
            do { actual = try SHA256.hex(ofFileAt: partial) } catch {
                throw .fileSystem(path: partial.path, reason: error.localizedDescription)
            }
            if actual != expectedSHA {
                try FileSystem.remove(partial)
                throw .checksumMismatch(file: name, expected: expectedSHA, actual: actual)
            }
        }
        try FileSystem.rename(partial, to: final)
        tracker.finished(size)
        return DownloadRecord.File(name: name, size: size, sha256: expectedSHA)
    }

    /// The file's size from the hub's headers: `X-Linked-Size` (LFS), else the `Content-Range` total, else `Content-Length`.
    private static func totalSize(_ response: HTTPGet.Response) -> Int? {
        if let linked = response.header("x-linked-size").flatMap({ Int($0) }) { return linked }
        if response.status == 206 { return response.headers["content-range"]?.split(separator: "/").last.flatMap { Int($0) } }
        return response.headers["content-length"].flatMap { Int($0) }
    }

    /// `X-Linked-Etag` of an LFS file: its SHA-256, quoted (the plain `ETag` of a small file is a git blob id).
    private static func linkedSHA256(_ response: HTTPGet.Response) -> String? {
        guard var etag = response.header("x-linked-etag") else { return nil }
        if etag.hasPrefix("W/") { etag.removeFirst(2) }
        etag = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
        return etag.count == 64 && etag.allSatisfy(\.isHexDigit) ? etag : nil
    }

    private static func retryable(_ status: Int) -> Bool { status == 429 || status >= 500 }

    /// Waits `retryDelay`; false when the task was cancelled meanwhile.
    private func pauseBeforeRetry() async -> Bool {
        do {
            try await Task.sleep(for: retryDelay)
            return true
        } catch {
            return false
        }
    }

    /// The typed error for an error status, read as huggingface_hub's `hf_raise_for_status` does: the hub's
    /// `X-Error-Code` first (`RepoNotFound` also comes with 401 for a missing or private repository), then the status.
    private func hubError(
        _ response: HTTPGet.Response, repository: HubRepository, revision: String, file: String?, url: String
    ) -> HubError {
        let tokenSent = token != nil
        switch (response.headers["x-error-code"], response.status) {
        case ("RepoNotFound", _):
            return .repositoryNotFound(repository: repository.id, tokenSent: tokenSent)
        case ("RevisionNotFound", _):
            return .revisionNotFound(repository: repository.id, revision: revision)
        case ("EntryNotFound", _):
            return .fileNotFound(repository: repository.id, file: file ?? url)
        case ("GatedRepo", _):
            return .accessDenied(repository: repository.id, status: response.status, gated: true, tokenSent: tokenSent)
        case (_, 401), (_, 403):
            return .accessDenied(repository: repository.id, status: response.status, gated: false, tokenSent: tokenSent)
        case (_, 404):
            guard let file else { return .repositoryNotFound(repository: repository.id, tokenSent: tokenSent) }
            return .fileNotFound(repository: repository.id, file: file)
        default:
            return .httpStatus(url: url, status: response.status, message: Self.message(response))
        }
    }

    /// The hub's `X-Error-Message`, else the `error` of a JSON body, else the body's first line.
    private static func message(_ response: HTTPGet.Response) -> String {
        if let message = response.headers["x-error-message"] { return message }
        // A body that is not JSON falls through to its text.
        if let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let error = object["error"] as? String
        {
            return error
        }
        let text = String(decoding: response.body.prefix(200), as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    }

    private var endpointText: String {
        var text = endpoint.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// `{endpoint}/{repo}/resolve/{commit}/{file}`.
    func fileURL(_ repository: HubRepository, commit: String, file: String) -> URL {
        URL(string: endpointText + "/\(repository.id)/resolve/\(commit)/\(Self.escape(file))")!
    }

    /// Percent-encodes all but RFC 3986's unreserved characters (`/` too, as huggingface_hub's `quote(safe="")`).
    private static func escape(_ text: String) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private func request(_ url: URL) -> URLRequest {
        var request = URLRequest(url: url, timeoutInterval: 60)
        request.setValue("xlate", forHTTPHeaderField: "User-Agent")
        // Sizes and ranges are of the stored bytes: no compression.
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        return request
    }
}

/// Adds up the bytes on disk and reports them.
private final class ProgressTracker: @unchecked Sendable {
    private let lock = NSLock()
    private let report: (@Sendable (HubDownloadProgress) -> Void)?
    private var total: Int
    private var finishedBytes = 0

    init(total: Int, report: (@Sendable (HubDownloadProgress) -> Void)?) {
        self.total = total
        self.report = report
    }

    func add(total more: Int) { lock.withLock { total += more } }

    /// `file` holds `length` bytes now.
    func update(file: String, length: Int) {
        guard let report else { return }
        let progress = lock.withLock {
            HubDownloadProgress(file: file, bytes: finishedBytes + length, totalBytes: max(total, finishedBytes + length))
        }
        report(progress)
    }

    func finished(_ size: Int) { lock.withLock { finishedBytes += size } }
}

/// An exclusive `flock` on `CACHE/downloads/OWNER--NAME.lock`, so that two processes never write the same partial
/// files. The kernel releases it if the process dies.
private final class DownloadLock: Sendable {
    private let descriptor: Int32

    init(path: String, repository: String) throws(HubError) {
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .fileSystem(path: path, reason: String(cString: strerror(errno))) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw busy ? .busy(repository: repository, lockFile: path) : .fileSystem(path: path, reason: reason)
        }
        self.descriptor = descriptor
    }

    func release() { close(descriptor) }
}

/// File operations of a download, failing with `HubError.fileSystem`.
private enum FileSystem {
    static func createDirectory(_ url: URL) throws(HubError) {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw .fileSystem(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Removes a file or folder; nothing there is fine.
    static func remove(_ url: URL) throws(HubError) {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        do { try FileManager.default.removeItem(at: url) } catch {
            throw .fileSystem(path: url.path, reason: error.localizedDescription)
        }
    }

    static func rename(_ source: URL, to destination: URL) throws(HubError) {
        guard Glibc.rename(source.path, destination.path) == 0 else {
            throw .fileSystem(path: destination.path, reason: String(cString: strerror(errno)))
        }
    }

    /// A handle at the end of `url`, which is created if missing.
    static func openForAppending(_ url: URL) throws(HubError) -> FileHandle {
        do {
            let files = FileManager.default
            if !files.fileExists(atPath: url.path), !files.createFile(atPath: url.path, contents: nil) {
                throw CocoaError(.fileWriteUnknown)
            }
            let handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
            return handle
        } catch {
            throw .fileSystem(path: url.path, reason: error.localizedDescription)
        }
    }

    static func close(_ handle: FileHandle, path url: URL) throws(HubError) {
        do { try handle.close() } catch { throw .fileSystem(path: url.path, reason: error.localizedDescription) }
    }

    /// Moves the finished `staging` folder to `destination` with `rename(2)`; an older folder there is first renamed
    /// into `scratch` and deleted after, so that `destination` is at every moment absent or complete.
    static func install(_ staging: URL, at destination: URL, scratch: URL) throws(HubError) {
        guard FileManager.default.fileExists(atPath: destination.path) else { return try rename(staging, to: destination) }
        let old = scratch.appendingPathComponent(destination.lastPathComponent + ".old-\(UUID().uuidString)")
        try rename(destination, to: old)
        try rename(staging, to: destination)
        try remove(old)
    }
}
