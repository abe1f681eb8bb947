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
