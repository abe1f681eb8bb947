import Foundation
import Testing
import XlateCore
import XlateDecode
@testable import XlateModel

let m2m100FixturesDirectory = fixturesDirectory.deletingLastPathComponent().appendingPathComponent("m2m100")

/// The tiny M2M100 / NLLB checkpoints in Fixtures/m2m100 and the mBART-50 one in Fixtures/mbart50, as `Fixture`
/// names (relative to Fixtures/marian): their reference.json files have one format (`Fixtures/generate_m2m100.py`).
let m2m100FixtureNames = ["../m2m100/m2m100-tiny", "../m2m100/nllb-tiny", "../mbart50/mbart50-tiny"]

/// The tokenizer cases `Fixtures/generate_m2m100.py` records from transformers' `AutoTokenizer`.
struct RecordedMultilingualTokenizer: Decodable {
    struct Encode: Decodable {
        let text: String
        let src_lang: String?
        let ids: [Int]
        let target_ids: [Int]?
    }

    struct Decode: Decodable {
        let ids: [Int]
        let text: String
    }

    struct Tokenizer: Decodable {
        let encode: [Encode]
        let decode: [Decode]
        let languages: [String: Int]
    }

    let tokenizer: Tokenizer
}

/// M2M100 and NLLB-200 (`m2m_100` weights) and mBART-50 (`mbart`) through the checks of the Marian and T5 fixtures:
/// pre-norm layers; M2M100's sinusoidal positions from row `pad + 1` that skip padding (the first cases hold a
/// `<pad>` inside the source), mBART's learned positions from row 2, `layernorm_embedding` and `final_logits_bias`;
/// final norms; the target language forced as the first token (`forced_bos_token_id` in generation_config.json).
@Suite("M2M100 / NLLB-200 / mBART-50 parity with transformers (tiny random checkpoints)")
struct M2M100ParityTests {
    @Test(arguments: m2m100FixtureNames)
    func encoderOutputAndFirstStepLogits(_ name: String) throws {
        try MarianParityTests().encoderOutputAndFirstStepLogits(name)
    }

    @Test(arguments: m2m100FixtureNames)
    func generationsMatchTokenForToken(_ name: String) throws {
        try MarianParityTests().generationsMatchTokenForToken(name)
    }

    @Test(arguments: m2m100FixtureNames)
    func batchedDecodingEqualsRecordedBatch(_ name: String) throws {
        try MarianParityTests().batchedDecodingEqualsRecordedBatch(name)
    }

    /// The recorded cases exercise what differs from Marian: a source with `<pad>` inside, the forced first token.
    @Test(arguments: m2m100FixtureNames)
    func fixturesCoverTheVariants(_ name: String) throws {
        let fixture = try Fixture(name)
        let model = try #require(fixture.model as? BartModel)
        #expect(model.config.family == (name.contains("mbart") ? .mbart : .m2m100) && model.config.scaleEmbedding)
        #expect(fixture.reference.cases.contains { $0.input_ids.dropFirst().dropLast().contains(model.config.padTokenId) })
        let forced = try #require(fixture.defaults.forcedBOSTokenId)
        for testCase in fixture.reference.cases {
            for generation in testCase.generations { #expect(generation.sequences.allSatisfy { $0.first == forced }) }
        }
    }

    @Test(arguments: m2m100FixtureNames)
    func tokenizerMatchesTransformers(_ name: String) throws {
        let directory = fixturesDirectory.appendingPathComponent(name)
        let (_, loaded) = try ModelArchitecture(directory: directory).load(directory: directory)
        let tokenizer = try #require(loaded as? MultilingualTokenizer)
        let data = try Data(contentsOf: directory.appendingPathComponent("reference.json"))
        let recorded = try JSONDecoder().decode(RecordedMultilingualTokenizer.self, from: data).tokenizer
        #expect(tokenizer.languageTable.tokenIds == recorded.languages)
        let (source, target) = name.contains("nllb") ? ("eng_Latn", "deu_Latn") : name.contains("mbart") ? ("en_XX", "de_DE") : ("en", "de")
        for encode in recorded.encode {
            #expect(tokenizer.encode(encode.text, language: encode.src_lang ?? source).ids == encode.ids, "\(name) encode \(encode.text.debugDescription)")
            if let targetIds = encode.target_ids {
                #expect(tokenizer.encodeTarget(encode.text, language: target).ids == targetIds, "\(name) target \(encode.text.debugDescription)")
            }
        }
        for decode in recorded.decode {
            #expect(tokenizer.decode(decode.ids) == decode.text, "\(name) decode \(decode.ids)")
        }
    }

    @Test func isoCodesMapToEachStyle() {
        let nllb = LanguageCodes(style: .nllb, codes: ["deu_Latn", "eng_Latn", "zho_Hans", "zho_Hant"], tokenIds: [
            "deu_Latn": 10, "eng_Latn": 11, "zho_Hans": 12, "zho_Hant": 13,
        ])
        #expect(nllb.code(for: "en") == "eng_Latn" && nllb.code(for: "de") == "deu_Latn" && nllb.code(for: "zh") == "zho_Hans")
        #expect(nllb.code(for: "zho_Hant") == "zho_Hant" && nllb.code(for: "fr") == nil)
        let m2m = LanguageCodes(style: .m2m100, codes: ["de", "en"], tokenIds: ["de": 5, "en": 6])
        #expect(m2m.code(for: "EN") == "en" && m2m.token(for: "en") == "__en__" && m2m.code(for: "fr") == nil)
        let mbart = LanguageCodes(style: .mbart50, codes: ["de_DE", "en_XX"], tokenIds: ["de_DE": 7, "en_XX": 8])
        #expect(mbart.code(for: "de") == "de_DE" && mbart.code(for: "en") == "en_XX" && mbart.code(for: "e") == nil)
        #expect(nllb.isoCodes.mapped == ["de", "en", "zh"] && nllb.isoCodes.unmapped == ["zho_Hant"])
    }
}
