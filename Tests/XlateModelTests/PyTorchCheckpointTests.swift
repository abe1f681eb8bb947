import Foundation
import Testing
@testable import XlateModel

let pytorchFixtures = repositoryRoot.appendingPathComponent("Fixtures/pytorch")

/// A tensor as stored: element type, shape and raw little-endian bytes.
struct RawTensor: Equatable, CustomStringConvertible {
    let dtype: String
    let shape: [Int]
    let bytes: [UInt8]

    var description: String { "\(dtype)\(shape) (\(bytes.count) bytes)" }
}

/// Every tensor of a safetensors file, by name, raw.
func rawTensors(ofSafetensors path: String) throws -> [String: RawTensor] {
    let file = try SafeTensorsFile(path: path)
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let dataStart = 8 + Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    return file.entries.mapValues { entry in
        RawTensor(dtype: entry.dtype, shape: entry.shape, bytes: Array(data[dataStart + entry.range.lowerBound..<dataStart + entry.range.upperBound]))
    }
}

/// Every tensor of a PyTorch checkpoint, by name, raw; with `aliases`, under its tied names too.
func rawTensors(of checkpoint: PyTorchCheckpoint, aliases: Bool = true) -> [String: RawTensor] {
    var tensors: [String: RawTensor] = [:]
    for tensor in checkpoint.tensors {
        var bytes = [UInt8](repeating: 0xEE, count: tensor.byteCount)
        bytes.withUnsafeMutableBytes { checkpoint.copyBytes(of: tensor, to: $0.baseAddress!) }
        tensors[tensor.name] = RawTensor(dtype: tensor.dtype, shape: tensor.shape, bytes: bytes)
    }
    if aliases {
        for alias in checkpoint.aliases { tensors[alias.name] = tensors[alias.target] }
    }
    return tensors
}

/// The bytes of a file with `change` applied, written into a fresh temporary folder; returns the new path.
func patched(_ source: URL, as name: String = "pytorch_model.bin", _ change: (inout [UInt8]) throws -> Void) throws -> String {
    var bytes = [UInt8](try Data(contentsOf: source))
    try change(&bytes)
    return try writeFile(Data(bytes), name, in: try temporaryDirectory())
}

extension [UInt8] {
    /// The offset of the last occurrence of `pattern`.
    func lastOffset(of pattern: [UInt8]) -> Int? {
        stride(from: count - pattern.count, through: 0, by: -1).first { self[$0..<$0 + pattern.count].elementsEqual(pattern) }
    }

    /// The offset of the first occurrence of `pattern`.
    func firstOffset(of pattern: [UInt8]) -> Int? {
        (0...(count - pattern.count)).first { self[$0..<$0 + pattern.count].elementsEqual(pattern) }
    }

    mutating func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { replaceSubrange(offset..<offset + $0.count, with: $0) }
    }
}

/// Expects `body` to throw `.pytorchCheckpoint` for `path` with a reason containing `fragment`.
func expectUnreadable(_ path: String, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    #expect(sourceLocation: sourceLocation) {
        try body()
    } throws: { error in
        guard case .pytorchCheckpoint(let errorPath, let reason) = error as? ModelError else { return false }
        return errorPath == path && reason.contains(fragment) && error.localizedDescription.contains(path)
    }
}

@Suite("PyTorch checkpoints (pytorch_model.bin): reading, converting, refusing")
struct PyTorchCheckpointTests {
    /// Fixtures/pytorch/<bin> and the fixture model whose safetensors it was written from.
    static let models = [
        ("marian-tiny", "marian/tied-swish"), ("marian-tiny-fp16", "marian/tied-keys-gelu-fp16"), ("t5-relu-tied", "t5/relu-tied"),
    ]

    static func binPath(_ name: String) -> String { pytorchFixtures.appendingPathComponent("\(name)/pytorch_model.bin").path }

    static func safetensorsPath(_ source: String) -> String {
        repositoryRoot.appendingPathComponent("Fixtures/\(source)/model.safetensors").path
    }

    // MARK: Reading

    @Test(arguments: models)
    func holdsTheTensorsOfTheSafetensorsFixtureByteForByte(bin: String, source: String) throws {
        let checkpoint = try PyTorchCheckpoint(path: Self.binPath(bin))
        let read = rawTensors(of: checkpoint)
        let expected = try rawTensors(ofSafetensors: Self.safetensorsPath(source))
        try #require(expected.count >= 60)
        for (name, tensor) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(read[name] == tensor, "\(name)")
        }
        // save_pretrained(safe_serialization=False) writes the tied embedding once under four names.
        let embedding = bin.hasPrefix("t5") ? "shared.weight" : "model.shared.weight"
        let prefix = bin.hasPrefix("t5") ? "" : "model."
        #expect(Set(checkpoint.aliases.map(\.name)) == ["\(prefix)encoder.embed_tokens.weight", "\(prefix)decoder.embed_tokens.weight", "lm_head.weight"])
        #expect(checkpoint.aliases.allSatisfy { $0.target == embedding })
        #expect(Set(read.keys).subtracting(expected.keys).isSubset(of: checkpoint.aliases.map(\.name)))
    }

    @Test func readsViewsWithOffsetsAndStridesAndEveryElementType() throws {
        let checkpoint = try PyTorchCheckpoint(path: pytorchFixtures.appendingPathComponent("views.bin").path)
        #expect(checkpoint.tensors.map(\.name) == ["grid", "row2", "columns", "transposed", "scalar", "empty", "half", "bf16", "long", "parameter"])
        #expect(checkpoint.aliases == [.init(name: "grid_again", target: "grid")])
        let tensors = rawTensors(of: checkpoint)
        let grid = (0..<24).map(Float.init)  // the shared storage: grid[r][c] = 6r + c
        #expect(tensors["grid"] == RawTensor(dtype: "F32", shape: [4, 6], bytes: floatBytes(grid)))
        #expect(tensors["grid_again"] == tensors["grid"])
        #expect(tensors["row2"] == RawTensor(dtype: "F32", shape: [6], bytes: floatBytes(Array(grid[12..<18]))))
        #expect(tensors["columns"] == RawTensor(dtype: "F32", shape: [4, 2], bytes: floatBytes([1, 2, 7, 8, 13, 14, 19, 20])))
        let transposed = (0..<6).flatMap { column in (0..<4).map { row in Float(6 * row + column) } }
        #expect(tensors["transposed"] == RawTensor(dtype: "F32", shape: [6, 4], bytes: floatBytes(transposed)))
        #expect(tensors["scalar"] == RawTensor(dtype: "F32", shape: [], bytes: floatBytes([5])))
        #expect(tensors["empty"] == RawTensor(dtype: "F32", shape: [0], bytes: []))
        #expect(tensors["half"] == RawTensor(dtype: "F16", shape: [3], bytes: [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38]))  // 1, -2, 0.5
        #expect(tensors["bf16"] == RawTensor(dtype: "BF16", shape: [1, 2], bytes: [0x80, 0x3F, 0x49, 0x40]))  // 1, 3.140625
        let longs = [Int64](-2...2).flatMap { value in withUnsafeBytes(of: value.littleEndian, Array.init) }
        #expect(tensors["long"] == RawTensor(dtype: "I64", shape: [5], bytes: longs))
        #expect(tensors["parameter"] == RawTensor(dtype: "F32", shape: [2], bytes: floatBytes([0.25, -0.5])))
    }

    @Test func readsZIP64SizesAndOffsetsLikeTheOrdinaryArchive() throws {
        let ordinary = try PyTorchCheckpoint(path: pytorchFixtures.appendingPathComponent("views.bin").path)
        let zip64 = try PyTorchCheckpoint(path: pytorchFixtures.appendingPathComponent("views-zip64.bin").path)
        #expect(zip64.tensors.map(\.name) == ordinary.tensors.map(\.name))
        #expect(rawTensors(of: zip64) == rawTensors(of: ordinary))
    }

    @Test(arguments: models)
    func aFolderWithOnlyTheBinLoadsAsAModel(bin: String, source: String) throws {
        let folder = pytorchFixtures.appendingPathComponent(bin)
        let legacy = try Checkpoint(directory: folder)
        #expect(legacy.path == Self.binPath(bin))
        let reference = try SafeTensorsFile(path: Self.safetensorsPath(source))
        let checkpoint = try PyTorchCheckpoint(path: Self.binPath(bin))
        for (name, entry) in reference.entries.sorted(by: { $0.key < $1.key }) {
            let kept = checkpoint.aliases.first { $0.name == name }?.target ?? name
            #expect(try legacy.tensor(kept, shape: entry.shape).data == reference.read(name, expectedShape: entry.shape).data, "\(name)")
        }
        // The whole model builds from it, every tensor used.
        if bin.hasPrefix("t5") { _ = try T5Model(directory: folder) } else { _ = try MarianModel(directory: folder) }
    }

    @Test func aSafetensorsFileWinsOverTheBin() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }  // cleanup only
        try FileManager.default.copyItem(atPath: Self.binPath("marian-tiny"), toPath: directory.appendingPathComponent("pytorch_model.bin").path)
        try FileManager.default.copyItem(atPath: Self.safetensorsPath("marian/tied-swish"), toPath: directory.appendingPathComponent("model.safetensors").path)
        #expect(try Checkpoint(directory: directory).path == directory.appendingPathComponent("model.safetensors").path)
    }

    // MARK: Converting

    @Test(arguments: models)
    func convertsToASafetensorsFileWithTheSameTensors(bin: String, source: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }  // cleanup only
        try FileManager.default.copyItem(
            at: repositoryRoot.appendingPathComponent("Fixtures/\(source)/config.json"), to: directory.appendingPathComponent("config.json"))
        let output = directory.appendingPathComponent("model.safetensors").path
        let checkpoint = try PyTorchCheckpoint(path: Self.binPath(bin))
        try checkpoint.writeSafeTensors(to: output)

        let written = try rawTensors(ofSafetensors: output)
        #expect(written == rawTensors(of: checkpoint, aliases: false))
        #expect(written.count == checkpoint.tensors.count)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
        let headerLength = Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        #expect(headerLength % 8 == 0)
        #expect(String(decoding: bytes[8..<8 + headerLength], as: UTF8.self).hasPrefix(#"{"__metadata__":{"format":"pt"},"#))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["config.json", "model.safetensors"])
        if bin.hasPrefix("t5") { _ = try T5Model(directory: directory) } else { _ = try MarianModel(directory: directory) }
    }

    @Test func replacesAnExistingFileOnlyWhenAsked() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }  // cleanup only
        let output = try writeFile(Data("keep me".utf8), "model.safetensors", in: directory)
        let checkpoint = try PyTorchCheckpoint(path: pytorchFixtures.appendingPathComponent("views.bin").path)
        #expect(throws: ModelError.outputExists(path: output)) { try checkpoint.writeSafeTensors(to: output) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data("keep me".utf8))
        try checkpoint.writeSafeTensors(to: output, overwrite: true)
        #expect(try rawTensors(ofSafetensors: output) == rawTensors(of: checkpoint, aliases: false))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.safetensors"])
    }

    @Test func anEmptyTensorMaySitWhereAnotherStarts() throws {
        // As written for views.bin's "empty" beside "grid": both start at 0; an empty range overlaps nothing.
        let header = #"{"empty":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }  // cleanup only
        let file = try SafeTensorsFile(path: try writeFile(safetensorsBytes(header: header, data: floatBytes([3])), "model.safetensors", in: directory))
        #expect(try file.read("a", expectedShape: [1]).data == [3])
        #expect(try file.read("empty", expectedShape: [0]).data == [])
    }

    @Test func reportsAFolderItCannotWriteTo() throws {
        let checkpoint = try PyTorchCheckpoint(path: pytorchFixtures.appendingPathComponent("views.bin").path)
        #expect {
            try checkpoint.writeSafeTensors(to: "/nonexistent-xlate-folder/model.safetensors")
        } throws: { error in
            guard case .unwritableFile = error as? ModelError else { return false }
            return error.localizedDescription.contains("/nonexistent-xlate-folder/")
        }
    }

    // MARK: Refusing code

    static let malicious = [
        ("os-system", "global 'posix.system'"), ("builtins-eval", "global '__builtin__.eval'"),
        ("nested-global", "global 'posix.system'"), ("stack-global-exec", "global 'builtins.exec'"),
        ("inst-opcode", "pickle opcode INST"),
    ]

    @Test(arguments: malicious)
    func refusesAPickleThatWouldRunCode(file: String, offending: String) throws {
        let path = pytorchFixtures.appendingPathComponent("malicious/\(file).bin").path
        #expect {
            try PyTorchCheckpoint(path: path)
        } throws: { error in
            guard case .unsafePickle(let errorPath, let reason) = error as? ModelError else { return false }
            let message = error.localizedDescription
            return errorPath == path && reason.contains(offending) && reason.contains("data.pkl, byte ")
                && message.hasPrefix(path) && message.contains("may be malicious")
        }
    }

    @Test func aModelFolderWithAMaliciousBinIsRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }  // cleanup only
        let path = directory.appendingPathComponent("pytorch_model.bin").path
        try FileManager.default.copyItem(atPath: pytorchFixtures.appendingPathComponent("malicious/nested-global.bin").path, toPath: path)
        #expect {
            try Checkpoint(directory: directory)
        } throws: { error in
            guard case .unsafePickle(path, let reason) = error as? ModelError else { return false }
            return reason.contains("posix.system")
        }
    }

    /// What unpickling `pickle` throws, if anything.
    static func unpicklingError(_ pickle: [UInt8]) -> ModelError? {
        do {
            _ = try pickle.withUnsafeBytes { try RestrictedUnpickler.load($0, entry: "data.pkl", path: "test.bin") }
        } catch { return error as? ModelError }
        return nil
    }

    @Test(arguments: [
        ([0x80, 0x02, 0x7D, 0x7D, 0x62, 0x2E], "BUILD"),  // BUILD on a plain dict
        ([0x80, 0x02, 0x4E, 0x29, 0x81, 0x2E], "pickle opcode NEWOBJ"),
        ([0x80, 0x02] + Array("ctorch\nload\n".utf8) + [0x2E], "global 'torch.load'"),
    ] as [([UInt8], String)])
    func refusesOpcodesAndCallsOutsideAStateDict(pickle: [UInt8], offending: String) {
        guard case .unsafePickle(_, let reason) = Self.unpicklingError(pickle) else { Issue.record("not refused"); return }
        #expect(reason.contains(offending), "\(reason)")
    }

    @Test func unpicklesIntegersAndSharedContainersAsPythonDoes() throws {
        // (LONG1 0x00 0xFF, BININT -2, a list memoized, 7 appended to it through the memo, the list) → (-256, -2, [7], [7])
        let pickle: [UInt8] = [
            0x80, 0x02, 0x28, 0x8A, 0x02, 0x00, 0xFF, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x4B, 0x07, 0x61,
            0x74, 0x2E,
        ]
        let (root, heap) = try pickle.withUnsafeBytes { try RestrictedUnpickler.load($0, entry: "data.pkl", path: "test.bin") }
        guard case .tuple(let tuple) = root else { Issue.record("not a tuple: \(root.kind)"); return }
        let items = heap.tuples[tuple]
        try #require(items.count == 4)
        guard case .int(-256) = items[0], case .int(-2) = items[1], case .list(let first) = items[2], case .list(let second) = items[3]
        else { Issue.record("unexpected items"); return }
        #expect(first == second)
        guard heap.lists[first].count == 1, case .int(7) = heap.lists[first][0] else { Issue.record("the list lost its item"); return }
    }

    @Test(arguments: [
        ([0x80, 0x02, 0x58, 0xFF, 0x00, 0x00, 0x00, 0x61, 0x62], "ends inside an opcode"),
        ([0x80, 0x02, 0x4E], "ends without STOP"),
        ([0x80, 0x02, 0x68, 0x05, 0x2E], "memo key 5"),
        ([0x80, 0x02, 0x4E, 0x4E, 0x2E], "STOP with 2 values"),
    ] as [([UInt8], String)])
    func reportsDamagedPickles(pickle: [UInt8], fragment: String) {
        guard case .pytorchCheckpoint(_, let reason) = Self.unpicklingError(pickle) else { Issue.record("not reported"); return }
        #expect(reason.contains(fragment), "\(reason)")
    }

    // MARK: Damaged archives

    @Test func reportsATruncatedFile() throws {
        let path = try patched(URL(fileURLWithPath: Self.binPath("marian-tiny"))) { $0.removeLast($0.count / 2) }
        expectUnreadable(path, containing: "no zip end-of-central-directory record") { _ = try PyTorchCheckpoint(path: path) }
    }

    @Test(arguments: ["views.bin", "corrupt/short-storage.bin"])
    func reportsACentralDirectoryPastTheEnd(file: String) throws {
        // views.bin has torch's ZIP64 end record (which wins); short-storage.bin, from Python's zipfile, has none.
        let path = try patched(pytorchFixtures.appendingPathComponent(file)) { bytes in
            let end = try #require(bytes.lastOffset(of: [0x50, 0x4B, 0x05, 0x06]))
            bytes.store(UInt32(bytes.count + 100), at: end + 16)
            if let zip64 = bytes.lastOffset(of: [0x50, 0x4B, 0x06, 0x06]) { bytes.store(UInt64(bytes.count + 100), at: zip64 + 48) }
        }
        expectUnreadable(path, containing: "lies outside the") { _ = try PyTorchCheckpoint(path: path) }
    }

    @Test func reportsAnEntryPastTheEnd() throws {
        let path = try patched(pytorchFixtures.appendingPathComponent("corrupt/short-storage.bin")) { bytes in
            // The name's last occurrence is in the central directory record, 46 bytes after the record's start.
            let record = try #require(bytes.lastOffset(of: Array("archive/data/0".utf8))) - 46
            bytes.store(UInt32(1_000_000), at: record + 20)
            bytes.store(UInt32(1_000_000), at: record + 24)
        }
        expectUnreadable(path, containing: "entry 'archive/data/0' (1000000 bytes at offset") { _ = try PyTorchCheckpoint(path: path) }
    }

    @Test func reportsAStorageThatFailsItsCRC() throws {
        let path = try patched(pytorchFixtures.appendingPathComponent("views.bin")) { bytes in
            let floats = try #require(bytes.firstOffset(of: floatBytes([5, 6, 7])))
            bytes[floats] ^= 1
        }
        expectUnreadable(path, containing: "entry 'views/data/0' fails its CRC-32 check") { _ = try PyTorchCheckpoint(path: path) }
    }

    @Test(arguments: [
        ("short-storage", "storage entry 'archive/data/0' holds 20 bytes, but its 6 F32 elements need 24"),
        ("view-past-storage", "tensor 'w' (shape [4], strides [1], offset 4) reaches past the end of its storage of 6 elements"),
        ("deflated", "entry 'archive/data/0' is compressed (zip method 8)"),
        ("nested-dict", "'model' is a dict, not a tensor"),
        ("many-views", "from a file of 144304 bytes; xlate reads at most 67686080 (save the state dict with .contiguous() tensors)"),
    ])
    func reportsArchivesThatLie(file: String, fragment: String) {
        let path = pytorchFixtures.appendingPathComponent("corrupt/\(file).bin").path
        expectUnreadable(path, containing: fragment) { _ = try PyTorchCheckpoint(path: path) }
    }

    @Test func explainsOtherFormats() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }  // cleanup only
        // The start of a legacy torch.save file: PROTO 2, LONG1 magic number 0x1950a86a20f9469cfc6c.
        let legacy = try writeFile(Data([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]), "legacy.bin", in: directory)
        expectUnreadable(legacy, containing: "legacy torch.save format") { _ = try PyTorchCheckpoint(path: legacy) }
        let text = try writeFile(Data("this is not a checkpoint at all".utf8), "text.bin", in: directory)
        expectUnreadable(text, containing: "not a zip archive") { _ = try PyTorchCheckpoint(path: text) }
        let index = try writeFile(Data("{}".utf8), "pytorch_model.bin.index.json", in: directory)
        expectUnreadable(index, containing: "sharded PyTorch checkpoints are not supported") { _ = try Checkpoint(directory: directory) }
    }
}
