import CSentencePiece
import Foundation

/// Text ↔ token ids for one model.
public protocol Tokenizer: Sendable {
    /// Pieces and ids of `text` as the model's encoder reads them, with the closing `</s>`.
    func encode(_ text: String) -> TokenizedText
    /// Pieces and ids of `text` as a decoder output, with the closing `</s>` (transformers'
    /// `tokenizer(text_target=...)`): for scoring a given translation and for target prefixes.
    func encodeTarget(_ text: String) -> TokenizedText
    /// Detokenized text of generated ids; special tokens (`</s>`, `<pad>`, `<unk>`) are dropped.
    func decode(_ ids: [Int]) -> String
    /// The target-side piece of each id (for display and alignment).
    func targetPieces(_ ids: [Int]) -> [String]
}

extension Tokenizer {
    /// Tokenizers with one vocabulary for both sides encode targets as sources.
    public func encodeTarget(_ text: String) -> TokenizedText { encode(text) }
}

/// The result of tokenizing one text.
public struct TokenizedText: Sendable, Equatable {
    /// SentencePiece pieces, one per id before the closing `</s>`.
    public var pieces: [String]
    /// Encoder input ids including the closing `</s>`.
    public var ids: [Int]
}

/// A loaded SentencePiece model (the C++ library behind the `CSentencePiece` shim).
public final class SentencePiece: @unchecked Sendable {
    // SentencePieceProcessor's encode/decode are const and safe to call from several threads.
    private let processor: OpaquePointer
    public let path: String

    /// Loads the SentencePiece model file at `path` (read through `ModelFile`: a regular file of at most
    /// `ModelFile.Limit.sentencePiece` bytes); `hint` completes the message when it does not exist.
    public init(
        path: String, hint: String = "Marian models need source.spm and target.spm (SentencePiece models)."
    ) throws(ModelError) {
        self.path = path
        // Read here rather than by the library, which would open a FIFO, device or folder as readily as a file.
        let data = try ModelFile.read(path, limit: ModelFile.Limit.sentencePiece, hint: hint)
        var error = [CChar](repeating: 0, count: 512)
        var loaded: OpaquePointer?
        let status = data.withUnsafeBytes { bytes in
            spm_load_serialized(bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count, &loaded, &error, error.count)
        }
        if status == Int32(SPM_OUT_OF_MEMORY) {
            throw .unreadableFile(path: path, reason: "out of memory while loading it; raise the process's memory limit")
        }
        guard status == Int32(SPM_LOADED), let processor = loaded else {
            throw .tokenizer(path: path, reason: "not a valid SentencePiece model (\(message(error)))")
        }
        self.processor = processor
    }

    deinit { spm_free(processor) }

    /// The pieces of `text`; NUL bytes and all other characters are passed through as UTF-8.
    public func encode(_ text: String) -> [String] {
        var utf8 = Array(text.utf8)
        var output: UnsafeMutablePointer<CChar>?
        var length = 0
        var count: Int32 = 0
        var error = [CChar](repeating: 0, count: 512)
        let status = utf8.withUnsafeMutableBufferPointer { bytes in
            bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(bytes.count, 1)) {
                spm_encode_pieces(processor, $0, bytes.count, &output, &length, &count, &error, error.count)
            }
        }
        // Encoding valid UTF-8 with a loaded model cannot fail; a failure here is a broken library.
        precondition(status == 0, "SentencePiece encode failed: \(message(error))")
        guard let output else { return [] }
        defer { spm_free_buffer(output) }
        // Each piece is its length, then its bytes: a piece may hold a NUL byte (text with NUL bytes).
        var pieces: [String] = []
        pieces.reserveCapacity(Int(count))
        var offset = 0
        for _ in 0..<Int(count) {
            let pieceLength = Int(UnsafeRawPointer(output + offset).loadUnaligned(as: UInt.self))
            offset += MemoryLayout<UInt>.size
            precondition(offset + pieceLength <= length, "SentencePiece shim wrote a malformed piece buffer")
            pieces.append(String(decoding: UnsafeRawBufferPointer(start: output + offset, count: pieceLength), as: UTF8.self))
            offset += pieceLength
        }
        return pieces
    }

    /// Every piece of the model, indexed by SentencePiece id.
    public var pieces: [String] {
        (0..<spm_piece_count(processor)).map { String(cString: spm_id_to_piece(processor, $0)) }
    }

    /// Joins pieces into text (SentencePiece's own detokenization).
    public func decode(_ pieces: [String]) -> String {
        guard !pieces.isEmpty else { return "" }
        var cStrings = pieces.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var output: UnsafeMutablePointer<CChar>?
        var error = [CChar](repeating: 0, count: 512)
        let status = cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                spm_decode_pieces(processor, $0, Int32(buffer.count), &output, &error, error.count)
            }
        }
        precondition(status == 0, "SentencePiece decode failed: \(message(error))")
        guard let output else { return "" }
        defer { spm_free_buffer(output) }
        return String(cString: output)
    }
}

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

    private static func readVocabulary(_ path: String, limit: Int) throws(ModelError) -> [String: Int] {
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

/// The NUL-terminated message the shim wrote into `buffer`.
private func message(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
