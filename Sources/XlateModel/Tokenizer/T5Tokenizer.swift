import Foundation

/// The tokenizer of T5 / Flan-T5 / mT5 models, as transformers 5.23's `T5Tokenizer` (tokenizers-backed; what
/// `AutoTokenizer` returns) encodes and decodes.
///
/// Ids are SentencePiece ids of `spiece.model` (`<pad>` 0, `</s>` 1, `<unk>` 2), followed by the sentinels:
/// `<extra_id_N>` is id `pieces + extraIds - 1 - N`. Encoding splits out `</s>`, `<unk>`, `<pad>` and the sentinels
/// written in the text, encodes the text between them with SentencePiece, and appends `</s>`. Decoding drops special
/// ids (and ids past the tokenizer, as the model's vocabulary is padded), joins the pieces, turns `▁` into spaces and
/// drops the first leading space (tokenizers' `Metaspace` decoder).
public struct T5Tokenizer: Tokenizer {
    public let sentencePiece: SentencePiece
    /// id → piece: the SentencePiece pieces, then the sentinels.
    public let pieceTable: [String]
    /// piece → id of the SentencePiece pieces.
    private let pieceIds: [String: Int]
    /// Number of SentencePiece pieces (the first sentinel's id).
    public let sentencePieceCount: Int
    /// Strings split out before SentencePiece: the special tokens and sentinels, with their ids.
    private let specialTokens: [String: Int]
    public let eosId: Int
    public let unkId: Int
    public let padId: Int
    /// `<extra_id_N>` for N < extraIds (transformers' default 100).
    public let extraIds: Int

    public static let eosToken = "</s>"
    public static let unkToken = "<unk>"
    public static let padToken = "<pad>"

    /// Loads `spiece.model` from a model folder (`extra_ids` from `tokenizer_config.json` when it says, else 100)
    /// and checks it against the model's vocabulary.
    public init(directory: URL, config: T5Config) throws(ModelError) {
        let path = directory.appendingPathComponent("spiece.model").path
        sentencePiece = try SentencePiece(path: path, hint: "T5 models need spiece.model (their SentencePiece model).")
        var extraIds = 100
        let tokenizerConfig = directory.appendingPathComponent("tokenizer_config.json").path
        if ModelFile.exists(tokenizerConfig) {
            extraIds = try JSONFile(path: tokenizerConfig).int("extra_ids") ?? extraIds
        }
        let pieces = sentencePiece.pieces
        func require(_ token: String, at id: Int) throws(ModelError) {
            guard pieces.indices.contains(id), pieces[id] == token else {
                throw .tokenizer(path: path, reason: "expected '\(token)' at id \(id) (the T5 layout: <pad> 0, </s> 1, <unk> 2)")
            }
        }
        (padId, eosId, unkId) = (0, 1, 2)
        try require(Self.padToken, at: padId)
        try require(Self.eosToken, at: eosId)
        try require(Self.unkToken, at: unkId)
        guard extraIds >= 0, pieces.count + extraIds <= config.vocabSize else {
            throw .tokenizer(
                path: path,
                reason: "\(pieces.count) pieces and \(extraIds) sentinels do not fit the model's vocabulary of \(config.vocabSize)")
        }
        guard config.eosTokenIds.contains(eosId), config.padTokenId == padId else {
            throw .tokenizer(path: path, reason: "config.json's eos/pad ids \(config.eosTokenIds)/\(config.padTokenId) are not the tokenizer's 1/0")
        }
        self.extraIds = extraIds
        sentencePieceCount = pieces.count
        let sentinels = (0..<extraIds).reversed().map { "<extra_id_\($0)>" }
        pieceTable = pieces + sentinels
        pieceIds = Dictionary(pieces.enumerated().map { ($1, $0) }, uniquingKeysWith: min)
        var specialTokens = [Self.padToken: padId, Self.eosToken: eosId, Self.unkToken: unkId]
        for (offset, sentinel) in sentinels.enumerated() { specialTokens[sentinel] = pieces.count + offset }
        self.specialTokens = specialTokens
    }

    /// The special token (or sentinel) that starts at `index` of `text`, if any.
    private func specialToken(in text: Substring, at index: Substring.Index) -> (token: String, id: Int)? {
        guard text[index] == "<", let close = text[index...].firstIndex(of: ">") else { return nil }
        let candidate = String(text[index...close])
        return specialTokens[candidate].map { (candidate, $0) }
    }

    public func encode(_ text: String) -> TokenizedText {
        var pieces: [String] = []
        var ids: [Int] = []
        func encodeChunk(_ chunk: Substring) {
            for piece in sentencePiece.encode(String(chunk)) {
                pieces.append(piece)
                ids.append(pieceIds[piece] ?? unkId)
            }
        }
        splitAtSpecialTokens(text, specialAt: specialToken(in:at:), chunk: encodeChunk) { token, id in
            pieces.append(token)
            ids.append(id)
        }
        ids.append(eosId)
        return TokenizedText(pieces: pieces, ids: ids)
    }

    public func targetPieces(_ ids: [Int]) -> [String] {
        ids.map { pieceTable.indices.contains($0) ? pieceTable[$0] : Self.unkToken }
    }

    public func decode(_ ids: [Int]) -> String {
        let special: Set<Int> = [padId, eosId, unkId]
        let kept = ids.filter { $0 >= 0 && $0 < sentencePieceCount && !special.contains($0) }
        let text = kept.map { pieceTable[$0] }.joined().replacingOccurrences(of: "\u{2581}", with: " ")
        return text.hasPrefix(" ") ? String(text.dropFirst()) : text
    }
}
