import Foundation

/// The tokenizer of BART models, as transformers 5.23's `BartTokenizer` (`RobertaTokenizer`: tokenizers' byte-level
/// BPE) encodes and decodes: GPT-2's byte-level BPE from `vocab.json` + `merges.txt`.
///
/// Encoding splits out the special tokens written in the text (`<s>`, `</s>`, `<unk>`, `<pad>`, `<mask>`), cuts the rest
/// into GPT-2's pre-tokens (contractions, letters, numbers, other symbols, each with a leading space; runs of
/// spaces), maps each pre-token's UTF-8 bytes to printable characters (`Ġ` for a space), merges them by
/// `merges.txt`'s ranks, and puts the ids between `<s>` and `</s>`. Decoding drops special ids and maps the
/// characters back to bytes.
public struct ByteLevelBPETokenizer: Tokenizer {
    /// piece → id (`vocab.json`).
    private let vocabulary: [String: Int]
    /// id → piece.
    private let pieceTable: [Int: String]
    /// "left right" → merge rank (`merges.txt`, in order).
    private let ranks: [String: Int]
    /// Special tokens split out of the text, with their ids.
    private let specialTokens: [String: Int]
    private let specialIds: Set<Int>
    public let bosId: Int
    public let eosId: Int
    public let unkId: Int

    /// GPT-2's byte → printable character table (`bytes_to_unicode`).
    static let byteCharacters: [Character] = {
        var bytes = Array(33...126) + Array(161...172) + Array(174...255)
        var characters = bytes
        var next = 0
        for byte in 0..<256 where !bytes.contains(byte) {
            bytes.append(byte)
            characters.append(256 + next)
            next += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (byte, scalar) in zip(bytes, characters) { table[byte] = Character(Unicode.Scalar(UInt32(scalar))!) }
        return table
    }()
    static let characterBytes: [Character: UInt8] = Dictionary(
        uniqueKeysWithValues: byteCharacters.enumerated().map { ($1, UInt8($0)) })

    /// GPT-2's pre-tokenizer (`pre_tokenizers.ByteLevel(use_regex=True)`).
    nonisolated(unsafe) static let preTokens = #/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/#

    /// Loads `vocab.json` and `merges.txt` from a model folder, checked against the model's vocabulary size.
    public init(directory: URL, vocabularySize: Int) throws(ModelError) {
        let mergesPath = directory.appendingPathComponent("merges.txt").path
        let vocabulary = try MarianTokenizer.readVocabulary(directory.appendingPathComponent("vocab.json").path, limit: vocabularySize)
        self.vocabulary = vocabulary
        let text = String(decoding: try ModelFile.read(
            mergesPath, limit: ModelFile.Limit.vocabulary, hint: "BART models need merges.txt (the byte-level BPE merges)."), as: UTF8.self)
        var ranks: [String: Int] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#version") {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw .tokenizer(path: mergesPath, reason: "line '\(line)' is not two pieces") }
            if ranks[String(line)] == nil { ranks[String(line)] = ranks.count }
        }
        self.ranks = ranks
        pieceTable = Dictionary(vocabulary.map { ($1, $0) }, uniquingKeysWith: min)
        func id(_ token: String) throws(ModelError) -> Int {
            guard let id = vocabulary[token] else {
                throw .tokenizer(path: directory.appendingPathComponent("vocab.json").path, reason: "no '\(token)' entry")
            }
            return id
        }
        let (bos, eos, unk) = (try id("<s>"), try id("</s>"), try id("<unk>"))
        (bosId, eosId, unkId) = (bos, eos, unk)
        var specials = ["<s>": bos, "</s>": eos, "<unk>": unk]
        for token in ["<pad>", "<mask>"] { specials[token] = vocabulary[token] }
        specialTokens = specials
        specialIds = Set(specials.values)
    }

    /// `<s>`.
    public var sourcePrefixLength: Int { 1 }

    /// The special token that starts at `index` of `text`, if any (the longest; BART's all start with `<`).
    private func specialToken(in text: Substring, at index: Substring.Index) -> (token: String, id: Int)? {
        guard text[index] == "<" else { return nil }
        var best: (token: String, id: Int)?
        for (token, id) in specialTokens where text[index...].hasPrefix(token) {
            if best == nil || token.count > best!.token.count { best = (token, id) }
        }
        return best
    }

    public func encode(_ text: String) -> TokenizedText {
        var pieces = ["<s>"]
        var ids = [bosId]
        func encodeChunk(_ chunk: Substring) {
            for match in chunk.matches(of: Self.preTokens) {
                let mapped = String(String(match.output).utf8.map { Self.byteCharacters[Int($0)] })
                for piece in merge(mapped) {
                    pieces.append(piece)
                    ids.append(vocabulary[piece] ?? unkId)
                }
            }
        }
        splitAtSpecialTokens(text, specialAt: specialToken(in:at:), chunk: encodeChunk) { token, id in
            pieces.append(token)
            ids.append(id)
        }
        ids.append(eosId)
        return TokenizedText(pieces: pieces, ids: ids)
    }

    /// BPE over one pre-token: merges the adjacent pair of lowest rank, everywhere, until none is in `merges.txt`.
    private func merge(_ word: String) -> [String] {
        var symbols = word.map(String.init)
        while symbols.count > 1 {
            var best: (rank: Int, pair: (String, String))?
            for i in 0..<(symbols.count - 1) {
                if let rank = ranks[symbols[i] + " " + symbols[i + 1]], best == nil || rank < best!.rank {
                    best = (rank, (symbols[i], symbols[i + 1]))
                }
            }
            guard let (_, (left, right)) = best else { break }
            var merged: [String] = []
            var i = 0
            while i < symbols.count {
                if i < symbols.count - 1, symbols[i] == left, symbols[i + 1] == right {
                    merged.append(left + right)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        return symbols
    }

    public func targetPieces(_ ids: [Int]) -> [String] {
        ids.map { pieceTable[$0] ?? "<unk>" }
    }

    /// Special ids and ids past the vocabulary are dropped; the pieces' bytes are decoded as UTF-8 (invalid
    /// sequences as U+FFFD, transformers' `errors="replace"`).
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids where !specialIds.contains(id) {
            guard let piece = pieceTable[id] else { continue }
            for character in piece { if let byte = Self.characterBytes[character] { bytes.append(byte) } }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
