import XlateCore

/// Position-wise feed-forward: `out(act(in(x)))`, or gated, `out(act(in_0(x)) · in_1(x))`.
struct FeedForward: Sendable {
    /// fc1 / wi `[ffn, d]`, or (gated) wi_0 and wi_1 stacked `[2·ffn, d]` (one GEMM).
    let input: Linear
    let output: Linear  // fc2 / wo [d, ffn]
    let activation: Activation
    let isGated: Bool

    init(input: Linear, output: Linear, activation: Activation, isGated: Bool = false) {
        (self.input, self.output, self.activation, self.isGated) = (input, output, activation, isGated)
    }

    /// `MarianEncoderLayer` / `BartEncoderLayer`'s `fc1`, `fc2` (with biases).
    init(_ checkpoint: Checkpoint, _ prefix: String, dim: Int, ffnDim: Int, activation: Activation) throws(ModelError) {
        try self.init(
            input: Linear(checkpoint, ["\(prefix).fc1"], in: dim, out: ffnDim),
            output: Linear(checkpoint, ["\(prefix).fc2"], in: ffnDim, out: dim), activation: activation)
    }

    /// Floats of scratch `apply` needs per row.
    var scratchPerRow: Int { input.outFeatures }

    /// `y [rows, d]` = the block applied to `x [rows, d]`, using `hidden` (`rows × scratchPerRow`) as scratch.
    func apply(_ x: UnsafePointer<Float>, rows: Int, hidden: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        input.apply(x, rows: rows, into: hidden)
        let ffn = output.inFeatures
        if isGated {
            // Row r holds [in_0 x | in_1 x]; the product goes to the first rows · ffn floats, which it never
            // overtakes (r·ffn + j <= r·2ffn + j).
            for r in 0..<rows {
                let (gate, linear) = (hidden + r * 2 * ffn, hidden + r * 2 * ffn + ffn)
                Ops.activate(gate, count: ffn, activation)
                for j in 0..<ffn { hidden[r * ffn + j] = gate[j] * linear[j] }
            }
        } else {
            Ops.activate(hidden, count: rows * ffn, activation)
        }
        output.apply(hidden, rows: rows, into: y)
    }
}
