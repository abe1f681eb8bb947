import XlateCore

extension AttentionShape {
    /// `T5Attention`: `num_heads` heads of `d_kv`, no `1/sqrt(d)` scaling.
    static func t5(_ config: T5Config) -> AttentionShape {
        AttentionShape(heads: config.numHeads, headDim: config.dKV, scaling: 1)
    }
}

extension FeedForward {
    /// `T5DenseActDense` (`wo(act(wi x))`) or `T5DenseGatedActDense` (`wo(act(wi_0 x) · wi_1 x)`), no biases.
    init(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config) throws(ModelError) {
        let (d, ff, isGated) = (config.dModel, config.dFF, config.isGatedFeedForward)
        let inputs = isGated ? ["\(prefix).wi_0", "\(prefix).wi_1"] : ["\(prefix).wi"]
        try self.init(
            input: Linear(checkpoint, inputs, in: d, out: ff, hasBias: false),
            output: Linear(checkpoint, ["\(prefix).wo"], in: ff, out: d, hasBias: false), activation: config.activation,
            isGated: isGated)
    }
}

extension Norm {
    /// `T5LayerNorm` at `prefix`.
    static func t5(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config) throws(ModelError) -> Norm {
        .rms(try RMSNorm(checkpoint, prefix, dim: config.dModel, eps: config.layerNormEpsilon))
    }
}

extension EncoderLayer {
    /// `T5Block` of the encoder (pre-norm): `layer.0` self-attention and `layer.1` feed-forward, each with its
    /// `layer_norm`.
    init(_ checkpoint: Checkpoint, _ prefix: String, t5 config: T5Config) throws(ModelError) {
        try self.init(
            selfAttention: SelfAttention(checkpoint, "\(prefix).layer.0.SelfAttention", keys: .t5, dim: config.dModel, shape: .t5(config)),
            selfAttentionNorm: .t5(checkpoint, "\(prefix).layer.0.layer_norm", config: config),
            feedForward: FeedForward(checkpoint, "\(prefix).layer.1.DenseReluDense", config: config),
            feedForwardNorm: .t5(checkpoint, "\(prefix).layer.1.layer_norm", config: config))
    }
}

extension DecoderLayer {
    /// `T5Block` of the decoder (pre-norm): `layer.0` masked self-attention, `layer.1` cross-attention
    /// (`EncDecAttention`) and `layer.2` feed-forward, each with its `layer_norm`.
    init(_ checkpoint: Checkpoint, _ prefix: String, t5 config: T5Config) throws(ModelError) {
        try self.init(
            selfAttention: SelfAttention(checkpoint, "\(prefix).layer.0.SelfAttention", keys: .t5, dim: config.dModel, shape: .t5(config)),
            selfAttentionNorm: .t5(checkpoint, "\(prefix).layer.0.layer_norm", config: config),
            crossAttention: CrossAttention(
                checkpoint, "\(prefix).layer.1.EncDecAttention", keys: .t5, dim: config.dModel, shape: .t5(config)),
            crossAttentionNorm: .t5(checkpoint, "\(prefix).layer.1.layer_norm", config: config),
            feedForward: FeedForward(checkpoint, "\(prefix).layer.2.DenseReluDense", config: config),
            feedForwardNorm: .t5(checkpoint, "\(prefix).layer.2.layer_norm", config: config))
    }
}
