import Foundation
import Testing
import Xlate

@Suite("Sentence splitting")
struct SentenceSplitterTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let language: String?
        let text: String
        let sentences: [String]
        var testDescription: String { "\(language ?? "any"): \(text)" }

        init(_ language: String?, _ text: String, _ sentences: [String]) {
            self.language = language
            self.text = text
            self.sentences = sentences
        }
    }

    @Test(arguments: [
        Case("en", "Hello world.", ["Hello world."]),
        Case("en", "How are you? I am fine.", ["How are you?", "I am fine."]),
        Case("en", "Dr. Smith went home. He slept.", ["Dr. Smith went home.", "He slept."]),
        Case("en", "It costs 3.50 dollars. Version 2.0 is out.", ["It costs 3.50 dollars.", "Version 2.0 is out."]),
        Case("en", "Use a tool, e.g. a hammer. Or not.", ["Use a tool, e.g. a hammer.", "Or not."]),
        Case("en", "Take fruit, e.g. Apples or pears.", ["Take fruit, e.g. Apples or pears."]),
        Case("en", "He said \"Stop!\" Then he left.", ["He said \"Stop!\"", "Then he left."]),
        Case("en", "\"Stop!\" he said. 'Why?' she asked.", ["\"Stop!\" he said.", "'Why?' she asked."]),
        Case("en", "Wait... What happened? Nothing! Fine…", ["Wait...", "What happened?", "Nothing!", "Fine…"]),
        Case("en", "Wait… what? Really?! Yes.", ["Wait… what?", "Really?!", "Yes."]),
        Case("en", "See Fig. 3 and No. 5. Then stop.", ["See Fig. 3 and No. 5.", "Then stop."]),
        Case("en", "J. K. Rowling wrote it. It sold well.", ["J. K. Rowling wrote it.", "It sold well."]),
        Case("en", "He lives in the U.S. and works there.", ["He lives in the U.S. and works there."]),
        Case("en", "(This is one.) This is two.", ["(This is one.)", "This is two."]),
        Case("en", "He won in 2019. The next year he lost.", ["He won in 2019.", "The next year he lost."]),
        Case("en", "Mr. and Mrs. Brown met Prof. Green.", ["Mr. and Mrs. Brown met Prof. Green."]),
        Case("en", "It ends.\u{00A0}Not here.", ["It ends.\u{00A0}Not here."]),
        Case("en", "  One.   Two.\tThree.  ", ["One.", "Two.", "Three."]),
        Case("en", "no terminal punctuation", ["no terminal punctuation"]),
        Case("en", "www.example.com is a site.Really.", ["www.example.com is a site.Really."]),
        Case("en", "", []),
        Case("en", " \t ", []),
        Case("de", "Am 3. Oktober kam er an. Er blieb.", ["Am 3. Oktober kam er an.", "Er blieb."]),
        Case("de", "Er kaufte z.B. Äpfel. Dann ging er.", ["Er kaufte z.B. Äpfel.", "Dann ging er."]),
        Case("de", "Siehe Nr. 5 und S. 120. Danach weiter.", ["Siehe Nr. 5 und S. 120.", "Danach weiter."]),
        Case("de", "Äpfel, Birnen usw. sind gesund. Ja.", ["Äpfel, Birnen usw. sind gesund.", "Ja."]),
        Case("de", "Er aß Äpfel, Birnen usw. Dann ging er.", ["Er aß Äpfel, Birnen usw.", "Dann ging er."]),
        Case("de", "Hr. Müller kam. Fr. Schmidt auch.", ["Hr. Müller kam.", "Fr. Schmidt auch."]),
        Case("de", "Sie sagte: „Komm!“ Er kam.", ["Sie sagte: „Komm!“", "Er kam."]),
        Case("en", "He came 3. Then he left.", ["He came 3.", "Then he left."]),
        Case("es", "¿Qué pasa? ¡Nada! Sr. López llegó.", ["¿Qué pasa?", "¡Nada!", "Sr. López llegó."]),
        Case("zh", "你好。我很好！谢谢", ["你好。", "我很好！", "谢谢"]),
        // Without a language every list applies; words of one language must not block splits in another.
        Case(nil, "Tell me. Then go on. Turn it on. Fine.", ["Tell me.", "Then go on.", "Turn it on.", "Fine."]),
        Case(nil, "Dr. Who? Hr. Müller z.B. kam.", ["Dr. Who?", "Hr. Müller z.B. kam."]),
    ])
    func splits(_ testCase: Case) {
        let text = testCase.text
        #expect(SentenceSplitter(language: testCase.language).sentences(in: text).map { String(text[$0]) } == testCase.sentences)
    }

    @Test func substringRangesIndexTheWholeString() {
        let text = ">>de<< One. Two."
        let body = text[text.index(text.startIndex, offsetBy: 6)...]
        #expect(SentenceSplitter(language: "en").sentences(in: body).map { String(text[$0]) } == ["One.", "Two."])
    }

    // MARK: Cutting over-long sentences

    /// Cuts `text` into pieces of at most `words` words of at most 5 characters.
    private func cut(_ text: String, words: Int) -> [String] {
        SentenceSplitter().pieces(of: text, in: text.startIndex..<text.endIndex) { piece in
            let pieceWords = piece.split(separator: " ")
            return pieceWords.count <= words && pieceWords.allSatisfy { $0.count <= 5 }
        }.map { String(text[$0]) }
    }

    @Test func cutsAtTheLastWordThatFits() {
        #expect(cut("a b c d e f g h i j k l", words: 5) == ["a b c d e", "f g h i j", "k l"])
        #expect(cut("tiny text", words: 5) == ["tiny text"])
    }

    @Test func prefersAClauseBoundaryInTheSecondHalf() {
        #expect(cut("one two thre, four five six sevn", words: 6) == ["one two thre,", "four five six sevn"])
        // A comma too early (less than half the piece) is not worth a short piece.
        #expect(cut("one, two thre four five six sevn", words: 6) == ["one, two thre four five six", "sevn"])
    }

    @Test func cutsInsideAWordOnlyWhenAWordIsTooLong() {
        #expect(cut("abcdefghijkl", words: 4) == ["abcde", "fghij", "kl"])
        #expect(cut("ab abcdefghijkl", words: 4) == ["ab", "abcde", "fghij", "kl"])
    }

    @Test func dropsNothingEvenWhenNothingFits() {
        let text = "xyz"
        let pieces = SentenceSplitter().pieces(of: text, in: text.startIndex..<text.endIndex) { _ in false }
        #expect(pieces.map { String(text[$0]) } == ["x", "y", "z"])
    }

    @Test func rejoinsWithTheSourceWhitespace() {
        #expect(SentenceSplitter.separator("  ", after: "Hallo.") == "  ")
        #expect(SentenceSplitter.separator("\t", after: "Hallo.") == "\t")
        #expect(SentenceSplitter.separator("", after: "Hello.") == " ")
        #expect(SentenceSplitter.separator("", after: "你好。") == "")
    }

    // MARK: Through the translator

    private func greedy(_ translator: Translator, split: Bool) -> TranslationOptions {
        var options = translator.defaultOptions
        options.decoding.numBeams = 1
        options.splitSentences = split
        return options
    }

    @Test func offByDefaultSoEachTextIsOneSegment() throws {
        let translator = try Bundled.translator("en-de")
        #expect(translator.defaultOptions.splitSentences == false)
        #expect(translator.sourceLanguage == "en")
    }

    @Test func translatesSentenceBySentenceAndRejoins() throws {
        let translator = try Bundled.translator("en-de")
        var options = greedy(translator, split: true)
        options.decoding.returnTokenScores = true
        options.decoding.crossAttention = CrossAttentionRequest(layer: 0)
        let whole = try translator.translate("How are you?  I am fine.", options: options)
        let parts = try translator.translate(["How are you?", "I am fine."], options: options)
        #expect(whole.text == parts[0].text + "  " + parts[1].text)
        #expect(whole.source == "How are you?  I am fine.")
        #expect(whole.sourceIds == parts[0].sourceIds + parts[1].sourceIds)
        #expect(whole.sourceTokens.count == whole.sourceIds.count - 1)
        #expect(whole.truncatedSourceTokens == 0)

        let best = try #require(whole.hypotheses.first)
        let (first, second) = (parts[0].hypotheses[0], parts[1].hypotheses[0])
        #expect(best.ids == first.ids + second.ids)
        #expect(best.pieces.count == best.ids.count)
        let tokenScores = try #require(best.tokenScores)
        #expect(tokenScores == first.tokenScores! + second.tokenScores!)
        // One sequence's score: Σ log p / length^lengthPenalty.
        let expected = Double(tokenScores.reduce(0, +)) / pow(Double(best.ids.count), options.decoding.lengthPenalty)
        #expect(abs(Double(try #require(best.score)) - expected) < 1e-4)
        // Block-diagonal attention over the concatenated source.
        let attention = try #require(best.crossAttention)
        #expect(attention.count == best.ids.count)
        #expect(attention.allSatisfy { $0.count == whole.sourceIds.count })
        let split = parts[0].sourceIds.count
        #expect(attention[..<first.ids.count].allSatisfy { $0[split...].allSatisfy { $0 == 0 } })
        #expect(attention[first.ids.count...].allSatisfy { $0[..<split].allSatisfy { $0 == 0 } })
        #expect(whole.alignment?.pieceMatrix == attention)
    }

    @Test func oneSentenceIsTranslatedExactlyAsWithoutSplitting() throws {
        let translator = try Bundled.translator("en-de")
        let text = "  The cat sat on the mat because it was tired. "
        #expect(try translator.translate(text, options: greedy(translator, split: true))
            == translator.translate(text, options: greedy(translator, split: false)))
    }

    @Test(arguments: [
        Array(repeating: "The cat sat on the mat.", count: 60).joined(separator: " "),
        Array(repeating: "the big red dog ran across the green field", count: 40).joined(separator: ", ") + ".",
        String(repeating: "x", count: 1500),
    ])
    func overlongTextIsCutNotTruncated(_ text: String) throws {
        let translator = try Bundled.translator("en-de")
        #expect(translator.tokenizer.encode(text).ids.count > translator.model.maxSourceLength)
        var options = greedy(translator, split: true)
        options.decoding.maxNewTokens = 4
        let result = try translator.translate(text, options: options)
        #expect(result.truncatedSourceTokens == 0)
        #expect(result.sourceIds.count > translator.model.maxSourceLength)
        #expect(!result.text.isEmpty)
    }

    @Test func languageCodeIsRepeatedForEverySentence() throws {
        let translator = try Bundled.translator("en-de")
        let result = try translator.translate(">>de<< Good morning. Good night.", options: greedy(translator, split: true))
        let code = translator.tokenizer.encode(">>de<<").ids[0]
        #expect(result.sourceIds.filter { $0 == code }.count == 2)
    }
}
