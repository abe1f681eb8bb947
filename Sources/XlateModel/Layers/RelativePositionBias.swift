import Foundation
import XlateCore

/// The relative position bias of one stack: `relative_attention_bias` `[buckets, heads]` of its first layer, looked
/// up once for every relative position the stack can see, and added to the attention scores of all its layers.
struct RelativePositionBias: Sendable {
    let heads: Int
    /// Longest sequence covered: relative positions `-(span - 1) ... span - 1`.
    let span: Int
    /// `[heads, 2·span - 1]`: the bias of relative position `k - q` at `k - q + span - 1`.
    let table: FloatBuffer

    init(
        _ checkpoint: Checkpoint, _ name: String, buckets: Int, heads: Int, maxDistance: Int, bidirectional: Bool, span: Int
    ) throws(ModelError) {
        let weight = try checkpoint.tensor(name, shape: [buckets, heads])
        self.heads = heads
        self.span = span
        let width = 2 * span - 1
        var table = [Float](repeating: 0, count: heads * width)
        for index in 0..<width {
            let bucket = Self.bucket(
                relativePosition: index - (span - 1), bidirectional: bidirectional, numBuckets: buckets,
                maxDistance: maxDistance)
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
