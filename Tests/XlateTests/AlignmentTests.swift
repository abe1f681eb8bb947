import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Xlate

@Suite("Alignment: words, links, matrices")
struct AlignmentTests {
    @Test func piecesMergeIntoWordsAndSpecialTokensBelongToNone() {
        let words = Alignment.words(["▁The", "▁c", "at", "▁sat", ".", "</s>"])
        #expect(words == [
            Alignment.Word(text: "The", pieces: 0..<1), Alignment.Word(text: "cat", pieces: 1..<3),
            Alignment.Word(text: "sat.", pieces: 3..<5),
        ])
        // A first piece without "▁" still starts a word; a special token ends one; a lone "▁" starts one.
        #expect(Alignment.words(["ab", "c", "</s>", "d", "▁", "(", "<pad>"]).map(\.text) == ["abc", "d", "("])
        #expect(Alignment.words(["ab", "c", "</s>", "d", "▁", "("]).map(\.pieces) == [0..<2, 3..<4, 4..<6])
        #expect(Alignment.words(["</s>"]).isEmpty)
    }

    /// Source words "A" (piece 0) and "bc" (pieces 1, 2); target words "X" and "yz" (pieces 1, 2).
    static let handMade = Alignment(
        sourcePieces: ["▁A", "▁b", "c", "</s>"], targetPieces: ["▁X", "▁y", "z", "</s>"],
        matrix: [
            [0.7, 0.1, 0.1, 0.1],
            [0.2, 0.3, 0.4, 0.1],
            [0.6, 0.2, 0.0, 0.2],
            [0.1, 0.1, 0.1, 0.7],
        ],
        request: CrossAttentionRequest(layer: 2))

    @Test func wordMatrixSumsSourcePiecesAndAveragesTargetPieces() {
        let alignment = Self.handMade
        #expect(alignment.sourceWords.map(\.text) == ["A", "bc"])
        #expect(alignment.targetWords.map(\.text) == ["X", "yz"])
        let expected: [[Float]] = [
            [0.7, 0.2],  // X: A = 0.7; bc = 0.1 + 0.1
            [0.4, 0.45],  // yz: A = (0.2 + 0.6) / 2; bc = ((0.3 + 0.4) + (0.2 + 0.0)) / 2
        ]
        for (row, expectedRow) in zip(alignment.wordMatrix, expected) {
            for (value, expectedValue) in zip(row, expectedRow) { #expect(abs(value - expectedValue) < 1e-6) }
        }
    }

    @Test func hardLinksTakeEachTargetWordsStrongestSourceWord() {
        let alignment = Self.handMade
        #expect(alignment.hardLinks == [Alignment.Link(source: 0, target: 0), Alignment.Link(source: 1, target: 1)])
        #expect(alignment.pharaoh(alignment.hardLinks) == "0-0 1-1")
        // A tie goes to the first source word, as an argmax does.
        let tie = Alignment(
            sourcePieces: ["▁a", "▁b", "</s>"], targetPieces: ["▁x", "</s>"], matrix: [[0.4, 0.4, 0.2], [0, 0, 1]],
            request: CrossAttentionRequest(layer: 0))
        #expect(tie.pharaoh(tie.hardLinks) == "0-0")
    }

    @Test func thresholdKeepsEveryLinkAtOrAboveIt() {
        let alignment = Self.handMade
        #expect(alignment.pharaoh(alignment.links(threshold: 0.4)) == "0-0 0-1 1-1")
        #expect(alignment.pharaoh(alignment.links(threshold: 0.45)) == "0-0 1-1")
        #expect(alignment.links(threshold: 0.9).isEmpty)
        #expect(alignment.pharaoh(alignment.links(threshold: 0.01)) == "0-0 1-0 0-1 1-1")
    }

    @Test func softTextIsTheWordMatrixAsMarianPrintsIt() {
        #expect(Self.handMade.softText == "0.7000,0.2000 0.4000,0.4500")
    }

    @Test func facadeFillsAlignmentOnlyWhenAsked() throws {
        let translator = try Bundled.translator("en-de")
        var options = translator.defaultOptions
        #expect(try translator.translate("I like tea.", options: options).alignment == nil)
        options.decoding.crossAttention = CrossAttentionRequest(layer: 2)
        options.decoding.numBeams = 4
        options.decoding.numReturnSequences = 2
        let translation = try translator.translate("I like tea.", options: options)
        let alignment = try #require(translation.alignment)
        #expect(alignment.sourcePieces == translation.sourceTokens + ["</s>"])
        #expect(alignment.targetPieces == translation.hypotheses[0].pieces)
        #expect(alignment.pieceMatrix == translation.hypotheses[0].crossAttention)
        #expect(alignment.request == CrossAttentionRequest(layer: 2))
        for row in alignment.pieceMatrix { #expect(abs(row.reduce(0, +) - 1) < 1e-4) }  // probabilities over the source
        let second = try #require(translation.alignment(ofHypothesis: 1))
        #expect(second.targetPieces == translation.hypotheses[1].pieces)
        #expect(second.sourcePieces == alignment.sourcePieces)
        #expect(translation.alignment(ofHypothesis: 2) == nil)
    }

    @Test func defaultAlignmentHeadsComeFromTheModelFolder() throws {
        #expect(try Bundled.translator("en-de").defaultAlignmentRequest == CrossAttentionRequest(layer: 1, heads: [4]))
        #expect(try Bundled.translator("de-en").defaultAlignmentRequest == CrossAttentionRequest(layer: 2, heads: [0, 5]))
        try withModelCopy(alignmentHeads: nil) { translator throws in
            #expect(try translator.defaultAlignmentRequest == CrossAttentionRequest(layer: 2))  // the last layer, all heads
        }
        for bad in ["[[1, 4], [2, 0]]", "[[3, 0]]", "[[0, 6]]", "[[1]]"] {
            try withModelCopy(alignmentHeads: bad) { translator throws in
                #expect(throws: ModelError.self, "alignment_heads \(bad)") { try translator.defaultAlignmentRequest }
            }
        }
    }

    /// The bundled en-de model with `alignment_heads` replaced (nil: removed) in a copy of its generation_config.json.
    private func withModelCopy(alignmentHeads: String?, _ body: (Translator) throws -> Void) throws {
        try withEnDeModelCopy(generationKeys: alignmentHeads.map { #""alignment_heads": \#($0)"# } ?? "", body)
    }
}

/// The bundled en-de model (weights and vocabulary linked) with a generation_config.json of its decoding keys and
/// `generationKeys` (JSON members, e.g. `"alignment_heads": [[1, 4]]`; "" for none) instead of its own.
func withEnDeModelCopy(generationKeys: String, _ body: (Translator) throws -> Void) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }  // cleanup only
    let model = repositoryRoot.appendingPathComponent("Models/xlate-en-de")
    for name in ["config.json", "model.safetensors", "vocab.json", "source.spm", "target.spm"] {
        try FileManager.default.createSymbolicLink(
            at: directory.appendingPathComponent(name), withDestinationURL: model.appendingPathComponent(name))
    }
    let generation = #"{"bad_words_ids": [[15999]], "decoder_start_token_id": 15999, "eos_token_id": 0, "max_length": 256, "num_beams": 4, "pad_token_id": 15999"#
        + (generationKeys.isEmpty ? "" : ", " + generationKeys) + "}"
    try Data(generation.utf8).write(to: directory.appendingPathComponent("generation_config.json"))
    try body(try Translator(modelAt: directory))
}

// MARK: - The bundled model links the obvious word pairs

/// A sentence, the bundled model's translation of it, and the word pairs a person would link. `"is|sleeping"`:
/// either word may be linked (an English auxiliary + participle that German says in one word).
struct AlignedSentence: Sendable, CustomTestStringConvertible {
    let source: String
    let target: String
    /// Linked by the model's default heads: each stated here is asserted.
    let pairs: [(String, String)]
    /// Harder pairs (function words across reordering): counted in the layer comparison, not asserted one by one.
    let harder: [(String, String)]

    init(_ source: String, _ target: String, _ pairs: [(String, String)], harder: [(String, String)] = []) {
        self.source = source
        self.target = target
        self.pairs = pairs
        self.harder = harder
    }

    var testDescription: String { source }

    static let all: [AlignedSentence] = [
        .init("The cat sat on the mat.", "Die Katze saß auf der Matte.",
              [("The", "Die"), ("cat", "Katze"), ("sat", "saß"), ("on", "auf"), ("the", "der"), ("mat", "Matte")]),
        .init("The dog is sleeping.", "Der Hund schläft.", [("The", "Der"), ("dog", "Hund"), ("is|sleeping", "schläft")]),
        .init("I like tea.", "Ich mag Tee.", [("I", "Ich"), ("like", "mag"), ("tea", "Tee")]),
        .init("My brother lives in Berlin.", "Mein Bruder lebt in Berlin.",
              [("My", "Mein"), ("brother", "Bruder"), ("lives", "lebt"), ("in", "in"), ("Berlin", "Berlin")]),
        .init("The house is small.", "Das Haus ist klein.", [("The", "Das"), ("house", "Haus"), ("is", "ist"), ("small", "klein")]),
        .init("She reads a book.", "Sie liest ein Buch.", [("She", "Sie"), ("reads", "liest"), ("book", "Buch")],
              harder: [("a", "ein")]),
        .init("The children play in the garden.", "Die Kinder spielen im Garten.",
              [("The", "Die"), ("children", "Kinder"), ("play", "spielen"), ("garden", "Garten")]),
        .init("The weather is good today.", "Das Wetter ist heute gut.",
              [("The", "Das"), ("weather", "Wetter"), ("is", "ist"), ("good", "gut")], harder: [("today", "heute")]),
        .init("My father works in a hospital.", "Mein Vater arbeitet in einem Krankenhaus.",
              [("My", "Mein"), ("father", "Vater"), ("works", "arbeitet"), ("in", "in"), ("a", "einem"), ("hospital", "Krankenhaus")]),
        .init("The woman opens the window.", "Die Frau öffnet das Fenster.",
              [("The", "Die"), ("woman", "Frau"), ("opens", "öffnet"), ("the", "das"), ("window", "Fenster")]),
        .init("I have a red car.", "Ich habe ein rotes Auto.",
              [("I", "Ich"), ("have", "habe"), ("a", "ein"), ("red", "rotes"), ("car", "Auto")]),
        .init("The man eats an apple.", "Der Mann isst einen Apfel.",
              [("The", "Der"), ("man", "Mann"), ("eats", "isst"), ("an", "einen"), ("apple", "Apfel")]),
        .init("The sun is shining.", "Die Sonne scheint.", [("The", "Die"), ("sun", "Sonne"), ("is|shining", "scheint")]),
        .init("My sister has two cats.", "Meine Schwester hat zwei Katzen.",
              [("My", "Meine"), ("sister", "Schwester"), ("has", "hat"), ("two", "zwei"), ("cats", "Katzen")]),
        .init("The water is cold.", "Das Wasser ist kalt.", [("The", "Das"), ("water", "Wasser"), ("is", "ist"), ("cold", "kalt")]),
        .init("He writes a letter to his mother.", "Er schreibt seiner Mutter einen Brief.",
              [("He", "Er"), ("writes", "schreibt"), ("mother", "Mutter"), ("letter", "Brief")],
              harder: [("to|his", "seiner"), ("a", "einen")]),
        .init("The train arrives at ten o'clock.", "Der Zug kommt um zehn Uhr an.",
              [("The", "Der"), ("train", "Zug"), ("arrives", "kommt"), ("at", "um"), ("ten", "zehn"), ("o'clock", "Uhr")]),
        .init("The girl is singing a song.", "Das Mädchen singt ein Lied.",
              [("The", "Das"), ("girl", "Mädchen"), ("is|singing", "singt"), ("a", "ein"), ("song", "Lied")]),
        .init("The book is on the table.", "Das Buch liegt auf dem Tisch.",
              [("The", "Das"), ("book", "Buch"), ("on", "auf"), ("the", "dem"), ("table", "Tisch")]),
        .init("The bird flies over the house.", "Der Vogel fliegt über das Haus.",
              [("The", "Der"), ("bird", "Vogel"), ("flies", "fliegt"), ("over", "über"), ("the", "das"), ("house", "Haus")]),
    ]

    /// Whether a hard link joins one of `sources` (`|`-separated) with one of `targets`; words compared without
    /// surrounding punctuation, case-sensitively, first occurrence. nil when a word is not in the sentence.
    static func linked(_ sources: String, _ targets: String, in alignment: Alignment) -> Bool? {
        func indices(_ alternatives: String, _ words: [Alignment.Word]) -> [Int] {
            alternatives.split(separator: "|").compactMap { word in
                words.firstIndex { $0.text.trimmingCharacters(in: .punctuationCharacters) == word }
            }
        }
        let s = indices(sources, alignment.sourceWords), t = indices(targets, alignment.targetWords)
        guard !s.isEmpty, !t.isEmpty else { return nil }
        let links = Set(alignment.hardLinks)
        return s.contains { source in t.contains { links.contains(Alignment.Link(source: source, target: $0)) } }
    }
}

@Suite("Alignment on the bundled model")
struct BundledAlignmentTests {
    @Test(arguments: [1, 4])
    func hardLinksJoinTheObviousPairs(beams: Int) throws {
        let translator = try Bundled.translator("en-de")
        var options = translator.defaultOptions
        options.decoding.numBeams = beams
        options.decoding.crossAttention = try translator.defaultAlignmentRequest
        let translations = try translator.translate(AlignedSentence.all.map(\.source), options: options)
        for (sentence, translation) in zip(AlignedSentence.all, translations) {
            try #require(translation.text == sentence.target, "the expectations are for this translation")
            let alignment = try #require(translation.alignment)
            for (source, target) in sentence.pairs {
                #expect(AlignedSentence.linked(source, target, in: alignment) == true,
                        "\(source)–\(target) in \(sentence.source) → \(translation.text): \(alignment.pharaoh(alignment.hardLinks))")
            }
        }
    }

    /// The model folder's alignment heads against the default of other tools (the last layer, all heads), on every
    /// stated pair, both directions (de-en reads the pairs the other way round, where its output has both words).
    @Test(arguments: ["en-de", "de-en"])
    func defaultHeadsAlignBetterThanTheLastLayer(direction: String) throws {
        let translator = try Bundled.translator(direction)
        let reverse = direction == "de-en"
        func linkedPairs(_ request: CrossAttentionRequest) throws -> (linked: Int, total: Int) {
            var options = translator.defaultOptions
            options.decoding.crossAttention = request
            let translations = try translator.translate(AlignedSentence.all.map { reverse ? $0.target : $0.source }, options: options)
            var linked = 0, total = 0
            for (sentence, translation) in zip(AlignedSentence.all, translations) {
                for (source, target) in sentence.pairs + sentence.harder {
                    let (s, t) = reverse ? (target, source) : (source, target)
                    guard let hit = AlignedSentence.linked(s, t, in: translation.alignment!) else { continue }
                    total += 1
                    if hit { linked += 1 }
                }
            }
            return (linked, total)
        }
        let chosen = try translator.defaultAlignmentRequest
        let best = try linkedPairs(chosen)
        var report = "[alignment] \(direction): \(chosen.label) \(best.linked)/\(best.total)"
        for layer in 0..<translator.model.decoderLayerCount {
            let average = try linkedPairs(CrossAttentionRequest(layer: layer))
            report += "; \(CrossAttentionRequest(layer: layer).label) \(average.linked)/\(average.total)"
            #expect(best.linked > average.linked, "\(chosen.label) should beat layer \(layer)'s average")
        }
        print(report)
        #expect(best.total >= 80)
        #expect(Double(best.linked) >= 0.9 * Double(best.total))
    }
}

// MARK: - Rendering

@Suite("Alignment rendering")
struct AlignmentRenderingTests {
    static let tricky = Alignment(
        sourcePieces: ["▁Tom", "▁said", "▁\"<", "&>\"", "▁o'k", "\u{1B}[31m", "▁averyveryverylongword", "</s>"],
        targetPieces: ["▁Tom", "▁sagte", "▁\"<&>\"", "</s>"],
        matrix: [
            [0.9, 0.02, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01],
            [0.05, 0.8, 0.05, 0.02, 0.02, 0.02, 0.02, 0.02],
            [0.01, 0.01, 0.5, 0.4, 0.02, 0.02, 0.02, 0.02],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        ],
        request: CrossAttentionRequest(layer: 1, heads: [0, 2]))

    static var map: AlignmentMap {
        AlignmentMap(
            source: #"Tom said "<&>" o'k"#, translation: #"Tom sagte "<&>""#,
            views: [
                .init(label: "layer 1 · heads 0,2", alignment: tricky),
                .init(label: "layer <2> & \"all\"", alignment: tricky),
            ])
    }

    /// Parses `text` as XML; the error (with line and column) when it is not well-formed.
    private func parseXML(_ text: String) -> (elements: [String: Int], error: Error?) {
        final class Counter: NSObject, XMLParserDelegate {
            var elements: [String: Int] = [:]
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
                elements[name, default: 0] += 1
            }
        }
        let parser = XMLParser(data: Data(text.utf8))
        let counter = Counter()
        parser.delegate = counter
        let ok = parser.parse()
        return (counter.elements, ok ? nil : parser.parserError ?? XMLError())
    }

    struct XMLError: Error {}

    @Test func svgIsWellFormedWithACellPerWeight() throws {
        let svg = AlignmentRenderer.svg([Self.map, Self.map], level: .words)
        let parsed = parseXML(svg)
        #expect(parsed.error == nil, "\(String(describing: parsed.error))")
        #expect(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        // words: 3 target × 5 source ("said" … "\"<&>\"" merged; the escape-sequence piece joins "o'k"), per map,
        // plus the white background.
        #expect(parsed.elements["rect"] == 2 * 3 * 5 + 1)
        #expect(parsed.elements["circle"] == 2 * 3)  // one hard link per target word
        #expect(svg.contains("&quot;&lt;&amp;&gt;&quot;"))
        #expect(!svg.contains("\"<&>\""))
        #expect(!svg.contains("\u{1B}"))
        let pieces = AlignmentRenderer.svg([Self.map], level: .pieces)
        #expect(parseXML(pieces).error == nil)
        #expect(parseXML(pieces).elements["rect"] == 4 * 8 + 1)
    }

    @Test func htmlIsSelfContainedEscapedAndHasAViewSelector() throws {
        let html = AlignmentRenderer.html([Self.map, Self.map], title: "a <title> & more")
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
        #expect(html.hasSuffix("</html>\n"))
        // The page is also well-formed XML, which checks every tag is closed and every special character escaped.
        let parsed = parseXML(html)
        #expect(parsed.error == nil, "\(String(describing: parsed.error))")
        #expect(parsed.elements["section"] == 2)
        #expect(parsed.elements["select"] == 2 * 2)  // view and level, per sentence
        #expect(parsed.elements["table"] == 2 * 2 * 2)  // per sentence: 2 views × (words, pieces)
        #expect(parsed.elements["option"] == 2 * (2 + 2))
        // Escaped in text and attributes; raw only inside the (character-free) script.
        #expect(html.contains("Tom said &quot;&lt;&amp;&gt;&quot; o&#39;k"))
        #expect(html.contains("<title>a &lt;title&gt; &amp; more</title>"))
        #expect(html.contains("layer &lt;2&gt; &amp; &quot;all&quot;"))
        #expect(!html.contains("\"<&>\""))
        #expect(!html.contains("\u{1B}"))
        // Nothing fetched from the network.
        for external in ["src=", "href=", "@import", "url(", "http://", "https://"] {
            #expect(!html.contains(external), "\(external)")
        }
        // Exact weights on hover: every cell carries its weight.
        #expect(html.contains("title=\"0.9000\""))
        // One map shown at first per sentence; the rest hidden until chosen.
        #expect(html.components(separatedBy: "hidden=\"hidden\"").count - 1 == 2 * 3)
    }

    @Test func aSingleViewNeedsNoSelector() {
        let html = AlignmentRenderer.html([AlignmentMap(source: "a", translation: "b", views: [.init(label: "only", alignment: Self.tricky)])])
        #expect(!html.contains("select class=\"view\""))
        #expect(html.contains("<span class=\"view-label\">only</span>"))
    }

    /// Printed width of a terminal line: escape sequences take no room.
    private func visibleWidth(_ line: Substring) -> Int {
        line.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression).count
    }

    @Test(arguments: [20, 24, 30, 40, 100])
    func terminalHeatmapFitsTheWidth(width: Int) {
        for color in TerminalColor.allCases {
            for level in AlignmentLevel.allCases {
                let text = AlignmentRenderer.terminal(Self.tricky, level: level, width: width, color: color)
                let lines = text.split(separator: "\n")
                for line in lines.dropLast() {  // the legend is a fixed line
                    #expect(visibleWidth(line) <= width, "\(color) \(level) \(width): '\(line)'")
                }
                // The escape sequence inside a source piece is shown as U+FFFD, never sent to the terminal.
                #expect(!text.contains("\u{1B}[31m"))
                #expect(text.contains("Tom"))
            }
        }
    }

    @Test func terminalHeatmapLabelsAndColours() {
        let plain = AlignmentRenderer.terminal(Self.tricky, level: .words, width: 100, color: .none)
        #expect(!plain.contains("\u{1B}"))
        let lines = plain.split(separator: "\n", omittingEmptySubsequences: false)
        // Row labels are the target words; the strongest cell (0.9) is a full block.
        #expect(lines.contains { $0.hasPrefix("Tom   ██") })
        #expect(lines.contains { $0.hasPrefix("sagte ") })
        // Column labels run downwards; a long one is cut to 10 characters, ending in "…".
        let header = lines.prefix { !$0.hasPrefix("Tom ") }
        #expect(header.count == 10)
        #expect(header.last.map { $0.hasSuffix("…") } == true)  // the last column: "averyvery…"
        let narrow = AlignmentRenderer.terminal(Self.tricky, level: .words, width: 20, color: .none)
        #expect(narrow.contains("…"))
        let colour = AlignmentRenderer.terminal(Self.tricky, level: .words, width: 100, color: .ansi256)
        #expect(colour.contains("\u{1B}[30;48;5;") || colour.contains("\u{1B}[97;48;5;"))
        #expect(colour.contains("●"))
        let truecolor = AlignmentRenderer.terminal(Self.tricky, level: .words, width: 100, color: .truecolor)
        #expect(truecolor.contains(";48;2;"))
    }

    @Test func tooManyColumnsAreLeftOutAndSaidSo() {
        let pieces = (0..<60).map { "▁w\($0)" } + ["</s>"]
        let row = [Float](repeating: 1 / 61, count: 61)
        let wide = Alignment(
            sourcePieces: pieces, targetPieces: ["▁x", "</s>"], matrix: [row, row], request: CrossAttentionRequest(layer: 0))
        let text = AlignmentRenderer.terminal(wide, level: .words, width: 40, color: .none)
        #expect(text.contains("(22 of 60 source words not shown)"))
        for line in text.split(separator: "\n").dropLast() { #expect(line.count <= 40, "'\(line)'") }
    }
}
