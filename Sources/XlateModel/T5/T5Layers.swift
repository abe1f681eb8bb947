import Foundation
import XlateCore

/// `T5LayerNorm`: RMS normalisation with a weight; no mean subtraction, no bias.
struct RMSNorm: Sendable {
    let weight: FloatBuffer  // [dim]
    let eps: Float

    init(_ checkpoint: Checkpoint, _ prefix: String, dim: Int, eps: Float) throws(ModelError) {
        weight = try checkpoint.buffer("\(prefix).weight", shape: [dim])
        self.eps = eps
    }

    /// `y = weight · x / sqrt(mean(x²) + eps)` for each row of `x [rows, dim]`; `y` may be `x`.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let dim = weight.count
        for r in 0..<rows {
            let (row, out) = (x + r * dim, y + r * dim)
            let inverse = 1 / (Ops.dot(row, row, count: dim) / Float(dim) + eps).squareRoot()
            for j in 0..<dim { out[j] = weight.pointer[j] * (row[j] * inverse) }
        }
    }
}

extension SelfAttention {
    /// `T5Attention` as self-attention: `q`, `k`, `v`, `o` without biases, no `1/sqrt(d)` scaling.
    init(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config) throws(ModelError) {
        try self.init(
            checkpoint, prefix, keys: .t5, dim: config.dModel, heads: config.numHeads, headDim: config.dKV, scaling: 1)
    }
}

extension CrossAttention {
    /// `T5Attention` as cross-attention: `q`, `k`, `v`, `o` without biases, no `1/sqrt(d)` scaling.
    init(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config) throws(ModelError) {
        try self.init(
            checkpoint, prefix, keys: .t5, dim: config.dModel, heads: config.numHeads, headDim: config.dKV, scaling: 1)
    }
}

/// `T5DenseActDense` (`wo(act(wi x))`) or `T5DenseGatedActDense` (`wo(act(wi_0 x) · wi_1 x)`).
struct T5FeedForward: Sendable {
    /// `wi` `[ff, d]`, or `wi_0` and `wi_1` stacked `[2·ff, d]` (one GEMM).
    let wi: Linear
    let wo: Linear  // wo [d, ff]
    let activation: Activation
    let isGated: Bool

    init(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config) throws(ModelError) {
        let (d, ff) = (config.dModel, config.dFF)
        isGated = config.isGatedFeedForward
        let inputs = isGated ? ["\(prefix).wi_0", "\(prefix).wi_1"] : ["\(prefix).wi"]
        wi = try Linear(checkpoint, inputs, in: d, out: ff, hasBias: false)
        wo = try Linear(checkpoint, ["\(prefix).wo"], in: ff, out: d, hasBias: false)
        activation = config.activation
    }

    /// Floats of scratch `apply` needs per row.
    var scratchPerRow: Int { wi.outFeatures }

    /// `y [rows, d]` = the block applied to `x [rows, d]`, using `hidden` (`rows × scratchPerRow`) as scratch.
    func apply(_ x: UnsafePointer<Float>, rows: Int, hidden: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        wi.apply(x, rows: rows, into: hidden)
        let ff = wo.inFeatures
        if isGated {
            // Row r holds [wi_0 x | wi_1 x]; the product goes to the first rows · ff floats, which it never
            // overtakes (r·ff + j <= r·2ff + j).
            for r in 0..<rows {
                let (gate, linear) = (hidden + r * 2 * ff, hidden + r * 2 * ff + ff)
                Ops.activate(gate, count: ff, activation)
                for j in 0..<ff { hidden[r * ff + j] = gate[j] * linear[j] }
            }
        } else {
            Ops.activate(hidden, count: rows * ff, activation)
        }
        wo.apply(hidden, rows: rows, into: y)
    }
}

/// The relative position bias of one stack: `relative_attention_bias` `[buckets, heads]` of its first layer, looked
/// up once for every relative position the stack can see, and added to the attention scores of all its layers.
struct RelativePositionBias: Sendable {
    let heads: Int
    /// Longest sequence covered: relative positions `-(span - 1) ... span - 1`.
    let span: Int
    /// `[heads, 2·span - 1]`: the bias of relative position `k - q` at `k - q + span - 1`.
    let table: FloatBuffer

    init(_ checkpoint: Checkpoint, _ name: String, config: T5Config, bidirectional: Bool, span: Int) throws(ModelError) {
        let buckets = config.relativeAttentionNumBuckets
        let weight = try checkpoint.tensor(name, shape: [buckets, config.numHeads])
        heads = config.numHeads
        self.span = span
        let width = 2 * span - 1
        var table = [Float](repeating: 0, count: heads * width)
        for index in 0..<width {
            let bucket = Self.bucket(
                relativePosition: index - (span - 1), bidirectional: bidirectional, numBuckets: buckets,
                maxDistance: config.relativeAttentionMaxDistance)
            for h in 0..<heads { table[h * width + index] = weight.data[bucket * heads + h] }
        }
        self.table = FloatBuffer(table)
    }

    /// The biases of head `h` for a query at `position` over keys `0, 1, ...` (contiguous).
    @inline(__always)
    func row(head h: Int, queryPosition position: Int) -> UnsafePointer<Float> {
        UnsafePointer(table.pointer + h * (2 * span - 1) + (span - 1 - position))
    }

    /// transformers' `T5Attention._relative_position_bucket` (from Mesh TensorFlow): exact buckets for distances
    /// below half the buckets (of each direction when bidirectional), logarithmic ones up to `maxDistance`, one for
    /// all beyond. The logarithm is computed in float32, as torch does.
    static func bucket(relativePosition: Int, bidirectional: Bool, numBuckets: Int, maxDistance: Int) -> Int {
        var buckets = numBuckets
        var result = 0
        var distance: Int
        if bidirectional {
            buckets /= 2
            if relativePosition > 0 { result += buckets }
            distance = abs(relativePosition)
        } else {
            distance = -min(relativePosition, 0)
        }
        let maxExact = buckets / 2
        if distance < maxExact { return result + distance }
        let scaled = logf(Float(distance) / Float(maxExact)) / Float(log(Double(maxDistance) / Double(maxExact)))
            * Float(buckets - maxExact)
        return result + min(maxExact + Int(scaled), buckets - 1)
    }
}

/// Attention of one query over `count` keys for one head with an additive bias per key (T5: the relative position
/// bias; no 1/sqrt(d) scaling). As `attendOne`: probabilities left in `scores`, the head's output in `output`.
@inline(__always)
func attendWithBias(
    query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int, count: Int,
    headDim: Int, bias: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
) {
    for j in 0..<count {
        scores[j] = Ops.dot(query, keys + j * stride, count: headDim) + bias[j]
    }
    Ops.softmax(scores, count: count)
    output.initialize(repeating: 0, count: headDim)
    for j in 0..<count {
        Ops.axpy(scores[j], values + j * stride, output, count: headDim)
    }
}

/// `T5Block` of the encoder: pre-norm self-attention (`layer.0`) and feed-forward (`layer.1`) blocks.
struct T5EncoderLayer: Sendable {
    let selfAttention: SelfAttention  // layer.0.SelfAttention
    let selfAttentionNorm: RMSNorm  // layer.0.layer_norm
    let feedForward: T5FeedForward  // layer.1.DenseReluDense
    let feedForwardNorm: RMSNorm  // layer.1.layer_norm

    init(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config) throws(ModelError) {
        let (d, eps) = (config.dModel, config.layerNormEpsilon)
        selfAttention = try SelfAttention(checkpoint, "\(prefix).layer.0.SelfAttention", config: config)
        selfAttentionNorm = try RMSNorm(checkpoint, "\(prefix).layer.0.layer_norm", dim: d, eps: eps)
        feedForward = try T5FeedForward(checkpoint, "\(prefix).layer.1.DenseReluDense", config: config)
        feedForwardNorm = try RMSNorm(checkpoint, "\(prefix).layer.1.layer_norm", dim: d, eps: eps)
    }

    /// Transforms `x [batch · maxLength, d]` in place; each sentence attends over its own `lengths[b]` tokens only.
    func apply(_ x: UnsafeMutablePointer<Float>, lengths: [Int], maxLength: Int, bias: RelativePositionBias, scratch: T5EncoderScratch) {
        let d = selfAttentionNorm.weight.count
        let (heads, headDim) = (selfAttention.heads, selfAttention.headDim)
        let inner = heads * headDim
        let rows = lengths.count * maxLength
        let (normed, qkv, context, projected) = (scratch.normed.pointer, scratch.qkv.pointer, scratch.context.pointer, scratch.projected.pointer)
        selfAttentionNorm.apply(x, rows: rows, into: normed)
        selfAttention.qkvProj.apply(normed, rows: rows, into: qkv)  // [rows, 3·inner]
        for (b, length) in lengths.enumerated() {
            let base = qkv + b * maxLength * 3 * inner
            for i in 0..<length {
                for h in 0..<heads {
                    attendWithBias(
                        query: base + i * 3 * inner + h * headDim, keys: base + inner + h * headDim,
                        values: base + 2 * inner + h * headDim, stride: 3 * inner, count: length, headDim: headDim,
                        bias: bias.row(head: h, queryPosition: i), scores: scratch.scores.pointer,
                        output: context + (b * maxLength + i) * inner + h * headDim)
                }
            }
        }
        selfAttention.outProj.apply(context, rows: rows, into: projected)
        Ops.add(projected, to: x, count: rows * d)
        feedForwardNorm.apply(x, rows: rows, into: normed)
        feedForward.apply(normed, rows: rows, hidden: scratch.ffn.pointer, into: projected)
        Ops.add(projected, to: x, count: rows * d)
    }
}

/// Scratch memory for one encoder pass over a batch.
struct T5EncoderScratch {
    let normed: FloatBuffer  // [rows, d]
    let qkv: FloatBuffer  // [rows, 3·inner]
    let context: FloatBuffer  // [rows, inner]
    let projected: FloatBuffer  // [rows, d]
    let ffn: FloatBuffer  // [rows, ff] or [rows, 2·ff] (gated)
    let scores: FloatBuffer  // [maxLength]

    init(rows: Int, config: T5Config, ffnPerRow: Int, maxLength: Int) {
        normed = FloatBuffer(count: rows * config.dModel)
        qkv = FloatBuffer(count: rows * 3 * config.innerDim)
        context = FloatBuffer(count: rows * config.innerDim)
        projected = FloatBuffer(count: rows * config.dModel)
        ffn = FloatBuffer(count: rows * ffnPerRow)
        scores = FloatBuffer(count: maxLength)
    }
}

/// `T5Block` of the decoder: pre-norm masked self-attention (`layer.0`), cross-attention (`layer.1`) and
/// feed-forward (`layer.2`) blocks.
struct T5DecoderLayer: Sendable {
    let selfAttention: SelfAttention  // layer.0.SelfAttention
    let selfAttentionNorm: RMSNorm  // layer.0.layer_norm
    let crossAttention: CrossAttention  // layer.1.EncDecAttention
    let crossAttentionNorm: RMSNorm  // layer.1.layer_norm
    let feedForward: T5FeedForward  // layer.2.DenseReluDense
    let feedForwardNorm: RMSNorm  // layer.2.layer_norm

    init(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config) throws(ModelError) {
        let (d, eps) = (config.dModel, config.layerNormEpsilon)
        selfAttention = try SelfAttention(checkpoint, "\(prefix).layer.0.SelfAttention", config: config)
        selfAttentionNorm = try RMSNorm(checkpoint, "\(prefix).layer.0.layer_norm", dim: d, eps: eps)
        crossAttention = try CrossAttention(checkpoint, "\(prefix).layer.1.EncDecAttention", config: config)
        crossAttentionNorm = try RMSNorm(checkpoint, "\(prefix).layer.1.layer_norm", dim: d, eps: eps)
        feedForward = try T5FeedForward(checkpoint, "\(prefix).layer.2.DenseReluDense", config: config)
        feedForwardNorm = try RMSNorm(checkpoint, "\(prefix).layer.2.layer_norm", dim: d, eps: eps)
    }
}
