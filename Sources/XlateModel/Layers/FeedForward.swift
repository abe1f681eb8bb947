import XlateCore

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
