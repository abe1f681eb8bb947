import XlateCore

/// `nn.Linear`: `y = x · Wᵀ + b`.
public struct Linear: Sendable {
    public let weight: [Float]  // [outFeatures, inFeatures]
    public let bias: [Float]?  // [outFeatures]
    public let inFeatures: Int
    public let outFeatures: Int

    init(weight: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int) {
        precondition(weight.count == inFeatures * outFeatures && (bias?.count ?? outFeatures) == outFeatures)
        self.weight = weight
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// Reads `<prefix>.weight` `[out, in]` and, if `hasBias`, `<prefix>.bias` `[out]`.
    init(_ checkpoint: Checkpoint, _ prefix: String, in inFeatures: Int, out outFeatures: Int, hasBias: Bool = true) throws(ModelError) {
        self.init(
            weight: try checkpoint.tensor("\(prefix).weight", shape: [outFeatures, inFeatures]).data,
            bias: hasBias ? try checkpoint.tensor("\(prefix).bias", shape: [outFeatures]).data : nil,
            inFeatures: inFeatures, outFeatures: outFeatures)
    }

    /// One projection computing several (`q`, `k`, `v`) in a single GEMM: outputs are concatenated per row.
    static func fused(_ parts: [Linear]) -> Linear {
        let inFeatures = parts[0].inFeatures
        precondition(parts.allSatisfy { $0.inFeatures == inFeatures && ($0.bias == nil) == (parts[0].bias == nil) })
        return Linear(
            weight: parts.flatMap(\.weight),
            bias: parts[0].bias == nil ? nil : parts.flatMap { $0.bias! },
            inFeatures: inFeatures, outFeatures: parts.reduce(0) { $0 + $1.outFeatures })
    }

    /// `x [rows, in]` → `[rows, out]`.
    func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        var y = [Float](repeating: 0, count: rows * outFeatures)
        guard rows > 0 else { return y }
        x.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer { y in
                    if let bias {
                        bias.withUnsafeBufferPointer { b in
                            Ops.linear(x.baseAddress!, rows: rows, inFeatures: inFeatures, weight: w.baseAddress!, bias: b.baseAddress!, outFeatures: outFeatures, into: y.baseAddress!)
                        }
                    } else {
                        Ops.linear(x.baseAddress!, rows: rows, inFeatures: inFeatures, weight: w.baseAddress!, bias: nil, outFeatures: outFeatures, into: y.baseAddress!)
                    }
                }
            }
        }
        return y
    }
}

/// `nn.LayerNorm` over the last dimension.
public struct LayerNorm: Sendable {
    public let weight: [Float]  // [dim]
    public let bias: [Float]  // [dim]
    public let eps: Float

    init(_ checkpoint: Checkpoint, _ prefix: String, dim: Int, eps: Float = 1e-5) throws(ModelError) {
        weight = try checkpoint.tensor("\(prefix).weight", shape: [dim]).data
        bias = try checkpoint.tensor("\(prefix).bias", shape: [dim]).data
        self.eps = eps
    }

    /// Normalises `x [rows, dim]` in place.
    func callAsFunction(_ x: inout [Float]) {
        let dim = weight.count
        x.withUnsafeMutableBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { b in
                    Ops.layerNorm(x.baseAddress!, rows: x.count / dim, columns: dim, weight: w.baseAddress!, bias: b.baseAddress!, eps: eps)
                }
            }
        }
    }
}

/// Scaled dot-product attention of one query over `count` keys for one head.
///
/// `keys`/`values` point at the head's slice of the first key/value row; consecutive rows are `stride` floats
/// apart. Writes the head's output (`headDim` floats) to `output` and, when given, the probabilities to `probabilities`.
@inline(__always)
func attendOne(
    query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
    count: Int, headDim: Int, scaling: Float, scores: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
) {
    for j in 0..<count {
        scores[j] = Ops.dot(query, keys + j * stride, count: headDim) * scaling
    }
    Ops.softmax(scores, count: count)
    output.initialize(repeating: 0, count: headDim)
    for j in 0..<count {
        Ops.axpy(scores[j], values + j * stride, output, count: headDim)
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
        let q = try Linear(checkpoint, "\(prefix).q_proj", in: dim, out: dim)
        let k = try Linear(checkpoint, "\(prefix).k_proj", in: dim, out: dim)
        let v = try Linear(checkpoint, "\(prefix).v_proj", in: dim, out: dim)
        if isCross {
            qkvProj = nil
            qProj = q
            kvProj = Linear.fused([k, v])
        } else {
            qkvProj = Linear.fused([q, k, v])
            qProj = nil
            kvProj = nil
        }
        outProj = try Linear(checkpoint, "\(prefix).out_proj", in: dim, out: dim)
    }
}

/// Position-wise feed-forward: `fc2(act(fc1(x)))`.
struct FeedForward: Sendable {
    let fc1: Linear  // [ffn, d]
    let fc2: Linear  // [d, ffn]
    let activation: Activation

    init(_ checkpoint: Checkpoint, _ prefix: String, dim: Int, ffnDim: Int, activation: Activation) throws(ModelError) {
        fc1 = try Linear(checkpoint, "\(prefix).fc1", in: dim, out: ffnDim)
        fc2 = try Linear(checkpoint, "\(prefix).fc2", in: ffnDim, out: dim)
        self.activation = activation
    }

    func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        var hidden = fc1(x, rows: rows)
        hidden.withUnsafeMutableBufferPointer { Ops.activate($0.baseAddress!, count: $0.count, activation) }
        return fc2(hidden, rows: rows)
    }
}

/// `x += y` element-wise.
@inline(__always)
func addInPlace(_ x: inout [Float], _ y: [Float]) {
    precondition(x.count == y.count)
    x.withUnsafeMutableBufferPointer { x in
        y.withUnsafeBufferPointer { y in Ops.add(y.baseAddress!, to: x.baseAddress!, count: x.count) }
    }
}
