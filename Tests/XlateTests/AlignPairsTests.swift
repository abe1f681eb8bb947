import Foundation
import Testing
import Xlate

/// `Translator.align(source:target:)`: given pairs, words by whitespace, pieces mapped by character offsets.
@Suite("Aligning given pairs")
struct AlignPairsTests {
    @Test func wordsAreWhitespaceTokensOverThePiecesOfTheirCharacters() {
        // "Katze." is one token: both its pieces; pre-tokenised "Katze ." two words.
        #expect(Alignment.words(text: "Die Katze.", pieces: ["▁Die", "▁Katze", ".", "</s>"]).map(\.pieces) == [0..<1, 1..<3])
        #expect(Alignment.words(text: "Die Katze .", pieces: ["▁Die", "▁Katze", "▁.", "</s>"]).map(\.pieces) == [0..<1, 1..<2, 2..<3])
        // A lone "▁" belongs to the token after it.
        #expect(Alignment.words(text: "a (b)", pieces: ["▁a", "▁", "(", "b", ")", "</s>"]).map(\.pieces) == [0..<1, 1..<5])
        // Compared after NFKC: "ﬁ" is "fi" in the pieces.
        #expect(Alignment.words(text: "ﬁne day", pieces: ["▁fine", "▁day", "</s>"]).map(\.pieces) == [0..<1, 1..<2])
        // A token the pieces do not have (dropped by the tokenizer) gets no pieces; the next one still maps.
        let dropped = Alignment.words(text: "a \u{200B} b", pieces: ["▁a", "▁b", "</s>"])
        #expect(dropped.map(\.text) == ["a", "\u{200B}", "b"])
        #expect(dropped.map(\.pieces) == [0..<1, 1..<1, 1..<2])
        // "</s>" written in the text is a word; the closing one is not.
        #expect(Alignment.words(text: "x </s>", pieces: ["▁x", "▁", "</s>", "</s>"]).map(\.pieces) == [0..<1, 1..<3])
        #expect(Alignment.words(text: "", pieces: ["</s>"]).isEmpty)
    }

    /// Aligning the model's own translation reads the same attention as translating did (greedy search decodes the
    /// same tokens the forced decoding feeds), so it gives the translation's alignment.
    @Test(arguments: ["en-de", "de-en"])
    func aligningATranslationGivesItsAlignment(direction: String) throws {
        let translator = try Bundled.translator(direction)
        var options = translator.defaultOptions
        options.decoding.numBeams = 1
        options.decoding.crossAttention = try translator.defaultAlignmentRequest
        let sources = direction == "en-de"
            ? ["The cat sat on the mat.", "My father works in a hospital.", "He writes a letter to his mother."]
            : ["Die Katze saß auf der Matte.", "Mein Vater arbeitet in einem Krankenhaus."]
        let translations = try translator.translate(sources, options: options)
        let aligned = try translator.align(translations.map { ($0.source, $0.text) }, options: options)
        for (translation, alignment) in zip(translations, aligned) {
            let expected = try #require(translation.alignment)
            #expect(alignment.sourceWords == expected.sourceWords)
            #expect(alignment.targetWords == expected.targetWords)
            #expect(alignment.hardLinks == expected.hardLinks, "\(translation.source) → \(translation.text)")
            #expect(alignment.request == expected.request && alignment.method == expected.method)
            for (row, expectedRow) in zip(alignment.pieceMatrix, expected.pieceMatrix) {
                for (value, expectedValue) in zip(row, expectedRow) { #expect(abs(value - expectedValue) < 1e-4) }
            }
        }
        // One at a time gives what the batch gives.
        let single = try translator.align(source: translations[1].source, target: translations[1].text, options: options)
        #expect(single.hardLinks == aligned[1].hardLinks)
    }

    /// Pre-tokenised text: links index its tokens, punctuation included (the hand-checked links of the pair).
    @Test func preTokenisedTextAlignsTokenByToken() throws {
        let translator = try Bundled.translator("en-de")
        let alignment = try translator.align(source: "The cat sat on the mat .", target: "Die Katze saß auf der Matte .")
        #expect(alignment.sourceWords.map(\.text) == ["The", "cat", "sat", "on", "the", "mat", "."])
        #expect(alignment.targetWords.map(\.text) == ["Die", "Katze", "saß", "auf", "der", "Matte", "."])
        #expect(alignment.pharaoh(alignment.hardLinks) == "0-0 1-1 2-2 3-3 4-4 5-5 6-6")
    }

    @Test func blankSidesGiveWordsWithoutLinks() throws {
        let translator = try Bundled.translator("en-de")
        let results = try translator.align([("", "Hallo Welt"), ("Hello", "  "), ("Hello world", "Hallo Welt"), ("", "")])
        #expect(results[0].hardLinks.isEmpty && results[0].sourceWords.isEmpty && results[0].targetWords.count == 2)
        #expect(results[1].hardLinks.isEmpty && results[1].sourceWords.count == 1 && results[1].targetWords.isEmpty)
        #expect(results[2].pharaoh(results[2].hardLinks) == "0-0 1-1")
        #expect(results[3].hardLinks.isEmpty && results[3].wordMatrix.isEmpty)
    }

    @Test func aTargetTooLongForTheDecoderIsATypedError() throws {
        let translator = try Bundled.translator("en-de")
        let long = Array(repeating: "Wort", count: 300).joined(separator: " ")
        #expect(throws: TargetTooLong.self) { try translator.align(source: "word", target: long) }
    }

    /// Target word "Katze" attends most to the final "." (a sink); skipping punctuation links it to "cat"; the
    /// target "." still links to the source ".".
    @Test func skippingPunctuationPassesOverSinks() {
        let alignment = Alignment(
            sourcePieces: ["▁cat", "▁.", "</s>"], targetPieces: ["▁Katze", "▁.", "</s>"],
            matrix: [[0.3, 0.6, 0.1], [0.1, 0.8, 0.1], [0, 0, 1]], request: CrossAttentionRequest(layer: 0),
            method: .predicting)
        #expect(alignment.pharaoh(alignment.hardLinks) == "1-0 1-1")
        let skipping = alignment.reading(AlignmentMethod(skipsPunctuation: true))
        #expect(skipping.pharaoh(skipping.hardLinks) == "0-0 1-1")
        // Shifted: each target piece reads the next step's row (the last keeps its own).
        let shifted = alignment.reading(AlignmentMethod(shifted: true))
        #expect(shifted.wordMatrix == [[0.1, 0.8], [0, 0]])
    }

    /// AER = 1 − (|A∩S| + |A∩P|) / (|A| + |S|): A = {0-0, 1-1, 2-2}, S = {0-0, 1-2}, P = S ∪ {1-1}: A∩S = 1,
    /// A∩P = 2, so 1 − 3/5 = 0.4; precision 2/3, recall 1/2.
    @Test func errorRateCountsSureAndPossibleLinks() throws {
        let gold = try #require(AlignmentErrorRate.parseGold("0-0 1-2 1p1"))
        #expect(gold.sure == [Alignment.Link(source: 0, target: 0), Alignment.Link(source: 1, target: 2)])
        var rate = AlignmentErrorRate()
        rate.add(
            [Alignment.Link(source: 0, target: 0), Alignment.Link(source: 1, target: 1), Alignment.Link(source: 2, target: 2)],
            sure: gold.sure, possible: gold.possible)
        #expect(abs(rate.errorRate - 0.4) < 1e-12)
        #expect(abs(rate.precision - 2.0 / 3) < 1e-12 && abs(rate.recall - 0.5) < 1e-12)
        #expect(AlignmentErrorRate.parseGold("0-x") == nil && AlignmentErrorRate.parseGold("1p") == nil)
        #expect(AlignmentErrorRate().errorRate == 1)
    }

    /// The committed gold set is well-formed: as many lines in each file, links within each pair's tokens.
    @Test func committedGoldIsWellFormed() throws {
        let folder = repositoryRoot.appendingPathComponent("Fixtures/alignment-gold")
        func lines(_ name: String) throws -> [Substring] {
            try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        }
        let english = try lines("en.txt"), german = try lines("de.txt"), gold = try lines("gold.txt")
        #expect(english.count >= 100 && english.count == german.count && german.count == gold.count)
        for (index, line) in gold.enumerated() {
            let links = try #require(AlignmentErrorRate.parseGold(String(line)), "gold.txt line \(index + 1)")
            let sourceCount = english[index].split(separator: " ").count, targetCount = german[index].split(separator: " ").count
            for link in links.sure.union(links.possible) {
                #expect(link.source < sourceCount && link.target < targetCount, "gold.txt line \(index + 1): \(link)")
            }
            #expect(links.sure.isDisjoint(with: links.possible), "gold.txt line \(index + 1)")
        }
    }
}
