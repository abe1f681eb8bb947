import Foundation
@_exported import XlateCore
@_exported import XlateDecode
@_exported import XlateModel

/// Translates text with a Hugging Face model folder: Marian (OPUS-MT), or T5 / Flan-T5 / mT5 (see
/// `TranslationOptions.prefix` and `translationPrefix(source:target:)`).
///
/// ```swift
/// import Xlate
///
/// let translator = try Translator(modelAt: URL(fileURLWithPath: "Models/xlate-en-de"))
/// let german = try translator.translate("The cat sat on the mat.")
/// print(german.text)                      // Die Katze saß auf der Matte.
///
/// var options = translator.defaultOptions  // from the model's generation_config.json
/// options.decoding.numBeams = 1           // greedy
/// let batch = try translator.translate(["Hello.", "How are you?"], options: options)
/// ```
///
/// A `Translator` is immutable after loading and can be shared between tasks and threads.
public final class Translator: Sendable {
    /// The model folder.
    public let directory: URL
    /// The network: encodes sources and computes decoder steps (`MarianModel` for Marian / OPUS-MT folders).
    public let model: any Seq2SeqModel
    /// Text ↔ ids for the model (`MarianTokenizer` for Marian / OPUS-MT folders).
    public let tokenizer: any Tokenizer
    /// From `config.json`'s `model_type`.
    public let architecture: ModelArchitecture
    /// Options built from the model's `generation_config.json` (transformers' defaults where it is silent).
    public let defaultOptions: TranslationOptions

    /// The precision the weight matrices compute in.
    public let computeType: ComputeType

    /// Loads a model folder: `config.json`, safetensors weights, tokenizer files, `generation_config.json`.
    /// Every tensor is checked against the config before use. `computeType: .int8` quantises the weight matrices
    /// (faster, half the memory of float16 weights; translations may differ slightly from float32's).
    ///
    /// - Throws: `ModelError` naming the file or tensor at fault (`missingFolder` / `notAFolder` when `directory`
    ///   is not a model folder; an out-of-range setting of `generation_config.json` is `invalidConfig`), or
    ///   `XlateCoreError` when OpenBLAS is needed and cannot be loaded.
    public init(modelAt directory: URL, computeType: ComputeType = .float32) throws {
        if GEMMPath.current == .openBLAS, computeType == .float32 { _ = try BLAS.info() }
        self.directory = directory
        self.computeType = computeType
        try ModelFolder.check(directory)
        architecture = try ModelArchitecture(directory: directory)
        (model, tokenizer) = try architecture.load(directory: directory, computeType: computeType)
        let generation = try GenerationDefaults(modelDirectory: directory)
        var defaults = DecodingOptions(defaults: generation)
        if generation.maxLength == nil {
            // transformers would stop at 20 tokens here; a translator should not cut sentences short.
            defaults.maxLength = model.maxTargetLength
        }
        if defaults.forcedEOSTokenIds.isEmpty { defaults.forcedEOSTokenIds = model.vocabulary.forcedEOSTokenIds }
        defaults.maxLength = min(defaults.maxLength, model.maxTargetLength)
        // Values out of range in generation_config.json are the model folder's fault, not the caller's options'.
        do { try defaults.validate(for: model) } catch {
            throw ModelError.invalidConfig(
                path: generation.path ?? directory.appendingPathComponent("generation_config.json").path,
                reason: error.setting.map { "\"\($0)\" is out of range: \(error.message)." } ?? error.localizedDescription)
        }
        defaultOptions = TranslationOptions(decoding: defaults)
    }

    /// `prefixLength`: leading source tokens that came from `TranslationOptions.prefix`, left out of the result.
    private func makeTranslation(
        source: String, tokens: TokenizedText, truncated: Int, nbest: [Hypothesis], attention: CrossAttentionRequest?,
        alignmentMethod: AlignmentMethod, maxLength: Int, prefixLength: Int = 0
    ) -> Translation {
        let hypotheses = nbest.map { hypothesis in
            TranslatedHypothesis(
                text: tokenizer.decode(hypothesis.tokens), ids: hypothesis.tokens,
                pieces: tokenizer.targetPieces(hypothesis.tokens), score: hypothesis.score,
                tokenScores: hypothesis.tokenScores,
                crossAttention: hypothesis.crossAttention.map { rows in rows.map { Array($0.dropFirst(prefixLength)) } })
        }
        var tokens = tokens
        tokens.pieces.removeFirst(prefixLength)
        tokens.ids.removeFirst(prefixLength)
        var alignment: Alignment?
        if let attention, let best = hypotheses.first, let matrix = best.crossAttention {
            alignment = Alignment(
                sourcePieces: tokens.pieces + [MarianTokenizer.eosToken], targetPieces: best.pieces, matrix: matrix,
                request: attention, method: alignmentMethod, languageTokens: languageTokens)
        }
        return Translation(
            source: source, text: hypotheses.first?.text ?? "", sourceTokens: tokens.pieces, sourceIds: tokens.ids,
            hypotheses: hypotheses, truncatedSourceTokens: truncated,
            reachedMaxLength: nbest.first.map { $0.tokens.count + 1 >= maxLength } ?? false, alignment: alignment)
    }

    /// Translates one text (one segment unless `options.splitSentences`).
    public func translate(_ text: String, options: TranslationOptions? = nil) throws -> Translation {
        try translate([text], options: options)[0]
    }

    /// Translates texts, in batches of sentences of similar length; results keep the input order.
    ///
    /// `progress`, if given, is called (from worker threads) after each batch with the number of segments it
    /// finished and the number in this call; with `splitSentences` the segments are sentences, not texts.
    ///
    /// `shouldStop`, if given, is asked (from worker threads) before each batch starts. Once it returns true no
    /// further batch starts; the batches already running finish, and the call throws ``TranslationStopped`` holding
    /// every translation that was completed. (When every batch had already started, the call returns normally.) The
    /// async `translate` stops at the same points when its task is cancelled: between rounds of `threads` batches.
    ///
    /// - Throws: `DecodingError` for options out of range (before anything is translated), ``TranslationStopped``
    ///   when `shouldStop` stopped it, `XlateCoreError.cannotReserve` when even one sentence's
    ///   decoder caches cannot be reserved (a batch that does not fit is first decoded in smaller parts).
    ///
    /// ```swift
    /// let stop = StopFlag()                    // stop.set() from a signal handler, a UI button, ...
    /// do {
    ///     let all = try translator.translate(lines, shouldStop: stop.isSet)
    /// } catch let stopped as TranslationStopped {
    ///     let done = stopped.completedPrefix   // the first lines, in order, that are complete
    /// }
    /// ```
    public func translate(
        _ texts: [String], options: TranslationOptions? = nil, progress: (@Sendable (Int, Int) -> Void)? = nil,
        shouldStop: (@Sendable () -> Bool)? = nil
    ) throws -> [Translation] {
        let options = try prepared(options ?? defaultOptions)
        if options.splitSentences {
            return try translateSplitting(texts, options: options, progress: progress, shouldStop: shouldStop)
        }
        return try translateSegments(texts, options: options, progress: progress, shouldStop: shouldStop)
    }

    /// The encoder input for `text` (in `language`, a code of a multilingual model's `languages`), cut to the
    /// model's positions (keeping the first tokens and the closing `</s>`, as transformers' truncation does), and the
    /// number of tokens dropped.
    func encodeSource(_ text: String, language: String? = nil) -> (tokens: TokenizedText, truncated: Int) {
        var source = tokenizer.encode(text, language: language)
        guard source.ids.count > model.maxSourceLength else { return (source, 0) }
        let truncated = source.ids.count - model.maxSourceLength
        source.ids = Array(source.ids.prefix(model.maxSourceLength - 1)) + [source.ids.last!]
        source.pieces = Array(source.pieces.prefix(model.maxSourceLength - 1))
        return (source, truncated)
    }

    /// Translates each text as one segment (options already validated), with `strategy` or the one the options
    /// choose; `shouldStop` as in `translate(_:options:progress:shouldStop:)`. Throws `TranslationStopped` when
    /// stopped, `XlateCoreError.cannotReserve` when even one sentence's decoder caches cannot be reserved.
    func translateSegments(
        _ texts: [String], options: TranslationOptions, progress: (@Sendable (Int, Int) -> Void)?,
        strategy: (any SearchStrategy)? = nil, shouldStop: (@Sendable () -> Bool)? = nil
    ) throws -> [Translation] {
        let strategy = strategy ?? searchStrategy(for: options.decoding)
        var results = [Translation?](repeating: nil, count: texts.count)
        var inputs: [(index: Int, source: TokenizedText, truncated: Int, prefixLength: Int)] = []
        let prefix = options.prefix ?? ""
        // A multilingual model's source starts with its language token (BART's with `<s>`), left out of the result
        // like a prefix.
        let languageTokens = tokenizer.sourcePrefixLength
        let prefixPieces = prefix.isEmpty ? [] : Array(tokenizer.encode(prefix).pieces.dropFirst(languageTokens))
        for (index, text) in texts.enumerated() {
            if text.allSatisfy(\.isWhitespace) {
                results[index] = Translation(source: text, text: "", sourceTokens: [], hypotheses: [])
                continue
            }
            let (source, truncated) = encodeSource(prefix + text, language: options.sourceLanguageCode)
            // The prefix's own tokens, when the text did not merge into them (a prefix ending in a space never does).
            let prefixLength = languageTokens
                + (source.pieces.dropFirst(languageTokens).starts(with: prefixPieces) ? prefixPieces.count : 0)
            inputs.append((index, source, truncated, prefixLength))
        }
        // Longest first, so each batch holds sentences of similar length (little padding).
        inputs.sort { $0.source.ids.count > $1.source.ids.count }
        let batches = options.threadBatches(inputs)
        let translated = ParallelResults<[Translation]>(count: batches.count)
        let total = inputs.count
        options.runWorkers(batchCount: batches.count) {
            while shouldStop?() != true, let b = translated.claim() {
                let batch = batches[b]
                let encoded = model.encode(batch.map(\.source.ids))
                let hypotheses: [[Hypothesis]]
                do throws(XlateCoreError) {
                    hypotheses = try encoded.inParts { part, _ throws(XlateCoreError) in
                        try strategy.search(model: model, encoded: part, options: options.decoding)
                    }
                } catch {
                    translated.fail(error)
                    return
                }
                translated.store(zip(batch, hypotheses).map { input, nbest in
                    makeTranslation(
                        source: texts[input.index], tokens: input.source, truncated: input.truncated, nbest: nbest,
                        attention: options.decoding.crossAttention, alignmentMethod: options.alignmentMethod ?? .default,
                        maxLength: options.decoding.effectiveMaxLength, prefixLength: input.prefixLength)
                }, at: b)
                progress?(batch.count, total)
            }
        }
        for (batch, translations) in zip(batches, try translated.finished()) {
            guard let translations else { continue }  // never started: stopped
            for (input, translation) in zip(batch, translations) { results[input.index] = translation }
        }
        if results.contains(nil) { throw TranslationStopped(translations: results) }
        return results.map { $0! }
    }
}

/// A translation call stopped by its `shouldStop` before every batch had run; see
/// ``Translator/translate(_:options:progress:shouldStop:)``.
public struct TranslationStopped: Error, Sendable, Equatable {
    /// One entry per input text, in input order: its translation when all of its work (every sentence of it, with
    /// `splitSentences`) was done, else nil. Blank texts are always done.
    public var translations: [Translation?]

    /// The translations of the texts before the first unfinished one: what can be written out in input order.
    public var completedPrefix: [Translation] { translations.prefix { $0 != nil }.map { $0! } }

    /// A stop with these results (nil: not done).
    public init(translations: [Translation?]) { self.translations = translations }
}

/// A flag that one thread sets and others read: a ready-made `shouldStop` for
/// ``Translator/translate(_:options:progress:shouldStop:)`` (`shouldStop: flag.isSet`).
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    /// A flag not yet set.
    public init() {}

    /// Asks the translation to stop; it stays set.
    public func set() { lock.withLock { value = true } }

    /// Whether `set()` was called.
    @Sendable public func isSet() -> Bool { lock.withLock { value } }
}

/// Options of a translation call: decoding settings plus batching.
public struct TranslationOptions: Sendable, Equatable {
    /// Search settings: beams, lengths, returned scores and attention, banned tokens, target prefix.
    public var decoding: DecodingOptions
    /// Sentences translated at once, shared among the threads: each thread encodes and decodes batches of
    /// ⌈batchSize / threads⌉ sentences (fewer when there are fewer texts than `batchSize`, so that every thread gets
    /// some). Memory follows the batch size, not the thread count.
    public var batchSize: Int = 32
    /// Threads translating at the same time, each its own batches. With fewer batches than threads (a single
    /// sentence, a short text), the spare threads split each batch's matrix products (`ProductThreads`).
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Translate each text sentence by sentence (`SentenceSplitter`), cutting a sentence longer than the model's
    /// positions at safe boundaries, and rejoin the translations with the source's whitespace. Off by default: a
    /// text is then one segment, truncated (and reported) if too long, as transformers does.
    ///
    /// Pieces with no letter in any script (emoji, symbols, digits, punctuation alone), and emoji at the start or
    /// end of a sentence, are copied rather than translated. With `numReturnSequences` > 1, a text's n-best list is
    /// the best combinations of its sentences' n-best lists by the sum of their scores: the first is every
    /// sentence's best, the next ones change one sentence at a time (each hypothesis's `score` is still that of the
    /// whole text as one sequence).
    public var splitSentences: Bool = false
    /// Text put before every segment before tokenizing: a T5 task prefix ("translate English to German: ",
    /// "summarize: "; see `Translator.translationPrefix`), or any text a model expects first. Its tokens are left
    /// out of `Translation.sourceTokens`, `sourceIds` and the cross-attention, so that alignments index the
    /// segment's own words.
    public var prefix: String?
    /// The language of the texts (ISO 639-1, e.g. "en"): chooses the sentence splitter's rules with
    /// `splitSentences`, and a multilingual model's source language token (see ``Translator/languages``; its own
    /// codes such as "eng_Latn" are accepted too). Nil: the model's source language, from its folder name
    /// (`opus-mt-en-de`) or its tokenizer's default, else every language's rules.
    public var sourceLanguage: String?
    /// How ``Translation/alignment`` reads links from the attention `decoding.crossAttention` asks for (and
    /// ``Translator/align(source:target:options:)`` too). Nil: ``AlignmentMethod/default`` for translations, the
    /// model's given-pair method (``Translator/defaultPairAlignment``) for given pairs.
    public var alignmentMethod: AlignmentMethod?
    /// The language to translate into, for a multilingual model (M2M100, NLLB-200, mBART-50): ISO 639-1 ("de") or
    /// the model's own code ("deu_Latn"); its token is forced as the first of the output. Such a model needs one
    /// (unless `decoding.forcedBOSTokenId` is set); a model of one language pair ignores it.
    public var targetLanguage: String?
    /// The model's codes of `sourceLanguage` and `targetLanguage`, set by ``Translator`` before translating.
    var sourceLanguageCode: String?
    var targetLanguageCode: String?

    /// Options with `decoding` (transformers' defaults unless given; ``Translator/defaultOptions`` holds the
    /// model's own) and `batchSize` sentences per batch.
    public init(decoding: DecodingOptions = DecodingOptions(), batchSize: Int = 32) {
        self.decoding = decoding
        self.batchSize = batchSize
    }

    /// `items` (sorted as the batches should be) cut into the batches the threads take one at a time: `batchSize`
    /// shared among `threads`, and `items` spread over all threads when they are fewer than `batchSize`.
    func threadBatches<Item>(_ items: [Item]) -> [[Item]] {
        let perThread = (batchSize + threads - 1) / threads
        let spread = (items.count + threads - 1) / threads
        let size = max(1, min(perThread, spread))
        return stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min($0 + size, items.count)]) }
    }

    /// Runs `work` on the batch workers: `min(threads, batchCount)` threads at once (each with single-threaded BLAS,
    /// see `BLAS`), each lending its packed products the threads left spare (`ProductThreads`).
    func runWorkers(batchCount: Int, _ work: @Sendable () -> Void) {
        let workers = max(1, min(threads, batchCount))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in ProductThreads.with(threads / workers, work) }
    }

    /// Checks the options against each other and against `model`; translating does this first.
    public func validate(for model: any Seq2SeqModel) throws(DecodingError) {
        guard batchSize >= 1 else { throw .invalidOption("the batch size must be >= 1, got \(batchSize)") }
        guard threads >= 1 else { throw .invalidOption("the number of threads must be >= 1, got \(threads)") }
        try decoding.validate(for: model)
    }
}

/// The translation of one input text.
public struct Translation: Sendable, Equatable {
    /// The input text.
    public var source: String
    /// The best translation (empty for an empty or whitespace-only source).
    public var text: String
    /// Source pieces as the encoder read them (before `</s>`).
    public var sourceTokens: [String]
    /// Source ids including `</s>`.
    public var sourceIds: [Int] = []
    /// Best first: `numReturnSequences` hypotheses.
    public var hypotheses: [TranslatedHypothesis]
    /// Source tokens dropped because the source exceeded the model's positions (0: nothing dropped).
    public var truncatedSourceTokens: Int = 0
    /// The best hypothesis used every position the length limit allows (`DecodingOptions.effectiveMaxLength`), so
    /// it may be cut: its last token is then the forced `</s>`, as in transformers.
    public var reachedMaxLength: Bool = false
    /// Word alignment of the best hypothesis, when the options asked for cross-attention.
    public var alignment: Alignment? = nil
}

/// One output hypothesis, detokenized.
public struct TranslatedHypothesis: Sendable, Equatable {
    /// The detokenized translation.
    public var text: String
    /// Generated ids (start token excluded; ends with `</s>` unless cut by the length limit).
    public var ids: [Int]
    /// The target piece of each id.
    public var pieces: [String]
    /// `Σ log p / length^lengthPenalty` (beam search always; greedy search when token scores are requested).
    public var score: Float?
    /// The log-probability of each id, when requested (always under beam search).
    public var tokenScores: [Float]?
    /// `[ids.count][source length]` cross-attention, when requested.
    public var crossAttention: [[Float]]?

    /// A hypothesis with every field given.
    public init(text: String, ids: [Int], pieces: [String], score: Float?, tokenScores: [Float]?, crossAttention: [[Float]]?) {
        self.text = text
        self.ids = ids
        self.pieces = pieces
        self.score = score
        self.tokenScores = tokenScores
        self.crossAttention = crossAttention
    }
}

extension Translator {
    /// Loads the first model that translates `source` → `target` (see `ModelResolver`).
    public convenience init(
        source: String, target: String, resolver: ModelResolver = ModelResolver(), computeType: ComputeType = .float32
    ) throws {
        try self.init(modelAt: try resolver.resolve(source: source, target: target), computeType: computeType)
    }
}

/// Work items handed out to concurrent workers, and their results in item order.
final class ParallelResults<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var slots: [Value?]
    private var failure: XlateCoreError?

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// The next unclaimed item, or nil when all are taken or an item failed.
    func claim() -> Int? {
        lock.withLock {
            guard next < slots.count, failure == nil else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func store(_ value: Value, at index: Int) {
        lock.withLock { slots[index] = value }
    }

    /// Records that an item failed: no further item is handed out, and `values()` and `finished()` throw `error`.
    func fail(_ error: XlateCoreError) {
        lock.withLock { failure = failure ?? error }
    }

    /// All results, or the first failure; call after every worker has finished, when every item was claimed.
    func values() throws(XlateCoreError) -> [Value] {
        try finished().map { $0! }
    }

    /// The results, nil for items never claimed (the workers stopped early), or the first failure; call after every
    /// worker has finished.
    func finished() throws(XlateCoreError) -> [Value?] {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        return slots
    }
}
