import Foundation

/// Translation with `TranslationOptions.splitSentences`: texts are cut into sentences (and over-long sentences into
/// pieces that fit the model), all pieces are translated together, and each text's translations are rejoined.
extension Translator {
    /// The source language of the model, from its folder name (`*-SRC-TGT`, as `ModelResolver` finds models);
    /// nil when the name does not say. Chooses the sentence splitter's rules.
    public var sourceLanguage: String? { ModelResolver.languagePair(folderName: directory.lastPathComponent)?.source }

    /// `shouldStop` as in `translate(_:options:progress:shouldStop:)`: a stopped call throws `TranslationStopped`
    /// with the texts whose every piece was translated.
    func translateSplitting(
        _ texts: [String], options: TranslationOptions, progress: (@Sendable (Int, Int) -> Void)?,
        shouldStop: (@Sendable () -> Bool)?
    ) throws -> [Translation] {
        let splitter = SentenceSplitter(language: options.sourceLanguage ?? sourceLanguage)
        let segmented = texts.map { segment($0, splitter: splitter) }
        let translations: [Translation?]
        var stopped = false
        do {
            translations = try translateSegments(
                segmented.flatMap(\.translatedPieces), options: options, progress: progress, shouldStop: shouldStop)
        } catch let error as TranslationStopped {
            translations = error.translations
            stopped = true
        }
        var results: [Translation?] = []
        var next = 0
        for (text, segment) in zip(texts, segmented) {
            // A text is done when every piece it translates is; copied pieces need nothing.
            var complete = true
            let pieces = segment.pieces.map { piece -> Translation? in
                guard piece.translated else { return copy(piece.text, options: options) }
                defer { next += 1 }
                if translations[next] == nil { complete = false }
                return translations[next]
            }
            results.append(complete ? join(source: text, segment: segment, translations: pieces.map { $0! }, options: options) : nil)
        }
        if stopped { throw TranslationStopped(translations: results) }
        return results.map { $0! }
    }

    /// A text cut into the pieces that are translated or copied, with the source whitespace between consecutive
    /// pieces.
    private struct Segment {
        struct Piece {
            /// What the model reads (the piece, after the text's `>>lang<<` code if it has one), or what is copied.
            var text: String
            /// False: the piece has nothing to translate (see `isTranslatable`) and is copied.
            var translated: Bool
        }
        var pieces: [Piece]
        var gaps: [Substring]

        var translatedPieces: [String] { pieces.filter(\.translated).map(\.text) }
    }

    /// Whether a piece has anything to translate: a letter of any script. Emoji, symbols, punctuation and digits
    /// alone are copied: a model given only those invents words ("😍🎉" → "geringfügig").
    static func isTranslatable(_ piece: Substring) -> Bool { piece.contains(where: \.isLetter) }

    /// `sentence` (a range of `text` without surrounding whitespace) cut into its leading words of pictographs, the
    /// rest, and its trailing words of pictographs, where it has such words and the rest has something to translate:
    /// a model reading "🌞 How are you?" invents words for the emoji, which are better copied. Digits and other
    /// symbols stay with their sentence ("$5 is enough", "→ see below").
    static func separatingPictographs(_ text: String, _ sentence: Range<String.Index>) -> [Range<String.Index>] {
        func isPictographs(_ word: Substring) -> Bool {
            word.allSatisfy { $0.unicodeScalars.first!.properties.generalCategory == .otherSymbol }
        }
        var head = sentence.lowerBound  // the end of the leading pictograph words
        while true {
            let start = text[head..<sentence.upperBound].firstIndex { !$0.isWhitespace } ?? sentence.upperBound
            let end = text[start..<sentence.upperBound].firstIndex(where: \.isWhitespace) ?? sentence.upperBound
            guard start < end, isPictographs(text[start..<end]) else { break }
            head = end
        }
        var tail = sentence.upperBound  // the start of the trailing ones
        while tail > head {
            let end = text[head..<tail].lastIndex { !$0.isWhitespace }.map { text.index(after: $0) } ?? head
            let start = text[head..<end].lastIndex(where: \.isWhitespace).map { text.index(after: $0) } ?? head
            guard start < end, isPictographs(text[start..<end]) else { break }
            tail = start
        }
        let restStart = text[head..<tail].firstIndex { !$0.isWhitespace } ?? tail
        let rest = restStart..<(text[restStart..<tail].lastIndex { !$0.isWhitespace }.map { text.index(after: $0) } ?? restStart)
        guard head != sentence.lowerBound || tail != sentence.upperBound, isTranslatable(text[rest]) else { return [sentence] }
        return [sentence.lowerBound..<head, rest, tail..<sentence.upperBound].filter { !$0.isEmpty }
    }

    /// The pieces of `text`: its sentences (pictographs at their edges apart), each cut further where it has more
    /// tokens than the model reads. Text that is one piece is passed on whole (surrounding whitespace included),
    /// exactly as without splitting, unless it has nothing to translate; then it is copied (surrounding whitespace
    /// excluded).
    private func segment(_ text: String, splitter: SentenceSplitter) -> Segment {
        // A leading `>>lang<<` (multilingual models) applies to every sentence.
        var languageCode = ""
        var body = text.startIndex..<text.endIndex
        if text.hasPrefix(">>"), let end = text.range(of: "<<") {
            languageCode = String(text[..<end.upperBound]) + " "
            body = end.upperBound..<text.endIndex
        }
        let limit = model.maxSourceLength
        let ranges = splitter.sentences(in: text[body]).flatMap { Self.separatingPictographs(text, $0) }.flatMap { sentence in
            // A copied piece needs no cutting, however long.
            Self.isTranslatable(text[sentence])
                ? splitter.pieces(of: text, in: sentence) { tokenizer.encode(languageCode + $0).ids.count <= limit }
                : [sentence]
        }
        func piece(_ range: Range<String.Index>) -> Segment.Piece {
            Self.isTranslatable(text[range])
                ? Segment.Piece(text: languageCode + text[range], translated: true)
                : Segment.Piece(text: String(text[range]), translated: false)
        }
        guard ranges.count > 1 else {
            if let range = ranges.first, !Self.isTranslatable(text[range]) { return Segment(pieces: [piece(range)], gaps: []) }
            return Segment(pieces: [Segment.Piece(text: text, translated: true)], gaps: [])
        }
        return Segment(pieces: ranges.map(piece), gaps: zip(ranges, ranges.dropFirst()).map { text[$0.upperBound..<$1.lowerBound] })
    }

    /// The translation of a piece that is copied: `numReturnSequences` times the piece itself, read from no source
    /// token, with the score of a certainty (0) where the search would give scores.
    private func copy(_ piece: String, options: TranslationOptions) -> Translation {
        let scored = options.decoding.numBeams > 1 || options.decoding.returnTokenScores
        let hypothesis = TranslatedHypothesis(
            text: piece, ids: [], pieces: [], score: scored ? 0 : nil, tokenScores: scored ? [] : nil,
            crossAttention: options.decoding.crossAttention == nil ? nil : [])
        return Translation(
            source: piece, text: piece, sourceTokens: [],
            hypotheses: Array(repeating: hypothesis, count: options.decoding.numReturnSequences))
    }

    /// One translation of a whole text from the translations of its pieces.
    ///
    /// The text is the pieces' texts joined by the source's whitespace. Ids, pieces, token scores and source tokens
    /// are the pieces' concatenated (each translated piece keeps its `</s>`, so source tokens and ids stay aligned;
    /// copied pieces have neither), and cross-attention is block-diagonal over the concatenated source. Each
    /// hypothesis joins one hypothesis of every piece (see `bestCombinations`); its score is that of one sequence:
    /// `Σ log p / (Σ lengths)^lengthPenalty`.
    private func join(source: String, segment: Segment, translations: [Translation], options: TranslationOptions) -> Translation {
        guard translations.count > 1 else {
            var translation = translations[0]
            translation.source = source  // a copied piece is the text without its surrounding whitespace
            return translation
        }
        let eos = MarianTokenizer.eosToken
        let encoded = translations.filter { !$0.sourceIds.isEmpty }
        let sourceTokens = encoded.dropLast().flatMap { $0.sourceTokens + [eos] } + (encoded.last?.sourceTokens ?? [])
        let sourceIds = translations.flatMap(\.sourceIds)
        let lengthPenalty = options.decoding.lengthPenalty
        // A copied piece offers one text, however many times it is repeated.
        let choices = zip(segment.pieces, translations).map { piece, translation in
            piece.translated ? translation.hypotheses.count : min(1, translation.hypotheses.count)
        }
        var combinations = Self.bestCombinations(
            count: options.decoding.numReturnSequences, choices: choices,
            score: { piece, n in Double(translations[piece].hypotheses[n].score ?? 0) })
        // Only a text of copied pieces has fewer combinations than asked for: repeat it, as a copied piece is.
        while combinations.count < options.decoding.numReturnSequences, let last = combinations.last { combinations.append(last) }
        let hypotheses = combinations.map { choice -> TranslatedHypothesis in
            let parts = zip(translations, choice).map { $0.hypotheses[$1] }
            var text = parts[0].text
            for (gap, part) in zip(segment.gaps, parts.dropFirst()) {
                text += SentenceSplitter.separator(gap, after: text) + part.text
            }
            var score: Float?
            if parts.allSatisfy({ $0.score != nil }) {
                let logProbability = parts.reduce(0.0) { $0 + Double($1.score!) * pow(Double($1.ids.count), lengthPenalty) }
                let length = parts.reduce(0) { $0 + $1.ids.count }
                score = length == 0 ? 0 : Float(logProbability / pow(Double(length), lengthPenalty))  // 0: copies only
            }
            var crossAttention: [[Float]]?
            if parts.allSatisfy({ $0.crossAttention != nil }) {
                var column = 0
                crossAttention = []
                for (part, translation) in zip(parts, translations) {
                    let before = [Float](repeating: 0, count: column)
                    let after = [Float](repeating: 0, count: sourceIds.count - column - translation.sourceIds.count)
                    crossAttention! += part.crossAttention!.map { before + $0 + after }
                    column += translation.sourceIds.count
                }
            }
            return TranslatedHypothesis(
                text: text, ids: parts.flatMap(\.ids), pieces: parts.flatMap(\.pieces), score: score,
                tokenScores: parts.allSatisfy { $0.tokenScores != nil } ? parts.flatMap { $0.tokenScores! } : nil,
                crossAttention: crossAttention)
        }
        var alignment: Alignment?
        if let request = options.decoding.crossAttention, !encoded.isEmpty, let best = hypotheses.first,
            let matrix = best.crossAttention
        {
            alignment = Alignment(
                sourcePieces: sourceTokens + [eos], targetPieces: best.pieces, matrix: matrix, request: request,
                method: options.alignmentMethod ?? .default, languageTokens: languageTokens)
        }
        return Translation(
            source: source, text: hypotheses.first?.text ?? "", sourceTokens: sourceTokens, sourceIds: sourceIds,
            hypotheses: hypotheses, truncatedSourceTokens: translations.reduce(0) { $0 + $1.truncatedSourceTokens },
            reachedMaxLength: translations.contains(where: \.reachedMaxLength), alignment: alignment)
    }

    /// The `count` best ways (fewer if there are fewer) to choose one of `choices[p]` candidates for each piece `p`,
    /// as the candidate index of each piece, best first: ranked by the sum of the chosen candidates' `score(p, n)`.
    /// Each piece's candidates must be best first, as a search returns them; the first way is then every piece's
    /// best.
    ///
    /// This is what an n-best list of a text translated sentence by sentence is: the sentences are translated
    /// independently, so the text's translations are the combinations of theirs, and the best ones change the
    /// fewest sentences to their next-best translations. (Gluing the n-th best of every sentence together, which
    /// this replaces, changed every sentence at once and was ranked by nothing.)
    ///
    /// Lazy best-first enumeration (Huang & Chiang 2005, "Better k-best parsing", algorithm 2): a combination is found
    /// from the one it differs from in its last raised piece, raising only that piece or later ones, so each is
    /// found once and never before a better one; the frontier keeps only as many as may still be taken.
    static func bestCombinations(count: Int, choices: [Int], score: (Int, Int) -> Double) -> [[Int]] {
        guard count > 0, !choices.isEmpty, choices.allSatisfy({ $0 > 0 }) else { return [] }
        struct Candidate {
            var score: Double
            /// The index in `found` of the combination it raises one piece of (nil: the best combination).
            var parent: Int?
            var piece: Int
        }
        var found: [[Int]] = []
        var frontier = [Candidate(score: choices.indices.reduce(0) { $0 + score($1, 0) }, parent: nil, piece: 0)]  // best first
        while found.count < count, !frontier.isEmpty {
            let next = frontier.removeFirst()
            var choice = next.parent.map { found[$0] } ?? Array(repeating: 0, count: choices.count)
            if next.parent != nil { choice[next.piece] += 1 }
            found.append(choice)
            let room = count - found.count
            for piece in next.piece..<choices.count where choice[piece] + 1 < choices[piece] {
                let raised = next.score - score(piece, choice[piece]) + score(piece, choice[piece] + 1)
                let position = frontier.firstIndex { $0.score < raised } ?? frontier.count  // after equal ones
                guard position < room else { continue }
                frontier.insert(Candidate(score: raised, parent: found.count - 1, piece: piece), at: position)
                if frontier.count > room { frontier.removeLast() }
            }
        }
        return found
    }
}
