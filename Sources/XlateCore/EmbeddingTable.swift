import CKernels

/// A token embedding table `[rows, width]`, stored in half precision when every value is exactly a half (a float16
/// checkpoint: half the memory of floats, identical values), else as floats — or read from the output projection
/// it is tied to (`init(rowsOf:)`), with no storage of its own. Rows are widened to floats on lookup.
public final class EmbeddingTable: @unchecked Sendable {
    public let rows: Int
    public let width: Int
    /// `[rows, width]` halves, or nil when the table holds floats or reads a matrix.
    private let halves: UnsafeMutablePointer<UInt16>?
    private let floats: FloatBuffer?
    private let matrix: WeightMatrix?

    /// The rows of `matrix` (`[rows, width]` = `[outFeatures, inFeatures]`; see `WeightMatrix.copyRow`): a decoder
    /// embedding tied to the output projection, sharing its memory.
    public init(rowsOf matrix: WeightMatrix) {
        (rows, width) = (matrix.outFeatures, matrix.inFeatures)
        (halves, floats, self.matrix) = (nil, nil, matrix)
    }

    /// The table of `values [rows, width]` (copied).
    public init(_ values: UnsafePointer<Float>, rows: Int, width: Int) {
        self.rows = rows
        self.width = width
        let count = rows * width
        let halves = UnsafeMutablePointer<UInt16>.allocate(capacity: max(count, 1))
        matrix = nil
        if xk_f32_to_f16_exact(values, halves, count) != 0 {
            (self.halves, floats) = (halves, nil)
        } else {
            halves.deallocate()
            let floats = FloatBuffer(uninitializedCount: count)
            floats.pointer.update(from: values, count: count)
            (self.halves, self.floats) = (nil, floats)
        }
    }

    /// The table of the IEEE halves `source [rows, width]` (copied; need not be aligned), e.g. a float16 checkpoint's
    /// tensor in place in the file.
    public init(halves source: UnsafeRawPointer, rows: Int, width: Int) {
        self.rows = rows
        self.width = width
        let halves = UnsafeMutablePointer<UInt16>.allocate(capacity: max(rows * width, 1))
        UnsafeMutableRawPointer(halves).copyMemory(from: source, byteCount: rows * width * 2)
        (self.halves, floats, matrix) = (halves, nil, nil)
    }

    deinit { halves?.deallocate() }

    /// The stored halves `[rows, width]` when the table holds halves (for a projection tied to the embedding).
    public var storedHalves: UnsafePointer<UInt16>? { halves.map { UnsafePointer($0) } }

    /// True when the table is stored in half precision.
    public var isHalf: Bool { halves != nil }

    /// Bytes of storage of its own (0 when it reads a matrix).
    public var byteCount: Int { matrix == nil ? rows * width * (isHalf ? 2 : 4) : 0 }

    /// Writes row `row` (`width` floats) to `destination`.
    @inline(__always)
    public func copyRow(_ row: Int, to destination: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows, "embedding row \(row) outside 0..<\(rows)")
        if let halves {
            xk_f16_to_f32(halves + row * width, destination, width)
        } else if let floats {
            destination.update(from: floats.pointer + row * width, count: width)
        } else {
            matrix!.copyRow(row, to: destination)
        }
    }
}
