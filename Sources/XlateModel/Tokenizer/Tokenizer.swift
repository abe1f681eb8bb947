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

    /// The languages of a multilingual model (M2M100, NLLB-200, mBART-50); nil for a model of one language pair.
    var languages: LanguageCodes? { get }
    /// Special tokens `encode` puts before the text's own (a language token; BART's `<s>`), which are not words of
    /// the source.
    var sourcePrefixLength: Int { get }
    /// `text` as a source in `language` (one of `languages`' codes; nil: the tokenizer's default).
    func encode(_ text: String, language: String?) -> TokenizedText
    /// `text` as a target in `language` (one of `languages`' codes; nil: the tokenizer's default).
    func encodeTarget(_ text: String, language: String?) -> TokenizedText
}

extension Tokenizer {
    /// Tokenizers with one vocabulary for both sides encode targets as sources.
    public func encodeTarget(_ text: String) -> TokenizedText { encode(text) }

    /// A model of one language pair has no language tokens.
    public var languages: LanguageCodes? { nil }
    /// A multilingual model's source starts with its language token.
    public var sourcePrefixLength: Int { languages == nil ? 0 : 1 }
    public func encode(_ text: String, language: String?) -> TokenizedText { encode(text) }
    public func encodeTarget(_ text: String, language: String?) -> TokenizedText { encodeTarget(text) }
}

/// The result of tokenizing one text.
public struct TokenizedText: Sendable, Equatable {
    /// SentencePiece pieces, one per id before the closing `</s>`.
    public var pieces: [String]
    /// Encoder input ids including the closing `</s>`.
    public var ids: [Int]
}

/// Walks `text` as transformers treats added tokens written in it: each special token that `specialAt` finds at an
/// index is split out whole and handed to `special`; the stretches between them (possibly empty) go to `chunk`,
/// which the model's own tokenizer encodes.
func splitAtSpecialTokens(
    _ text: String, specialAt: (Substring, Substring.Index) -> (token: String, id: Int)?,
    chunk: (Substring) -> Void, special: (_ token: String, _ id: Int) -> Void
) {
    let text = Substring(text)
    var chunkStart = text.startIndex
    var index = text.startIndex
    while index < text.endIndex {
        if let found = specialAt(text, index) {
            chunk(text[chunkStart..<index])
            special(found.token, found.id)
            index = text.index(index, offsetBy: found.token.count)
            chunkStart = index
        } else {
            index = text.index(after: index)
        }
    }
    chunk(text[chunkStart...])
}
