import XlateCore

/// The sizes of one stack's layers in the fairseq layout that Marian, BART, mBART and M2M100 share.
struct BartLayerSizes: Sendable {
    let dim: Int  // d_model
    let heads: Int  // {encoder,decoder}_attention_heads
    let ffnDim: Int  // {encoder,decoder}_ffn_dim
    let activation: Activation  // activation_function
}

extension EncoderLayer {
    /// `BartEncoderLayer` (and Marian's, mBART's, M2M100's, which copy it): `self_attn`, `self_attn_layer_norm`,
    /// `fc1`/`fc2`, `final_layer_norm`. Whether the norms come before or after the blocks is the family's setting.
    init(_ checkpoint: Checkpoint, _ prefix: String, bart sizes: BartLayerSizes) throws(ModelError) {
        let d = sizes.dim
        let shape = AttentionShape.scaled(dim: d, heads: sizes.heads)
        try self.init(
            selfAttention: SelfAttention(checkpoint, "\(prefix).self_attn", keys: .bart, dim: d, shape: shape),
            selfAttentionNorm: .layerNorm(LayerNorm(checkpoint, "\(prefix).self_attn_layer_norm", dim: d)),
            feedForward: FeedForward(checkpoint, prefix, dim: d, ffnDim: sizes.ffnDim, activation: sizes.activation),
            feedForwardNorm: .layerNorm(LayerNorm(checkpoint, "\(prefix).final_layer_norm", dim: d)))
    }
}

extension DecoderLayer {
    /// `BartDecoderLayer` (and Marian's, mBART's, M2M100's): `self_attn`, `self_attn_layer_norm`, `encoder_attn`,
    /// `encoder_attn_layer_norm`, `fc1`/`fc2`, `final_layer_norm`.
    init(_ checkpoint: Checkpoint, _ prefix: String, bart sizes: BartLayerSizes) throws(ModelError) {
        let d = sizes.dim
        let shape = AttentionShape.scaled(dim: d, heads: sizes.heads)
        try self.init(
            selfAttention: SelfAttention(checkpoint, "\(prefix).self_attn", keys: .bart, dim: d, shape: shape),
            selfAttentionNorm: .layerNorm(LayerNorm(checkpoint, "\(prefix).self_attn_layer_norm", dim: d)),
            crossAttention: CrossAttention(checkpoint, "\(prefix).encoder_attn", keys: .bart, dim: d, shape: shape),
            crossAttentionNorm: .layerNorm(LayerNorm(checkpoint, "\(prefix).encoder_attn_layer_norm", dim: d)),
            feedForward: FeedForward(checkpoint, prefix, dim: d, ffnDim: sizes.ffnDim, activation: sizes.activation),
            feedForwardNorm: .layerNorm(LayerNorm(checkpoint, "\(prefix).final_layer_norm", dim: d)))
    }
}
