import Foundation

/// Translates for many concurrent callers, joining their requests into shared batches: what a server needs.
///
/// Requests for the same ``Translator`` with equal ``TranslationOptions`` that arrive within
/// ``Configuration/batchWindow`` of each other (or while the previous batch is still running) are translated in one
/// `translate` call of up to ``Configuration/maxBatchSize`` texts. One batch runs at a time, with every thread the
/// options give it, so that the CPU is never shared between batches. Each request gets exactly the translations it
/// would get alone: every sentence of a batch is encoded and decoded over its own tokens only (see
/// `EncoderGroupsTests`), so the company a text keeps cannot change its result.
///
/// ```swift
/// let service = TranslationService(configuration: .init(maxBatchSize: 32, batchWindow: .milliseconds(5)))
/// // From each request handler, concurrently:
/// let results = try await service.translate(["Good morning."], with: translator, options: options,
///                                           timeout: .seconds(30))
/// ```
public actor TranslationService {
    /// How requests are batched and bounded.
    public struct Configuration: Sendable {
        /// Most texts in one batch. A request with more texts than this runs as a batch of its own.
        public var maxBatchSize: Int
        /// How long a new batch waits for company before it may start.
        public var batchWindow: Duration
        /// Most requests waiting for their batch to start; one more is refused with
        /// ``TranslationServiceError/queueFull(limit:retryAfter:)``.
        public var queueLimit: Int

        /// Batches of up to `maxBatchSize` texts, collected for `batchWindow`, with at most `queueLimit` requests
        /// waiting.
        public init(maxBatchSize: Int = 32, batchWindow: Duration = .milliseconds(5), queueLimit: Int = 256) {
            self.maxBatchSize = maxBatchSize
            self.batchWindow = batchWindow
            self.queueLimit = queueLimit
        }
    }

    /// What one finished batch did, for metrics.
    public struct BatchReport: Sendable {
        /// Requests in the batch (those that timed out or were cancelled while it ran included).
        public var requests: Int
        /// Texts translated.
        public var texts: Int
        /// Target tokens generated for the best hypotheses (end token included).
        public var targetTokens: Int
        /// Time from the batch's start to its end.
        public var duration: Duration
    }

    public let configuration: Configuration
    /// Called after each batch, on the service's executor (keep it short).
    private let onBatch: (@Sendable (BatchReport) -> Void)?
    /// Called with the number of waiting requests whenever it changes.
    private let onQueueDepth: (@Sendable (Int) -> Void)?

    /// A request waiting for its translations.
    private struct Waiter {
        let id: Int
        let texts: [String]
        let continuation: CheckedContinuation<[Translation], Error>
        var timer: Task<Void, Never>?
    }

    /// Requests that will be translated together.
    private struct Batch {
        let translator: Translator
        let options: TranslationOptions
        var waiters: [Waiter] = []
        var textCount = 0
        /// The collection window has passed: the batch may start.
        var windowEnded = false
    }

    /// Batches not yet started, oldest first.
    private var pending: [Batch] = []
    /// The waiters of the running batch, by id; a waiter leaves when it times out or is cancelled.
    private var running: [Int: Waiter] = [:]
    private var isRunning = false
    private var nextID = 0
    /// The last batch's duration: the estimate of how long a waiting batch takes (Retry-After).
    private var lastBatchDuration: Duration = .seconds(1)

    /// A service batching as `configuration` says; `onBatch` and `onQueueDepth` report to metrics.
    public init(
        configuration: Configuration = Configuration(), onBatch: (@Sendable (BatchReport) -> Void)? = nil,
        onQueueDepth: (@Sendable (Int) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.onBatch = onBatch
        self.onQueueDepth = onQueueDepth
    }

    /// Requests waiting for their batch to start.
    public var queueDepth: Int { pending.reduce(0) { $0 + $1.waiters.count } }

    /// The translations of `texts` by `translator` with `options`, in order: the same as
    /// `translator.translate(texts, options: options)` returns, translated in a batch with other requests.
    ///
    /// - Throws: `DecodingError` for options out of range (before queueing);
    ///   ``TranslationServiceError/queueFull(limit:retryAfter:)`` when ``Configuration/queueLimit`` requests are
    ///   already waiting; ``TranslationServiceError/timedOut(after:)`` when `timeout` passes first (the batch it
    ///   was in still runs for the others); `CancellationError` when the calling task is cancelled; what the
    ///   translation throws (`XlateCoreError.cannotReserve`).
    public func translate(
        _ texts: [String], with translator: Translator, options: TranslationOptions, timeout: Duration? = nil
    ) async throws -> [Translation] {
        try options.validate(for: translator.model)
        if texts.isEmpty { return [] }
        let depth = queueDepth
        guard depth < configuration.queueLimit else {
            // Every waiting batch, and the running one, must finish first.
            let batches = pending.count + (isRunning ? 1 : 0)
            throw TranslationServiceError.queueFull(limit: configuration.queueLimit, retryAfter: lastBatchDuration * batches)
        }
        let id = nextID
        nextID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled { return continuation.resume(throwing: CancellationError()) }
                var waiter = Waiter(id: id, texts: texts, continuation: continuation)
                if let timeout {
                    waiter.timer = Task { [weak self] in
                        do { try await Task.sleep(for: timeout) } catch { return }  // cancelled: answered in time
                        await self?.remove(id, error: TranslationServiceError.timedOut(after: timeout))
                    }
                }
                enqueue(waiter, translator: translator, options: options)
            }
        } onCancel: {
            Task { await self.remove(id, error: CancellationError()) }
        }
    }

    private func enqueue(_ waiter: Waiter, translator: Translator, options: TranslationOptions) {
        let count = waiter.texts.count
        if let index = pending.firstIndex(where: {
            $0.translator === translator && $0.options == options
                && $0.textCount + count <= configuration.maxBatchSize
        }) {
            pending[index].waiters.append(waiter)
            pending[index].textCount += count
        } else {
            var batch = Batch(translator: translator, options: options)
            batch.waiters = [waiter]
            batch.textCount = count
            pending.append(batch)
            let (window, first) = (configuration.batchWindow, waiter.id)
            Task { [weak self] in
                do { try await Task.sleep(for: window) } catch { return }
                await self?.endWindow(of: first)
            }
        }
        onQueueDepth?(queueDepth)
        startNext()
    }

    /// The window of the batch that `firstWaiter` opened has passed.
    private func endWindow(of firstWaiter: Int) {
        guard let index = pending.firstIndex(where: { $0.waiters.first?.id == firstWaiter }) else { return }
        pending[index].windowEnded = true
        startNext()
    }

    /// Answers a waiting or running request with `error` and forgets it.
    private func remove(_ id: Int, error: any Error) {
        for index in pending.indices {
            guard let position = pending[index].waiters.firstIndex(where: { $0.id == id }) else { continue }
            let waiter = pending[index].waiters.remove(at: position)
            pending[index].textCount -= waiter.texts.count
            if pending[index].waiters.isEmpty { pending.remove(at: index) }
            waiter.timer?.cancel()
            waiter.continuation.resume(throwing: error)
            onQueueDepth?(queueDepth)
            return
        }
        if let waiter = running.removeValue(forKey: id) {
            waiter.timer?.cancel()
            waiter.continuation.resume(throwing: error)
        }
    }

    /// Starts the oldest batch that may start, if none is running.
    private func startNext() {
        guard !isRunning,
            let index = pending.firstIndex(where: { $0.windowEnded || $0.textCount >= configuration.maxBatchSize })
        else { return }
        let batch = pending.remove(at: index)
        onQueueDepth?(queueDepth)
        isRunning = true
        running = Dictionary(uniqueKeysWithValues: batch.waiters.map { ($0.id, $0) })
        let texts = batch.waiters.flatMap(\.texts)
        let (translator, options) = (batch.translator, batch.options)
        let requests = batch.waiters.map { (id: $0.id, count: $0.texts.count) }
        Task {
            let clock = ContinuousClock()
            let start = clock.now
            let result: Result<[Translation], Error>
            do { result = .success(try await translator.translateOffPool(texts, options: options)) } catch {
                result = .failure(error)
            }
            self.finish(requests: requests, result: result, duration: clock.now - start)
        }
    }

    /// Hands each request of the finished batch its slice of the results.
    private func finish(requests: [(id: Int, count: Int)], result: Result<[Translation], Error>, duration: Duration) {
        isRunning = false
        lastBatchDuration = duration
        var offset = 0
        var tokens = 0
        for request in requests {
            defer { offset += request.count }
            guard let waiter = running.removeValue(forKey: request.id) else { continue }  // timed out or cancelled
            waiter.timer?.cancel()
            waiter.continuation.resume(with: result.map { Array($0[offset..<(offset + request.count)]) })
        }
        if case .success(let translations) = result {
            tokens = translations.reduce(0) { $0 + ($1.hypotheses.first?.ids.count ?? 0) }
        }
        onBatch?(BatchReport(requests: requests.count, texts: offset, targetTokens: tokens, duration: duration))
        startNext()
    }
}

extension Translator {
    /// `translate(texts, options:)` on a Dispatch thread, so that a long batch holds no thread of the cooperative pool.
    func translateOffPool(_ texts: [String], options: TranslationOptions) async throws -> [Translation] {
        try await Self.offCooperativePool { [self] in try translate(texts, options: options) }
    }
}

/// Why ``TranslationService`` did not translate a request.
public enum TranslationServiceError: Error, LocalizedError, Equatable {
    /// `limit` requests were already waiting; trying again after `retryAfter` (an estimate) may succeed.
    case queueFull(limit: Int, retryAfter: Duration)
    /// The request's timeout passed before its translation was ready.
    case timedOut(after: Duration)

    public var errorDescription: String? {
        switch self {
        case .queueFull(let limit, _):
            return "too many requests: \(limit) are already waiting to be translated; try again later"
        case .timedOut(let after):
            return "the translation did not finish within its timeout of \(after)"
        }
    }
}
