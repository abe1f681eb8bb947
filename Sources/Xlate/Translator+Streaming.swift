import Foundation

/// One element of ``Translator/stream(_:options:)``: the translation as far as it is decoded.
public struct PartialTranslation: Sendable, Equatable {
    /// The detokenized translation so far.
    public var text: String
    /// The text this element adds to the previous ones: concatenating every element's `delta` gives the final text.
    public var delta: String
    /// The ids generated so far (start token excluded).
    public var ids: [Int]
    /// The log-probability of each id, when the options ask for token scores.
    public var tokenScores: [Float]?
    /// Set on the last element only: the complete result, equal to what `translate(_:options:)` returns for the same
    /// text and greedy options.
    public var translation: Translation?

    /// Whether this is the last element.
    public var isComplete: Bool { translation != nil }
}

extension Translator {
    /// Translates `text` token by token: one element per generated token, then a last element holding the complete
    /// ``Translation``.
    ///
    /// ```swift
    /// for try await partial in translator.stream("The cat sat on the mat.") {
    ///     print(partial.delta, terminator: "")
    /// }
    /// ```
    ///
    /// Streaming uses greedy search. Without `options`, it uses ``defaultOptions`` with one beam; options asking for
    /// beam search, or for `splitSentences`, make the first `next()` throw a `DecodingError`. The text is one segment,
    /// truncated (and reported) if it exceeds the model's positions, as in `translate`.
    ///
    /// Decoding starts at the first `next()` and runs on a background thread, one decoder step ahead of the
    /// consumer: each `next()` lets it take one more step. When the consuming task is cancelled, the stream ends (as
    /// every `AsyncThrowingStream` does: `next()` returns nil) without its complete last element, and decoding stops
    /// before the next step; so it does when the consumer stops iterating.
    public func stream(_ text: String, options: TranslationOptions? = nil) -> AsyncThrowingStream<PartialTranslation, Error> {
        var options = options ?? {
            var greedy = defaultOptions
            greedy.decoding.numBeams = 1
            greedy.decoding.numReturnSequences = 1
            return greedy
        }()
        options.batchSize = 1
        options.threads = 1
        let consumer = StreamConsumer { [self, options] demand, continuation in
            do {
                let options = try prepared(options)
                guard options.decoding.numBeams == 1 else {
                    throw DecodingError.invalidOption(
                        "streaming uses greedy search: set numBeams to 1 (got \(options.decoding.numBeams))")
                }
                guard !options.splitSentences else {
                    throw DecodingError.invalidOption("streaming translates one segment: turn splitSentences off")
                }
                let emitted = StreamedText()
                let search = GreedySearch { hypotheses in
                    guard !demand.isStopped else { return false }
                    let hypothesis = hypotheses[0]
                    let text = self.tokenizer.decode(hypothesis.tokens)
                    continuation.yield(PartialTranslation(
                        text: text, delta: emitted.advance(to: text), ids: hypothesis.tokens,
                        tokenScores: hypothesis.tokenScores))
                    return demand.waitForNext()
                }
                let translation = try translateSegments([text], options: options, progress: nil, strategy: search)[0]
                guard !demand.isStopped else { return continuation.finish() }
                let best = translation.hypotheses.first
                continuation.yield(PartialTranslation(
                    text: translation.text, delta: emitted.advance(to: translation.text), ids: best?.ids ?? [],
                    tokenScores: best?.tokenScores, translation: translation))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        return AsyncThrowingStream { try await consumer.next() }
    }

    /// Translates one text from async code, off the cooperative thread pool; cancellation is checked before it starts.
    public func translate(_ text: String, options: TranslationOptions? = nil) async throws -> Translation {
        try await translate([text], options: options)[0]
    }

    /// Translates texts from async code, off the cooperative thread pool, with the results of the blocking
    /// `translate(_:options:progress:shouldStop:)`.
    ///
    /// The texts are translated in groups of `batchSize × threads` (several rounds of batches); the task's cancellation
    /// is checked before each group, and a cancelled task stops there and throws `CancellationError`. `progress`, if
    /// given, is called after each group with the number of texts translated so far and the number of texts.
    public func translate(
        _ texts: [String], options: TranslationOptions? = nil, progress: (@Sendable (Int, Int) -> Void)? = nil
    ) async throws -> [Translation] {
        let options = try prepared(options ?? defaultOptions)
        let groupSize = options.batchSize * options.threads
        var results: [Translation] = []
        results.reserveCapacity(texts.count)
        for start in stride(from: 0, to: texts.count, by: groupSize) {
            let group = Array(texts[start..<min(start + groupSize, texts.count)])
            results += try await Self.offCooperativePool { [self] in try translate(group, options: options) }
            progress?(results.count, texts.count)
        }
        return results
    }
}

/// How far a stream's decoder may go: one step per element the consumer asks for, until the consumer goes away.
private final class StepDemand: @unchecked Sendable {
    private let lock = NSLock()
    private let permits = DispatchSemaphore(value: 0)
    private var stopped = false

    var isStopped: Bool { lock.withLock { stopped } }

    /// The consumer asks for one more element.
    func grant() { permits.signal() }

    /// The consumer is gone (cancelled, or stopped iterating): the decoder stops before its next step.
    func stop() {
        let first = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        if first { permits.signal() }
    }

    /// Blocks the decoder until the consumer asks for the next element; false when it went away instead.
    func waitForNext() -> Bool {
        permits.wait()
        return !isStopped
    }
}

/// The consumer's side of a stream: starts the decoder on the first `next()`, then grants it one step per `next()`.
/// Released with the stream (the consumer stopped iterating), it stops the decoder.
private final class StreamConsumer: @unchecked Sendable {
    typealias Elements = AsyncThrowingStream<PartialTranslation, Error>
    private let demand = StepDemand()
    private let continuation: Elements.Continuation
    private var iterator: Elements.AsyncIterator
    private var decode: (@Sendable (StepDemand, Elements.Continuation) -> Void)?

    /// `decode` runs on a background thread: it yields one element per step, and calls `demand.waitForNext()`
    /// before each further step.
    init(decode: @escaping @Sendable (StepDemand, Elements.Continuation) -> Void) {
        let (elements, continuation) = Elements.makeStream()
        self.continuation = continuation
        iterator = elements.makeAsyncIterator()
        self.decode = decode
        // A consumer cancelled while waiting for an element.
        continuation.onTermination = { [demand] _ in demand.stop() }
    }

    deinit { demand.stop() }

    /// Called by `AsyncThrowingStream(unfolding:)`, one call at a time (and no more once the consuming task is
    /// cancelled).
    func next() async throws -> PartialTranslation? {
        if let decode {
            self.decode = nil
            let (demand, continuation) = (demand, continuation)
            DispatchQueue.global(qos: .userInitiated).async { decode(demand, continuation) }
        } else {
            demand.grant()
        }
        var iterator = self.iterator
        defer { self.iterator = iterator }
        return try await iterator.next()
    }
}

/// The text a stream has handed out so far, and what each new decoding adds to it.
private final class StreamedText: @unchecked Sendable {
    private let lock = NSLock()
    private var emitted = ""

    /// The text `text` adds after what was emitted. Detokenizing more tokens normally only appends; should it ever
    /// rewrite the end (the pieces of one character spread over tokens), nothing is emitted until it extends the
    /// emitted text again.
    func advance(to text: String) -> String {
        lock.withLock {
            guard text.unicodeScalars.starts(with: emitted.unicodeScalars) else { return "" }
            let delta = String(text.unicodeScalars.dropFirst(emitted.unicodeScalars.count))
            emitted = text
            return delta
        }
    }
}
