import ArgumentParser
import Foundation
import Logging
import Xlate
import XlateServer

/// `xlate serve`: a LibreTranslate-compatible HTTP server for every model found, with batching across requests.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve translations over HTTP: the LibreTranslate API, xlate's own API, metrics and a translate page.",
        discussion: """
            Loads every model 'xlate models' lists (or the --model folders, named like opus-mt-SRC-TGT) before \
            listening; a model that does not load stops the server with its error. Concurrent requests for the \
            same model and options are translated in one batch; each gets the translation 'xlate' gives for the \
            same text. SIGTERM or SIGINT stops accepting connections, answers the requests in flight, and exits 0.

            ENDPOINTS
              POST /translate, GET|POST /languages, POST /detect, GET /frontend/settings, GET /health (LibreTranslate)
              POST /v1/translate   n-best, scores, alignments, beam and other options; Server-Sent Events with stream
              GET /metrics         Prometheus text format
              GET /                a translate page with the alignment map

            EXAMPLES
              xlate serve --port 5000
              curl -s localhost:5000/translate -H 'Content-Type: application/json' \\
                -d '{"q": "The cat sat on the mat.", "source": "en", "target": "de"}'
              xlate serve --model Models/xlate-en-de --api-keys keys.txt --char-limit 2000
            """)

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port; the log line 'listening on' names it).")
    var port = 5000

    /// `--model` (repeated) and `--compute-type`; the other model options do not apply.
    @OptionGroup(title: "Model") var selection: ModelArguments

    /// Options given before 'serve', or after it (the root command parses `--model` wherever it is).
    @ParentCommand var root: Translate

    private var models: [String] { selection.filled(from: root.selection).models }

    @Option(help: "Most texts translated in one batch, from all requests together.")
    var maxBatchSize = 32

    @Option(help: "How long a new batch waits for other requests to join, in milliseconds.")
    var batchWindowMs = 5

    @Option(help: "Most characters in one text of a request; -1: no limit.")
    var charLimit = 5000

    @Option(help: "Most bytes in a request body.")
    var maxBodyBytes = 1 << 20

    @Option(help: "Most texts (q as an array) in one request.")
    var maxTexts = 128

    @Option(help: "Most requests waiting for a batch; more are answered 429 with Retry-After.")
    var queueLimit = 256

    @Option(help: "Seconds a request may wait for its translation before it is answered 503.")
    var timeout = 60.0

    @Option(help: ArgumentHelp("Require an api_key from this file (one key per line; # comments): 403 without one.", valueName: "file"))
    var apiKeys: String?

    @Option(help: "Threads translating each batch. Default: all cores.")
    var threads: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        let selection = self.selection.filled(from: root.selection)
        if selection.source != nil || selection.target != nil || selection.download {
            throw ValidationError("serve takes the models to serve with --model DIR (default: every model 'xlate models' lists), not --src/--tgt/--download")
        }
        if !(0...65535).contains(port) { throw ValidationError("--port must be in 0...65535, got \(port)") }
        for (name, value, least) in [
            ("--max-batch-size", maxBatchSize, 1), ("--batch-window-ms", batchWindowMs, 0), ("--max-body-bytes", maxBodyBytes, 1),
            ("--max-texts", maxTexts, 1), ("--queue-limit", queueLimit, 1), ("--threads", threads ?? 1, 1),
        ] where value < least {
            throw ValidationError("\(name) must be >= \(least), got \(value)")
        }
        if charLimit < -1 { throw ValidationError("--char-limit must be >= 0, or -1 for no limit; got \(charLimit)") }
        if !(timeout > 0) { throw ValidationError("--timeout must be > 0 seconds, got \(timeout)") }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level takes trace, debug, info, notice, warning, error or critical; got '\(logLevel)'")
        }
    }

    func run() throws {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.charLimit = charLimit
        configuration.maxBodyBytes = maxBodyBytes
        configuration.maxTextsPerRequest = maxTexts
        configuration.timeout = .milliseconds(Int64(timeout * 1000))
        if let threads { configuration.threads = threads }
        configuration.batching = .init(
            maxBatchSize: maxBatchSize, batchWindow: .milliseconds(batchWindowMs), queueLimit: queueLimit)
        configuration.apiKeys = try apiKeys.map(ServerConfiguration.apiKeys(file:))
        let folders = try modelFolders()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "xlate.serve")
        let computeType = selection.filled(from: root.selection).computeType ?? .float32
        try runBlocking { [configuration] in
            for folder in folders {
                logger.info("loading model", metadata: ["pair": "\(folder.source)-\(folder.target)", "path": "\(folder.directory.path)"])
            }
            let catalog = try await ModelCatalog.load(folders, computeType: computeType)
            try await TranslationServer(configuration: configuration, catalog: catalog, logger: logger).run()
        }
    }

    /// The `--model` folders with the languages their names give, else every model the resolver finds (the first
    /// of each pair, as `xlate --src --tgt` would choose).
    private func modelFolders() throws -> [(directory: URL, source: String, target: String)] {
        if !models.isEmpty {
            return try models.map { path in
                let directory = URL(fileURLWithPath: path)
                guard let pair = ModelResolver.languagePair(folderName: directory.standardizedFileURL.lastPathComponent) else {
                    throw ServerError.unknownLanguages(path: path)
                }
                return (directory, pair.source, pair.target)
            }
        }
        let resolver = ModelResolver()
        var folders: [(directory: URL, source: String, target: String)] = []
        for entry in resolver.available() where !folders.contains(where: { $0.source == entry.source && $0.target == entry.target }) {
            folders.append((entry.directory, entry.source, entry.target))
        }
        if folders.isEmpty { throw ServerError.noModels(searched: resolver.searchPaths.map(\.path)) }
        return folders
    }
}

/// Runs `work` to its end from synchronous code (the command's `run`), on the cooperative pool, while this thread
/// waits.
private func runBlocking(_ work: @escaping @Sendable () async throws -> Void) throws {
    final class Outcome: @unchecked Sendable { var error: (any Error)? }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do { try await work() } catch { outcome.error = error }
        done.signal()
    }
    done.wait()
    if let error = outcome.error { throw error }
}
