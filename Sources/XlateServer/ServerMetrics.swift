import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import Xlate

/// The server's metrics, in its own Prometheus registry (no global bootstrap: an app embedding the server keeps its
/// own metrics system).
struct ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let queueDepth: Metrics.Gauge
    private let batchSize: Metrics.Recorder
    private let batchDuration: Metrics.Timer
    private let targetTokens: Metrics.Counter
    private let texts: Metrics.Counter

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets["xlate_batch_texts"] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        self.factory = factory
        queueDepth = Metrics.Gauge(label: "xlate_queue_depth", factory: factory)
        batchSize = Metrics.Recorder(label: "xlate_batch_texts", aggregate: true, factory: factory)
        batchDuration = Metrics.Timer(label: "xlate_batch_duration_seconds", factory: factory)
        targetTokens = Metrics.Counter(label: "xlate_target_tokens_total", factory: factory)
        texts = Metrics.Counter(label: "xlate_translated_texts_total", factory: factory)
        queueDepth.record(0)
    }

    @Sendable func record(batch: TranslationService.BatchReport) {
        batchSize.record(batch.texts)
        batchDuration.recordNanoseconds(Int64(batch.duration.components.seconds) * 1_000_000_000 + batch.duration.components.attoseconds / 1_000_000_000)
        targetTokens.increment(by: batch.targetTokens)
        texts.increment(by: batch.texts)
    }

    @Sendable func record(queueDepth depth: Int) { queueDepth.record(depth) }

    func record(streamedTokens: Int) {
        targetTokens.increment(by: streamedTokens)
        texts.increment()
    }

    /// One answered request: `xlate_http_requests_total{route, method, status}` and its latency histogram.
    func record(route: String, method: String, status: Int, duration: Duration) {
        Metrics.Counter(
            label: "xlate_http_requests_total", dimensions: [("route", route), ("method", method), ("status", "\(status)")],
            factory: factory
        ).increment()
        Metrics.Timer(label: "xlate_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            .recordNanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}

/// Every request: errors answered as `{"error": ...}` JSON (LibreTranslate's shape), CORS headers as LibreTranslate
/// sends them, a metric and a log line with route, status and duration.
struct RequestMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServerMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = error.response
        } catch let error as HTTPError {
            let message = error.status == .notFound ? "Not Found" : (error.body ?? error.status.reasonPhrase)
            response = APIError(status: error.status, message: message).response
        } catch {
            logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            response = APIError(status: .internalServerError, message: "Cannot translate text: \(error.localizedDescription)").response
        }
        response.headers[.accessControlAllowOrigin] = "*"
        response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
        response.headers[.accessControlAllowMethods] = "GET, POST"
        // The matched route, not the raw path: a client cannot make new label values.
        let route = context.endpointPath ?? "unmatched"
        let duration = clock.now - start
        metrics.record(route: route, method: request.method.rawValue, status: response.status.code, duration: duration)
        logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)", "route": "\(route)", "status": "\(response.status.code)",
                "ms": "\(String(format: "%.1f", Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000))",
            ])
        return response
    }
}
