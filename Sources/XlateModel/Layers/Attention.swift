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

/// `MarianAttention` / `BartAttention` weights: `q_proj`, `k_proj`, `v_proj`, `out_proj`.
struct AttentionWeights: Sendable {
    let heads: Int
    let headDim: Int
    let scaling: Float
    /// Self-attention: q, k and v in one GEMM `[3·d, d]`; cross-attention: q `[d, d]` and k, v fused `[2·d, d]`.
    let qkvProj: Linear?
    let qProj: Linear?
    let kvProj: Linear?
    let outProj: Linear  // out_proj [d, d]

    init(_ checkpoint: Checkpoint, _ prefix: String, dim: Int, heads: Int, isCross: Bool) throws(ModelError) {
        self.heads = heads
        headDim = dim / heads
        scaling = 1 / Float(headDim).squareRoot()
        if isCross {
            qkvProj = nil
            qProj = try Linear(checkpoint, ["\(prefix).q_proj"], in: dim, out: dim)
            kvProj = try Linear(checkpoint, ["\(prefix).k_proj", "\(prefix).v_proj"], in: dim, out: dim)
        } else {
            qkvProj = try Linear(checkpoint, ["\(prefix).q_proj", "\(prefix).k_proj", "\(prefix).v_proj"], in: dim, out: dim)
            qProj = nil
            kvProj = nil
        }
        outProj = try Linear(checkpoint, ["\(prefix).out_proj"], in: dim, out: dim)
    }
}
