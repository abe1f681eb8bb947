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
