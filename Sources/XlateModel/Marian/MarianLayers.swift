import XlateCore

/// `MarianEncoderLayer`: post-norm self-attention and feed-forward blocks.
struct MarianEncoderLayer: Sendable {
    let selfAttn: SelfAttention  // self_attn
    let selfAttnLayerNorm: LayerNorm  // self_attn_layer_norm
    let feedForward: FeedForward  // fc1, fc2
    let finalLayerNorm: LayerNorm  // final_layer_norm

    init(_ checkpoint: Checkpoint, _ prefix: String, config: MarianConfig) throws(ModelError) {
        let d = config.dModel
        selfAttn = try SelfAttention(checkpoint, "\(prefix).self_attn", config: config, heads: config.encoderAttentionHeads)
        selfAttnLayerNorm = try LayerNorm(checkpoint, "\(prefix).self_attn_layer_norm", dim: d)
        feedForward = try FeedForward(checkpoint, prefix, dim: d, ffnDim: config.encoderFFNDim, activation: config.activation)
        finalLayerNorm = try LayerNorm(checkpoint, "\(prefix).final_layer_norm", dim: d)
    }

    /// Transforms `x [batch · maxLength, d]` in place; each sentence attends over its own `lengths[b]` tokens only.
    func apply(_ x: UnsafeMutablePointer<Float>, lengths: [Int], maxLength: Int, scratch: EncoderScratch) {
        let d = selfAttn.outProj.outFeatures
        let (heads, headDim) = (selfAttn.heads, selfAttn.headDim)
        let rows = lengths.count * maxLength
        let qkv = scratch.qkv.pointer  // [rows, 3·d]
        let context = scratch.context.pointer  // [rows, d]
        selfAttn.qkvProj.apply(x, rows: rows, into: qkv)
        for (b, length) in lengths.enumerated() {
            let base = qkv + b * maxLength * 3 * d
            for i in 0..<length {
                for h in 0..<heads {
                    attendOne(
                        query: base + i * 3 * d + h * headDim, keys: base + d + h * headDim,
                        values: base + 2 * d + h * headDim, stride: 3 * d, count: length, headDim: headDim,
                        scaling: selfAttn.scaling, scores: scratch.scores.pointer,
                        output: context + (b * maxLength + i) * d + h * headDim)
                }
            }
        }
        selfAttn.outProj.apply(context, rows: rows, into: scratch.projected.pointer)
        Ops.add(scratch.projected.pointer, to: x, count: rows * d)
        selfAttnLayerNorm.apply(x, rows: rows)
        feedForward.apply(x, rows: rows, hidden: scratch.ffn.pointer, into: scratch.projected.pointer)
        Ops.add(scratch.projected.pointer, to: x, count: rows * d)
        finalLayerNorm.apply(x, rows: rows)
    }
}

/// Scratch memory for one encoder pass over a batch.
struct EncoderScratch {
    let qkv: FloatBuffer  // [rows, 3·d]
    let context: FloatBuffer  // [rows, d]
    let projected: FloatBuffer  // [rows, d]
    let ffn: FloatBuffer  // [rows, ffn]
    let scores: FloatBuffer  // [maxLength]

    init(rows: Int, dim: Int, ffnDim: Int, maxLength: Int) {
        qkv = FloatBuffer(count: rows * 3 * dim)
        context = FloatBuffer(count: rows * dim)
        projected = FloatBuffer(count: rows * dim)
        ffn = FloatBuffer(count: rows * ffnDim)
        scores = FloatBuffer(count: maxLength)
    }
}

/// `MarianDecoderLayer`: post-norm masked self-attention, cross-attention and feed-forward blocks.
struct MarianDecoderLayer: Sendable {
    let selfAttn: SelfAttention  // self_attn
    let selfAttnLayerNorm: LayerNorm  // self_attn_layer_norm
    let encoderAttn: CrossAttention  // encoder_attn
    let encoderAttnLayerNorm: LayerNorm  // encoder_attn_layer_norm
    let feedForward: FeedForward  // fc1, fc2
    let finalLayerNorm: LayerNorm  // final_layer_norm

    init(_ checkpoint: Checkpoint, _ prefix: String, config: MarianConfig) throws(ModelError) {
        let d = config.dModel
        let heads = config.decoderAttentionHeads
        selfAttn = try SelfAttention(checkpoint, "\(prefix).self_attn", config: config, heads: heads)
        selfAttnLayerNorm = try LayerNorm(checkpoint, "\(prefix).self_attn_layer_norm", dim: d)
        encoderAttn = try CrossAttention(checkpoint, "\(prefix).encoder_attn", config: config, heads: heads)
        encoderAttnLayerNorm = try LayerNorm(checkpoint, "\(prefix).encoder_attn_layer_norm", dim: d)
        feedForward = try FeedForward(checkpoint, prefix, dim: d, ffnDim: config.decoderFFNDim, activation: config.activation)
        finalLayerNorm = try LayerNorm(checkpoint, "\(prefix).final_layer_norm", dim: d)
    }
}

extension SelfAttention {
    /// `MarianAttention` as self-attention: scaled by `1/sqrt(head_dim)`, `d_model` wide.
    init(_ checkpoint: Checkpoint, _ prefix: String, config: MarianConfig, heads: Int) throws(ModelError) {
        let headDim = config.dModel / heads
        try self.init(
            checkpoint, prefix, keys: .bart, dim: config.dModel, heads: heads, headDim: headDim,
            scaling: 1 / Float(headDim).squareRoot())
    }
}

extension CrossAttention {
    /// `MarianAttention` as cross-attention: scaled by `1/sqrt(head_dim)`, `d_model` wide.
    init(_ checkpoint: Checkpoint, _ prefix: String, config: MarianConfig, heads: Int) throws(ModelError) {
        let headDim = config.dModel / heads
        try self.init(
            checkpoint, prefix, keys: .bart, dim: config.dModel, heads: heads, headDim: headDim,
            scaling: 1 / Float(headDim).squareRoot())
    }
}
