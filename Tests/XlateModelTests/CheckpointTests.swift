import Foundation
import Testing
@testable import XlateModel

/// Builds safetensors bytes: `header` JSON (written as given) followed by `data`.
func safetensorsBytes(header: String, data: [UInt8]) -> Data {
    var bytes = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: header.utf8)
    bytes.append(contentsOf: data)
    return bytes
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}

/// A fresh temporary folder, removed by the caller with `cleanup`.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func writeFile(_ data: Data, _ name: String, in directory: URL) throws -> String {
    let url = directory.appendingPathComponent(name)
    try data.write(to: url)
    return url.path
}

@Suite("safetensors reading and validation")
struct SafeTensorsTests {
    let directory: URL

    init() throws { directory = try temporaryDirectory() }

    func open(header: String, data: [UInt8]) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: try writeFile(safetensorsBytes(header: header, data: data), "model.safetensors", in: directory))
    }

    func error(header: String, data: [UInt8]) -> ModelError? {
        do { _ = try open(header: header, data: data) } catch { return error as? ModelError }
        return nil
    }

    @Test func readsFloat32Float16AndBFloat16() throws {
        let f16: [UInt8] = [0x00, 0x3C, 0x00, 0xC0]  // 1, -2
        let bf16: [UInt8] = [0x80, 0x3F, 0x49, 0x40]  // 1, 3.140625
        let header = """
            {"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},\
            "b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},"c":{"dtype":"BF16","shape":[1,2],"data_offsets":[12,16]}}
            """
        let file = try open(header: header, data: floatBytes([0.5, -7]) + f16 + bf16)
        #expect(try file.read("a", expectedShape: [2]).data == [0.5, -7])
        #expect(try file.read("b", expectedShape: [2]).data == [1, -2])
        #expect(try file.read("c", expectedShape: [1, 2]).data == [1, 3.140625])
    }

    @Test func rejectsAFileShorterThanItsHeaderLength() throws {
        let path = try writeFile(Data([1, 2, 3]), "short.safetensors", in: directory)
        #expect(throws: ModelError.invalidSafetensors(path: path, reason: "file is 3 bytes, shorter than the 8-byte header length")) {
            try SafeTensorsFile(path: path)
        }
    }

    @Test func rejectsAHeaderLengthPastTheEnd() throws {
        var bytes = safetensorsBytes(header: "{}", data: [])
        bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(1000).littleEndian) { Data($0) })
        let path = try writeFile(bytes, "lying.safetensors", in: directory)
        #expect {
            try SafeTensorsFile(path: path)
        } throws: { error in
            guard case .invalidSafetensors(_, let reason) = error as? ModelError else { return false }
            return reason.contains("runs past the end")
        }
    }

    @Test func rejectsAnAbsurdHeaderLengthBeforeAllocating() throws {
        var bytes = safetensorsBytes(header: "{}", data: [])
        bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64.max.littleEndian) { Data($0) })
        let path = try writeFile(bytes, "absurd.safetensors", in: directory)
        #expect {
            try SafeTensorsFile(path: path)
        } throws: { error in
            guard case .invalidSafetensors(_, let reason) = error as? ModelError else { return false }
            return reason.contains("absurd")
        }
    }

    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, "outside the 8-byte data section"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, "overlap"),
        (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, "shape [3] of F32 but 8 bytes"),
        (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, "negative dimension"),
        (#"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, "has no shape of integers"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, "outside"),
        (#"not json"#, "not valid JSON"),
        (#"[1]"#, "not a JSON object"),
    ])
    func rejectsInconsistentHeaders(header: String, expected: String) {
        guard case .invalidSafetensors(_, let reason) = error(header: header, data: floatBytes([1, 2])) else {
            Issue.record("expected invalidSafetensors for \(header)")
            return
        }
        #expect(reason.contains(expected), "\(reason)")
    }

    @Test func namesTensorAndShapesOnAShapeMismatch() throws {
        let file = try open(header: #"{"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}"#, data: floatBytes([1, 2]))
        #expect(throws: ModelError.wrongShape(tensor: "w", got: [1, 2], expected: [2, 1], path: file.path)) {
            try file.read("w", expectedShape: [2, 1])
        }
        #expect(ModelError.wrongShape(tensor: "w", got: [1, 2], expected: [2, 1], path: "m").localizedDescription
            == "m: tensor 'w' has wrong shape: got [1, 2], expected [2, 1] (from config.json).")
    }

    @Test func rejectsUnsupportedDTypesAndNonFiniteWeights() throws {
        let file = try open(
            header: #"{"i":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},"n":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
            data: [1, 2, 0, 0, 0, 0, 0, 0] + floatBytes([1, .nan]))
        #expect(throws: ModelError.unsupportedDType(tensor: "i", dtype: "I8", path: file.path)) { try file.read("i", expectedShape: [2]) }
        #expect(throws: ModelError.nonFiniteWeights(tensor: "n", path: file.path)) { try file.read("n", expectedShape: [2]) }
    }
}

@Suite("Checkpoint folders")
struct CheckpointFolderTests {
    @Test func shardedCheckpointReadsEveryShardAndReportsAMissingOne() throws {
        let directory = try temporaryDirectory()
        _ = try writeFile(safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: floatBytes([3])), "s1.safetensors", in: directory)
        _ = try writeFile(safetensorsBytes(header: #"{"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: floatBytes([4])), "s2.safetensors", in: directory)
        let index = #"{"metadata":{"total_size":8},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}"#
        _ = try writeFile(Data(index.utf8), "model.safetensors.index.json", in: directory)
        let checkpoint = try Checkpoint(directory: directory)
        #expect(try checkpoint.tensor("a", shape: [1]).data == [3])
        #expect(try checkpoint.tensor("b", shape: [1]).data == [4])
        try checkpoint.checkAllUsed()

        try FileManager.default.removeItem(at: directory.appendingPathComponent("s2.safetensors"))
        #expect {
            try Checkpoint(directory: directory)
        } throws: { error in
            guard case .missingFile(let path, _) = error as? ModelError else { return false }
            return path.hasSuffix("s2.safetensors")
        }
    }

    @Test func reportsTensorsNoLayerRead() throws {
        let directory = try temporaryDirectory()
        _ = try writeFile(
            safetensorsBytes(
                header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"extra":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                data: floatBytes([1, 2])), "model.safetensors", in: directory)
        let checkpoint = try Checkpoint(directory: directory)
        _ = try checkpoint.tensor("a", shape: [1])
        #expect(throws: ModelError.unexpectedTensors(names: ["extra"], path: checkpoint.path)) { try checkpoint.checkAllUsed() }
        #expect(throws: ModelError.missingTensor(name: "nope", path: checkpoint.path)) { try checkpoint.tensor("nope", shape: [1]) }
    }

    @Test func explainsHowToConvertALegacyPyTorchCheckpoint() throws {
        let directory = try temporaryDirectory()
        _ = try writeFile(Data([0x50, 0x4B]), "pytorch_model.bin", in: directory)
        #expect {
            try Checkpoint(directory: directory)
        } throws: { error in
            guard case .pytorchCheckpoint = error as? ModelError else { return false }
            return error.localizedDescription.contains("save_pretrained")
        }
    }

    @Test func anEmptyFolderSaysWhatIsMissing() throws {
        let directory = try temporaryDirectory()
        #expect {
            try Checkpoint(directory: directory)
        } throws: { error in
            guard case .missingFile(let path, _) = error as? ModelError else { return false }
            return path.hasSuffix("model.safetensors")
        }
    }
}
