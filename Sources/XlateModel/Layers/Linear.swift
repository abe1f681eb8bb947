import XlateCore

/// `nn.Linear`: `y = x · Wᵀ + b`.
public struct Linear: Sendable {
    public let weight: WeightMatrix  // [outFeatures, inFeatures]
    public let bias: FloatBuffer?  // [outFeatures]
    public var inFeatures: Int { weight.inFeatures }
    public var outFeatures: Int { weight.outFeatures }

    init(
        weight: UnsafePointer<Float>, bias: FloatBuffer?, inFeatures: Int, outFeatures: Int, computeType: ComputeType
    ) throws(ModelError) {
        precondition((bias?.count ?? outFeatures) == outFeatures)
        self.weight = try Self.matrix { () throws(XlateCoreError) in
            try WeightMatrix(weight, outFeatures: outFeatures, inFeatures: inFeatures, computeType: computeType)
        }
        self.bias = bias
    }

    /// The projection stacking the IEEE halves `parts` (`[rowsPerPart, inFeatures]` each; see
    /// `WeightMatrix.init(halves:rowsPerPart:inFeatures:)`).
    init(
        halves parts: [UnsafeRawPointer], rowsPerPart: Int, bias: FloatBuffer?, inFeatures: Int, computeType: ComputeType
    ) throws(ModelError) {
        precondition((bias?.count ?? parts.count * rowsPerPart) == parts.count * rowsPerPart)
        self.weight = try Self.matrix { () throws(XlateCoreError) in
            try WeightMatrix(halves: parts, rowsPerPart: rowsPerPart, inFeatures: inFeatures, computeType: computeType)
        }
        self.bias = bias
    }

    /// A weight matrix; the only way making one fails is OpenBLAS missing on a CPU that needs it.
    private static func matrix(_ make: () throws(XlateCoreError) -> WeightMatrix) throws(ModelError) -> WeightMatrix {
        do { return try make() } catch { throw .unreadableFile(path: "libopenblas.so.0", reason: error.localizedDescription) }
    }

    /// Reads `<prefix>.weight` `[out, in]` and `<prefix>.bias` `[out]` of each prefix and stacks them into one
    /// projection (q, k and v in a single GEMM: outputs concatenated per row). `hasBias: false` for layers without
    /// bias (T5).
    init(_ checkpoint: Checkpoint, _ prefixes: [String], in inFeatures: Int, out outFeatures: Int, hasBias: Bool = true) throws(ModelError) {
        // Weights are checked before biases, so that a wrong size is reported on the weight.
        func readBias() throws(ModelError) -> FloatBuffer? {
            guard hasBias else { return nil }
            let bias = FloatBuffer(uninitializedCount: prefixes.count * outFeatures)
            for (i, prefix) in prefixes.enumerated() {
                try checkpoint.read("\(prefix).bias", shape: [outFeatures], into: bias.pointer + i * outFeatures)
            }
            return bias
        }
        // Float16 weights are packed from the file (parts of whole panels; else through floats).
        let size = outFeatures * inFeatures
        var packed: Linear?
        if prefixes.count == 1 || outFeatures % WeightMatrix.panelColumns == 0 {
            let names = prefixes.map { "\($0).weight" }
            _ = try checkpoint.withHalves(names, shape: [outFeatures, inFeatures]) { (parts) throws(ModelError) in
                packed = try Linear(
                    halves: parts, rowsPerPart: outFeatures, bias: try readBias(), inFeatures: inFeatures,
                    computeType: checkpoint.computeType)
            }
        }
        if let packed {
            self = packed
            return
        }
        let weight = FloatBuffer(uninitializedCount: prefixes.count * size)
        for (i, prefix) in prefixes.enumerated() {
            try checkpoint.read("\(prefix).weight", shape: [outFeatures, inFeatures], into: weight.pointer + i * size)
        }
        let bias = try readBias()
        try self.init(
            weight: weight.pointer, bias: bias, inFeatures: inFeatures, outFeatures: outFeatures * prefixes.count,
            computeType: checkpoint.computeType)
    }

    /// `y [rows, out] = x [rows, in] · Wᵀ + b`.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        weight.multiply(x, rows: rows, bias: bias?.pointer, into: y)
    }
}

/// `nn.LayerNorm` over the last dimension.
public struct LayerNorm: Sendable {
    public let weight: FloatBuffer  // [dim]
    public let bias: FloatBuffer  // [dim]
    public let eps: Float

    init(_ checkpoint: Checkpoint, _ prefix: String, dim: Int, eps: Float = 1e-5) throws(ModelError) {
        weight = try checkpoint.buffer("\(prefix).weight", shape: [dim])
        bias = try checkpoint.buffer("\(prefix).bias", shape: [dim])
        self.eps = eps
    }

    /// Normalises `x [rows, dim]` in place.
    func apply(_ x: UnsafeMutablePointer<Float>, rows: Int) {
        Ops.layerNorm(x, rows: rows, columns: weight.count, weight: weight.pointer, bias: bias.pointer, eps: eps)
    }
}

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

/// Position-wise feed-forward: `fc2(act(fc1(x)))`.
struct FeedForward: Sendable {
    let fc1: Linear  // [ffn, d]
    let fc2: Linear  // [d, ffn]
    let activation: Activation

    init(_ checkpoint: Checkpoint, _ prefix: String, dim: Int, ffnDim: Int, activation: Activation) throws(ModelError) {
        fc1 = try Linear(checkpoint, ["\(prefix).fc1"], in: dim, out: ffnDim)
        fc2 = try Linear(checkpoint, ["\(prefix).fc2"], in: ffnDim, out: dim)
        self.activation = activation
    }

    /// `y [rows, d] = fc2(act(fc1(x)))`, using `hidden` (`rows × ffn`) as scratch.
    func apply(_ x: UnsafePointer<Float>, rows: Int, hidden: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        fc1.apply(x, rows: rows, into: hidden)
        Ops.activate(hidden, count: rows * fc1.outFeatures, activation)
        fc2.apply(hidden, rows: rows, into: y)
    }
}
