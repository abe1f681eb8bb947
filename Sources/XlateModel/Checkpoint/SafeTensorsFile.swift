import Foundation
import XlateCore

/// Element types a safetensors file may hold; xlate computes with the first three.
public enum StorageType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"

    var size: Int { self == .f32 ? 4 : 2 }
}

/// One `.safetensors` file: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
///
/// The header is validated whole on open — every dtype, shape, offset and overlap — so later reads cannot
/// go out of bounds. Tensors are converted to float32 on read.
final class SafeTensorsFile: @unchecked Sendable {
    struct Entry {
        let dtype: String
        let shape: [Int]
        /// Byte range inside the data section.
        let range: Range<Int>
    }

    /// A header larger than this is not a checkpoint header (real ones are a few hundred KB).
    static let maximumHeaderLength = 100 << 20

    let path: String
    let entries: [String: Entry]
    private let file: MappedFile
    private let dataStart: Int

    convenience init(path: String) throws(ModelError) {
        try self.init(file: try MappedFile(path: path))
    }

    init(file: MappedFile) throws(ModelError) {
        self.file = file
        path = file.path
        let bytes = file.bytes
        guard bytes.count >= 8 else {
            throw .invalidSafetensors(path: path, reason: "file is \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = Int(UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)).clamped(to: UInt64(Int.max)))
        guard headerLength <= Self.maximumHeaderLength else {
            throw .invalidSafetensors(path: path, reason: "header length \(headerLength) is absurd (limit \(Self.maximumHeaderLength))")
        }
        guard 8 + headerLength <= bytes.count else {
            throw .invalidSafetensors(
                path: path, reason: "header length \(headerLength) runs past the end of the \(bytes.count)-byte file (truncated?)")
        }
        dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        let headerData = Data(bytes[8..<dataStart])
        // As strict as the reference parser: a name given twice or a dimension written `2.0` is refused, not guessed.
        let header: [String: JSONValue]
        switch StrictJSON.parse(headerData) {
        case .failure(.duplicateKey(let key)):
            throw .invalidSafetensors(path: path, reason: "the header has the key '\(key)' twice")
        case .failure(.malformed(let offset)):
            throw .invalidSafetensors(path: path, reason: "the header is not valid JSON (at byte \(8 + offset) of the file)")
        case .success(let value):
            guard let object = value.objectValue else { throw .invalidSafetensors(path: path, reason: "header is not a JSON object") }
            header = object
        }
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let object = value.objectValue, let dtype = object["dtype"]?.stringValue else {
                throw .invalidSafetensors(path: path, reason: "entry '\(name)' has no dtype string")
            }
            guard let shape = object["shape"]?.intArray else {
                throw .invalidSafetensors(path: path, reason: "tensor '\(name)' has no shape of integers (got \(object["shape"] ?? .null))")
            }
            guard let offsets = object["data_offsets"]?.intArray, offsets.count == 2 else {
                throw .invalidSafetensors(
                    path: path, reason: "tensor '\(name)' has no data_offsets of two integers (got \(object["data_offsets"] ?? .null))")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw .invalidSafetensors(
                    path: path, reason: "tensor '\(name)' has data_offsets [\(begin), \(end)] outside the \(dataLength)-byte data section")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw .invalidSafetensors(path: path, reason: "tensor '\(name)' has a negative dimension in \(shape)")
            }
            if let type = StorageType(rawValue: dtype) {
                let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                    let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                    return (p, acc.1 || o)
                }
                guard !overflow, elements * type.size == end - begin else {
                    throw .invalidSafetensors(
                        path: path,
                        reason: "tensor '\(name)' has shape \(shape) of \(dtype) but \(end - begin) bytes")
                }
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: begin..<end)
        }
        // Empty tensors occupy no bytes: one may sit at the start of another.
        let sorted = entries.filter { !$0.value.range.isEmpty }.sorted { $0.value.range.lowerBound < $1.value.range.lowerBound }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.value.range.upperBound > next.value.range.lowerBound {
            throw .invalidSafetensors(path: path, reason: "tensors '\(previous.key)' and '\(next.key)' overlap")
        }
        self.entries = entries
    }

    /// Converts tensor `name` to float32 into `destination` (room for all its elements) after checking its shape.
    func read(_ name: String, expectedShape: [Int], into destination: UnsafeMutablePointer<Float>) throws(ModelError) {
        guard let entry = entries[name] else { throw .missingTensor(name: name, path: path) }
        guard let type = StorageType(rawValue: entry.dtype) else {
            throw .unsupportedDType(tensor: name, dtype: entry.dtype, path: path)
        }
        guard entry.shape == expectedShape else {
            throw .wrongShape(tensor: name, got: entry.shape, expected: expectedShape, path: path)
        }
        let count = entry.range.count / type.size
        let offset = dataStart + entry.range.lowerBound
        // In parts of 64 MiB of floats, each part's pages given back once copied: the copy and the mapped file never
        // both hold a whole large tensor (NLLB-200's vocabulary is 1 GiB of float32).
        let part = 1 << 24
        for start in stride(from: 0, to: count, by: part) {
            let n = Swift.min(part, count - start)
            let bytes = file.bytes.baseAddress! + offset + start * type.size
            switch type {
            case .f32: UnsafeMutableRawPointer(destination + start).copyMemory(from: bytes, byteCount: n * 4)
            case .f16: HalfPrecision.convert(float16: bytes.assumingMemoryBound(to: UInt16.self), to: destination + start, count: n)
            case .bf16: HalfPrecision.convert(bfloat16: bytes.assumingMemoryBound(to: UInt16.self), to: destination + start, count: n)
            }
            file.evict((offset + start * type.size)..<(offset + (start + n) * type.size))
        }
        guard HalfPrecision.allFinite(destination, count: count) else { throw .nonFiniteWeights(tensor: name, path: path) }
    }

    /// Where tensor `name`'s IEEE halves start in the file (not necessarily aligned), after checking its shape and
    /// that every value is finite; nil when the tensor is stored in another type.
    func halves(_ name: String, expectedShape: [Int]) throws(ModelError) -> UnsafeRawPointer? {
        guard let entry = entries[name] else { throw .missingTensor(name: name, path: path) }
        guard entry.dtype == StorageType.f16.rawValue else { return nil }
        guard entry.shape == expectedShape else {
            throw .wrongShape(tensor: name, got: entry.shape, expected: expectedShape, path: path)
        }
        let bytes = UnsafeRawPointer(file.bytes.baseAddress! + dataStart + entry.range.lowerBound)
        guard HalfPrecision.allFinite(halves: bytes, count: entry.range.count / 2) else {
            throw .nonFiniteWeights(tensor: name, path: path)
        }
        return bytes
    }

    /// Gives back the mapped pages of tensor `name` (see `MappedFile.evict`).
    func evict(_ name: String) {
        guard let entry = entries[name] else { return }
        file.evict((dataStart + entry.range.lowerBound)..<(dataStart + entry.range.upperBound))
    }

    /// Reads tensor `name` as float32 after checking its shape.
    func read(_ name: String, expectedShape: [Int]) throws(ModelError) -> Tensor {
        let count = expectedShape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { (buffer: inout UnsafeMutableBufferPointer<Float>) throws(ModelError) in
            try read(name, expectedShape: expectedShape, into: buffer.baseAddress!)
        }
        return Tensor(shape: expectedShape, data: values)
    }
}

private extension UInt64 {
    func clamped(to limit: UInt64) -> UInt64 { Swift.min(self, limit) }
}
