import Foundation
import Testing

@testable import Xlate

/// Issue 17 item 14: with sentence splitting, a piece with no letter in any script (emoji, symbols, punctuation,
/// digits) is copied, not given to the model, which would invent words for it ("😍🎉" → "geringfügig").
@Suite("Pieces with nothing to translate are copied")
struct UntranslatableSegmentTests {
    private func options(_ translator: Translator, beams: Int = 1) -> TranslationOptions {
        var options = translator.defaultOptions
        options.decoding.numBeams = beams
        options.splitSentences = true
        return options
    }

    @Test func theRuleIsALetterOfAnyScript() {
        for copied in ["😍🎉", "42", "3.14 !!", "→ ★ ©", "(1)", "👍🏽", "…"] {
            #expect(!Translator.isTranslatable(copied[...]), "\(copied)")
        }
        for translated in ["ok", "Ja!", "日本", "Привет", "مرحبا", "x2", "ß", "café 😍"] {
            #expect(Translator.isTranslatable(translated[...]), "\(translated)")
        }
    }

    @Test func pictographsAtTheEdgesOfASentenceAreSeparated() {
        func parts(_ text: String) -> [String] {
            Translator.separatingPictographs(text, text.startIndex..<text.endIndex).map { String(text[$0]) }
        }
        #expect(parts("🌞 How are you?") == ["🌞", "How are you?"])
        #expect(parts("😍 🎉  Great party ★") == ["😍 🎉", "Great party", "★"])
        #expect(parts("I ❤️ you") == ["I ❤️ you"])
        #expect(parts("$5 is enough") == ["$5 is enough"])
        #expect(parts("😍🎉") == ["😍🎉"])
        #expect(parts("🎉 42") == ["🎉 42"])
    }

    @Test func emojiAfterASentenceIsCopied() throws {
        let translator = try Bundled.translator("en-de")
        let options = options(translator)
        let line = try translator.translate("I love this place! 😍🎉", options: options)
        let sentence = try translator.translate("I love this place!", options: options)
        #expect(line.text == sentence.text + " 😍🎉")
        // Only the sentence was read by the model.
        #expect(line.sourceIds == sentence.sourceIds)
        #expect(line.hypotheses[0].ids == sentence.hypotheses[0].ids)
    }

    @Test(arguments: ["😍🎉", "  42 !!  ", "🎉. 👍"])
    func aTextWithNothingToTranslateIsCopied(_ text: String) throws {
        let translator = try Bundled.translator("en-de")
        var options = options(translator, beams: 2)
        options.decoding.numReturnSequences = 2
        options.decoding.crossAttention = CrossAttentionRequest(layer: 0)
        let translation = try translator.translate(text, options: options)
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        #expect(translation.source == text)
        #expect(translation.text == trimmed)
        #expect(translation.sourceIds.isEmpty)
        // Still `numReturnSequences` hypotheses (callers count on them), each the copy, with a certain score.
        #expect(translation.hypotheses.map(\.text) == [trimmed, trimmed])
        #expect(translation.hypotheses.allSatisfy { $0.score == 0 && $0.ids.isEmpty })
        #expect(translation.alignment == nil)
    }

    @Test func copiedPiecesKeepSourceTokensIdsAndAttentionAligned() throws {
        let translator = try Bundled.translator("en-de")
        var options = options(translator)
        options.decoding.returnTokenScores = true
        options.decoding.crossAttention = CrossAttentionRequest(layer: 0)
        let line = try translator.translate("Good morning! 🌞 How are you?", options: options)
        let parts = try translator.translate(["Good morning!", "How are you?"], options: options)
        #expect(line.text == parts[0].text + " 🌞 " + parts[1].text)
        #expect(line.sourceIds == parts[0].sourceIds + parts[1].sourceIds)
        #expect(line.sourceTokens.count == line.sourceIds.count - 1)
        let best = line.hypotheses[0]
        #expect(best.ids == parts[0].hypotheses[0].ids + parts[1].hypotheses[0].ids)
        #expect(best.crossAttention?.allSatisfy { $0.count == line.sourceIds.count } == true)
        #expect(line.alignment?.sourcePieces.count == line.sourceIds.count)
    }

    @Test func withoutSplittingTheTextStillGoesToTheModel() throws {
        let translator = try Bundled.translator("en-de")
        var options = options(translator)
        options.splitSentences = false
        #expect(try !translator.translate("😍🎉", options: options).sourceIds.isEmpty)
    }
}
