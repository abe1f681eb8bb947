import Foundation
import XlateCore

/// The families that run transformers' BART code (mBART's and M2M100's layers are copied from BART's) and differ
/// only in where the norms sit, which extra norms they have, their positions and their output bias.
public enum BartFamily: String, Sendable, CaseIterable {
    /// `bart`: post-norm, learned positions from row 2, `layernorm_embedding`, `final_logits_bias`.
    case bart
    /// `mbart` (mBART-50): pre-norm, learned positions from row 2, `layernorm_embedding`, final norms after both
    /// stacks, `final_logits_bias`.
    case mbart
    /// `m2m_100` (M2M100 and NLLB-200): pre-norm, sinusoidal positions from row `pad + 1` that skip padding, final
    /// norms after both stacks, no output bias.
    case m2m100 = "m2m_100"

    /// Pre-norm (mBART, M2M100: `x + f(norm(x))`) or post-norm (BART).
    var normPlacement: NormPlacement { self == .bart ? .post : .pre }
    /// `layernorm_embedding` after the embeddings of each stack.
    var hasEmbeddingNorm: Bool { self != .m2m100 }
    /// `{encoder,decoder}.layer_norm` after each stack.
    var hasFinalNorms: Bool { self != .bart }
    /// `final_logits_bias` added to the logits.
    var hasFinalLogitsBias: Bool { self != .m2m100 }
    /// `scale_embedding`'s default in transformers' config class.
    var scalesEmbeddingByDefault: Bool { self == .m2m100 }
}

/// The hyperparameters of a BART, mBART or M2M100 / NLLB model, from `config.json` (`BartConfig`, `MBartConfig`,
/// `M2M100Config` in transformers: the same keys).
public struct BartConfig: Sendable, Equatable {
    public var family: BartFamily  // model_type
    public var vocabSize: Int  // vocab_size
    public var dModel: Int  // d_model
    public var encoderLayers: Int  // encoder_layers
    public var decoderLayers: Int  // decoder_layers
    public var encoderAttentionHeads: Int  // encoder_attention_heads
    public var decoderAttentionHeads: Int  // decoder_attention_heads
    public var encoderFFNDim: Int  // encoder_ffn_dim
    public var decoderFFNDim: Int  // decoder_ffn_dim
    public var activation: Activation  // activation_function
    public var maxPositionEmbeddings: Int  // max_position_embeddings
    public var scaleEmbedding: Bool  // scale_embedding
    public var tieWordEmbeddings: Bool  // tie_word_embeddings
    public var padTokenId: Int  // pad_token_id
    public var eosTokenIds: [Int]  // eos_token_id
    public var decoderStartTokenId: Int  // decoder_start_token_id
    public var forcedEOSTokenIds: [Int]  // forced_eos_token_id

    /// Reads and validates `config.json`.
    public init(contentsOf url: URL) throws(ModelError) {
        let json = try JSONFile(path: url.path)
        let type = try json.string("model_type") ?? "(none)"
        guard let family = BartFamily(rawValue: type) else { throw .unsupportedModelType(type, path: url.path) }
        self.family = family
        vocabSize = try json.requiredInt("vocab_size")
        dModel = try json.requiredInt("d_model")
        encoderLayers = try json.requiredInt("encoder_layers")
        decoderLayers = try json.requiredInt("decoder_layers")
        encoderAttentionHeads = try json.requiredInt("encoder_attention_heads")
        decoderAttentionHeads = try json.requiredInt("decoder_attention_heads")
        encoderFFNDim = try json.requiredInt("encoder_ffn_dim")
        decoderFFNDim = try json.requiredInt("decoder_ffn_dim")
        let activationName = try json.string("activation_function") ?? (family == .m2m100 ? "relu" : "gelu")
        guard let activation = Activation(configName: activationName) else {
            throw .invalidConfig(
                path: url.path,
                reason: "activation_function '\(activationName)' is not supported (relu, gelu, gelu_new, swish, silu)")
        }
        self.activation = activation
        maxPositionEmbeddings = try json.int("max_position_embeddings", default: 1024)
        scaleEmbedding = try json.bool("scale_embedding") ?? family.scalesEmbeddingByDefault
        tieWordEmbeddings = try json.bool("tie_word_embeddings") ?? true
        padTokenId = try json.int("pad_token_id", default: 1)
        eosTokenIds = try json.ids("eos_token_id") ?? [2]
        decoderStartTokenId = try json.int("decoder_start_token_id") ?? 2
        forcedEOSTokenIds = try json.ids("forced_eos_token_id") ?? []

        func check(_ condition: Bool, _ reason: @autoclosure () -> String) throws(ModelError) {
            if !condition { throw .invalidConfig(path: url.path, reason: reason()) }
        }
        for (name, value) in [
            ("vocab_size", vocabSize), ("d_model", dModel), ("encoder_layers", encoderLayers),
            ("decoder_layers", decoderLayers), ("encoder_attention_heads", encoderAttentionHeads),
            ("decoder_attention_heads", decoderAttentionHeads), ("encoder_ffn_dim", encoderFFNDim),
            ("decoder_ffn_dim", decoderFFNDim), ("max_position_embeddings", maxPositionEmbeddings),
        ] {
            try check(value > 0, "\"\(name)\" must be positive, got \(value)")
            try check(value <= 1 << 24, "\"\(name)\" = \(value) is out of range")
        }
        try check(dModel % encoderAttentionHeads == 0, "d_model \(dModel) is not divisible by encoder_attention_heads \(encoderAttentionHeads)")
        try check(dModel % decoderAttentionHeads == 0, "d_model \(dModel) is not divisible by decoder_attention_heads \(decoderAttentionHeads)")
        if family == .m2m100 {
            try check(dModel % 2 == 0 && dModel >= 4, "d_model \(dModel) must be even and at least 4 for sinusoidal positions")
        }
        for (name, id) in [("pad_token_id", padTokenId), ("decoder_start_token_id", decoderStartTokenId)] {
            try check(id >= 0 && id < vocabSize, "\"\(name)\" \(id) is outside the vocabulary (\(vocabSize))")
        }
        try check(!eosTokenIds.isEmpty, "\"eos_token_id\" is an empty list; decoding needs an end-of-sequence id")
        for id in eosTokenIds + forcedEOSTokenIds {
            try check(id >= 0 && id < vocabSize, "eos id \(id) is outside the vocabulary (\(vocabSize))")
        }
    }

    var encoderSizes: BartLayerSizes {
        BartLayerSizes(dim: dModel, heads: encoderAttentionHeads, ffnDim: encoderFFNDim, activation: activation)
    }
    var decoderSizes: BartLayerSizes {
        BartLayerSizes(dim: dModel, heads: decoderAttentionHeads, ffnDim: decoderFFNDim, activation: activation)
    }
}
