import XlateCore

/// Scaled dot-product attention of one query over `count` keys for one head.
///
/// `keys`/`values` point at the head's slice of the first key/value row; consecutive rows are `stride` floats
/// apart. Leaves the probabilities in `scores` and writes the head's output (`headDim` floats) to `output`.
@inline(__always)
func attendOne(
    query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
    count: Int, headDim: Int, scaling: Float, scores: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
) {
    Ops.attend(
        query: query, keys: keys, values: values, stride: stride, count: count, headDim: headDim, scaling: scaling,
        scores: scores, output: output)
}

/// Cross-attention of each decoder row over its own source sentence: `query [rows, width]` against the keys and
/// values computed once per sentence (`keyValues [batch, maxSource, 2·width]`, `DecoderState.crossKeyValues`), into
/// `context [rows, width]`. With `recordAlignment`, adds the probabilities of `alignmentHeads` (each weighted
/// `1 / alignmentHeads.count`) to `alignment [rows, maxSource]`.
func crossAttend(
    query: UnsafePointer<Float>, keyValues: UnsafePointer<Float>, rowSentences: [Int], sourceLengths: [Int],
    maxSource: Int, heads: Int, headDim: Int, scaling: Float, scores: UnsafeMutablePointer<Float>,
    context: UnsafeMutablePointer<Float>, recordAlignment: Bool, alignmentHeads: [Int], alignment: inout [Float]?
) {
    let width = heads * headDim
    let headWeight = 1 / Float(alignmentHeads.count)
    for (r, sentence) in rowSentences.enumerated() {
        let length = sourceLengths[sentence]
        let source = keyValues + sentence * maxSource * 2 * width
        for h in 0..<heads {
            attendOne(
                query: query + r * width + h * headDim, keys: source + h * headDim, values: source + width + h * headDim,
                stride: 2 * width, count: length, headDim: headDim, scaling: scaling, scores: scores,
                output: context + r * width + h * headDim)
            if recordAlignment, alignmentHeads.contains(h) {
                for j in 0..<length { alignment![r * maxSource + j] += scores[j] * headWeight }
            }
        }
    }
}

/// The checkpoint names of an attention block's projections, under the block's prefix.
struct AttentionKeys: Sendable {
    let q: String, k: String, v: String, out: String
    let hasBias: Bool

    /// `MarianAttention` / `BartAttention`: `q_proj`, `k_proj`, `v_proj`, `out_proj`, with biases.
    static let bart = AttentionKeys(q: "q_proj", k: "k_proj", v: "v_proj", out: "out_proj", hasBias: true)
    /// `T5Attention`: `q`, `k`, `v`, `o`, no biases.
    static let t5 = AttentionKeys(q: "q", k: "k", v: "v", out: "o", hasBias: false)
}

/// The heads of an attention block: `heads · headDim` wide (which may differ from `d_model`, as in T5), and the
/// factor on q·k.
struct AttentionShape: Sendable {
    let heads: Int
    let headDim: Int
    /// `1/sqrt(headDim)`, or 1 where it is folded into the weights (T5).
    let scaling: Float

    var inner: Int { heads * headDim }

    /// `MarianAttention` / `BartAttention`: `dim / heads` per head, scaled by `1/sqrt(headDim)`.
    static func scaled(dim: Int, heads: Int) -> AttentionShape {
        let headDim = dim / heads
        return AttentionShape(heads: heads, headDim: headDim, scaling: 1 / Float(headDim).squareRoot())
    }
}

/// Self-attention weights: q, k and v in one GEMM.
struct SelfAttention: Sendable {
    let shape: AttentionShape
    let qkvProj: Linear  // q, k, v stacked [3·inner, d]
    let outProj: Linear  // out_proj / o [d, inner]

    init(_ checkpoint: Checkpoint, _ prefix: String, keys: AttentionKeys, dim: Int, shape: AttentionShape) throws(ModelError) {
        self.shape = shape
        let names = [keys.q, keys.k, keys.v].map { "\(prefix).\($0)" }
        qkvProj = try Linear(checkpoint, names, in: dim, out: shape.inner, hasBias: keys.hasBias)
        outProj = try Linear(checkpoint, ["\(prefix).\(keys.out)"], in: shape.inner, out: dim, hasBias: keys.hasBias)
    }
}

/// Cross-attention weights: the query projection runs every decoder step; k and v, fused, run once per sentence
/// over the encoder output (`makeDecoderState`).
struct CrossAttention: Sendable {
    let shape: AttentionShape
    let qProj: Linear  // q_proj / q [inner, d]
    let kvProj: Linear  // k, v stacked [2·inner, d]
    let outProj: Linear  // out_proj / o [d, inner]

    init(_ checkpoint: Checkpoint, _ prefix: String, keys: AttentionKeys, dim: Int, shape: AttentionShape) throws(ModelError) {
        self.shape = shape
        let (inner, bias) = (shape.inner, keys.hasBias)
        qProj = try Linear(checkpoint, ["\(prefix).\(keys.q)"], in: dim, out: inner, hasBias: bias)
        kvProj = try Linear(checkpoint, ["\(prefix).\(keys.k)", "\(prefix).\(keys.v)"], in: dim, out: inner, hasBias: bias)
        outProj = try Linear(checkpoint, ["\(prefix).\(keys.out)"], in: inner, out: dim, hasBias: bias)
    }
}
