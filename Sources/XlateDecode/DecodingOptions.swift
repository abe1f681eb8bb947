import Foundation
import XlateModel

/// How beam search decides it is done (transformers' `early_stopping`).
public enum EarlyStopping: String, Sendable, Equatable, CaseIterable {
    /// `False` (the default): stop when the best running beam, scored at its current length, cannot beat the
    /// worst finished hypothesis.
    case heuristic = "false"
    /// `True`: stop as soon as `numBeams` hypotheses are finished.
    case enabled = "true"
    /// `"never"`: the canonical check, scoring running beams at the longest possible length.
    case never
}

/// Every decoding setting in one validated value. Defaults are transformers' `GenerationConfig` defaults;
/// `init(defaults:)` applies a model's `generation_config.json` on top.
public struct DecodingOptions: Sendable, Equatable {
    /// Beams per sentence; 1 is greedy search.
    public var numBeams: Int = 1
    /// Longest output in tokens, counting the decoder start token (transformers' `max_length`).
    public var maxLength: Int = 20
    /// When set, overrides `maxLength` with `maxNewTokens + 1`.
    public var maxNewTokens: Int?
    /// Finished hypotheses are scored `Σ log p / length^lengthPenalty`.
    public var lengthPenalty: Double = 1
    public var earlyStopping: EarlyStopping = .heuristic
    /// Hypotheses returned per sentence (≤ `numBeams`).
    public var numReturnSequences: Int = 1
    /// Token sequences that must never be generated.
    public var badWordsIds: [[Int]] = []
    /// Tokens forced when the next token is the last one `maxLength` allows.
    public var forcedEOSTokenIds: [Int] = []
    /// The token forced as the first generated one (transformers' `forced_bos_token_id`): the target language of
    /// mBART-50, M2M100 and NLLB (`Translator` sets it from `TranslationOptions.targetLanguage`), `<s>` for BART.
    public var forcedBOSTokenId: Int?
    /// No output is shorter than this (counting the start token): end-of-sequence is banned until then.
    public var minLength: Int = 0
    /// Bans any n-gram of this size from occurring twice (0: off).
    public var noRepeatNgramSize: Int = 0
    /// Divides positive / multiplies negative scores of tokens already generated (1: off).
    public var repetitionPenalty: Double = 1
    /// Return the log-probability of each chosen token (greedy then computes a softmax per step).
    public var returnTokenScores: Bool = false
    /// Return cross-attention over the source for each generated token.
    public var crossAttention: CrossAttentionRequest?
    /// Target tokens every output must start with (without `</s>`); search forces them, then continues. They are part
    /// of the output, and their log-probabilities count in its score. Empty: no constraint.
    public var targetPrefix: [Int] = []

    public init() {}

    /// transformers' defaults overridden by a model's generation settings.
    public init(defaults: GenerationDefaults) {
        if let value = defaults.maxLength { maxLength = value }
        maxNewTokens = defaults.maxNewTokens
        if let value = defaults.numBeams { numBeams = value }
        if let value = defaults.lengthPenalty { lengthPenalty = value }
        if let value = defaults.earlyStopping { earlyStopping = EarlyStopping(rawValue: value) ?? .heuristic }
        if let value = defaults.numReturnSequences { numReturnSequences = value }
        if let value = defaults.badWordsIds { badWordsIds = value }
        if let value = defaults.forcedEOSTokenIds { forcedEOSTokenIds = value }
        forcedBOSTokenId = defaults.forcedBOSTokenId
        if let value = defaults.minLength { minLength = value }
        if let value = defaults.noRepeatNgramSize { noRepeatNgramSize = value }
        if let value = defaults.repetitionPenalty { repetitionPenalty = value }
    }

    /// The output length limit in tokens, counting the start token.
    public var effectiveMaxLength: Int { maxNewTokens.map { $0 + 1 } ?? maxLength }

    /// The most beams search accepts. Translation uses 4–12 and quality falls beyond a few dozen; every beam is a
    /// decoder row with its own cache, so a value in the thousands would take minutes and gigabytes per batch.
    public static let maximumBeams = 256

    /// Checks every setting against its bounds, against the others and against the model. A setting out of range
    /// throws `DecodingError.outOfRange` naming its `generation_config.json` key.
    public func validate(for model: any Seq2SeqModel) throws(DecodingError) {
        func check(_ condition: Bool, _ key: String, _ message: @autoclosure () -> String) throws(DecodingError) {
            if !condition { throw DecodingError.outOfRange(setting: key, message: message()) }
        }
        /// For settings that are not `generation_config.json`'s.
        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(DecodingError) {
            if !condition { throw DecodingError.invalidOption(message()) }
        }
        let positions = model.maxTargetLength
        try check(numBeams >= 1, "num_beams", "the beam size must be >= 1, got \(numBeams)")
        try check(numBeams <= Self.maximumBeams, "num_beams", "the beam size must be <= \(Self.maximumBeams), got \(numBeams)")
        try check(
            numReturnSequences >= 1, "num_return_sequences", "the number of returned sequences must be >= 1, got \(numReturnSequences)")
        try check(
            numReturnSequences <= numBeams, "num_return_sequences",
            "cannot return \(numReturnSequences) sequences from \(numBeams) beam(s): raise the beam size")
        if let maxNewTokens {
            try check(maxNewTokens >= 1, "max_new_tokens", "max new tokens must be >= 1, got \(maxNewTokens)")
            // Checked before `effectiveMaxLength` adds the start token (Int.max would overflow).
            try check(
                maxNewTokens < positions, "max_new_tokens",
                "max new tokens \(maxNewTokens) exceeds the model's \(positions) target positions (start token included)")
        }
        let lengthKey = maxNewTokens == nil ? "max_length" : "max_new_tokens"
        try check(
            effectiveMaxLength >= 2, lengthKey, "the maximum length must be >= 2 (start token + one token), got \(effectiveMaxLength)")
        try check(
            effectiveMaxLength <= positions, lengthKey,
            "the maximum length \(effectiveMaxLength) exceeds the model's \(positions) target positions")
        try check(minLength >= 0, "min_length", "the minimum length must be >= 0, got \(minLength)")
        try check(
            minLength <= effectiveMaxLength, "min_length",
            "the minimum length \(minLength) exceeds the maximum length \(effectiveMaxLength)")
        try check(lengthPenalty.isFinite, "length_penalty", "the length penalty must be finite, got \(lengthPenalty)")
        try check(
            repetitionPenalty > 0 && repetitionPenalty.isFinite, "repetition_penalty",
            "the repetition penalty must be > 0 and finite, got \(repetitionPenalty)")
        try check(noRepeatNgramSize >= 0, "no_repeat_ngram_size", "the no-repeat n-gram size must be >= 0, got \(noRepeatNgramSize)")
        try check(
            noRepeatNgramSize <= effectiveMaxLength, "no_repeat_ngram_size",
            "the no-repeat n-gram size \(noRepeatNgramSize) exceeds the maximum length \(effectiveMaxLength)")
        let size = model.vocabulary.targetSize
        for sequence in badWordsIds {
            try check(!sequence.isEmpty, "bad_words_ids", "a bad-words sequence is empty")
            try check(
                sequence.count <= effectiveMaxLength, "bad_words_ids",
                "a bad-words sequence of \(sequence.count) tokens is longer than the maximum length \(effectiveMaxLength)")
            try check(
                sequence.allSatisfy { $0 >= 0 && $0 < size }, "bad_words_ids", "bad-words id outside the vocabulary of \(size): \(sequence)")
        }
        try check(
            forcedEOSTokenIds.allSatisfy { $0 >= 0 && $0 < size }, "forced_eos_token_id",
            "forced end-of-sequence id outside the vocabulary of \(size): \(forcedEOSTokenIds)")
        if let id = forcedBOSTokenId {
            try check(id >= 0 && id < size, "forced_bos_token_id", "forced first token \(id) is outside the vocabulary of \(size)")
        }
        try validateTargetPrefix(for: model)
        if let request = crossAttention {
            try require(
                request.layer >= 0 && request.layer < model.decoderLayerCount,
                "attention layer \(request.layer) does not exist: the decoder has layers 0...\(model.decoderLayerCount - 1)")
            if let heads = request.heads {
                try require(!heads.isEmpty, "choose at least one attention head")
                try require(
                    heads.allSatisfy { $0 >= 0 && $0 < model.decoderHeadCount },
                    "attention heads must be in 0...\(model.decoderHeadCount - 1), got \(heads)")
            }
        }
    }
}

/// Invalid decoding settings.
public enum DecodingError: Error, LocalizedError, Equatable {
    case invalidOption(String)
    /// A setting out of its bounds: `setting` is its `generation_config.json` key (`num_beams`, `max_length`, ...).
    case outOfRange(setting: String, message: String)

    /// The `generation_config.json` key of the setting at fault, when one is.
    public var setting: String? {
        if case .outOfRange(let setting, _) = self { setting } else { nil }
    }

    /// What is wrong, without the "Invalid decoding option" preamble.
    public var message: String {
        switch self {
        case .invalidOption(let message), .outOfRange(_, let message): message
        }
    }

    public var errorDescription: String? { "Invalid decoding option: \(message)." }
}

/// One output sequence.
public struct Hypothesis: Sendable, Equatable {
    /// Generated ids without the start token; ends with end-of-sequence unless the length limit cut it.
    public var tokens: [Int]
    /// Beam search: `Σ log p / length^lengthPenalty` (transformers' `sequences_scores`). Greedy: the same
    /// formula when token scores were requested, else nil.
    public var score: Float?
    /// Log-probability of each token (after logits processors), when requested or under beam search.
    public var tokenScores: [Float]?
    /// `[tokens.count][sourceLength]` attention over the source while predicting each token, when requested.
    public var crossAttention: [[Float]]?
}
