import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Xlate

/// `xlate serve`: the LibreTranslate API, the native API (`/v1/translate`), `/metrics` and the translate page, over
/// Hummingbird. Requests are batched across clients by the library's ``TranslationService``.
///
/// ```swift
/// let catalog = try await ModelCatalog.load([(URL(fileURLWithPath: "Models/xlate-en-de"), "en", "de")])
/// try await TranslationServer(configuration: ServerConfiguration(), catalog: catalog, logger: logger).run()
/// ```
public struct TranslationServer: Sendable {
    let configuration: ServerConfiguration
    let catalog: ModelCatalog
    let logger: Logger
    let metrics: ServerMetrics
    let service: TranslationService

    /// A server for `catalog`'s models; it records metrics in `registry` (served at `/metrics`).
    public init(
        configuration: ServerConfiguration, catalog: ModelCatalog, logger: Logger,
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) {
        self.configuration = configuration
        self.catalog = catalog
        self.logger = logger
        let metrics = ServerMetrics(registry: registry)
        self.metrics = metrics
        service = TranslationService(
            configuration: configuration.batching, onBatch: metrics.record(batch:),
            onQueueDepth: metrics.record(queueDepth:))
    }

    /// Listens until SIGTERM or SIGINT, then stops accepting connections, lets the requests in flight finish, and
    /// returns.
    public func run() async throws {
        let router = Router()
        router.add(middleware: RequestMiddleware(metrics: metrics, logger: logger))
        addRoutes(to: router)
        let host = configuration.host
        let logger = self.logger
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "xlate"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("listening on http://\(host):\(port)", metadata: ["host": "\(host)", "port": "\(port)"])
            },
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped: every request in flight was answered")
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        // LibreTranslate's API.
        router.post("/translate") { request, _ in try await libreTranslate(request) }
        router.get("/languages") { request, _ in try await languages(request) }
        router.post("/languages") { request, _ in try await languages(request) }
        router.post("/detect") { request, _ in try await detect(request) }
        router.get("/frontend/settings") { _, _ in frontendSettings() }
        router.get("/health") { _, _ in Self.json(["status": "ok"]) }
        // xlate's own.
        router.post("/v1/translate") { request, _ in try await nativeTranslate(request) }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        router.get("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: TranslatePage.html)))
        }
    }

    /// A 200 JSON response.
    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: JSONText.line(object))))
    }

    // MARK: Shared checks

    /// Refuses a missing or unknown `api_key` when the server has keys (403, LibreTranslate's "Invalid API key").
    func checkAPIKey(_ key: String?) throws {
        guard let keys = configuration.apiKeys else { return }
        guard let key else { throw APIError(status: .forbidden, message: "Please contact the server operator to get an API key") }
        guard keys.contains(key) else { throw APIError(status: .forbidden, message: "Invalid API key") }
    }

    /// Checks the number and length of the texts against the limits.
    func checkLimits(_ texts: [String]) throws {
        if texts.count > configuration.maxTextsPerRequest {
            throw APIError.badRequest(
                "Invalid request: request (\(texts.count)) exceeds text limit (\(configuration.maxTextsPerRequest))")
        }
        guard configuration.charLimit >= 0 else { return }
        for text in texts where text.unicodeScalars.count > configuration.charLimit {
            throw APIError.badRequest(
                "Invalid request: request (\(text.unicodeScalars.count)) exceeds text limit (\(configuration.charLimit))")
        }
    }

    /// The model for the pair, or LibreTranslate's errors: "xx is not supported", "... is not available as a target
    /// language from ...". `auto` asks for detection, which this server does not do.
    func model(source: String, target: String) throws -> ModelCatalog.Model {
        if source == "auto" {
            throw APIError.badRequest(
                "auto is not supported: this server does not detect languages; give the source language's code (see /languages)")
        }
        let languages = catalog.languages
        guard languages.contains(source) else { throw APIError.badRequest("\(source) is not supported") }
        guard languages.contains(target) else { throw APIError.badRequest("\(target) is not supported") }
        guard let model = catalog.model(source: source, target: target) else {
            throw APIError.badRequest(
                "\(ModelCatalog.name(of: target)) (\(target)) is not available as a target language from \(ModelCatalog.name(of: source)) (\(source))")
        }
        return model
    }

    /// The texts' translations through the batching service; its refusals become 429 (with `Retry-After`) and 503.
    func translate(_ texts: [String], model: ModelCatalog.Model, options: TranslationOptions) async throws -> [Translation] {
        do {
            return try await service.translate(texts, with: model.translator, options: options, timeout: configuration.timeout)
        } catch TranslationServiceError.queueFull(_, let retryAfter) {
            let seconds = max(1, Int(retryAfter.components.seconds) + 1)
            throw APIError(
                status: .tooManyRequests,
                message: "Slowdown: too many requests are waiting to be translated; retry in \(seconds) s",
                headers: [.retryAfter: "\(seconds)"])
        } catch let error as TranslationServiceError {
            throw APIError(status: .serviceUnavailable, message: error.localizedDescription)
        } catch let error as DecodingError {
            throw APIError.badRequest("Invalid request: \(error.setting.map { "\($0): " } ?? "")\(error.message)")
        }
    }

    // MARK: LibreTranslate

    /// `POST /translate`, as LibreTranslate's `translate()` answers.
    func libreTranslate(_ request: Request) async throws -> Response {
        let parameters = try await RequestParameters.read(request, maxBytes: configuration.maxBodyBytes)
        try checkAPIKey(try parameters.string("api_key"))
        guard let q = try parameters.texts() else { throw APIError.missing("q") }
        let (texts, isArray) = (q.texts, q.isArray)
        guard let source = try parameters.string("source") else { throw APIError.missing("source") }
        guard let target = try parameters.string("target") else { throw APIError.missing("target") }
        let alternatives = max(0, try parameters.integer("alternatives") ?? 0)
        if alternatives > configuration.alternativesLimit {
            throw APIError.badRequest(
                "Invalid request: alternatives parameter must be <= \(configuration.alternativesLimit)")
        }
        try checkLimits(texts)
        let model = try self.model(source: source, target: target)
        let format = try parameters.string("format") ?? "text"
        guard format == "text" || format == "html" else { throw APIError.badRequest("\(format) format is not supported") }

        let translated: [(text: String, alternatives: [String])]
        if format == "html" {
            translated = try await translateHTML(texts, model: model).map { ($0, []) }
        } else {
            var settings = TranslationSettings()
            settings.threads = configuration.threads
            settings.nbest = alternatives + 1
            let options = try decodingOptions(settings, model: model)
            translated = try await translate(texts, model: model, options: options).map { translation in
                // LibreTranslate's filter_unique: no repeats, neither the translation nor "".
                var seen: Set<String> = [translation.text, ""]
                let others = translation.hypotheses.dropFirst().map(\.text).filter { seen.insert($0).inserted }
                return (translation.text, others)
            }
        }
        var result: [String: Any] = isArray
            ? ["translatedText": translated.map(\.text)] : ["translatedText": translated[0].text]
        if alternatives > 0 {
            result["alternatives"] = isArray ? translated.map(\.alternatives) : translated[0].alternatives
        }
        return Self.json(result)
    }

    /// `format: "html"`: translates the text of an HTML fragment and keeps its markup. The one place the HTML
    /// translation enters the server; this build has none, so it is refused.
    func translateHTML(_ texts: [String], model: ModelCatalog.Model) async throws -> [String] {
        throw APIError.badRequest("format html is not supported by this server build")
    }

    /// `settings`' options for `model`; an out-of-range setting is a 400 that names it.
    func decodingOptions(_ settings: TranslationSettings, model: ModelCatalog.Model) throws -> TranslationOptions {
        do { return try settings.options(for: model.translator, source: model.source, target: model.target) } catch let error as DecodingError {
            throw APIError.badRequest("Invalid request: \(error.setting.map { "\($0): " } ?? "")\(error.message)")
        }
    }

    /// `GET|POST /languages`: `[{"code", "name", "targets"}]`, every language a model reads or writes.
    func languages(_ request: Request) async throws -> Response {
        // A GET may carry a form body (libretranslatepy's): read and ignore it.
        _ = try await RequestParameters.body(of: request, maxBytes: configuration.maxBodyBytes)
        return Self.json(catalog.languages.map { code -> [String: Any] in
            ["code": code, "name": ModelCatalog.name(of: code), "targets": catalog.targets(of: code)]
        })
    }

    /// `POST /detect`: no detection in this build; a missing `q` is reported first, as LibreTranslate does.
    func detect(_ request: Request) async throws -> Response {
        let parameters = try await RequestParameters.read(request, maxBytes: configuration.maxBodyBytes)
        try checkAPIKey(try parameters.string("api_key"))
        guard try parameters.texts() != nil else { throw APIError.missing("q") }
        throw APIError.badRequest("language detection is not supported by this server: give the source language's code")
    }

    /// `GET /frontend/settings`, LibreTranslate's fields.
    func frontendSettings() -> Response {
        let first = catalog.models.first
        func language(_ code: String) -> [String: Any] { ["code": code, "name": ModelCatalog.name(of: code)] }
        return Self.json([
            "charLimit": configuration.charLimit,
            "frontendTimeout": 500,
            "apiKeys": configuration.apiKeys != nil,
            "keyRequired": configuration.apiKeys != nil,
            "suggestions": false,
            "filesTranslation": false,
            "supportedFilesFormat": [String](),
            "language": ["source": language(first?.source ?? "en"), "target": language(first?.target ?? "de")],
        ])
    }
}
