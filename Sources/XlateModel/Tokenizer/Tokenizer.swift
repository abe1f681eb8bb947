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
