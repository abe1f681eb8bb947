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
    ) throws(TranslationStopped) -> [Translation] {
        let splitter = SentenceSplitter(language: options.sourceLanguage ?? sourceLanguage)
        let segmented = texts.map { segment($0, splitter: splitter) }
        let translations: [Translation?]
        var stopped = false
        do {
            translations = try translateSegments(
                segmented.flatMap(\.pieces), options: options, progress: progress, shouldStop: shouldStop)
        } catch {
            translations = error.translations
            stopped = true
        }
        var results: [Translation?] = []
        var next = 0
        for (text, segment) in zip(texts, segmented) {
            let pieces = translations[next..<(next + segment.pieces.count)].compactMap { $0 }
            next += segment.pieces.count
            results.append(
                pieces.count == segment.pieces.count
                    ? join(source: text, segment: segment, translations: pieces, options: options) : nil)
        }
        if stopped { throw TranslationStopped(translations: results) }
        return results.map { $0! }
    }

    /// A text cut into the pieces that are translated, with the source whitespace between consecutive pieces.
    private struct Segment {
        var pieces: [String]
        var gaps: [Substring]
    }

    /// The pieces of `text`: its sentences, each cut further where it has more tokens than the model reads. Text that
    /// is one piece is passed on whole (surrounding whitespace included), exactly as without splitting.
    private func segment(_ text: String, splitter: SentenceSplitter) -> Segment {
        // A leading `>>lang<<` (multilingual models) applies to every sentence.
        var languageCode = ""
        var body = text.startIndex..<text.endIndex
        if text.hasPrefix(">>"), let end = text.range(of: "<<") {
            languageCode = String(text[..<end.upperBound]) + " "
            body = end.upperBound..<text.endIndex
        }
        let limit = model.maxSourceLength
        let ranges = splitter.sentences(in: text[body]).flatMap { sentence in
            splitter.pieces(of: text, in: sentence) { tokenizer.encode(languageCode + $0).ids.count <= limit }
        }
        guard ranges.count > 1 else { return Segment(pieces: [text], gaps: []) }
        return Segment(
            pieces: ranges.map { languageCode + text[$0] },
            gaps: zip(ranges, ranges.dropFirst()).map { text[$0.upperBound..<$1.lowerBound] })
    }

    /// One translation of a whole text from the translations of its pieces.
    ///
    /// The text is the pieces' texts joined by the source's whitespace. Ids, pieces, token scores and source tokens
    /// are the pieces' concatenated (each piece keeps its `</s>`, so source tokens and ids stay aligned), and
    /// cross-attention is block-diagonal over the concatenated source. The n-th hypothesis joins the n-th hypothesis
    /// of every piece; its score is that of one sequence: `Σ log p / (Σ lengths)^lengthPenalty`.
    private func join(source: String, segment: Segment, translations: [Translation], options: TranslationOptions) -> Translation {
        guard translations.count > 1 else { return translations[0] }
        let eos = MarianTokenizer.eosToken
        let sourceTokens = translations.dropLast().flatMap { $0.sourceTokens + [eos] } + translations.last!.sourceTokens
        let sourceIds = translations.flatMap(\.sourceIds)
        let lengthPenalty = options.decoding.lengthPenalty
        let count = translations.map(\.hypotheses.count).min() ?? 0
        let hypotheses = (0..<count).map { n -> TranslatedHypothesis in
            let parts = translations.map { $0.hypotheses[n] }
            var text = parts[0].text
            for (gap, part) in zip(segment.gaps, parts.dropFirst()) {
                text += SentenceSplitter.separator(gap, after: text) + part.text
            }
            var score: Float?
            if parts.allSatisfy({ $0.score != nil }) {
                let logProbability = parts.reduce(0.0) { $0 + Double($1.score!) * pow(Double($1.ids.count), lengthPenalty) }
                score = Float(logProbability / pow(Double(parts.reduce(0) { $0 + $1.ids.count }), lengthPenalty))
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
        if let request = options.decoding.crossAttention, let best = hypotheses.first, let matrix = best.crossAttention {
            alignment = Alignment(sourcePieces: sourceTokens + [eos], targetPieces: best.pieces, matrix: matrix, request: request)
        }
        return Translation(
            source: source, text: hypotheses.first?.text ?? "", sourceTokens: sourceTokens, sourceIds: sourceIds,
            hypotheses: hypotheses, truncatedSourceTokens: translations.reduce(0) { $0 + $1.truncatedSourceTokens },
            reachedMaxLength: translations.contains(where: \.reachedMaxLength), alignment: alignment)
    }
}
