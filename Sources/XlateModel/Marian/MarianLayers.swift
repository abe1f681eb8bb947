import XlateCore

extension EncoderLayer {
    /// `MarianEncoderLayer` (post-norm): `self_attn`, `self_attn_layer_norm`, `fc1`/`fc2`, `final_layer_norm`.
    init(_ checkpoint: Checkpoint, _ prefix: String, marian config: MarianConfig) throws(ModelError) {
        let d = config.dModel
        let shape = AttentionShape.scaled(dim: d, heads: config.encoderAttentionHeads)
        try self.init(
            selfAttention: SelfAttention(checkpoint, "\(prefix).self_attn", keys: .bart, dim: d, shape: shape),
            selfAttentionNorm: .layerNorm(LayerNorm(checkpoint, "\(prefix).self_attn_layer_norm", dim: d)),
            feedForward: FeedForward(checkpoint, prefix, dim: d, ffnDim: config.encoderFFNDim, activation: config.activation),
            feedForwardNorm: .layerNorm(LayerNorm(checkpoint, "\(prefix).final_layer_norm", dim: d)))
    }
}

extension DecoderLayer {
    /// `MarianDecoderLayer` (post-norm): `self_attn`, `self_attn_layer_norm`, `encoder_attn`,
    /// `encoder_attn_layer_norm`, `fc1`/`fc2`, `final_layer_norm`.
    init(_ checkpoint: Checkpoint, _ prefix: String, marian config: MarianConfig) throws(ModelError) {
        let d = config.dModel
        let shape = AttentionShape.scaled(dim: d, heads: config.decoderAttentionHeads)
        try self.init(
            selfAttention: SelfAttention(checkpoint, "\(prefix).self_attn", keys: .bart, dim: d, shape: shape),
            selfAttentionNorm: .layerNorm(LayerNorm(checkpoint, "\(prefix).self_attn_layer_norm", dim: d)),
            crossAttention: CrossAttention(checkpoint, "\(prefix).encoder_attn", keys: .bart, dim: d, shape: shape),
            crossAttentionNorm: .layerNorm(LayerNorm(checkpoint, "\(prefix).encoder_attn_layer_norm", dim: d)),
            feedForward: FeedForward(checkpoint, prefix, dim: d, ffnDim: config.decoderFFNDim, activation: config.activation),
            feedForwardNorm: .layerNorm(LayerNorm(checkpoint, "\(prefix).final_layer_norm", dim: d)))
    }
}
