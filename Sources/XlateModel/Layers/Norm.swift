/// A block's normalisation: `nn.LayerNorm` (Marian, BART) or T5's RMS norm.
enum Norm: Sendable {
    case layerNorm(LayerNorm)
    case rms(RMSNorm)

    /// Normalises each row of `x [rows, d]` into `y`, which may be `x`.
    func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        switch self {
        case .layerNorm(let norm):
            if y != x { y.update(from: x, count: rows * norm.weight.count) }
            norm.apply(y, rows: rows)
        case .rms(let norm):
            norm.apply(x, rows: rows, into: y)
        }
    }
}
