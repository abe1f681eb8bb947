import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP GET through `URLSession`, its body collected in memory (JSON, error pages) or streamed to a file. Redirects
/// are followed; the `Authorization` header is dropped when a redirect leaves the origin (scheme, host, port), as
/// huggingface_hub does, so a token never reaches the hub's CDN.
final class HTTPGet: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    /// What came back.
    struct Response: Sendable {
        /// The final status (after redirects).
        let status: Int
        /// The final response's headers, names lowercased.
        let headers: [String: String]
        /// The redirects' headers, names lowercased (the first redirect's value where several have one): the hub puts
        /// `X-Linked-Size` and `X-Linked-Etag` (size and SHA-256 of an LFS file) on its redirect to the CDN, which may
        /// follow a redirect of a renamed repository. Empty when there was no redirect.
        let redirectHeaders: [String: String]
        /// The body of a memory transfer (up to 64 MiB), or of an error status (first 64 KiB).
        let body: Data

        /// A header of the final response or, failing that, of the redirects.
        func header(_ name: String) -> String? { headers[name] ?? redirectHeaders[name] }
    }

    /// Why no complete response came back.
    struct Failure: Error, Sendable {
        let reason: String
        /// Whether a response had begun (headers received): the transfer broke off rather than never started.
        let responded: Bool
    }

    typealias Outcome = Result<Response, Failure>

    /// Where a successful (200/206) body goes.
    enum Sink {
        case memory
        /// Appended to `handle`, which holds `offset` bytes already (the request asked for `Range: bytes=offset-`).
        /// A 200 answer (the server ignored the range) truncates it first. `onLength` sees the file's length as it grows.
        case file(FileHandle, offset: Int, onLength: @Sendable (Int) -> Void)
    }

    private static let memoryLimit = 1 << 26, errorBodyLimit = 1 << 16
    private let sink: Sink
    private let lock = NSLock()
    private var task: URLSessionDataTask?
    private var continuation: CheckedContinuation<Outcome, Never>?
    private var status = 0
    private var headers: [String: String] = [:]
    private var redirectHeaders: [String: String] = [:]
    private var body = Data()
    /// The file's length while streaming; nil when the body does not go to the file.
    private var fileLength: Int?
    private var writeError: String?

    private init(sink: Sink) { self.sink = sink }

    /// Runs `request`; a cancelled task cancels the transfer.
    static func run(_ request: URLRequest, sink: Sink = .memory) async -> Outcome {
        let transfer = HTTPGet(sink: sink)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = request.timeoutInterval
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }  // the session holds its delegate until invalidated
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let task = session.dataTask(with: request)
                transfer.lock.withLock {
                    transfer.continuation = continuation
                    transfer.task = task
                }
                task.resume()
                if Task.isCancelled { task.cancel() }
            }
        } onCancel: {
            transfer.lock.withLock { transfer.task }?.cancel()
        }
    }

    private static func lowercased(_ response: HTTPURLResponse) -> [String: String] {
        var headers: [String: String] = [:]
        for (name, value) in response.allHeaderFields {
            headers[String(describing: name).lowercased()] = String(describing: value)
        }
        return headers
    }

    private static func origin(_ url: URL?) -> String {
        guard let url else { return "" }
        let scheme = url.scheme?.lowercased() ?? ""
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(port)"
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
    ) {
        lock.withLock {
            redirectHeaders.merge(Self.lowercased(response)) { first, _ in first }
        }
        var next = request
        if Self.origin(response.url) != Self.origin(request.url) {
            next.setValue(nil, forHTTPHeaderField: "Authorization")
        }
        completionHandler(next)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        guard let http = response as? HTTPURLResponse else { return completionHandler(.cancel) }
        let disposition: URLSession.ResponseDisposition = lock.withLock {
            status = http.statusCode
            headers = Self.lowercased(http)
            guard case .file(let handle, let offset, _) = sink, status == 200 || status == 206 else { return .allow }
            do {
                if status == 206 {
                    // "bytes START-END/TOTAL": a server resuming elsewhere would corrupt the file; start over instead.
                    let start = headers["content-range"].flatMap { Int($0.dropFirst("bytes ".count).prefix { $0.isNumber }) }
                    guard start == offset else {
                        try handle.truncate(atOffset: 0)
                        writeError = "the server resumed at byte \(start.map(String.init) ?? "?"), not \(offset)"
                        return .cancel
                    }
                    fileLength = offset
                } else {
                    if offset > 0 { try handle.truncate(atOffset: 0) }
                    fileLength = 0
                }
            } catch {
                writeError = error.localizedDescription
                return .cancel
            }
            return .allow
        }
        completionHandler(disposition)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let length: Int? = lock.withLock {
            guard case .file(let handle, _, _) = sink, let fileLength else {
                if !(200..<300).contains(status) {
                    body.append(data.prefix(max(0, Self.errorBodyLimit - body.count)))  // enough for a message
                } else if body.count + data.count <= Self.memoryLimit {
                    body.append(data)
                } else {
                    writeError = "the response is larger than \(Self.memoryLimit) bytes"
                    dataTask.cancel()
                }
                return nil
            }
            do {
                try handle.write(contentsOf: data)
                self.fileLength = fileLength + data.count
                return fileLength + data.count
            } catch {
                writeError = error.localizedDescription
                dataTask.cancel()
                return nil
            }
        }
        if let length, case .file(_, _, let onLength) = sink { onLength(length) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let (continuation, result) = lock.withLock { () -> (CheckedContinuation<Outcome, Never>?, Outcome) in
            defer { self.continuation = nil }
            if let reason = writeError ?? error.map(Self.describe) {
                return (self.continuation, .failure(Failure(reason: reason, responded: status != 0)))
            }
            let response = Response(status: status, headers: headers, redirectHeaders: redirectHeaders, body: body)
            return (self.continuation, .success(response))
        }
        continuation?.resume(returning: result)
    }

    /// libcurl's message ("transfer closed with 500 bytes remaining to read") where URLSession wraps it.
    private static func describe(_ error: any Error) -> String {
        ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.localizedDescription ?? error.localizedDescription
    }
}
