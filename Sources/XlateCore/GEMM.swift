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

/// The precision weight matrices compute in.
public enum ComputeType: String, Sendable, CaseIterable {
    /// Float arithmetic over the checkpoint's values (float16 checkpoints keep half-precision storage, which is
    /// exact): results match the reference implementation.
    case float32
    /// Weights quantised to 8 bits per output row, activations per row on each product; integer dot products
    /// (AVX-512 VNNI where the CPU has it). Half the memory of float16 weights and faster; outputs differ slightly
    /// from float32's.
    case int8

    /// The int8 kernel this CPU runs.
    public static var int8Kernel: String { xk_int8_level() >= 1 ? "AVX-512 VNNI" : "portable" }
}

/// A weight matrix `W [outFeatures, inFeatures]` (PyTorch's `nn.Linear.weight`) stored in the layout its product
/// wants: float32 → packed panels for the packed kernel — in half precision when every weight is exactly a half (a
/// float16 checkpoint: half the memory and bandwidth, identical results) — or row-major floats for OpenBLAS;
/// int8 → quantised panels with per-row scales.
public struct WeightMatrix: Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    public let path: GEMMPath
    public let computeType: ComputeType
    /// True when the packed float panels hold halves.
    public let isHalf: Bool
    /// Output columns per panel of the packed layouts: a matrix stacked from parts of a multiple of this many rows
    /// can be packed part by part (`init(halves:rowsPerPart:inFeatures:)`).
    public static let panelColumns = Int(XK_PANEL_COLUMNS)
    private let storage: AlignedBuffer
    /// int8 only: per output column `[dequantisation scale as Float bits, compensation]`, panel-padded.
    private let columnScales: AlignedBuffer?
    private let compensation: AlignedBuffer?
    /// int8 only: the kernel (1: AVX-512 VNNI, 0: portable).
    let int8Level: Int32

    /// Copies (OpenBLAS), packs (packed kernel) or quantises (int8) the row-major weight at `weight`.
    public init(
        _ weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, path: GEMMPath = .current,
        computeType: ComputeType = .float32, int8Level: Int32 = xk_int8_level()
    ) throws(XlateCoreError) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.path = path
        self.computeType = computeType
        self.int8Level = int8Level
        let (n, k) = (Int32(outFeatures), Int32(inFeatures))
        if computeType == .int8 {
            (storage, columnScales, compensation) = Self.int8Panels(outFeatures: n, inFeatures: k) { panels, scales, sums in
                xk_pack_weight_i8(weight, n, k, panels, scales, sums)
            }
            isHalf = false
            return
        }
        (columnScales, compensation) = (nil, nil)
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

    /// The matrix stacking `parts`, each IEEE halves `[rowsPerPart, inFeatures]` row-major (float16 tensors in place
    /// in the file; need not be aligned): `outFeatures = parts.count × rowsPerPart`. Packed straight from the halves
    /// — the same panels, scales and results as through floats, without a float copy of the matrix. Several parts
    /// need a multiple of `panelColumns` rows each (each part fills whole panels).
    public init(
        halves parts: [UnsafeRawPointer], rowsPerPart: Int, inFeatures: Int, path: GEMMPath = .current,
        computeType: ComputeType = .float32, int8Level: Int32 = xk_int8_level()
    ) throws(XlateCoreError) {
        precondition(parts.count == 1 || rowsPerPart % Self.panelColumns == 0, "parts of \(rowsPerPart) rows do not fill whole panels")
        outFeatures = parts.count * rowsPerPart
        self.inFeatures = inFeatures
        self.path = path
        self.computeType = computeType
        self.int8Level = int8Level
        let (n, k, total) = (Int32(rowsPerPart), Int32(inFeatures), Int32(parts.count * rowsPerPart))
        if computeType == .int8 {
            let partBytes = xk_packed_i8_size(n, k)  // whole panels: part i starts at panel i · rowsPerPart / 32
            (storage, columnScales, compensation) = Self.int8Panels(outFeatures: total, inFeatures: k) { panels, scales, sums in
                for (i, part) in parts.enumerated() {
                    xk_pack_halves_i8(part, n, k, panels + i * partBytes, scales + i * rowsPerPart, sums + i * rowsPerPart)
                }
            }
            isHalf = false
            return
        }
        (columnScales, compensation) = (nil, nil)
        if path == .openBLAS {
            _ = try BLAS.info()
            storage = AlignedBuffer(byteCount: outFeatures * inFeatures * 4)
            for (i, part) in parts.enumerated() {
                HalfPrecision.convert(
                    float16: part.assumingMemoryBound(to: UInt16.self), to: storage.floats + i * rowsPerPart * inFeatures,
                    count: rowsPerPart * inFeatures)
            }
            isHalf = false
            return
        }
        storage = AlignedBuffer(byteCount: xk_packed_size(total, k) * 2)
        let partElements = xk_packed_size(n, k)
        for (i, part) in parts.enumerated() { xk_pack_halves(part, n, k, storage.halves + i * partElements) }
        isHalf = true
    }

    /// Storage for int8 panels of an `[outFeatures, inFeatures]` matrix with its per-column scales and compensation,
    /// filled by `pack(panels, scales, compensation)`.
    private static func int8Panels(
        outFeatures n: Int32, inFeatures k: Int32,
        _ pack: (UnsafeMutablePointer<Int8>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>) -> Void
    ) -> (panels: AlignedBuffer, scales: AlignedBuffer, compensation: AlignedBuffer) {
        let columns = xk_packed_i8_columns(n)
        let panels = AlignedBuffer(byteCount: xk_packed_i8_size(n, k))
        let scales = AlignedBuffer(byteCount: columns * 4)
        let sums = AlignedBuffer(byteCount: columns * 4)
        pack(panels.raw.assumingMemoryBound(to: Int8.self), scales.floats, sums.int32s)
        return (panels, scales, sums)
    }

    public init(
        _ weight: [Float], outFeatures: Int, inFeatures: Int, path: GEMMPath = .current,
        computeType: ComputeType = .float32, int8Level: Int32 = xk_int8_level()
    ) throws(XlateCoreError) {
        precondition(weight.count == outFeatures * inFeatures, "weight of \(weight.count) floats is not \(outFeatures) × \(inFeatures)")
        self = try weight.withUnsafeBufferPointer { (buffer) throws(XlateCoreError) in
            try WeightMatrix(
                buffer.baseAddress!, outFeatures: outFeatures, inFeatures: inFeatures, path: path,
                computeType: computeType, int8Level: int8Level)
        }
    }

    /// Writes `W[row, 0..<inFeatures]` to `destination`, gathered from the packed panels — so a token embedding tied
    /// to its output projection needs no copy of its own. Float storage gives the weights exactly (halves widened);
    /// int8 gives them dequantised (`q · scale` of the row), as CTranslate2's int8 embeddings.
    public func copyRow(_ row: Int, to destination: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < outFeatures, "row \(row) outside 0..<\(outFeatures)")
        if let columnScales {
            xk_packed_row_i8(
                storage.raw.assumingMemoryBound(to: Int8.self), Int32(inFeatures), Int32(row), columnScales.floats[row],
                destination)
        } else if path == .openBLAS {
            destination.update(from: storage.floats + row * inFeatures, count: inFeatures)
        } else if isHalf {
            xk_packed_row_f16(storage.halves, Int32(inFeatures), Int32(row), destination)
        } else {
            xk_packed_row(storage.floats, Int32(inFeatures), Int32(row), destination)
        }
    }

    /// Bytes of weight storage.
    public var byteCount: Int { storage.byteCount + (columnScales?.byteCount ?? 0) + (compensation?.byteCount ?? 0) }

    /// `y [rows, out] = x [rows, in] · Wᵀ + bias`.
    public func multiply(_ x: UnsafePointer<Float>, rows: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let (m, n, k) = (Int32(rows), Int32(outFeatures), Int32(inFeatures))
        if let columnScales, let compensation {
            xk_gemm_packed_i8(
                x, m, k, storage.raw.assumingMemoryBound(to: Int8.self), columnScales.floats, compensation.int32s, bias, n,
                y, int8Level)
            return
        }
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
///
/// Not in transparent huge pages: `madvise(MADV_HUGEPAGE)` on the weights tripled the load's system time on the
/// test machine (2 MiB pages are zeroed on first touch: tc-big-sized load 1.5 → 3.2 s) for no product speed-up
/// that a benchmark could separate from noise; the next panel's prefetch (`kernels.c`) does the streaming.
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
    var int32s: UnsafeMutablePointer<Int32> { raw.assumingMemoryBound(to: Int32.self) }
}
