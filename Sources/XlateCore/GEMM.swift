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
    /// shapes: 1.1–3.5× OpenBLAS's SkylakeX kernel, which repacks every weight on every call), OpenBLAS elsewhere.
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
/// wants: packed panels for the packed kernel — in half precision when every weight is exactly a half (a float16
/// checkpoint: half the memory and bandwidth, identical results) — or row-major floats for OpenBLAS.
public struct WeightMatrix: Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    public let path: GEMMPath
    /// True when the packed panels hold halves.
    public let isHalf: Bool
    private let storage: AlignedBuffer

    /// Copies (OpenBLAS) or packs (packed kernel) the row-major weight at `weight`.
    public init(_ weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, path: GEMMPath = .current) throws(XlateCoreError) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.path = path
        let (n, k) = (Int32(outFeatures), Int32(inFeatures))
        if path == .openBLAS {
            _ = try BLAS.info()
            storage = AlignedBuffer(byteCount: outFeatures * inFeatures * 4)
            storage.floats.update(from: weight, count: outFeatures * inFeatures)
            isHalf = false
            return
        }
        let elements = xk_packed_size(n, k)
        let halves = AlignedBuffer(byteCount: elements * 2)
        if xk_pack_weight_f16(weight, n, k, halves.halves) != 0 {
            storage = halves
            isHalf = true
        } else {
            storage = AlignedBuffer(byteCount: elements * 4)
            xk_pack_weight(weight, n, k, storage.floats)
            isHalf = false
        }
    }

    public init(_ weight: [Float], outFeatures: Int, inFeatures: Int, path: GEMMPath = .current) throws(XlateCoreError) {
        precondition(weight.count == outFeatures * inFeatures, "weight of \(weight.count) floats is not \(outFeatures) × \(inFeatures)")
        self = try weight.withUnsafeBufferPointer { (buffer) throws(XlateCoreError) in
            try WeightMatrix(buffer.baseAddress!, outFeatures: outFeatures, inFeatures: inFeatures, path: path)
        }
    }

    /// Bytes of weight storage.
    public var byteCount: Int { storage.byteCount }

    /// `y [rows, out] = x [rows, in] · Wᵀ + bias`.
    public func multiply(_ x: UnsafePointer<Float>, rows: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let (m, n, k) = (Int32(rows), Int32(outFeatures), Int32(inFeatures))
        switch (path, isHalf) {
        case (.openBLAS, _):
            Ops.linear(x, rows: rows, inFeatures: inFeatures, weight: storage.floats, bias: bias, outFeatures: outFeatures, into: y)
        case (_, true):
            xk_gemm_packed_f16(x, m, k, storage.halves, bias, n, y)
        case (_, false):
            xk_gemm_packed(x, m, k, storage.floats, bias, n, y)
        }
    }
}

/// Bytes at a 64-byte-aligned address (a cache line, an AVX-512 register), viewed as floats or halves.
final class AlignedBuffer: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        raw = .allocate(byteCount: max(byteCount, 64), alignment: 64)
    }

    deinit { raw.deallocate() }

    var floats: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
    var halves: UnsafeMutablePointer<UInt16> { raw.assumingMemoryBound(to: UInt16.self) }
}
