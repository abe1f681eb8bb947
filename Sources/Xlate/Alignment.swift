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
/// no word; they keep their place in the piece-level matrix. For given texts (``Translator/align(source:target:options:)``)
/// the words are the texts' whitespace-separated tokens instead.
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

        /// The same link seen from the other side (source and target swapped): a reverse model's link in the
        /// forward direction's indices.
        public var swapped: Link { Link(source: target, target: source) }
    }

    /// The decoder layer and heads (nil: all heads, averaged) the attention was taken from.
    public let request: CrossAttentionRequest
    /// How the word matrix and the links are read from the piece matrix (which step's attention, which words a
    /// link may go to).
    public let method: AlignmentMethod
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
    /// pieces (each row is the share of attention a target word gave to each source word), each target piece's
    /// attention taken from the step `method` says. A word with no pieces has zeros.
    public let wordMatrix: [[Float]]

    /// Pieces that belong to no word.
    public static let specialPieces: Set<String> = [MarianTokenizer.eosToken, MarianTokenizer.padToken, "<s>"]

    /// Builds the word-level view of a piece-level attention matrix `[targetPieces][sourcePieces]`. Pieces in
    /// `languageTokens` (a multilingual model's, such as the forced `deu_Latn` its output starts with) belong to no
    /// word, as `specialPieces` do.
    ///
    /// - Parameters:
    ///   - method: how words and links are read from the matrix (default: ``AlignmentMethod/default``).
    ///   - sourceWords, targetWords: the words, when not the pieces merged at `▁` (``words(_:special:)``): for given
    ///     texts, their whitespace-separated tokens (``words(text:pieces:)``). Each word's piece range must lie in its
    ///     pieces.
    public init(
        sourcePieces: [String], targetPieces: [String], matrix: [[Float]], request: CrossAttentionRequest,
        method: AlignmentMethod = .default, sourceWords: [Word]? = nil, targetWords: [Word]? = nil,
        languageTokens: Set<String> = []
    ) {
        precondition(matrix.count == targetPieces.count, "one attention row per target piece")
        precondition(matrix.allSatisfy { $0.count == sourcePieces.count }, "one attention column per source piece")
        self.request = request
        self.method = method
        self.sourcePieces = sourcePieces
        self.targetPieces = targetPieces
        pieceMatrix = matrix
        let sourceWords = sourceWords ?? Self.words(sourcePieces, special: languageTokens)
        let targetWords = targetWords ?? Self.words(targetPieces, special: languageTokens)
        precondition(sourceWords.allSatisfy { $0.pieces.upperBound <= sourcePieces.count }, "source words within the pieces")
        precondition(targetWords.allSatisfy { $0.pieces.upperBound <= targetPieces.count }, "target words within the pieces")
        self.sourceWords = sourceWords
        self.targetWords = targetWords
        // Shift-att: the row of the step that reads piece t as its input, the step after the one that emitted it;
        // the last piece (no step reads it) keeps its own.
        let rows = method.shifted ? matrix.indices.map { matrix[min($0 + 1, matrix.count - 1)] } : matrix
        wordMatrix = targetWords.map { target in
            sourceWords.map { source in
                guard !target.pieces.isEmpty else { return 0 }
                var sum: Float = 0
                for t in target.pieces { for s in source.pieces { sum += rows[t][s] } }
                return sum / Float(target.pieces.count)
            }
        }
    }

    /// This alignment's attention read with `method` instead.
    public func reading(_ method: AlignmentMethod) -> Alignment {
        Alignment(
            sourcePieces: sourcePieces, targetPieces: targetPieces, matrix: pieceMatrix, request: request,
            method: method, sourceWords: sourceWords, targetWords: targetWords)
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

    /// The whitespace-separated tokens of `text` as words over `pieces`, the pieces the tokenizer made of `text`
    /// (special pieces such as the closing `</s>` included). Pieces map to tokens by character offsets: each piece
    /// covers as many characters as it has (`▁` aside), compared after NFKC as SentencePiece normalises, and belongs
    /// to the token its first character comes from; a piece that is `▁` alone belongs to the token after it. So
    /// `"Katze."` as one token gets both pieces `▁Katze` and `.`, and a pre-tokenised `"Katze ."` two words.
    ///
    /// Where a piece's text is not at the offset reached (the tokenizer dropped a character, or normalised it beyond
    /// NFKC), the mapping goes on from the next place the piece's text occurs. A token the tokenizer dropped
    /// entirely (a zero-width character alone) gets an empty piece range.
    public static func words(text: String, pieces: [String]) -> [Word] {
        let tokens = text.split(whereSeparator: \.isWhitespace).map(String.init)
        var owner: [Int] = []  // the token of each normalised character (Unicode scalar)
        var characters: [Unicode.Scalar] = []
        for (index, token) in tokens.enumerated() {
            for scalar in token.precomposedStringWithCompatibilityMapping.unicodeScalars {
                characters.append(scalar)
                owner.append(index)
            }
        }
        var first = [Int?](repeating: nil, count: tokens.count)  // each token's first and last piece
        var last = [Int?](repeating: nil, count: tokens.count)
        var position = 0
        for (index, piece) in pieces.enumerated() {
            let body = Array(piece.unicodeScalars.filter { $0 != "\u{2581}" })
            // `</s>` closing the pieces is no text; written in the text it is, and then it is read as such.
            if specialPieces.contains(piece), !characters[min(position, characters.count)...].starts(with: body) { continue }
            guard position < characters.count else { break }
            // A character the tokenizer dropped or changed beyond NFKC: go on from where the piece's text is next.
            if !body.isEmpty, !characters[position...].starts(with: body),
                let found = (position..<characters.count).first(where: { characters[$0...].starts(with: body) })
            {
                position = found
            }
            let token = owner[position]
            first[token] = first[token] ?? index
            last[token] = index
            position += body.count
        }
        var words: [Word] = []
        var next = 0  // where an empty range goes: after the pieces of the tokens before
        for (index, token) in tokens.enumerated() {
            if let start = first[index], let end = last[index] {
                words.append(Word(text: token, pieces: start..<(end + 1)))
                next = end + 1
            } else {
                words.append(Word(text: token, pieces: next..<next))
            }
        }
        return words
    }

    /// For each target word, the source word it attended to most (Marian's `--alignment hard`), in target order.
    /// With ``AlignmentMethod/skipsPunctuation``, a target word that is not punctuation links to the strongest
    /// source word that is not (when there is one). Words with no pieces (a given text's token that the tokenizer
    /// dropped) take no part.
    public var hardLinks: [Link] {
        let sources = sourceWords.indices.filter { !sourceWords[$0].pieces.isEmpty }
        guard !sources.isEmpty else { return [] }
        let wordSources = method.skipsPunctuation ? sources.filter { !Self.isPunctuation(sourceWords[$0].text) } : sources
        return wordMatrix.indices.compactMap { target -> Link? in
            guard !targetWords[target].pieces.isEmpty else { return nil }
            let row = wordMatrix[target]
            let candidates = wordSources.isEmpty || Self.isPunctuation(targetWords[target].text) ? sources : wordSources
            var best = candidates[0]
            for s in candidates where row[s] > row[best] { best = s }
            return Link(source: best, target: target)
        }
    }

    /// Whether a word is punctuation or symbols only (`.`, `,`, `"`, `–`, `...`).
    static func isPunctuation(_ word: String) -> Bool {
        !word.isEmpty && word.allSatisfy { $0.isPunctuation || $0.isSymbol }
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
            request: alignment.request, method: alignment.method)
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

    /// The cross-attention and reading method to align given pairs with (``align(source:target:options:)``) when the
    /// caller does not choose: the model folder's `generation_config.json` `xlate_pair_alignment`
    /// (`PairAlignmentSetting`), else ``defaultAlignmentRequest`` read with ``AlignmentMethod/default``.
    ///
    /// A given pair is a different regime from the model's own translation: the model reads a target it would not
    /// have written, and the heads that follow its own output best need not follow a human's. So the two settings are
    /// measured apart: `alignment_heads` on the model's own translations (`BundledAlignmentTests`), this one on the
    /// hand-aligned human pairs of `Fixtures/alignment-gold` (chosen on its dev half by `xlate align-eval --write`).
    /// The bundled de-en model aligns given pairs with layer 1's average, punctuation skipped (test-half AER 25.3 %
    /// where its `alignment_heads` give 26.8 %); en-de's learned setting is its `alignment_heads` again.
    public var defaultPairAlignment: (request: CrossAttentionRequest, method: AlignmentMethod) {
        get throws(ModelError) {
            guard let setting = try PairAlignmentSetting.read(modelDirectory: directory) else {
                return (try defaultAlignmentRequest, .default)
            }
            let layers = model.decoderLayerCount, heads = model.decoderHeadCount
            guard (0..<layers).contains(setting.layer), setting.heads?.allSatisfy({ (0..<heads).contains($0) }) ?? true else {
                throw .invalidConfig(
                    path: setting.path ?? directory.appendingPathComponent("generation_config.json").path,
                    reason: "\"\(PairAlignmentSetting.key)\" must name a layer in 0...\(layers - 1) and heads in 0...\(heads - 1), got layer \(setting.layer), heads \(setting.heads.map { "\($0)" } ?? "all")")
            }
            let request = CrossAttentionRequest(layer: setting.layer, heads: setting.heads.map { Array(Set($0)).sorted() })
            return (request, AlignmentMethod(shifted: setting.shifted, skipsPunctuation: setting.skipsPunctuation))
        }
    }
}
