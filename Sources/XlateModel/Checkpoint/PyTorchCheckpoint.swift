/// A legacy PyTorch checkpoint (`pytorch_model.bin`, written by `torch.save(model.state_dict())`): a zip archive
/// holding the pickled state dict (`ARCHIVE/data.pkl`) and one raw little-endian entry per storage
/// (`ARCHIVE/data/0`, `ARCHIVE/data/1`, ...).
///
/// Reading it never runs code from the file: `RestrictedUnpickler` accepts only what a state dict of tensors needs
/// and refuses any other global or opcode, naming it. Every storage and tensor view is checked against the archive
/// on open. Tensors that are the very same view of one storage under several names (tied weights) are kept once,
/// under the first name; the others are listed in `aliases`.
///
/// ```swift
/// let checkpoint = try PyTorchCheckpoint(path: "opus-mt-en-ro/pytorch_model.bin")
/// try checkpoint.writeSafeTensors(to: "opus-mt-en-ro/model.safetensors")   // what `xlate convert` does
/// ```
public final class PyTorchCheckpoint: @unchecked Sendable {
    /// One tensor of the state dict.
    public struct Tensor: Sendable {
        public let name: String
        /// The safetensors name of its element type: F32, F16, BF16, I64, ...
        public let dtype: String
        public let shape: [Int]
        /// Bytes of the tensor itself (not of its storage).
        public let byteCount: Int
        let elementSize: Int
        /// Its storage's bytes in the file.
        let storage: Range<Int>
        /// Element offset into the storage, and element strides.
        let offset: Int
        let strides: [Int]
    }

    /// A name under which the state dict holds the same view of the same storage as an earlier name.
    public struct Alias: Sendable, Equatable {
        public let name: String
        /// The name the tensor is kept under.
        public let target: String
    }

    public let path: String
    /// The state dict's tensors in file order, each view once.
    public let tensors: [Tensor]
    /// Further names of tensors in `tensors`, in file order.
    public let aliases: [Alias]
    private let file: MappedFile

    /// Opens and validates the checkpoint at `path`.
    public init(path: String) throws(ModelError) {
        func damaged(_ reason: String) -> ModelError { .pytorchCheckpoint(path: path, reason: reason) }
        self.path = path
        file = try MappedFile(path: path)
        let bytes = file.bytes
        // Before PyTorch 1.6 (and with _use_new_zipfile_serialization=False) torch.save wrote bare pickles.
        if bytes.first == 0x80 {
            throw damaged("it is in the legacy torch.save format (a bare pickle, PyTorch < 1.6), not the zip format")
        }
        if bytes.count >= 4, bytes.u32(0) != 0x0403_4B50 { throw damaged("it is not a zip archive (torch.save writes one)") }
        let archive = try ZipArchive(bytes: bytes, path: path)

        let pickles = archive.entries.filter { $0.name.hasSuffix("/data.pkl") }
        guard pickles.count == 1, let pickle = pickles.first else {
            if archive.entries.contains(where: { $0.name.hasSuffix("constants.pkl") }) {
                throw damaged("it is a TorchScript archive (torch.jit.save), not a state dict")
            }
            throw damaged("the archive has \(pickles.count) ARCHIVE/data.pkl entries instead of one (not written by torch.save?)")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        if let order = archive.entry(named: prefix + "byteorder") {
            let value = String(decoding: try archive.contents(of: order), as: UTF8.self)
            guard value == "little" else { throw damaged("its byte order is '\(value)'; xlate reads little-endian checkpoints") }
        }
        let (root, heap) = try RestrictedUnpickler.load(try archive.contents(of: pickle), entry: pickle.name, path: path)

        guard case .dict(let rootIndex) = root else {
            throw damaged("data.pkl holds \(root.kind), not a state dict (a dict of tensors)")
        }
        struct View: Hashable {
            let key: String, offset: Int, shape: [Int], strides: [Int]
        }
        var storages: [String: (storage: TorchStorage, range: Range<Int>)] = [:]
        var names: Set<String> = []
        var views: [View: String] = [:]
        var tensors: [Tensor] = []
        var aliases: [Alias] = []
        // Each view is bounded by its storage, but many different views of one storage could still add up to far
        // more than the file: all views together may read at most `viewByteLimit`.
        var viewBytes = 0
        let viewLimit = Self.viewByteLimit(fileSize: bytes.count)
        for (key, value) in heap.dicts[rootIndex].items {
            guard case .string(let name) = key else { throw damaged("the state dict has \(key.kind) as a key") }
            guard case .tensor(let tensor) = value else {
                throw damaged("'\(name)' is \(value.kind), not a tensor; xlate reads plain state dicts (torch.save(model.state_dict()))")
            }
            guard names.insert(name).inserted else { throw damaged("tensor '\(name)' appears twice") }

            let storage = tensor.storage
            let range: Range<Int>
            if let known = storages[storage.key] {
                guard known.storage == storage else {
                    throw damaged("storage '\(storage.key)' is named with two element types or sizes")
                }
                range = known.range
            } else {
                let entryName = prefix + "data/" + storage.key
                guard let entry = archive.entry(named: entryName) else {
                    throw damaged("tensor '\(name)': its storage entry '\(entryName)' is missing")
                }
                let contents = try archive.contents(of: entry)
                let (needed, overflow) = storage.count.multipliedReportingOverflow(by: storage.dtype.size)
                guard !overflow, contents.count == needed else {
                    throw damaged(
                        "storage entry '\(entryName)' holds \(contents.count) bytes, but its \(storage.count) \(storage.dtype.rawValue) "
                            + "elements need \(overflow ? "more" : String(needed)) (truncated?)")
                }
                range = entry.range
                storages[storage.key] = (storage, range)
            }
            guard let byteCount = Self.checkView(tensor) else {
                throw damaged(
                    "tensor '\(name)' (shape \(tensor.shape), strides \(tensor.strides), offset \(tensor.offset)) reaches past the end "
                        + "of its storage of \(storage.count) elements")
            }
            // A state dict's tensor reads each element of its storage at most once. One that reads more (an expanded
            // view, stride 0) would have a file of a few KB allocate and write terabytes: refused.
            guard byteCount <= storage.count * storage.dtype.size else {
                throw damaged(
                    "tensor '\(name)' (shape \(tensor.shape), strides \(tensor.strides)) reads \(byteCount / storage.dtype.size) "
                        + "elements from a storage of \(storage.count) (an expanded view); save it with .contiguous() tensors")
            }
            let view = View(key: storage.key, offset: tensor.offset, shape: tensor.shape, strides: tensor.strides)
            if let target = views[view] {
                aliases.append(Alias(name: name, target: target))
                continue
            }
            views[view] = name
            viewBytes += byteCount
            guard viewBytes <= viewLimit else {
                throw damaged(
                    "its tensors are views that read \(viewBytes) bytes or more in all from a file of \(bytes.count) "
                        + "bytes; xlate reads at most \(viewLimit) (save the state dict with .contiguous() tensors)")
            }
            tensors.append(
                Tensor(
                    name: name, dtype: storage.dtype.rawValue, shape: tensor.shape, byteCount: byteCount,
                    elementSize: storage.dtype.size, storage: range, offset: tensor.offset, strides: tensor.strides))
        }
        // An empty state dict would load as a model with no weights and convert to an empty file: nothing to run.
        guard !tensors.isEmpty else { throw damaged("its state dict holds no tensors") }
        self.tensors = tensors
        self.aliases = aliases
    }

    /// The most bytes the distinct tensor views of a file of `fileSize` bytes may read: a real state dict reads each
    /// stored element about once (a few small views may overlap), so 4 × the file (+ 64 MB for small files) leaves
    /// room for any of them, and a crafted file cannot make xlate allocate much more than its own size.
    static func viewByteLimit(fileSize: Int) -> Int { 4 * fileSize + (64 << 20) }

    /// The tensor's byte count if its view lies inside its storage, else nil.
    private static func checkView(_ tensor: TorchTensor) -> Int? {
        let (shape, strides) = (tensor.shape, tensor.strides)
        guard shape.count == strides.count, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else { return nil }
        var elements = 1
        var last = tensor.offset  // the highest element index the view reads
        for (size, stride) in zip(shape, strides) {
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else { return nil }
            elements = product
            if size > 0 {
                let (step, overflow1) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, overflow2) = last.addingReportingOverflow(step)
                guard !overflow1, !overflow2 else { return nil }
                last = sum
            }
        }
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: tensor.storage.dtype.size)
        guard !overflow else { return nil }
        if elements == 0 { return tensor.offset <= tensor.storage.count ? 0 : nil }
        return last < tensor.storage.count ? byteCount : nil
    }

    /// Copies the tensor's elements, in row-major order, to `destination` (room for `tensor.byteCount` bytes).
    func copyBytes(of tensor: Tensor, to destination: UnsafeMutableRawPointer) {
        guard tensor.byteCount > 0 else { return }
        let size = tensor.elementSize
        let storage = file.bytes.baseAddress! + tensor.storage.lowerBound
        // Dimensions of size 1 may have any stride.
        var expected = 1
        var contiguous = true
        for (extent, stride) in zip(tensor.shape, tensor.strides).reversed() where extent != 1 {
            contiguous = contiguous && stride == expected
            expected *= extent
        }
        if contiguous {
            destination.copyMemory(from: storage + tensor.offset * size, byteCount: tensor.byteCount)
            return
        }
        // A strided view: step an index through the shape, last dimension fastest.
        var index = [Int](repeating: 0, count: tensor.shape.count)
        var element = tensor.offset
        for written in 0..<tensor.byteCount / size {
            (destination + written * size).copyMemory(from: storage + element * size, byteCount: size)
            var dimension = tensor.shape.count - 1
            while dimension >= 0 {
                index[dimension] += 1
                element += tensor.strides[dimension]
                if index[dimension] < tensor.shape[dimension] { break }
                element -= tensor.strides[dimension] * tensor.shape[dimension]
                index[dimension] = 0
                dimension -= 1
            }
        }
    }

    // MARK: safetensors

    private var layout: SafeTensorsWriter {
        SafeTensorsWriter(
            tensors: tensors.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape, byteCount: $0.byteCount, elementSize: $0.elementSize) },
            metadata: ["format": "pt"])
    }

    /// Writes the tensors (`aliases` left out: safetensors files cannot share storage) as a safetensors file at
    /// `path`, atomically: the file appears complete or not at all. Unless `overwrite`, an existing file is an error
    /// (`ModelError.outputExists`) and stays as it was.
    public func writeSafeTensors(to path: String, overwrite: Bool = false) throws(ModelError) {
        try layout.write(to: path, overwrite: overwrite) { index, destination in copyBytes(of: tensors[index], to: destination) }
    }

    /// The checkpoint as a safetensors file in memory, for a model folder that has only `pytorch_model.bin`.
    func safeTensorsFile() throws(ModelError) -> SafeTensorsFile {
        let layout = layout
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: layout.fileSize, alignment: 64)
        layout.encode(into: buffer.baseAddress!) { index, destination in copyBytes(of: tensors[index], to: destination) }
        return try SafeTensorsFile(file: MappedFile(path: path, taking: UnsafeRawBufferPointer(buffer)))
    }
}
