import Foundation

/// Which source words each target word attended to: the cross-attention that search returned for a translation,
/// at the level of SentencePiece pieces and of words.
///
/// ```swift
/// var options = translator.defaultOptions
/// options.decoding.crossAttention = try translator.defaultAlignmentRequest  // or CrossAttentionRequest(layer:heads:)
/// let translation = try translator.translate("The cat sat on the mat.", options: options)
/// let alignment = translation.alignment!           // Die Katze saß auf der Matte.
/// print(alignment.pharaoh(alignment.hardLinks))    // 0-0 1-1 2-2 3-3 4-4 5-5 (source-target word indices)
/// print(alignment.wordMatrix[1])                   // "Katze" over The, cat, sat, on, the, mat.
/// print(AlignmentRenderer.terminal(alignment))     // a heatmap; also .svg([...]) and .html([...])
/// ```
///
/// Words are runs of pieces: a piece that starts with `▁` starts a word. Special tokens (`</s>`, `<pad>`) belong to
/// no word; they keep their place in the piece-level matrix.
public struct Alignment: Sendable, Equatable {
    /// A word: its text (pieces joined, `▁` dropped) and the pieces it covers.
    public struct Word: Sendable, Equatable {
        /// The word as it reads.
        public var text: String
        /// Indices of its pieces in the piece list.
        public var pieces: Range<Int>

        /// A word made of `pieces`.
        public init(text: String, pieces: Range<Int>) {
            self.text = text
            self.pieces = pieces
        }
    }

    /// A link between source word `source` and target word `target` (0-based), printed `source-target`.
    public struct Link: Sendable, Hashable, CustomStringConvertible {
        /// The source word's index.
        public var source: Int
        /// The target word's index.
        public var target: Int

        /// A link from source word `source` to target word `target`.
        public init(source: Int, target: Int) {
            self.source = source
            self.target = target
        }

        /// `source-target`, as in the Pharaoh format.
        public var description: String { "\(source)-\(target)" }
    }

    /// The decoder layer and heads (nil: all heads, averaged) the attention was taken from.
    public let request: CrossAttentionRequest
    /// Source pieces as the encoder read them, including the closing `</s>`.
    public let sourcePieces: [String]
    /// Generated pieces, including the final `</s>` (absent when the length limit cut the output).
    public let targetPieces: [String]
    /// `[targetPieces.count][sourcePieces.count]`: attention over the source while predicting each target piece.
    public let pieceMatrix: [[Float]]
    /// The source's words, `</s>` excluded.
    public let sourceWords: [Word]
    /// The translation's words, `</s>` excluded.
    public let targetWords: [Word]
    /// `[targetWords.count][sourceWords.count]`: summed over a source word's pieces, averaged over a target word's
    /// pieces (each row is the share of attention a target word gave to each source word).
    public let wordMatrix: [[Float]]

    /// Pieces that belong to no word.
    public static let specialPieces: Set<String> = [MarianTokenizer.eosToken, MarianTokenizer.padToken, "<s>"]

    /// Builds the word-level view of a piece-level attention matrix `[targetPieces][sourcePieces]`. Pieces in
    /// `languageTokens` (a multilingual model's, such as the forced `deu_Latn` its output starts with) belong to no
    /// word, as `specialPieces` do.
    public init(
        sourcePieces: [String], targetPieces: [String], matrix: [[Float]], request: CrossAttentionRequest,
        languageTokens: Set<String> = []
    ) {
        precondition(matrix.count == targetPieces.count, "one attention row per target piece")
        precondition(matrix.allSatisfy { $0.count == sourcePieces.count }, "one attention column per source piece")
        self.request = request
        self.sourcePieces = sourcePieces
        self.targetPieces = targetPieces
        pieceMatrix = matrix
        let sourceWords = Self.words(sourcePieces, special: languageTokens)
        let targetWords = Self.words(targetPieces, special: languageTokens)
        self.sourceWords = sourceWords
        self.targetWords = targetWords
        wordMatrix = targetWords.map { target in
            sourceWords.map { source in
                var sum: Float = 0
                for t in target.pieces { for s in source.pieces { sum += matrix[t][s] } }
                return sum / Float(target.pieces.count)
            }
        }
    }

    /// Merges SentencePiece pieces into words: `▁` starts a word, special pieces (`specialPieces` and `special`) end
    /// one and belong to none.
    public static func words(_ pieces: [String], special: Set<String> = []) -> [Word] {
        var words: [Word] = []
        var open = false  // whether the last word may still grow
        for (index, piece) in pieces.enumerated() {
            if specialPieces.contains(piece) || special.contains(piece) {
                open = false
                continue
            }
            let text = piece.hasPrefix("\u{2581}") ? String(piece.dropFirst()) : piece
            if open, !piece.hasPrefix("\u{2581}") {
                words[words.count - 1].text += text
                words[words.count - 1].pieces = words[words.count - 1].pieces.lowerBound..<(index + 1)
            } else {
                words.append(Word(text: text, pieces: index..<(index + 1)))
                open = true
            }
        }
        return words
    }

    /// For each target word, the source word it attended to most (Marian's `--alignment hard`), in target order.
    public var hardLinks: [Link] {
        guard !sourceWords.isEmpty else { return [] }
        return wordMatrix.enumerated().map { target, row in
            var best = 0
            for s in row.indices where row[s] > row[best] { best = s }
            return Link(source: best, target: target)
        }
    }

    /// Every link whose word-level weight is at least `threshold` (Marian's `--alignment P`), in target order.
    public func links(threshold: Float) -> [Link] {
        wordMatrix.enumerated().flatMap { target, row in
            row.indices.filter { row[$0] >= threshold }.map { Link(source: $0, target: target) }
        }
    }

    /// Links in the Moses / Pharaoh format: `0-0 1-2 ...`.
    public func pharaoh(_ links: [Link]) -> String {
        links.map(\.description).joined(separator: " ")
    }

    /// The word matrix as Marian prints soft alignments: one space-separated group per target word, holding
    /// comma-separated weights over the source words.
    public var softText: String {
        wordMatrix.map { row in row.map { String(format: "%.4f", $0) }.joined(separator: ",") }.joined(separator: " ")
    }
}

extension Translation {
    /// The alignment of hypothesis `index` (0 is `alignment`); nil when cross-attention was not requested or there
    /// is no such hypothesis.
    public func alignment(ofHypothesis index: Int) -> Alignment? {
        guard let alignment, hypotheses.indices.contains(index), let matrix = hypotheses[index].crossAttention else {
            return nil
        }
        if index == 0 { return alignment }
        return Alignment(
            sourcePieces: alignment.sourcePieces, targetPieces: hypotheses[index].pieces, matrix: matrix,
            request: alignment.request)
    }
}

extension Translator {
    /// The cross-attention to align with when the caller does not choose one: the heads the model folder names
    /// in `generation_config.json` under `alignment_heads` (Whisper's key: `[[layer, head], ...]`; here all in one
    /// layer), else the average of all heads of the last decoder layer.
    ///
    /// Which heads align well differs from model to model, so it is a property of the model folder. The bundled
    /// models name theirs, measured on 20 sentences with hand-checked word pairs (`BundledAlignmentTests`): en-de
    /// layer 1 head 4 links 91 of 95 pairs where the last layer's average links 61 (the best layer average, layer
    /// 1, 68); de-en layer 2 heads 0 and 5 link 88 of 88, the last layer's average 61.
    public var defaultAlignmentRequest: CrossAttentionRequest {
        get throws(ModelError) {
            let generation = directory.appendingPathComponent("generation_config.json")
            let path = FileManager.default.fileExists(atPath: generation.path)
                ? generation.path : directory.appendingPathComponent("config.json").path
            guard let pairs = try GenerationDefaults(modelDirectory: directory).alignmentHeads, !pairs.isEmpty else {
                return CrossAttentionRequest(layer: model.decoderLayerCount - 1)
            }
            let layers = model.decoderLayerCount, heads = model.decoderHeadCount
            guard pairs.allSatisfy({ $0.count == 2 && (0..<layers).contains($0[0]) && (0..<heads).contains($0[1]) }) else {
                throw .invalidConfig(
                    path: path,
                    reason: "\"alignment_heads\" must be [layer, head] pairs with layer in 0...\(layers - 1) and head in 0...\(heads - 1), got \(pairs)")
            }
            guard Set(pairs.map { $0[0] }).count == 1 else {
                throw .invalidConfig(path: path, reason: "\"alignment_heads\" must all be in one decoder layer, got \(pairs)")
            }
            return CrossAttentionRequest(layer: pairs[0][0], heads: pairs.map { $0[1] }.sorted())
        }
    }
}
