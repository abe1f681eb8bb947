import Foundation
import XlateCore

#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory mapping of a whole file, unmapped when released; or bytes made in memory from a file.
final class MappedFile: @unchecked Sendable {
    let path: String
    let bytes: UnsafeRawBufferPointer
    /// The bytes were allocated, not mapped: deallocate them.
    private var owned = false

    /// Takes ownership of `bytes` (allocated), made from the file at `path`, which errors name.
    init(path: String, taking bytes: UnsafeRawBufferPointer) {
        self.path = path
        self.bytes = bytes
        owned = true
    }

    init(path: String) throws(ModelError) {
        self.path = path
        // Mapped, not read: no size limit; the safetensors header is checked against the size instead.
        let (fd, size) = try ModelFile.open(path, hint: "")
        defer { close(fd) }
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw .unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    /// Gives back the memory of the mapped pages that hold `range` (byte offsets): a tensor already converted into
    /// the model's own storage. The file stays mapped (a later read faults the pages in again), but the process no
    /// longer counts the pages of every tensor read so far, which keeps the load's peak memory near the model's.
    func evict(_ range: Range<Int>) {
        guard !owned, let base = bytes.baseAddress, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let end = Swift.min((range.upperBound + page - 1) / page * page, bytes.count)
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    deinit {
        if owned {
            bytes.deallocate()
        } else if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}

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
        let bytes = file.bytes.baseAddress! + dataStart + entry.range.lowerBound
        switch type {
        case .f32: UnsafeMutableRawPointer(destination).copyMemory(from: bytes, byteCount: count * 4)
        case .f16: HalfPrecision.convert(float16: bytes.assumingMemoryBound(to: UInt16.self), to: destination, count: count)
        case .bf16: HalfPrecision.convert(bfloat16: bytes.assumingMemoryBound(to: UInt16.self), to: destination, count: count)
        }
        evict(name)
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

/// All tensors of a model folder: `model.safetensors`, or the shards listed by `model.safetensors.index.json`, or
/// else a legacy `pytorch_model.bin` (read whole into memory; `xlate convert` writes its model.safetensors once).
///
/// Keeps track of the tensors read so that `checkAllUsed()` can reject keys no layer asked for.
public final class Checkpoint: @unchecked Sendable {
    private var files: [String: SafeTensorsFile] = [:]
    /// Tensor name → the file holding it.
    private var location: [String: SafeTensorsFile] = [:]
    private var used: Set<String> = []
    /// What the errors name: the file, or the index for a sharded checkpoint.
    public let path: String
    /// The precision of the weight matrices (`Linear` layers) built from this checkpoint.
    public var computeType: ComputeType = .float32

    public init(directory: URL) throws(ModelError) {
        let single = directory.appendingPathComponent("model.safetensors").path
        let index = directory.appendingPathComponent("model.safetensors.index.json").path
        let pytorch = directory.appendingPathComponent("pytorch_model.bin").path
        // A legacy torch.save checkpoint is read only where there is no safetensors one.
        let legacy = !ModelFile.exists(single) && !ModelFile.exists(index) && ModelFile.exists(pytorch)
        if ModelFile.exists(single) || legacy {
            path = legacy ? pytorch : single
            let file = legacy ? try PyTorchCheckpoint(path: pytorch).safeTensorsFile() : try SafeTensorsFile(path: single)
            files[path] = file
            for name in file.entries.keys { location[name] = file }
        } else if ModelFile.exists(index) {
            path = index
            let weightMap = try Self.readIndex(index)
            for (name, shard) in weightMap.sorted(by: { $0.key < $1.key }) {
                guard !shard.contains("/"), !shard.hasPrefix(".") else {
                    throw .invalidSafetensors(path: index, reason: "shard name '\(shard)' is not a file in the model folder")
                }
                let shardPath = directory.appendingPathComponent(shard).path
                let file: SafeTensorsFile
                if let open = files[shardPath] {
                    file = open
                } else {
                    guard ModelFile.exists(shardPath) else {
                        throw .missingFile(path: shardPath, hint: "The index \(index) lists it; download the missing shard.")
                    }
                    file = try SafeTensorsFile(path: shardPath)
                    files[shardPath] = file
                }
                guard file.entries[name] != nil else {
                    throw .missingTensor(name: name, path: shardPath)
                }
                location[name] = file
            }
        } else if ModelFile.exists(pytorch + ".index.json") {
            throw .pytorchCheckpoint(path: pytorch + ".index.json", reason: "sharded PyTorch checkpoints are not supported")
        } else {
            throw .missingFile(
                path: single, hint: "A model folder needs model.safetensors, model.safetensors.index.json with its shards, or pytorch_model.bin.")
        }
    }

    private static func readIndex(_ path: String) throws(ModelError) -> [String: String] {
        let data = try ModelFile.read(path, limit: ModelFile.Limit.index, hint: "")
        guard let weightMap = JSONValue.parse(data)?.objectValue?["weight_map"]?.objectValue,
            weightMap.values.allSatisfy({ $0.stringValue != nil })
        else {
            throw .invalidSafetensors(path: path, reason: "index has no \"weight_map\" object of tensor name → shard file")
        }
        let map = weightMap.mapValues { $0.stringValue! }
        return map
    }

    /// True when the checkpoint has a tensor with this name.
    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// Reads a tensor as float32, checking its shape.
    public func tensor(_ name: String, shape: [Int]) throws(ModelError) -> Tensor {
        guard let file = location[name] else { throw .missingTensor(name: name, path: path) }
        used.insert(name)
        return try file.read(name, expectedShape: shape)
    }

    /// Reads a tensor as float32 into `destination`, checking its shape.
    public func read(_ name: String, shape: [Int], into destination: UnsafeMutablePointer<Float>) throws(ModelError) {
        guard let file = location[name] else { throw .missingTensor(name: name, path: path) }
        used.insert(name)
        try file.read(name, expectedShape: shape, into: destination)
    }

    /// Runs `body` over the float16 values of tensors `names` in place in the file (each checked: shape, finite) when
    /// every one is stored as float16, and returns true; returns false without running `body` when any is stored in
    /// another type (the float32 readers then convert them). Their pages are given back afterwards.
    public func withHalves(
        _ names: [String], shape: [Int], _ body: ([UnsafeRawPointer]) throws(ModelError) -> Void
    ) throws(ModelError) -> Bool {
        var parts: [UnsafeRawPointer] = []
        for name in names {
            guard let file = location[name] else { throw .missingTensor(name: name, path: path) }
            guard let part = try file.halves(name, expectedShape: shape) else { return false }
            parts.append(part)
        }
        try body(parts)
        for name in names {
            used.insert(name)
            location[name]?.evict(name)
        }
        return true
    }

    /// Accounts for a tensor that is not needed (a stored copy of a tied weight) after checking its dtype and shape.
    public func checkUnused(_ name: String, shape: [Int]) throws(ModelError) {
        guard let file = location[name], let entry = file.entries[name] else { throw .missingTensor(name: name, path: path) }
        guard StorageType(rawValue: entry.dtype) != nil else { throw .unsupportedDType(tensor: name, dtype: entry.dtype, path: file.path) }
        guard entry.shape == shape else { throw .wrongShape(tensor: name, got: entry.shape, expected: shape, path: file.path) }
        used.insert(name)
    }

    /// Reads a tensor as float32 into new storage, checking its shape.
    public func buffer(_ name: String, shape: [Int]) throws(ModelError) -> FloatBuffer {
        let buffer = FloatBuffer(uninitializedCount: shape.reduce(1, *))
        try read(name, shape: shape, into: buffer.pointer)
        return buffer
    }

    /// Throws if the checkpoint holds tensors that nothing read.
    public func checkAllUsed() throws(ModelError) {
        let unused = Set(location.keys).subtracting(used).sorted()
        if !unused.isEmpty { throw .unexpectedTensors(names: unused, path: path) }
    }
}
