import Foundation

/// The tokenizer of Marian / OPUS-MT models, as transformers' `MarianTokenizer`.
///
/// Ids come from `vocab.json`, not from SentencePiece: text → pieces with `source.spm` → ids through the
/// vocabulary (unknown pieces → `<unk>`) → `</s>` appended. Decoding maps ids back through the target vocabulary
/// (`target_vocab.json` when `separate_vocabs`) and joins the pieces with `target.spm`.
public struct MarianTokenizer: Tokenizer {
    public let source: SentencePiece
    public let target: SentencePiece
    /// piece → id for the encoder (`vocab.json`).
    public let sourceVocabulary: [String: Int]
    /// id → piece for the decoder (`vocab.json`, or `target_vocab.json` when the vocabularies are separate).
    public let targetPieceTable: [Int: String]
    /// piece → id for the decoder (`vocab.json`, or `target_vocab.json` when the vocabularies are separate).
    public let targetVocabulary: [String: Int]
    public let eosId: Int
    public let unkId: Int
    public let padId: Int
    /// Texts that are split out before SentencePiece and mapped to their ids directly (added special tokens).
    private let specialTokens: [(text: String, id: Int)]

    public static let eosToken = "</s>"
    public static let unkToken = "<unk>"
    public static let padToken = "<pad>"

    /// Loads `source.spm`, `target.spm`, `vocab.json` (and `target_vocab.json` if `separate_vocabs` is set in
    /// `tokenizer_config.json`) from a model folder and checks them against the model's vocabulary sizes.
    public init(directory: URL, config: MarianConfig) throws(ModelError) {
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }
        source = try SentencePiece(path: file("source.spm"))
        target = try SentencePiece(path: file("target.spm"))
        let vocabulary = try Self.readVocabulary(file("vocab.json"), limit: config.vocabSize)
        sourceVocabulary = vocabulary
        var separate = false
        if ModelFile.exists(file("tokenizer_config.json")) {
            separate = try JSONFile(path: file("tokenizer_config.json")).bool("separate_vocabs") ?? false
        }
        let targetVocabulary: [String: Int]
        if separate || !config.shareEncoderDecoderEmbeddings {
            guard ModelFile.exists(file("target_vocab.json")) else {
                throw .missingFile(path: file("target_vocab.json"), hint: "This model has separate source and target vocabularies.")
            }
            targetVocabulary = try Self.readVocabulary(file("target_vocab.json"), limit: config.decoderVocabSize)
        } else {
            targetVocabulary = vocabulary
        }
        self.targetVocabulary = targetVocabulary
        targetPieceTable = Dictionary(targetVocabulary.map { ($0.value, $0.key) }, uniquingKeysWith: min)
        func id(_ token: String, in table: [String: Int], _ path: String) throws(ModelError) -> Int {
            guard let id = table[token] else { throw .tokenizer(path: path, reason: "the vocabulary has no '\(token)' entry") }
            return id
        }
        unkId = try id(Self.unkToken, in: vocabulary, file("vocab.json"))
        eosId = vocabulary[Self.eosToken] ?? config.eosTokenIds[0]
        padId = vocabulary[Self.padToken] ?? config.padTokenId
        specialTokens = [(Self.eosToken, eosId), (Self.unkToken, unkId), (Self.padToken, padId)]
    }

    static func readVocabulary(_ path: String, limit: Int) throws(ModelError) -> [String: Int] {
        let data = try ModelFile.read(path, limit: ModelFile.Limit.vocabulary, hint: "Marian models need vocab.json (piece → id).")
        // Fast path: a flat object of integers. The general parser only runs to explain what is wrong.
        if let vocabulary = VocabularyJSON.parse(data) ?? (try? JSONDecoder().decode([String: Int].self, from: data)) {
            if let (piece, id) = vocabulary.first(where: { $0.value < 0 || $0.value >= limit }) {
                throw .tokenizer(path: path, reason: "piece '\(piece)' has id \(id), outside the model's vocabulary of \(limit)")
            }
            return vocabulary
        }
        if let (piece, _) = JSONValue.parse(data)?.objectValue?.first(where: { $0.value.intValue == nil }) {
            throw .tokenizer(path: path, reason: "the id of '\(piece)' is not an integer")
        }
        throw .tokenizer(path: path, reason: "not a JSON object of piece → id")
    }

    public func encode(_ text: String) -> TokenizedText {
        encode(text, with: source, vocabulary: sourceVocabulary)
    }

    /// `target.spm` pieces mapped through the target vocabulary, as `MarianTokenizer` in target mode.
    public func encodeTarget(_ text: String) -> TokenizedText {
        encode(text, with: target, vocabulary: targetVocabulary)
    }

    private func encode(_ text: String, with sentencePiece: SentencePiece, vocabulary: [String: Int]) -> TokenizedText {
        var pieces: [String] = []
        var ids: [Int] = []
        var rest = Substring(text)
        let unknown = vocabulary[Self.unkToken] ?? unkId
        // A leading language code such as `>>de<<` is one token (multilingual OPUS-MT models).
        if rest.hasPrefix(">>"), let end = rest.range(of: "<<") {
            let code = String(rest[..<end.upperBound])
            pieces.append(code)
            ids.append(vocabulary[code] ?? unknown)
            rest = rest[end.upperBound...]
        }
        // As transformers does, special tokens written in the text are split out and kept as tokens.
        while !rest.isEmpty {
            var next: (range: Range<Substring.Index>, id: Int, text: String)?
            for special in specialTokens {
                if let range = rest.range(of: special.text), next == nil || range.lowerBound < next!.range.lowerBound {
                    next = (range, special.id, special.text)
                }
            }
            let chunk = next.map { rest[..<$0.range.lowerBound] } ?? rest
            for piece in sentencePiece.encode(String(chunk)) {
                pieces.append(piece)
                ids.append(vocabulary[piece] ?? unknown)
            }
            guard let next else { break }
            pieces.append(next.text)
            ids.append(vocabulary[next.text] ?? next.id)
            rest = rest[next.range.upperBound...]
        }
        ids.append(vocabulary[Self.eosToken] ?? eosId)
        return TokenizedText(pieces: pieces, ids: ids)
    }

    public func targetPieces(_ ids: [Int]) -> [String] {
        ids.map { targetPieceTable[$0] ?? Self.unkToken }
    }

    public func decode(_ ids: [Int]) -> String {
        let special: Set<Int> = [eosId, unkId, padId]
        let pieces = targetPieces(ids.filter { !special.contains($0) })
        let text = target.decode(pieces).replacingOccurrences(of: "\u{2581}", with: " ")
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
