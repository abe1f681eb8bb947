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
        options.alignmentMethod = .default  // as translating reads it (given pairs have their own default)
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

    /// Given pairs have their own setting in the model folder (`xlate_pair_alignment`), learned on the gold's dev
    /// half: de-en's is not the heads it aligns its own translations with. Options left nil take it; options given
    /// win, field by field.
    @Test func givenPairsTakeTheModelsPairSetting() throws {
        let translator = try Bundled.translator("de-en")
        let setting = try translator.defaultPairAlignment
        #expect(setting.request == CrossAttentionRequest(layer: 1) && setting.method == AlignmentMethod(skipsPunctuation: true))
        #expect(try translator.defaultAlignmentRequest == CrossAttentionRequest(layer: 2, heads: [0, 5]))
        let pair = (source: "Die Katze saß auf der Matte .", target: "The cat sat on the mat .")
        let byDefault = try translator.align(source: pair.source, target: pair.target)
        #expect(byDefault.request == setting.request && byDefault.method == setting.method)
        var options = translator.defaultOptions
        options.alignmentMethod = .predicting
        let methodGiven = try translator.align(source: pair.source, target: pair.target, options: options)
        #expect(methodGiven.request == setting.request && methodGiven.method == .predicting)
        options.decoding.crossAttention = CrossAttentionRequest(layer: 2, heads: [0, 5])
        let bothGiven = try translator.align(source: pair.source, target: pair.target, options: options)
        #expect(bothGiven.request == CrossAttentionRequest(layer: 2, heads: [0, 5]) && bothGiven.method == .predicting)
        // en-de's learned setting is its alignment heads again.
        let english = try Bundled.translator("en-de").defaultPairAlignment
        #expect(english.request == CrossAttentionRequest(layer: 1, heads: [4]) && english.method == .default)
    }

    /// The setting is read from the folder: without the key, the own-translation heads read with the default method;
    /// with it, its layer, heads and method; invalid values are errors naming the file.
    @Test func thePairSettingComesFromTheModelFolder() throws {
        try withEnDeModelCopy(generationKeys: #""alignment_heads": [[1, 4]]"#) { translator throws in
            let setting = try translator.defaultPairAlignment
            #expect(setting.request == CrossAttentionRequest(layer: 1, heads: [4]) && setting.method == .default)
        }
        let keys = #""alignment_heads": [[1, 4]], "xlate_pair_alignment": {"layer": 0, "heads": [3, 1], "shifted": true}"#
        try withEnDeModelCopy(generationKeys: keys) { translator throws in
            let setting = try translator.defaultPairAlignment
            #expect(setting.request == CrossAttentionRequest(layer: 0, heads: [1, 3]))
            #expect(setting.method == AlignmentMethod(shifted: true, skipsPunctuation: false))
            let alignment = try translator.align(source: "I like tea .", target: "Ich mag Tee .")
            #expect(alignment.request == CrossAttentionRequest(layer: 0, heads: [1, 3]) && alignment.method.shifted)
            #expect(try translator.defaultAlignmentRequest == CrossAttentionRequest(layer: 1, heads: [4]))
        }
        for bad in [#"{"layer": 3}"#, #"{"layer": 0, "heads": [6]}"#, #"{"layer": 0, "heads": []}"#, #"{"heads": [1]}"#,
                    #"{"layer": "1"}"#, #"{"layer": 1, "skip_punctuation": true}"#, #"{"layer": 1, "shifted": 1}"#, "[1, 4]"] {
            try withEnDeModelCopy(generationKeys: #""xlate_pair_alignment": "# + bad) { translator throws in
                let error = #expect(throws: ModelError.self, "\(bad)") { try translator.defaultPairAlignment }
                #expect(error?.localizedDescription.contains("generation_config.json: \"xlate_pair_alignment\"") == true, "\(bad): \(String(describing: error))")
                #expect(throws: ModelError.self, "\(bad)") { try translator.align(source: "I like tea .", target: "Ich mag Tee .") }
            }
        }
    }

    /// On the gold's test half (odd lines, which the choice never saw), de→en given pairs aligned by default (the
    /// pair setting) have a lower error rate than with the heads for the model's own translations; were the pair
    /// setting ignored, the two would be the same alignments.
    @Test func thePairSettingAlignsTheGoldsTestHalfBetter() throws {
        let folder = repositoryRoot.appendingPathComponent("Fixtures/alignment-gold")
        func lines(_ name: String) throws -> [String] {
            try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        }
        let english = try lines("en.txt"), german = try lines("de.txt"), gold = try lines("gold.txt")
        let test = english.indices.filter { $0 % 2 == 1 }
        let translator = try Bundled.translator("de-en")
        let pairs = test.map { (source: german[$0], target: english[$0]) }
        func errorRate(_ alignments: [Alignment]) throws -> AlignmentErrorRate {
            var rate = AlignmentErrorRate()
            for (index, alignment) in zip(test, alignments) {
                let links = try #require(AlignmentErrorRate.parseGold(gold[index]))
                rate.add(alignment.hardLinks.map(\.swapped), sure: links.sure, possible: links.possible)
            }
            return rate
        }
        let byDefault = try errorRate(try translator.align(pairs))
        var options = translator.defaultOptions
        options.decoding.crossAttention = try translator.defaultAlignmentRequest
        options.alignmentMethod = .default
        let ownHeads = try errorRate(try translator.align(pairs, options: options))
        // 25.3 % and 26.8 % when measured (README, `make align-eval`).
        #expect(byDefault.errorRate < ownHeads.errorRate, "pair setting \(byDefault.errorRate), own heads \(ownHeads.errorRate)")
        #expect(byDefault.errorRate < 0.26)
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
