import Foundation
import XlateCore

/// The hyperparameters of a T5, Flan-T5 or mT5 model, from `config.json` (`T5Config` / `MT5Config` in
/// transformers; e.g. the config.json of `google-t5/t5-small`, `google/flan-t5-base`, `google/mt5-small`).
public struct T5Config: Sendable, Equatable {
    /// `t5` or `mt5`.
    public var modelType: String  // model_type
    public var vocabSize: Int  // vocab_size
    public var dModel: Int  // d_model
    /// Size of one attention head; `numHeads · dKV` need not equal `dModel`.
    public var dKV: Int  // d_kv
    public var dFF: Int  // d_ff
    public var encoderLayers: Int  // num_layers
    public var decoderLayers: Int  // num_decoder_layers (default: num_layers)
    public var numHeads: Int  // num_heads
    public var relativeAttentionNumBuckets: Int  // relative_attention_num_buckets
    public var relativeAttentionMaxDistance: Int  // relative_attention_max_distance
    public var layerNormEpsilon: Float  // layer_norm_epsilon
    /// The feed-forward activation: `relu` for `feed_forward_proj` "relu", the tanh GELU for "gated-gelu".
    public var activation: Activation  // feed_forward_proj
    /// `feed_forward_proj` "gated-…": `wo(act(wi_0 x) · wi_1 x)` instead of `wo(act(wi x))`.
    public var isGatedFeedForward: Bool  // feed_forward_proj
    /// Multiply the decoder output by `d_model^-0.5` before the output projection (T5 v1.0 with tied embeddings).
    public var scaleDecoderOutputs: Bool  // scale_decoder_outputs, else tie_word_embeddings (t5 only)
    /// Longest input and output xlate accepts. T5's relative positions have no table that ends; this bounds the
    /// memory of one call (t5-small's `n_positions`, and transformers' `model_max_length` for T5 tokenizers).
    public var maxPositions: Int  // n_positions (default 512)
    public var padTokenId: Int  // pad_token_id
    public var eosTokenIds: [Int]  // eos_token_id
    public var decoderStartTokenId: Int  // decoder_start_token_id (default: pad_token_id)
    public var forcedEOSTokenIds: [Int]  // forced_eos_token_id
    /// Task name → input prefix, from `task_specific_params` (e.g. "translation_en_to_de" → "translate English to
    /// German: ").
    public var taskPrefixes: [String: String]  // task_specific_params.*.prefix

    /// Reads and validates `config.json`.
    public init(contentsOf url: URL) throws(ModelError) {
        let json = try JSONFile(path: url.path)
        let type = try json.string("model_type") ?? "(none)"
        guard type == "t5" || type == "mt5" else { throw .unsupportedModelType(type, path: url.path) }
        func check(_ condition: Bool, _ reason: @autoclosure () -> String) throws(ModelError) {
            if !condition { throw .invalidConfig(path: url.path, reason: reason()) }
        }
        modelType = type
        vocabSize = try json.requiredInt("vocab_size")
        dModel = try json.requiredInt("d_model")
        dKV = try json.requiredInt("d_kv")
        dFF = try json.requiredInt("d_ff")
        encoderLayers = try json.requiredInt("num_layers")
        decoderLayers = try json.int("num_decoder_layers") ?? encoderLayers
        numHeads = try json.requiredInt("num_heads")
        relativeAttentionNumBuckets = try json.int("relative_attention_num_buckets", default: 32)
        relativeAttentionMaxDistance = try json.int("relative_attention_max_distance", default: 128)
        layerNormEpsilon = Float(try json.double("layer_norm_epsilon") ?? 1e-6)
        maxPositions = try json.int("n_positions", default: 512)

        // transformers: "gated-gelu" means the tanh approximation (gelu_new); otherwise the name after "gated-"
        // is an ACT2FN name.
        let projection = try json.string("feed_forward_proj") ?? (type == "mt5" ? "gated-gelu" : "relu")
        let parts = projection.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        isGatedFeedForward = parts.count == 2 && parts[0] == "gated"
        let activationName = projection == "gated-gelu" ? "gelu_new" : parts.last!
        guard parts.count == 1 || isGatedFeedForward, let activation = Activation(configName: activationName) else {
            throw .invalidConfig(
                path: url.path,
                reason: "feed_forward_proj '\(projection)' is not supported (relu, gated-gelu, or [gated-]relu/gelu/gelu_new/silu)")
        }
        self.activation = activation

        // transformers 5.23: T5 rescales when `scale_decoder_outputs` (which it writes into the configs it saves)
        // or else `tie_word_embeddings` (hub configs; default true) says so; mT5 never does (official mT5
        // checkpoints have a separate lm_head).
        if type == "t5" {
            let tied = try json.bool("tie_word_embeddings") ?? true
            scaleDecoderOutputs = try json.bool("scale_decoder_outputs") ?? tied
        } else {
            scaleDecoderOutputs = false
        }
        padTokenId = try json.int("pad_token_id", default: 0)
        eosTokenIds = try json.ids("eos_token_id") ?? [1]
        decoderStartTokenId = try json.int("decoder_start_token_id") ?? padTokenId
        forcedEOSTokenIds = try json.ids("forced_eos_token_id") ?? []

        var prefixes: [String: String] = [:]
        if json.has("task_specific_params") {
            guard let tasks = json.object["task_specific_params"]?.objectValue else {
                throw .invalidConfig(path: url.path, reason: "\"task_specific_params\" must be an object")
            }
            for (task, parameters) in tasks {
                if let prefix = parameters.objectValue?["prefix"]?.stringValue { prefixes[task] = prefix }
            }
        }
        taskPrefixes = prefixes

        for (name, value) in [
            ("vocab_size", vocabSize), ("d_model", dModel), ("d_kv", dKV), ("d_ff", dFF), ("num_layers", encoderLayers),
            ("num_decoder_layers", decoderLayers), ("num_heads", numHeads),
            ("relative_attention_num_buckets", relativeAttentionNumBuckets),
            ("relative_attention_max_distance", relativeAttentionMaxDistance), ("n_positions", maxPositions),
        ] {
            try check(value > 0, "\"\(name)\" must be positive, got \(value)")
            try check(value <= 1 << 24, "\"\(name)\" = \(value) is out of range")
        }
        try check(relativeAttentionNumBuckets >= 4, "\"relative_attention_num_buckets\" must be at least 4, got \(relativeAttentionNumBuckets)")
        try check(layerNormEpsilon.isFinite && layerNormEpsilon > 0, "\"layer_norm_epsilon\" must be positive")
        for (name, id) in [("pad_token_id", padTokenId), ("decoder_start_token_id", decoderStartTokenId)] {
            try check(id >= 0 && id < vocabSize, "\"\(name)\" \(id) is outside the vocabulary (\(vocabSize))")
        }
        try check(!eosTokenIds.isEmpty, "\"eos_token_id\" is an empty list; decoding needs an end-of-sequence id")
        for id in eosTokenIds + forcedEOSTokenIds {
            try check(id >= 0 && id < vocabSize, "eos id \(id) is outside the vocabulary (\(vocabSize))")
        }
    }

    /// Width of the attention projections: `num_heads · d_kv`.
    public var innerDim: Int { numHeads * dKV }

    /// The prefix T5 was trained with for translating `source` → `target` (language codes, e.g. "en", "de"): the
    /// config's `task_specific_params["translation_SRC_to_TGT"].prefix`, else "translate English to German: " built
    /// from the languages' English names. Nil when a language code has no known name.
    public func translationPrefix(source: String, target: String) -> String? {
        if let prefix = taskPrefixes["translation_\(source)_to_\(target)"] { return prefix }
        let english = Locale(identifier: "en")
        guard let from = english.localizedString(forLanguageCode: source), from != source,
            let to = english.localizedString(forLanguageCode: target), to != target
        else { return nil }
        return "translate \(from) to \(to): "
    }
}
