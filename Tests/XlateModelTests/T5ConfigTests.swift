import Foundation
import Testing
import XlateCore
@testable import XlateModel

let t5Fixtures = repositoryRoot.appendingPathComponent("Fixtures/t5")

/// A config.json holding `keys` (JSON values as text) on top of a minimal T5 config, in a temporary folder.
func t5Config(_ keys: [String: String], removing removed: [String] = []) throws -> URL {
    var object = [
        "model_type": "\"t5\"", "vocab_size": "100", "d_model": "16", "d_kv": "4", "d_ff": "32", "num_layers": "2",
        "num_heads": "2",
    ]
    object.merge(keys) { $1 }
    for key in removed { object[key] = nil }
    let url = try temporaryDirectory().appendingPathComponent("config.json")
    try Data(("{" + object.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}").utf8).write(to: url)
    return url
}

@Suite("T5 config.json")
struct T5ConfigTests {
    @Test func readsTheTransformersDefaults() throws {
        let config = try T5Config(contentsOf: try t5Config([:]))
        #expect(config.modelType == "t5" && config.decoderLayers == 2 && config.innerDim == 8)
        #expect(config.relativeAttentionNumBuckets == 32 && config.relativeAttentionMaxDistance == 128)
        #expect(config.layerNormEpsilon == 1e-6 && config.maxPositions == 512)
        #expect(config.activation == .relu && !config.isGatedFeedForward)
        #expect(config.padTokenId == 0 && config.decoderStartTokenId == 0 && config.eosTokenIds == [1])
        #expect(config.scaleDecoderOutputs, "t5-small's config.json says nothing: tied, rescaled")
    }

    /// transformers 5.23: `scale_decoder_outputs` when present, else `tie_word_embeddings`; mT5 never rescales.
    @Test(arguments: [
        ([:], true),
        (["tie_word_embeddings": "false"], false),
        (["tie_word_embeddings": "true", "scale_decoder_outputs": "false"], false),
        (["tie_word_embeddings": "false", "scale_decoder_outputs": "true"], true),
        (["model_type": "\"mt5\""], false),
        (["model_type": "\"mt5\"", "tie_word_embeddings": "true"], false),
    ] as [([String: String], Bool)])
    func rescalesTheOutputAsTransformers(keys: [String: String], scales: Bool) throws {
        #expect(try T5Config(contentsOf: try t5Config(keys)).scaleDecoderOutputs == scales)
    }

    @Test(arguments: [
        ("relu", Activation.relu, false),
        ("gated-gelu", Activation.geluTanh, true),
        ("gated-silu", Activation.silu, true),
        ("gelu", Activation.gelu, false),
        ("gated-gelu_new", Activation.geluTanh, true),
    ])
    func readsFeedForwardProjections(name: String, activation: Activation, gated: Bool) throws {
        let config = try T5Config(contentsOf: try t5Config(["feed_forward_proj": "\"\(name)\""]))
        #expect(config.activation == activation && config.isGatedFeedForward == gated)
    }

    @Test func mt5DefaultsToGatedGelu() throws {
        let config = try T5Config(contentsOf: try t5Config(["model_type": "\"mt5\""]))
        #expect(config.activation == .geluTanh && config.isGatedFeedForward)
    }

    @Test(arguments: [
        (["feed_forward_proj": "\"gated-mish\""], "feed_forward_proj 'gated-mish' is not supported"),
        (["feed_forward_proj": "\"gated-gelu-x\""], "feed_forward_proj 'gated-gelu-x' is not supported"),
        (["d_kv": "0"], "\"d_kv\" must be positive, got 0"),
        (["num_heads": "-1"], "\"num_heads\" must be positive"),
        (["relative_attention_num_buckets": "2"], "must be at least 4"),
        (["eos_token_id": "100"], "eos id 100 is outside the vocabulary (100)"),
        (["decoder_start_token_id": "-1"], "outside the vocabulary"),
        (["layer_norm_epsilon": "0"], "\"layer_norm_epsilon\" must be positive"),
        (["task_specific_params": "\"translate\""], "\"task_specific_params\" must be an object"),
    ])
    func rejectsBadValues(keys: [String: String], expected: String) throws {
        let url = try t5Config(keys)
        #expect {
            try T5Config(contentsOf: url)
        } throws: { error in
            guard case .invalidConfig(let path, let reason) = error as? ModelError else { return false }
            return path == url.path && reason.contains(expected)
        }
    }

    @Test func rejectsAMissingDimension() throws {
        let url = try t5Config([:], removing: ["d_kv"])
        #expect(throws: ModelError.invalidConfig(path: url.path, reason: "\"d_kv\" is missing")) { try T5Config(contentsOf: url) }
    }

    @Test func translationPrefixComesFromTheConfigElseTheTemplate() throws {
        let config = try T5Config(contentsOf: try t5Config([
            "task_specific_params": #"{"translation_en_to_de": {"prefix": "translate English to German: ", "num_beams": 4}, "#
                + #""summarization": {"prefix": "summarize: "}, "other": {"num_beams": 2}}"#
        ]))
        #expect(config.taskPrefixes == ["translation_en_to_de": "translate English to German: ", "summarization": "summarize: "])
        #expect(config.translationPrefix(source: "en", target: "de") == "translate English to German: ")
        #expect(config.translationPrefix(source: "en", target: "fr") == "translate English to French: ")
        #expect(config.translationPrefix(source: "de", target: "ro") == "translate German to Romanian: ")
        #expect(config.translationPrefix(source: "en", target: "xx") == nil)
    }

    @Test(arguments: [
        ("marian", ModelArchitecture.marian), ("t5", .t5), ("mt5", .t5), ("m2m_100", .m2m100), ("mbart", .mbart),
        ("bart", .bart),
    ])
    func architectureComesFromModelType(type: String, architecture: ModelArchitecture) throws {
        let url = try t5Config(["model_type": "\"\(type)\""])
        #expect(try ModelArchitecture(directory: url.deletingLastPathComponent()) == architecture)
    }

    @Test func otherModelTypesAreRefusedByName() throws {
        let url = try t5Config(["model_type": "\"pegasus\""])
        #expect(throws: ModelError.unsupportedModelType("pegasus", path: url.path)) {
            try ModelArchitecture(directory: url.deletingLastPathComponent())
        }
        #expect(throws: ModelError.unsupportedModelType("pegasus", path: url.path)) { try T5Config(contentsOf: url) }
        #expect(throws: ModelError.unsupportedModelType("pegasus", path: url.path)) { try BartConfig(contentsOf: url) }
    }
}

@Suite("T5 checkpoint loading")
struct T5LoadingTests {
    /// A copy of a T5 fixture folder with config.json changed by `change`.
    func fixtureCopy(_ name: String, change: (inout [String: Any]) -> Void) throws -> URL {
        let original = t5Fixtures.appendingPathComponent(name)
        let copy = try temporaryDirectory().appendingPathComponent(name)
        try FileManager.default.copyItem(at: original, to: copy)
        let configURL = copy.appendingPathComponent("config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        change(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        return copy
    }

    @Test func wrongHeadSizeNamesTheTensorAndBothShapes() throws {
        let folder = try fixtureCopy("gated-gelu-untied") { $0["d_kv"] = 10 }
        #expect {
            try T5Model(directory: folder)
        } throws: { error in
            guard case .wrongShape(let tensor, let got, let expected, _) = error as? ModelError else { return false }
            return tensor == "encoder.block.0.layer.0.SelfAttention.q.weight" && got == [36, 40] && expected == [30, 40]
        }
    }

    @Test func aGatedCheckpointUnderAReluConfigIsRefused() throws {
        let folder = try fixtureCopy("gated-gelu-untied") { $0["feed_forward_proj"] = "relu" }
        #expect(throws: ModelError.missingTensor(
            name: "encoder.block.0.layer.1.DenseReluDense.wi.weight", path: folder.appendingPathComponent("model.safetensors").path)
        ) { try T5Model(directory: folder) }
    }

    @Test func extraLayersInTheCheckpointAreRefused() throws {
        let folder = try fixtureCopy("relu-tied") { $0["num_decoder_layers"] = 2 }
        #expect {
            try T5Model(directory: folder)
        } throws: { error in
            guard case .unexpectedTensors(let names, _) = error as? ModelError else { return false }
            return names.allSatisfy { $0.hasPrefix("decoder.block.2.") }
        }
    }

    @Test func aMissingSentencePieceModelIsNamed() throws {
        let folder = try fixtureCopy("relu-tied") { _ in }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("spiece.model"))
        let config = try T5Config(contentsOf: folder.appendingPathComponent("config.json"))
        #expect {
            try T5Tokenizer(directory: folder, config: config)
        } throws: { error in
            guard case .missingFile(let path, let hint) = error as? ModelError else { return false }
            return path.hasSuffix("spiece.model") && hint.contains("T5")
        }
    }

    @Test func aVocabularyTooSmallForTheSentinelsIsRefused() throws {
        let folder = try fixtureCopy("relu-tied") { $0["vocab_size"] = 300 }
        let config = try T5Config(contentsOf: folder.appendingPathComponent("config.json"))
        #expect {
            try T5Tokenizer(directory: folder, config: config)
        } throws: { error in
            guard case .tokenizer(_, let reason) = error as? ModelError else { return false }
            return reason.contains("256 pieces and 100 sentinels do not fit the model's vocabulary of 300")
        }
    }
}
