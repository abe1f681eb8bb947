import CKernels
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
        xk_softmax(x, Int32(count))
    }

    /// Log-softmax of one row in place: `(x - max) - log(Σ exp(x - max))`, in this order, as PyTorch (folding
    /// `max + log Σ` first loses precision for large logits).
    @inline(__always)
    public static func logSoftmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        xk_log_softmax(x, Int32(count))
    }

    /// The first `i` in `0..<count` with `x[i] + add > threshold` (one float addition, as written), or `count`:
    /// a vectorised scan for top-k selection, where few values pass.
    @inline(__always)
    public static func firstAbove(_ x: UnsafePointer<Float>, count: Int, adding add: Float, threshold: Float) -> Int {
        Int(xk_first_above(x, Int32(count), add, threshold))
    }

    /// `Σ a[i]·b[i]`.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        xk_dot(a, b, Int32(count))
    }

    /// Scaled dot-product attention of one query over `count` keys for one head; key/value rows `stride` floats
    /// apart. Leaves the probabilities in `scores` and writes the head's output (`headDim` floats) to `output`.
    @inline(__always)
    public static func attend(
        query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
        count: Int, headDim: Int, scaling: Float, scores: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
    ) {
        xk_attend(query, keys, values, Int32(stride), Int32(count), Int32(headDim), scaling, scores, output)
    }

    /// `y[i] += alpha · x[i]`.
    @inline(__always)
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        xk_axpy(alpha, x, y, Int32(count))
    }

    /// Applies `activation` to `count` elements in place.
    public static func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation) {
        switch activation {
        case .relu:
            for i in 0..<count { x[i] = max(x[i], 0) }
        case .silu:
            xk_silu(x, Int32(count))
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
