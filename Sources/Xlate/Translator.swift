import Foundation
@_exported import XlateCore
@_exported import XlateDecode
@_exported import XlateModel

/// Translates text with a Hugging Face Marian (OPUS-MT) model folder.
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
    public let model: any Seq2SeqModel
    public let tokenizer: any Tokenizer
    /// Options built from the model's `generation_config.json` (transformers' defaults where it is silent).
    public let defaultOptions: TranslationOptions

    /// Loads a model folder: `config.json`, safetensors weights, tokenizer files, `generation_config.json`.
    /// Every tensor is checked against the config before use.
    public init(modelAt directory: URL) throws {
        if GEMMPath.current == .openBLAS { _ = try BLAS.info() }
        self.directory = directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelError.missingFile(path: directory.path, hint: "Pass the folder that holds config.json and the weights.")
        }
        let config = try MarianConfig(contentsOf: directory.appendingPathComponent("config.json"))
        tokenizer = try MarianTokenizer(directory: directory, config: config)
        model = try MarianModel(config: config, checkpoint: try Checkpoint(directory: directory))
        let generation = try GenerationDefaults(modelDirectory: directory)
        var defaults = DecodingOptions(defaults: generation)
        if generation.maxLength == nil {
            // transformers would stop at 20 tokens here; a translator should not cut sentences short.
            defaults.maxLength = model.maxTargetLength
        }
        if defaults.forcedEOSTokenIds.isEmpty { defaults.forcedEOSTokenIds = model.vocabulary.forcedEOSTokenIds }
        defaults.maxLength = min(defaults.maxLength, model.maxTargetLength)
        defaultOptions = TranslationOptions(decoding: defaults)
    }

    private func makeTranslation(source: String, tokens: TokenizedText, truncated: Int, nbest: [Hypothesis]) -> Translation {
        let hypotheses = nbest.map { hypothesis in
            TranslatedHypothesis(
                text: tokenizer.decode(hypothesis.tokens), ids: hypothesis.tokens,
                pieces: tokenizer.targetPieces(hypothesis.tokens), score: hypothesis.score,
                tokenScores: hypothesis.tokenScores, crossAttention: hypothesis.crossAttention)
        }
        return Translation(
            source: source, text: hypotheses.first?.text ?? "", sourceTokens: tokens.pieces, sourceIds: tokens.ids,
            hypotheses: hypotheses, truncatedSourceTokens: truncated)
    }

    /// Translates one text (one segment: no sentence splitting).
    public func translate(_ text: String, options: TranslationOptions? = nil) throws -> Translation {
        try translate([text], options: options)[0]
    }

    /// Translates texts, in batches of sentences of similar length; results keep the input order.
    public func translate(_ texts: [String], options: TranslationOptions? = nil) throws -> [Translation] {
        let options = options ?? defaultOptions
        try options.validate(for: model)
        let strategy = searchStrategy(for: options.decoding)
        var results = [Translation?](repeating: nil, count: texts.count)
        var inputs: [(index: Int, source: TokenizedText, truncated: Int)] = []
        for (index, text) in texts.enumerated() {
            if text.allSatisfy(\.isWhitespace) {
                results[index] = Translation(source: text, text: "", sourceTokens: [], hypotheses: [])
                continue
            }
            var source = tokenizer.encode(text)
            var truncated = 0
            if source.ids.count > model.maxSourceLength {
                // Keep the first tokens and the closing </s>, as transformers' truncation does.
                truncated = source.ids.count - model.maxSourceLength
                source.ids = Array(source.ids.prefix(model.maxSourceLength - 1)) + [source.ids.last!]
                source.pieces = Array(source.pieces.prefix(model.maxSourceLength - 1))
            }
            inputs.append((index, source, truncated))
        }
        // Longest first, so each batch holds sentences of similar length (little padding).
        inputs.sort { $0.source.ids.count > $1.source.ids.count }
        let batches = stride(from: 0, to: inputs.count, by: options.batchSize).map {
            Array(inputs[$0..<min($0 + options.batchSize, inputs.count)])
        }
        let translated = ParallelResults<[Translation]>(count: batches.count)
        // Batches run on `threads` workers, each with single-threaded BLAS (see `BLAS`).
        DispatchQueue.concurrentPerform(iterations: min(options.threads, batches.count)) { _ in
            while let b = translated.claim() {
                let batch = batches[b]
                let encoded = model.encode(batch.map(\.source.ids))
                let hypotheses = strategy.search(model: model, encoded: encoded, options: options.decoding)
                translated.store(zip(batch, hypotheses).map { input, nbest in
                    makeTranslation(source: texts[input.index], tokens: input.source, truncated: input.truncated, nbest: nbest)
                }, at: b)
            }
        }
        for (batch, translations) in zip(batches, translated.values) {
            for (input, translation) in zip(batch, translations) { results[input.index] = translation }
        }
        return results.map { $0! }
    }
}

/// Options of a translation call: decoding settings plus batching.
public struct TranslationOptions: Sendable, Equatable {
    public var decoding: DecodingOptions
    /// Sentences encoded and decoded together.
    public var batchSize: Int = 32
    /// Batches translated at the same time, one per thread.
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    public init(decoding: DecodingOptions = DecodingOptions(), batchSize: Int = 32) {
        self.decoding = decoding
        self.batchSize = batchSize
    }

    public func validate(for model: any Seq2SeqModel) throws(DecodingError) {
        guard batchSize >= 1 else { throw .invalidOption("the batch size must be >= 1, got \(batchSize)") }
        guard threads >= 1 else { throw .invalidOption("the number of threads must be >= 1, got \(threads)") }
        try decoding.validate(for: model)
    }
}

/// The translation of one input text.
public struct Translation: Sendable, Equatable {
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
}

/// One output hypothesis, detokenized.
public struct TranslatedHypothesis: Sendable, Equatable {
    public var text: String
    /// Generated ids (start token excluded; ends with `</s>` unless cut by the length limit).
    public var ids: [Int]
    /// The target piece of each id.
    public var pieces: [String]
    public var score: Float?
    public var tokenScores: [Float]?
    /// `[ids.count][source length]` cross-attention, when requested.
    public var crossAttention: [[Float]]?

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
    public convenience init(source: String, target: String, resolver: ModelResolver = ModelResolver()) throws {
        try self.init(modelAt: try resolver.resolve(source: source, target: target))
    }
}

/// Work items handed out to concurrent workers, and their results in item order.
final class ParallelResults<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var slots: [Value?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// The next unclaimed item, or nil when all are taken.
    func claim() -> Int? {
        lock.withLock {
            guard next < slots.count else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func store(_ value: Value, at index: Int) {
        lock.withLock { slots[index] = value }
    }

    /// All results; call after every worker has finished.
    var values: [Value] { lock.withLock { slots.map { $0! } } }
}
