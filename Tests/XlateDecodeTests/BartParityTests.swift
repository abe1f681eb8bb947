import Foundation
import Testing
import XlateCore
import XlateDecode
@testable import XlateModel

/// BART (`bart`): post-norm layers, learned positions from row 2, `layernorm_embedding`, `final_logits_bias`, `<s>`
/// forced first (`forced_bos_token_id`), and the byte-level BPE tokenizer, through the same checks as the other
/// families (`Fixtures/generate_bart.py`).
@Suite("BART parity with transformers (tiny random checkpoint)")
struct BartParityTests {
    static let name = "../bart/bart-tiny"

    @Test func encoderOutputAndFirstStepLogits() throws {
        try MarianParityTests().encoderOutputAndFirstStepLogits(Self.name)
    }

    @Test func generationsMatchTokenForToken() throws {
        try MarianParityTests().generationsMatchTokenForToken(Self.name)
    }

    @Test func batchedDecodingEqualsRecordedBatch() throws {
        try MarianParityTests().batchedDecodingEqualsRecordedBatch(Self.name)
    }

    @Test func configIsBartsPostNormLayout() throws {
        let fixture = try Fixture(Self.name)
        let model = try #require(fixture.model as? BartModel)
        #expect(model.config.family == .bart && model.config.family.normPlacement == .post && !model.config.scaleEmbedding)
        #expect(fixture.defaults.forcedBOSTokenId == 0)
    }

    @Test func tokenizerMatchesTransformers() throws {
        let directory = fixturesDirectory.appendingPathComponent(Self.name)
        let (_, loaded) = try ModelArchitecture(directory: directory).load(directory: directory)
        let tokenizer = try #require(loaded as? ByteLevelBPETokenizer)
        let data = try Data(contentsOf: directory.appendingPathComponent("reference.json"))
        let recorded = try JSONDecoder().decode(RecordedMultilingualTokenizer.self, from: data).tokenizer
        #expect(recorded.encode.count >= 14)
        for encode in recorded.encode {
            #expect(tokenizer.encode(encode.text).ids == encode.ids, "encode \(encode.text.debugDescription)")
        }
        for decode in recorded.decode {
            #expect(tokenizer.decode(decode.ids) == decode.text, "decode \(decode.ids)")
        }
    }
}
