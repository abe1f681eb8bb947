import Foundation
import Testing
@testable import XlateModel

/// Tokenizer cases recorded from transformers' MarianTokenizer on the bundled en-de model.
struct TokenizerCases: Decodable {
    struct Encode: Decodable {
        let text: String
        let pieces: [String]
        let ids: [Int]
    }

    struct Decode: Decodable {
        let ids: [Int]
        let skip_special_tokens: Bool
        let text: String
    }

    let encode: [Encode]
    let decode: [Decode]

    static let recorded: TokenizerCases = {
        let url = repositoryRoot.appendingPathComponent("Vocab/tokenizer-cases.json")
        return try! JSONDecoder().decode(TokenizerCases.self, from: Data(contentsOf: url))
    }()
}

@Suite("Marian tokenizer against transformers")
struct TokenizerTests {
    let tokenizer: MarianTokenizer

    init() throws {
        let config = try MarianConfig(contentsOf: bundledEnDe.appendingPathComponent("config.json"))
        tokenizer = try MarianTokenizer(directory: bundledEnDe, config: config)
    }

    @Test func encodesLikeTransformers() {
        #expect(TokenizerCases.recorded.encode.count >= 30)
        for testCase in TokenizerCases.recorded.encode {
            let encoded = tokenizer.encode(testCase.text)
            #expect(encoded.pieces == testCase.pieces, "\(testCase.text.debugDescription)")
            #expect(encoded.ids == testCase.ids, "\(testCase.text.debugDescription)")
        }
    }

    @Test func decodesLikeTransformersSkippingSpecialTokens() {
        let cases = TokenizerCases.recorded.decode.filter(\.skip_special_tokens)
        #expect(cases.count >= 15)
        for testCase in cases {
            #expect(tokenizer.decode(testCase.ids) == testCase.text, "\(testCase.ids)")
        }
    }

    @Test func missingOrCorruptTokenizerFilesAreNamed() throws {
        let config = try MarianConfig(contentsOf: bundledEnDe.appendingPathComponent("config.json"))
        let directory = try temporaryDirectory()
        for name in ["source.spm", "target.spm", "vocab.json"] {
            try FileManager.default.copyItem(at: bundledEnDe.appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        try Data("not a model".utf8).write(to: directory.appendingPathComponent("target.spm"))
        #expect {
            try MarianTokenizer(directory: directory, config: config)
        } throws: { error in
            guard case .tokenizer(let path, let reason) = error as? ModelError else { return false }
            return path.hasSuffix("target.spm") && reason.contains("not a valid SentencePiece model")
        }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("target.spm"))
        try FileManager.default.copyItem(at: bundledEnDe.appendingPathComponent("target.spm"), to: directory.appendingPathComponent("target.spm"))
        try Data(#"{"</s>": 0, "<unk>": 1, "x": 99999}"#.utf8).write(to: directory.appendingPathComponent("vocab.json"))
        #expect {
            try MarianTokenizer(directory: directory, config: config)
        } throws: { error in
            guard case .tokenizer(let path, let reason) = error as? ModelError else { return false }
            return path.hasSuffix("vocab.json") && reason.contains("outside the model's vocabulary of 16000")
        }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("vocab.json"))
        #expect(throws: ModelError.self) { try MarianTokenizer(directory: directory, config: config) }
    }
}
