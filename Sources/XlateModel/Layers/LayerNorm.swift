import XlateCore

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
