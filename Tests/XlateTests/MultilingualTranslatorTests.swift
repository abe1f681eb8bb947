import Foundation
import Testing
@testable import Xlate

/// The library with a multilingual model (the tiny NLLB fixture): languages by ISO code, the language tokens out
/// of the results, and the features that do not know which family runs (alignment, int8, target prefix, scoring).
@Suite struct MultilingualTranslatorTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/m2m100/nllb-tiny")

    struct Recorded: Decodable {
        struct Output: Decodable { let ids: [Int]; let text: String }
        struct Case: Decodable { let src: String; let tgt: String; let text: String; let input_ids: [Int]; let greedy: Output }
        let end_to_end: [Case]
    }

    func options(_ translator: Translator, source: String, target: String) -> TranslationOptions {
        var options = translator.defaultOptions
        options.sourceLanguage = source
        options.targetLanguage = target
        return options
    }

    @Test func translatesWithISOCodesAsTransformers() throws {
        let translator = try Translator(modelAt: Self.directory)
        let languages = try #require(translator.languages)
        #expect(languages.code(for: "de") == "deu_Latn" && languages.codes.count == 202)
        let data = try Data(contentsOf: Self.directory.appendingPathComponent("reference.json"))
        let cases = try JSONDecoder().decode(Recorded.self, from: data).end_to_end
        try #require(cases.count >= 8)
        for recorded in cases {
            let translation = try translator.translate(recorded.text, options: options(translator, source: recorded.src, target: recorded.tgt))
            #expect(translation.hypotheses[0].ids == recorded.greedy.ids, "\(recorded.src) → \(recorded.tgt) \(recorded.text)")
            #expect(translation.text == recorded.greedy.text)
            // The source's language token is not one of its words.
            #expect(translation.sourceIds == Array(recorded.input_ids.dropFirst()))
        }
    }

    @Test func alignmentInt8TargetPrefixAndScoringWork() throws {
        let float = try Translator(modelAt: Self.directory)
        var options = options(float, source: "en", target: "de")
        options.decoding.crossAttention = CrossAttentionRequest(layer: float.model.decoderLayerCount - 1)
        let translation = try float.translate("The cat sat on the mat.", options: options)
        let german = try #require(float.languages?.tokenIds["deu_Latn"])
        #expect(translation.hypotheses[0].ids.first == german)
        let alignment = try #require(translation.alignment)
        #expect(alignment.sourceWords.map(\.text) == ["The", "cat", "sat", "on", "the", "mat."])
        // The forced language token is no word of the translation.
        #expect(alignment.targetPieces.first == "deu_Latn" && !alignment.targetWords.contains { $0.text == "deu_Latn" })
        let matrix = try #require(translation.hypotheses[0].crossAttention)
        #expect(matrix.count == translation.hypotheses[0].ids.count && matrix.allSatisfy { $0.count == translation.sourceIds.count })

        let int8 = try Translator(modelAt: Self.directory, computeType: .int8)
        let quantised = try int8.translate("The cat sat on the mat.", options: self.options(int8, source: "en", target: "de"))
        #expect(quantised.hypotheses[0].ids.first == german && quantised.hypotheses[0].ids.count > 1)

        // A target prefix starts after the forced language token.
        let best = translation.hypotheses[0].ids
        let prefixed = try float.translate(
            "The cat sat on the mat.", startingWith: float.tokenizer.decode(Array(best.prefix(3))),
            options: self.options(float, source: "en", target: "de"))
        #expect(prefixed.hypotheses[0].ids.first == german)
        // Scoring a translation scores its language token too, as transformers' labels hold it.
        let score = try float.score(
            source: "The cat sat on the mat.", target: translation.text, options: self.options(float, source: "en", target: "de"))
        #expect(score.ids.first == german)
    }

    @Test func aMultilingualModelNeedsATargetLanguage() throws {
        let translator = try Translator(modelAt: Self.directory)
        var options = translator.defaultOptions
        options.decoding.forcedBOSTokenId = nil
        #expect(throws: DecodingError.self) { try translator.translate("Hello.", options: options) }
        options.targetLanguage = "xx"
        #expect(throws: DecodingError.self) { try translator.translate("Hello.", options: options) }
    }
}
