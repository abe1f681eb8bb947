import Foundation

/// What a caller may set on top of a model's defaults, each nil to keep the model's: the settings of `xlate`'s
/// options and of the server's native API. ``options(for:source:target:)`` is the one place that turns them into
/// ``TranslationOptions``.
///
/// ```swift
/// var settings = TranslationSettings()
/// settings.beam = 4
/// settings.nbest = 2
/// let options = try settings.options(for: translator, source: "en", target: "de")
/// ```
public struct TranslationSettings: Sendable, Equatable {
    /// Beam size; 1 is greedy search.
    public var beam: Int?
    /// Longest output in tokens, counting the start token.
    public var maxLength: Int?
    /// Shortest output in tokens, counting the start token: end-of-sequence is banned until then.
    public var minLength: Int?
    /// Exponent of the length normalisation of beam scores.
    public var lengthPenalty: Double?
    /// Ban repeating any n-gram of this size.
    public var noRepeatNgram: Int?
    /// Penalise tokens already generated.
    public var repetitionPenalty: Double?
    /// Sentences translated at once.
    public var batchSize: Int?
    /// Threads translating at once.
    public var threads: Int?
    /// Text put before every segment; nil: a T5 model's translation prefix (see ``Translator/inputPrefix(explicit:source:target:)``).
    public var prefix: String?
    /// Hypotheses per text; the beam grows to it when `beam` is not given.
    public var nbest = 1
    /// Return each token's log-probability (and a score under greedy search).
    public var tokenScores = false
    /// Return the cross-attention of the model's alignment heads (``Translator/defaultAlignmentRequest``).
    public var alignment = false
    /// Translate sentence by sentence (``TranslationOptions/splitSentences``).
    public var splitSentences = true

    /// The model's defaults: one hypothesis, sentences split.
    public init() {}

    /// The model's default options with these settings on top; `source/target` name the input's languages (the
    /// splitter's rules, a T5 model's translation prefix, a multilingual model's language tokens).
    ///
    /// - Throws: `DecodingError` for a setting out of range (`outOfRange` names its `generation_config.json` key,
    ///   or `prefix`), `ModelError` when `alignment` is asked of a model whose alignment heads are invalid.
    public func options(for translator: Translator, source: String?, target: String?) throws -> TranslationOptions {
        var options = translator.defaultOptions
        if let batchSize { options.batchSize = batchSize }
        if let threads { options.threads = threads }
        if let beam { options.decoding.numBeams = beam }
        if let maxLength { options.decoding.maxLength = maxLength }
        if let minLength { options.decoding.minLength = minLength }
        if let lengthPenalty { options.decoding.lengthPenalty = lengthPenalty }
        if let noRepeatNgram { options.decoding.noRepeatNgramSize = noRepeatNgram }
        if let repetitionPenalty { options.decoding.repetitionPenalty = repetitionPenalty }
        options.decoding.numReturnSequences = nbest
        if nbest > options.decoding.numBeams, beam == nil { options.decoding.numBeams = nbest }
        options.decoding.returnTokenScores = tokenScores
        options.splitSentences = splitSentences
        options.sourceLanguage = source
        options.targetLanguage = target
        options.prefix = try translator.inputPrefix(explicit: prefix, source: source, target: target)
        if alignment { options.decoding.crossAttention = try translator.defaultAlignmentRequest }
        try options.validate(for: translator.model)
        return options
    }
}
