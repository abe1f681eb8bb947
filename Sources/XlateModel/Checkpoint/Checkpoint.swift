import Foundation
import XlateCore

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
