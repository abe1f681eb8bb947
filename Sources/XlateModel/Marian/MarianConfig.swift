import Foundation
import XlateCore

/// The hyperparameters of a Marian (OPUS-MT) model, from `config.json` (`MarianConfig` in transformers).
public struct MarianConfig: Sendable, Equatable {
    public var vocabSize: Int  // vocab_size
    public var decoderVocabSize: Int  // decoder_vocab_size
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
    public var shareEncoderDecoderEmbeddings: Bool  // share_encoder_decoder_embeddings
    public var tieWordEmbeddings: Bool  // tie_word_embeddings
    public var padTokenId: Int  // pad_token_id
    public var eosTokenIds: [Int]  // eos_token_id
    public var decoderStartTokenId: Int  // decoder_start_token_id
    public var forcedEOSTokenIds: [Int]  // forced_eos_token_id

    /// Reads and validates `config.json`.
    public init(contentsOf url: URL) throws(ModelError) {
        let json = try JSONFile(path: url.path)
        let type = try json.string("model_type") ?? "(none)"
        guard type == "marian" else { throw .unsupportedModelType(type, path: url.path) }
        vocabSize = try json.requiredInt("vocab_size")
        decoderVocabSize = try json.int("decoder_vocab_size") ?? vocabSize
        dModel = try json.requiredInt("d_model")
        encoderLayers = try json.requiredInt("encoder_layers")
        decoderLayers = try json.requiredInt("decoder_layers")
        encoderAttentionHeads = try json.requiredInt("encoder_attention_heads")
        decoderAttentionHeads = try json.requiredInt("decoder_attention_heads")
        encoderFFNDim = try json.requiredInt("encoder_ffn_dim")
        decoderFFNDim = try json.requiredInt("decoder_ffn_dim")
        let activationName = try json.string("activation_function") ?? "gelu"
        guard let activation = Activation(configName: activationName) else {
            throw .invalidConfig(
                path: url.path,
                reason: "activation_function '\(activationName)' is not supported (relu, gelu, gelu_new, swish, silu)")
        }
        self.activation = activation
        maxPositionEmbeddings = try json.int("max_position_embeddings", default: 1024)
        scaleEmbedding = try json.bool("scale_embedding") ?? false
        shareEncoderDecoderEmbeddings = try json.bool("share_encoder_decoder_embeddings") ?? true
        tieWordEmbeddings = try json.bool("tie_word_embeddings") ?? true
        padTokenId = try json.int("pad_token_id", default: 58100)
        eosTokenIds = try json.ids("eos_token_id") ?? [0]
        decoderStartTokenId = try json.int("decoder_start_token_id") ?? padTokenId
        forcedEOSTokenIds = try json.ids("forced_eos_token_id") ?? []

        func check(_ condition: Bool, _ reason: @autoclosure () -> String) throws(ModelError) {
            if !condition { throw .invalidConfig(path: url.path, reason: reason()) }
        }
        for (name, value) in [
            ("vocab_size", vocabSize), ("decoder_vocab_size", decoderVocabSize), ("d_model", dModel),
            ("encoder_layers", encoderLayers), ("decoder_layers", decoderLayers),
            ("encoder_attention_heads", encoderAttentionHeads), ("decoder_attention_heads", decoderAttentionHeads),
            ("encoder_ffn_dim", encoderFFNDim), ("decoder_ffn_dim", decoderFFNDim),
            ("max_position_embeddings", maxPositionEmbeddings),
        ] {
            try check(value > 0, "\"\(name)\" must be positive, got \(value)")
            try check(value <= 1 << 24, "\"\(name)\" = \(value) is out of range")
        }
        try check(dModel % encoderAttentionHeads == 0, "d_model \(dModel) is not divisible by encoder_attention_heads \(encoderAttentionHeads)")
        try check(dModel % decoderAttentionHeads == 0, "d_model \(dModel) is not divisible by decoder_attention_heads \(decoderAttentionHeads)")
        try check(dModel % 2 == 0, "d_model \(dModel) must be even for sinusoidal positions")
        if shareEncoderDecoderEmbeddings {
            try check(decoderVocabSize == vocabSize, "decoder_vocab_size \(decoderVocabSize) differs from vocab_size \(vocabSize) although share_encoder_decoder_embeddings is true")
        }
        for (name, id) in [("pad_token_id", padTokenId), ("decoder_start_token_id", decoderStartTokenId)] {
            try check(id >= 0 && id < decoderVocabSize, "\"\(name)\" \(id) is outside the decoder vocabulary (\(decoderVocabSize))")
        }
        try check(!eosTokenIds.isEmpty, "\"eos_token_id\" is an empty list; decoding needs an end-of-sequence id")
        for id in eosTokenIds + forcedEOSTokenIds {
            try check(id >= 0 && id < decoderVocabSize, "eos id \(id) is outside the decoder vocabulary (\(decoderVocabSize))")
        }
    }
}

extension MarianConfig {
    var encoderSizes: BartLayerSizes {
        BartLayerSizes(dim: dModel, heads: encoderAttentionHeads, ffnDim: encoderFFNDim, activation: activation)
    }
    var decoderSizes: BartLayerSizes {
        BartLayerSizes(dim: dModel, heads: decoderAttentionHeads, ffnDim: decoderFFNDim, activation: activation)
    }
}
