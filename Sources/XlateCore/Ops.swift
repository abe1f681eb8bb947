import Foundation

/// The element-wise and row-wise kernels of the engine. They work in place on raw rows so that callers can run
/// them over preallocated buffers without copying.
public enum Ops {
    /// `y[n × out] = x[n × in] · Wᵀ + b` with `W` stored `[out, in]` as in PyTorch's `nn.Linear`.
    public static func linear(
        _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
        into y: UnsafeMutablePointer<Float>
    ) {
        BLAS.sgemm(
            transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
            a: x, lda: inFeatures, b: weight, ldb: inFeatures, c: y, ldc: outFeatures)
        if let bias {
            for r in 0..<rows {
                let row = y + r * outFeatures
                for j in 0..<outFeatures { row[j] += bias[j] }
            }
        }
    }

    /// `x[i] += y[i]` for `count` elements.
    @inline(__always)
    public static func add(_ y: UnsafePointer<Float>, to x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }

    /// Layer normalisation of each row (`torch.nn.LayerNorm`: biased variance, `eps` inside the square root).
    public static func layerNorm(
        _ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float
    ) {
        let n = Float(columns)
        for r in 0..<rows {
            let row = x + r * columns
            var mean: Float = 0
            for j in 0..<columns { mean += row[j] }
            mean /= n
            var variance: Float = 0
            for j in 0..<columns {
                let d = row[j] - mean
                variance += d * d
            }
            variance /= n
            let inverse = 1 / (variance + eps).squareRoot()
            for j in 0..<columns { row[j] = (row[j] - mean) * inverse * weight[j] + bias[j] }
        }
    }

    /// Softmax of one row in place (max-subtracted, as PyTorch).
    @inline(__always)
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var sum: Float = 0
        for i in 0..<count {
            let e = expf(x[i] - maximum)
            x[i] = e
            sum += e
        }
        let inverse = 1 / sum
        for i in 0..<count { x[i] *= inverse }
    }

    /// Log-softmax of one row in place: `x - max - log(Σ exp(x - max))`, as PyTorch.
    public static func logSoftmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var sum: Float = 0
        for i in 0..<count { sum += expf(x[i] - maximum) }
        // (x - max) - log Σ, in this order: folding max + log Σ first loses precision for large logits.
        let logSum = logf(sum)
        for i in 0..<count { x[i] = (x[i] - maximum) - logSum }
    }

    /// Applies `activation` to `count` elements in place.
    public static func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation) {
        switch activation {
        case .relu:
            for i in 0..<count { x[i] = max(x[i], 0) }
        case .silu:
            for i in 0..<count { x[i] = x[i] / (1 + expf(-x[i])) }
        case .gelu:
            for i in 0..<count { x[i] = 0.5 * x[i] * (1 + erff(x[i] * Float(0.5.squareRoot()))) }
        case .geluTanh:
            let c = Float((2 / Double.pi).squareRoot())
            for i in 0..<count {
                let v = x[i]
                x[i] = 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v)))
            }
        }
    }
}

/// Feed-forward activations, named as in transformers' `ACT2FN`.
public enum Activation: String, Sendable, CaseIterable {
    case relu
    /// `x · sigmoid(x)`; transformers' `swish` and `silu`.
    case silu
    /// Exact GELU with `erf`.
    case gelu
    /// The tanh approximation: transformers' `gelu_new`, `gelu_pytorch_tanh`.
    case geluTanh

    /// Maps a config's `activation_function` / `dense_act_fn` name; nil for names xlate does not implement.
    public init?(configName: String) {
        switch configName {
        case "relu": self = .relu
        case "swish", "silu": self = .silu
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        default: return nil
        }
    }
}
