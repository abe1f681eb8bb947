import Foundation
import Testing
@testable import XlateModel

/// Cases recorded from transformers' `AutoTokenizer` (the tokenizers-backed `T5Tokenizer`) on Fixtures/t5/relu-tied.
struct T5TokenizerCases: Decodable {
    let spm_pieces: Int
    let encode: [TokenizerCases.Encode]
    let decode: [TokenizerCases.Decode]

    static let recorded: T5TokenizerCases = {
        let url = t5Fixtures.appendingPathComponent("tokenizer-cases.json")
        return try! JSONDecoder().decode(T5TokenizerCases.self, from: Data(contentsOf: url))
    }()
}

@Suite("T5 tokenizer against transformers")
struct T5TokenizerTests {
    let tokenizer: T5Tokenizer

    init() throws {
        let directory = t5Fixtures.appendingPathComponent("relu-tied")
        tokenizer = try T5Tokenizer(directory: directory, config: try T5Config(contentsOf: directory.appendingPathComponent("config.json")))
    }

    @Test func encodesLikeTransformers() {
        #expect(T5TokenizerCases.recorded.encode.count >= 50)
        for testCase in T5TokenizerCases.recorded.encode {
            let encoded = tokenizer.encode(testCase.text)
            #expect(encoded.ids == testCase.ids, "\(testCase.text.debugDescription)")
            // transformers names unknown characters `<unk>`; xlate keeps their text (as for Marian), same id.
            let pieces = zip(encoded.pieces, encoded.ids).map { $1 == tokenizer.unkId ? T5Tokenizer.unkToken : $0 }
            #expect(pieces == testCase.pieces, "\(testCase.text.debugDescription)")
        }
    }

    @Test func decodesLikeTransformersSkippingSpecialTokens() {
        let cases = T5TokenizerCases.recorded.decode.filter(\.skip_special_tokens)
        #expect(cases.count >= 15)
        for testCase in cases {
            #expect(tokenizer.decode(testCase.ids) == testCase.text, "\(testCase.ids)")
        }
    }

    @Test func sentinelsFollowTheSentencePieceIdsInReverse() {
        let pieces = T5TokenizerCases.recorded.spm_pieces
        #expect(tokenizer.sentencePieceCount == pieces && tokenizer.extraIds == 100)
        #expect(tokenizer.encode("<extra_id_0>").ids == [pieces + 99, 1])
        #expect(tokenizer.encode("<extra_id_99>").ids == [pieces, 1])
        #expect(tokenizer.targetPieces([pieces + 99, pieces, 0, 1, 2, 9999]) == ["<extra_id_0>", "<extra_id_99>", "<pad>", "</s>", "<unk>", "<unk>"])
    }
}
