import Foundation
import Testing
@testable import XlateModel

/// The repository root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let bundledEnDe = repositoryRoot.appendingPathComponent("Models/xlate-en-de")

@Suite("config.json validation")
struct ConfigTests {
    /// The bundled config with some keys replaced, written to a temporary folder.
    func config(_ changes: [String: String]) throws -> URL {
        var text = try String(contentsOf: bundledEnDe.appendingPathComponent("config.json"), encoding: .utf8)
        for (key, value) in changes {
            let pattern = try NSRegularExpression(pattern: "\"\(key)\": [^,\\n]+")
            text = pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "\"\(key)\": \(value)")
        }
        let url = try temporaryDirectory().appendingPathComponent("config.json")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func readsTheBundledModel() throws {
        let config = try MarianConfig(contentsOf: bundledEnDe.appendingPathComponent("config.json"))
        #expect(config.dModel == 384)
        #expect(config.encoderLayers == 6 && config.decoderLayers == 3)
        #expect(config.activation == .silu)
        #expect(config.decoderStartTokenId == 15999 && config.padTokenId == 15999 && config.eosTokenIds == [0])
        #expect(config.tieWordEmbeddings && config.scaleEmbedding && config.shareEncoderDecoderEmbeddings)
    }

    @Test(arguments: [
        (["encoder_attention_heads": "0"], "\"encoder_attention_heads\" must be positive, got 0"),
        (["d_model": "-384"], "\"d_model\" must be positive"),
        (["decoder_attention_heads": "5"], "d_model 384 is not divisible by decoder_attention_heads 5"),
        (["vocab_size": "\"big\""], "\"vocab_size\" must be an integer"),
        (["activation_function": "\"mish\""], "activation_function 'mish' is not supported"),
        (["decoder_start_token_id": "99999"], "outside the decoder vocabulary"),
        (["scale_embedding": "1"], "\"scale_embedding\" must be true or false"),
        (["max_position_embeddings": "99999999999"], "out of range"),
    ])
    func rejectsOutOfRangeValues(changes: [String: String], expected: String) throws {
        let url = try config(changes)
        #expect {
            try MarianConfig(contentsOf: url)
        } throws: { error in
            guard case .invalidConfig(let path, let reason) = error as? ModelError else { return false }
            return path == url.path && reason.contains(expected)
        }
    }

    @Test func rejectsOtherArchitecturesByName() throws {
        let url = try config(["model_type": "\"bert\""])
        #expect(throws: ModelError.unsupportedModelType("bert", path: url.path)) { try MarianConfig(contentsOf: url) }
    }

    @Test func readsGenerationDefaults() throws {
        let defaults = try GenerationDefaults(modelDirectory: bundledEnDe)
        #expect(defaults.numBeams == 4 && defaults.maxLength == 256)
        #expect(defaults.badWordsIds == [[15999]] && defaults.forcedEOSTokenIds == [0])
    }
}
