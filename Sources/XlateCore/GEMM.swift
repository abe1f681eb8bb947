import CKernels
import Foundation

/// How weight matrices are multiplied.
public enum GEMMPath: String, Sendable {
    /// xlate's kernel over weights packed at load (`CKernels`), AVX-512 code.
    case packedAVX512 = "packed AVX-512"
    /// The same kernel, AVX2 + FMA code.
    case packedAVX2 = "packed AVX2"
    /// OpenBLAS `cblas_sgemm` over row-major weights.
    case openBLAS = "OpenBLAS"

    /// The path of this process: the packed kernel on CPUs with AVX2 or AVX-512 (measured on the bundled model's
    /// shapes: 1.2–4× OpenBLAS's SkylakeX kernel, which repacks every weight on every call), OpenBLAS elsewhere.
    /// `XLATE_GEMM=openblas` forces OpenBLAS.
    public static let current: GEMMPath = {
        if ProcessInfo.processInfo.environment["XLATE_GEMM"]?.lowercased() == "openblas" { return .openBLAS }
        switch xk_gemm_level() {
        case 4: return .packedAVX512
        case 3: return .packedAVX2
        default: return .openBLAS
        }
    }()
}

/// A weight matrix `W [outFeatures, inFeatures]` (PyTorch's `nn.Linear.weight`) stored in the layout the GEMM path
/// wants: packed panels for the packed kernel, row-major for OpenBLAS.
public struct WeightMatrix: Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    public let path: GEMMPath
    private let storage: FloatBuffer

    /// Copies (OpenBLAS) or packs (packed kernel) the row-major weight at `weight`.
    public init(_ weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, path: GEMMPath = .current) throws(XlateCoreError) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.path = path
        if path == .openBLAS {
            _ = try BLAS.info()
            storage = FloatBuffer(uninitializedCount: outFeatures * inFeatures)
            storage.pointer.update(from: weight, count: outFeatures * inFeatures)
        } else {
            storage = FloatBuffer(uninitializedCount: xk_packed_size(Int32(outFeatures), Int32(inFeatures)))
            xk_pack_weight(weight, Int32(outFeatures), Int32(inFeatures), storage.pointer)
        }
    }

    public init(_ weight: [Float], outFeatures: Int, inFeatures: Int, path: GEMMPath = .current) throws(XlateCoreError) {
        precondition(weight.count == outFeatures * inFeatures, "weight of \(weight.count) floats is not \(outFeatures) × \(inFeatures)")
        self = try weight.withUnsafeBufferPointer { (buffer) throws(XlateCoreError) in
            try WeightMatrix(buffer.baseAddress!, outFeatures: outFeatures, inFeatures: inFeatures, path: path)
        }
    }

    /// `y [rows, out] = x [rows, in] · Wᵀ + bias`.
    public func multiply(_ x: UnsafePointer<Float>, rows: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        if path == .openBLAS {
            Ops.linear(x, rows: rows, inFeatures: inFeatures, weight: storage.pointer, bias: bias, outFeatures: outFeatures, into: y)
        } else {
            xk_gemm_packed(x, Int32(rows), Int32(inFeatures), storage.pointer, bias, Int32(outFeatures), y)
        }
    }
}
