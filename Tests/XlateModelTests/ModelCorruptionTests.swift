import Foundation
import Testing
@testable import XlateModel

/// Broken model folders that the tests in CheckpointTests, ConfigTests, TokenizerTests and T5ConfigTests do not
/// already cover: each fails with the typed error that names the file (and tensor) and says what is wrong.
@Suite("Model corruption")
struct ModelCorruptionTests {
    /// A copy of a tiny Marian fixture (config.json, model.safetensors) to break. `tied-swish`: d_model 32, 4 heads,
    /// FFN 64, 2 encoder / 3 decoder layers, vocabulary 96, float32; `tied-keys-gelu-fp16`: float16, with stored
    /// copies of the tied embedding (`lm_head.weight`, `model.{en,de}coder.embed_tokens.weight`).
    func marianCopy(_ fixture: String = "tied-swish") throws -> URL {
        let original = repositoryRoot.appendingPathComponent("Fixtures/marian/\(fixture)")
        let copy = try temporaryDirectory().appendingPathComponent(fixture)
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: original.appendingPathComponent(name), to: copy.appendingPathComponent(name))
        }
        return copy
    }

    /// Replaces keys of the copy's config.json; values are JSON text ("null" removes nothing, it sets null).
    func changeConfig(_ folder: URL, _ changes: [String: String]) throws {
        let url = folder.appendingPathComponent("config.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        for (key, value) in changes {
            object[key] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
        }
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    // MARK: Weights

    @Test(arguments: [Float.infinity, -Float.infinity, Float.nan])
    func aNonFiniteWeightNamesTheTensorAndTheFile(value: Float) throws {
        let folder = try marianCopy()
        let weights = folder.appendingPathComponent("model.safetensors")
        var file = try EditableSafetensors(contentsOf: weights)
        try file.setFloat("model.encoder.layers.0.fc1.weight", element: 5, to: value)
        try file.write(to: weights)
        #expect(throws: ModelError.nonFiniteWeights(tensor: "model.encoder.layers.0.fc1.weight", path: weights.path)) {
            try MarianModel(directory: folder)
        }
        let message = ModelError.nonFiniteWeights(tensor: "model.encoder.layers.0.fc1.weight", path: weights.path).localizedDescription
        #expect(message.contains(weights.path) && message.contains("NaN or infinite"))
    }

    /// Infinities and NaNs survive the half-precision conversions and are caught after them.
    @Test(arguments: [
        ("F16", [0x00, 0x7C] as [UInt8]), ("F16", [0x00, 0xFC]), ("F16", [0x01, 0x7E]),
        ("BF16", [0x80, 0x7F]), ("BF16", [0x80, 0xFF]), ("BF16", [0xC1, 0x7F]),
    ])
    func nonFiniteHalfPrecisionValuesAreCaught(dtype: String, bits: [UInt8]) throws {
        let path = try temporaryDirectory().appendingPathComponent("model.safetensors")
        try safetensors(header: #"{"h":{"dtype":"\#(dtype)","shape":[2],"data_offsets":[0,4]}}"#, data: [0x00, 0x3C] + bits).write(to: path)
        let file = try SafeTensorsFile(path: path.path)
        #expect(throws: ModelError.nonFiniteWeights(tensor: "h", path: path.path)) { try file.read("h", expectedShape: [2]) }
    }

    /// A weight the model reads, and a stored copy of a tied weight it only checks, in a dtype xlate does not read
    /// (of the same element size, so that the header stays consistent and only the dtype is wrong).
    @Test(arguments: [
        ("tied-swish", "model.encoder.layers.0.fc1.weight", "I32"), ("tied-keys-gelu-fp16", "lm_head.weight", "I16"),
    ])
    func anUnsupportedDTypeNamesTheTensorAndTheDType(fixture: String, tensor: String, dtype: String) throws {
        let folder = try marianCopy(fixture)
        let weights = folder.appendingPathComponent("model.safetensors")
        var file = try EditableSafetensors(contentsOf: weights)
        file.setDType(tensor, to: dtype)
        try file.write(to: weights)
        #expect(throws: ModelError.unsupportedDType(tensor: tensor, dtype: dtype, path: weights.path)) {
            try MarianModel(directory: folder)
        }
        #expect(ModelError.unsupportedDType(tensor: tensor, dtype: dtype, path: weights.path).localizedDescription
            .contains("xlate reads F32, F16 and BF16"))
    }

    // MARK: Shapes against config.json

    @Test func aFeedForwardSizeThatDisagreesNamesTheTensorAndBothShapes() throws {
        let folder = try marianCopy()
        try changeConfig(folder, ["encoder_ffn_dim": "48"])
        let weights = folder.appendingPathComponent("model.safetensors").path
        #expect(throws: ModelError.wrongShape(tensor: "model.encoder.layers.0.fc1.weight", got: [64, 32], expected: [48, 32], path: weights)) {
            try MarianModel(directory: folder)
        }
    }

    /// config.json claims more tokens or a wider model than the checkpoint holds: the first tensor read says so.
    @Test(arguments: [["vocab_size": "100", "decoder_vocab_size": "100"], ["d_model": "64"]])
    func aVocabularyOrWidthThatDisagreesIsAShapeError(changes: [String: String]) throws {
        let folder = try marianCopy()
        try changeConfig(folder, changes)
        #expect {
            try MarianModel(directory: folder)
        } throws: { error in
            guard case .wrongShape(_, let got, let expected, let path) = error as? ModelError else { return false }
            return path.hasSuffix("model.safetensors") && got != expected
                && error.localizedDescription.contains("expected \(expected) (from config.json)")
        }
    }

    @Test func moreLayersThanTheCheckpointNamesTheMissingTensor() throws {
        let folder = try marianCopy()
        try changeConfig(folder, ["encoder_layers": "3"])
        #expect {
            try MarianModel(directory: folder)
        } throws: { error in
            guard case .missingTensor(let name, let path) = error as? ModelError else { return false }
            return name.hasPrefix("model.encoder.layers.2.") && path.hasSuffix("model.safetensors")
        }
    }

    @Test func fewerLayersThanTheCheckpointNamesTheLeftoverTensors() throws {
        let folder = try marianCopy()
        try changeConfig(folder, ["decoder_layers": "2"])
        #expect {
            try MarianModel(directory: folder)
        } throws: { error in
            guard case .unexpectedTensors(let names, let path) = error as? ModelError else { return false }
            return !names.isEmpty && names.allSatisfy { $0.hasPrefix("model.decoder.layers.2.") } && path.hasSuffix("model.safetensors")
        }
    }

    // MARK: config.json values out of range (ConfigTests covers zero heads, negative d_model, indivisible heads)

    @Test(arguments: [
        (["encoder_layers": "-1"], "\"encoder_layers\" must be positive, got -1"),
        (["decoder_ffn_dim": "0"], "\"decoder_ffn_dim\" must be positive, got 0"),
        (["vocab_size": "0", "decoder_vocab_size": "0"], "\"vocab_size\" must be positive, got 0"),
        (["max_position_embeddings": "0"], "\"max_position_embeddings\" must be positive, got 0"),
        (["d_model": "30"], "d_model 30 is not divisible by encoder_attention_heads 4"),
        (["d_model": "33", "encoder_attention_heads": "3", "decoder_attention_heads": "3"], "d_model 33 must be even"),
        (["d_model": "32.5"], "\"d_model\" must be an integer, got 32.5"),
        (["d_model": "null"], "\"d_model\" is missing"),
        (["decoder_vocab_size": "90"], "decoder_vocab_size 90 differs from vocab_size 96"),
        (["pad_token_id": "-1"], "\"pad_token_id\" -1 is outside the decoder vocabulary (96)"),
        (["eos_token_id": "[0, 96]"], "eos id 96 is outside the decoder vocabulary (96)"),
        (["activation_function": "42"], "\"activation_function\" must be a string, got 42"),
    ] as [([String: String], String)])
    func anOutOfRangeConfigValueIsNamed(changes: [String: String], reason: String) throws {
        let folder = try marianCopy()
        try changeConfig(folder, changes)
        let config = folder.appendingPathComponent("config.json")
        #expect {
            try MarianConfig(contentsOf: config)
        } throws: { error in
            guard case .invalidConfig(let path, let message) = error as? ModelError else { return false }
            return path == config.path && message.contains(reason)
        }
    }

    // MARK: Tokenizer files (TokenizerTests covers a corrupt target.spm and an id past the vocabulary)

    enum TokenizerBreakage: String, CaseIterable, Sendable {
        case truncatedSourceSPM, emptyTargetSPM, missingVocabulary, vocabularyNotJSON, truncatedVocabulary,
            vocabularyIdNotAnInteger, vocabularyWithoutUnk, vocabularyNegativeId, separateVocabularyMissing
    }

    @Test(arguments: TokenizerBreakage.allCases)
    func aBrokenTokenizerFileIsNamed(_ breakage: TokenizerBreakage) throws {
        let folder = try temporaryDirectory()
        for name in ["source.spm", "target.spm", "vocab.json"] {
            try FileManager.default.copyItem(at: bundledEnDe.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let config = try MarianConfig(contentsOf: bundledEnDe.appendingPathComponent("config.json"))
        func file(_ name: String) -> URL { folder.appendingPathComponent(name) }
        let vocabulary = file("vocab.json")
        let expected: (file: String, reason: String)
        switch breakage {
        case .truncatedSourceSPM:
            let bytes = try Data(contentsOf: file("source.spm"))
            try bytes.prefix(bytes.count / 2).write(to: file("source.spm"))
            expected = ("source.spm", "not a valid SentencePiece model")
        case .emptyTargetSPM:
            try Data().write(to: file("target.spm"))
            expected = ("target.spm", "not a valid SentencePiece model")
        case .missingVocabulary:
            try FileManager.default.removeItem(at: vocabulary)
            expected = ("vocab.json", "file not found")
        case .vocabularyNotJSON:
            try Data("<html>Not Found</html>".utf8).write(to: vocabulary)
            expected = ("vocab.json", "not a JSON object of piece → id")
        case .truncatedVocabulary:
            let bytes = try Data(contentsOf: vocabulary)
            try bytes.prefix(bytes.count / 2).write(to: vocabulary)
            expected = ("vocab.json", "not a JSON object of piece → id")
        case .vocabularyIdNotAnInteger:
            try Data(#"{"</s>": 0, "<unk>": "1"}"#.utf8).write(to: vocabulary)
            expected = ("vocab.json", "the id of '<unk>' is not an integer")
        case .vocabularyWithoutUnk:
            try Data(#"{"</s>": 0, "▁the": 5}"#.utf8).write(to: vocabulary)
            expected = ("vocab.json", "the vocabulary has no '<unk>' entry")
        case .vocabularyNegativeId:
            try Data(#"{"</s>": 0, "<unk>": 1, "x": -3}"#.utf8).write(to: vocabulary)
            expected = ("vocab.json", "piece 'x' has id -3, outside the model's vocabulary of 16000")
        case .separateVocabularyMissing:
            try Data(#"{"separate_vocabs": true}"#.utf8).write(to: file("tokenizer_config.json"))
            expected = ("target_vocab.json", "file not found")
        }
        #expect {
            try MarianTokenizer(directory: folder, config: config)
        } throws: { error in
            let message = error.localizedDescription
            return error is ModelError && message.hasPrefix(file(expected.file).path + ": ") && message.contains(expected.reason)
        }
    }

    @Test func aCorruptT5SentencePieceModelIsNamed() throws {
        let folder = try temporaryDirectory()
        let fixture = t5Fixtures.appendingPathComponent("relu-tied")
        try FileManager.default.copyItem(at: fixture.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        let spiece = folder.appendingPathComponent("spiece.model")
        try Data((try Data(contentsOf: fixture.appendingPathComponent("spiece.model"))).prefix(100)).write(to: spiece)
        let config = try T5Config(contentsOf: folder.appendingPathComponent("config.json"))
        #expect {
            try T5Tokenizer(directory: folder, config: config)
        } throws: { error in
            guard case .tokenizer(let path, let reason) = error as? ModelError else { return false }
            return path == spiece.path && reason.contains("not a valid SentencePiece model")
        }
    }
}

/// `header` (JSON text) and `data` as safetensors bytes: the 8-byte little-endian header length first.
private func safetensors(header: String, data: [UInt8]) -> Data {
    var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Data($0) }
    bytes.append(contentsOf: header.utf8)
    bytes.append(contentsOf: data)
    return bytes
}

/// A safetensors file taken apart to be changed and written back: its header (tensor name → entry) and data section.
struct EditableSafetensors {
    var header: [String: Any]
    var data: Data

    init(contentsOf url: URL) throws {
        let bytes = try Data(contentsOf: url)
        let length = Int(UInt64(littleEndian: bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        header = try #require(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + length))) as? [String: Any])
        data = bytes.subdata(in: (8 + length)..<bytes.count)
    }

    func entry(_ name: String) throws -> [String: Any] { try #require(header[name] as? [String: Any], "no tensor '\(name)'") }

    /// Sets element `element` of float32 tensor `name`.
    mutating func setFloat(_ name: String, element: Int, to value: Float) throws {
        let entry = try entry(name)
        #expect(entry["dtype"] as? String == "F32")
        let begin = try #require((entry["data_offsets"] as? [Int])?.first) + 4 * element
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.replaceSubrange(begin..<(begin + 4), with: $0) }
    }

    mutating func setDType(_ name: String, to dtype: String) {
        var entry = header[name] as? [String: Any] ?? [:]
        entry["dtype"] = dtype
        header[name] = entry
    }

    func write(to url: URL) throws {
        let json = try JSONSerialization.data(withJSONObject: header, options: .sortedKeys)
        try safetensors(header: String(decoding: json, as: UTF8.self), data: [UInt8](data)).write(to: url)
    }
}
