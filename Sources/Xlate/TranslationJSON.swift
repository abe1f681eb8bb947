import Foundation

/// Which word alignment goes with each translation in `xlate --align` output and in the server's native API.
public enum AlignmentOutput: Sendable, Equatable {
    /// For each target word, the source word it attended to most.
    case hard
    /// The word attention matrix (with the hard links).
    case soft
    /// Every link with word-level weight >= the value, in (0, 1].
    case threshold(Double)

    /// What follows ` ||| ` in text output: Pharaoh links, or for soft the word matrix as Marian prints it.
    public func text(_ alignment: Alignment?) -> String {
        guard let alignment else { return "" }
        switch self {
        case .hard: return alignment.pharaoh(alignment.hardLinks)
        case .soft: return alignment.softText
        case .threshold(let value): return alignment.pharaoh(alignment.links(threshold: Float(value)))
        }
    }

    /// The `alignment` object of JSON output (`heads` absent: all heads averaged).
    public func json(_ alignment: Alignment?) -> [String: Any] {
        guard let alignment else {
            return ["source_words": [String](), "target_words": [String](), "links": [[Int]](), "pharaoh": ""]
        }
        let links: [Alignment.Link]
        var object: [String: Any] = [
            "layer": alignment.request.layer,
            "source_words": alignment.sourceWords.map(\.text), "target_words": alignment.targetWords.map(\.text),
        ]
        if let heads = alignment.request.heads { object["heads"] = heads }
        switch self {
        case .hard:
            links = alignment.hardLinks
        case .soft:
            links = alignment.hardLinks
            object["matrix"] = alignment.wordMatrix.map { row in row.map { (Double($0) * 1e6).rounded() / 1e6 } }
        case .threshold(let value):
            links = alignment.links(threshold: Float(value))
            object["threshold"] = value
        }
        object["links"] = links.map { [$0.source, $0.target] }
        object["pharaoh"] = alignment.pharaoh(links)
        return object
    }
}

extension Translation {
    /// The hypotheses, or for a blank input `nbest` empty ones, so that every input gives `nbest` outputs.
    public func paddedHypotheses(_ nbest: Int) -> [TranslatedHypothesis] {
        hypotheses.isEmpty
            ? Array(repeating: TranslatedHypothesis(text: "", ids: [], pieces: [], score: nil, tokenScores: nil, crossAttention: nil), count: nbest)
            : hypotheses
    }

    /// The JSON object of `xlate --format json` and of the server's native API: `source`, `translation`,
    /// `tokens`, `score` (when scored), `token_scores` (with `scores`), `truncated_source_tokens` (when cut),
    /// `alignment` (with `alignment`), and `nbest` (every hypothesis, when `nbest` > 1). Non-finite scores are null.
    public func jsonObject(nbest: Int, scores: Bool, alignment: AlignmentOutput?) -> [String: Any] {
        let hypotheses = paddedHypotheses(nbest)
        var object: [String: Any] = [
            "source": source, "translation": hypotheses[0].text, "tokens": hypotheses[0].pieces,
        ]
        // JSON has no NaN or infinity: such a score (a forced token the model ruled out: −∞) is written as null.
        func number(_ x: Float) -> Any { x.isFinite ? Double(x) : NSNull() }
        if let s = hypotheses[0].score { object["score"] = number(s) }
        if scores, let tokenScores = hypotheses[0].tokenScores { object["token_scores"] = tokenScores.map(number) }
        if truncatedSourceTokens > 0 { object["truncated_source_tokens"] = truncatedSourceTokens }
        if let alignment { object["alignment"] = alignment.json(self.alignment) }
        if nbest > 1 {
            object["nbest"] = hypotheses.indices.map { n -> [String: Any] in
                let h = hypotheses[n]
                var entry: [String: Any] = ["translation": h.text, "tokens": h.pieces]
                if let s = h.score { entry["score"] = number(s) }
                if let alignment { entry["alignment"] = alignment.json(self.alignment(ofHypothesis: n)) }
                return entry
            }
        }
        return object
    }

    /// ``jsonObject(nbest:scores:alignment:)`` as one line of JSON (keys sorted, slashes unescaped), without the
    /// line break.
    public func jsonLine(nbest: Int, scores: Bool, alignment: AlignmentOutput?) -> String {
        JSONText.line(jsonObject(nbest: nbest, scores: scores, alignment: alignment))
    }
}

/// How xlate writes JSON: keys sorted, slashes unescaped, one line.
public enum JSONText {
    /// `object` (a dictionary or array of JSON values: dictionaries, arrays, strings, numbers, NSNull) as one line.
    public static func line(_ object: Any) -> String {
        do {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        } catch {
            preconditionFailure("JSON values only: \(error)")  // every caller builds its object of JSON values
        }
    }
}
