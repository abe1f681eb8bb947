import Foundation

/// The tokenizer of a model that translates between many languages, as transformers 5.23 encodes and decodes:
/// `M2M100Tokenizer` (M2M100: pieces of `sentencepiece.bpe.model` mapped through `vocab.json`, `__en__` language
/// tokens after its ids), `NllbTokenizer` (NLLB-200: fairseq's ids, SentencePiece id + 1 after `<s>` 0, `<pad>` 1,
/// `</s>` 2, `<unk>` 3, and `eng_Latn` language tokens with the ids `tokenizer.json` gives them) and
/// `MBart50Tokenizer` (mBART-50: the same ids, `en_XX` language tokens).
///
/// A source is `[source language] pieces </s>` (NLLB's non-legacy layout, M2M100's, mBART-50's), a target
/// `[target language] pieces </s>`; the model is made to start its output with the target language's token
/// (`forced_bos_token_id`). Special tokens written in the text (`</s>`, `<unk>`, a language token, ...) are split
/// out first, as transformers does. Decoding drops special tokens and joins the pieces.
public struct MultilingualTokenizer: Tokenizer {
    public let sentencePiece: SentencePiece
    /// The language tokens (`Tokenizer.languages`).
    public let languageTable: LanguageCodes
    /// The source language when a call names none (`src_lang` in tokenizer_config.json, else transformers'
    /// default: `en`, `eng_Latn`).
    public let defaultSourceLanguage: String
    /// piece → id of the ordinary pieces.
    private let pieceIds: [String: Int]
    /// id → piece of the ordinary pieces.
    private let pieceTable: [Int: String]
    /// Texts split out before SentencePiece, with their ids: `<s>`, `<pad>`, `</s>`, `<unk>`, and (NLLB) the
    /// language tokens and `<mask>`.
    private let specialTokens: [String: Int]
    private let specialIds: Set<Int>
    /// id → text of the special tokens, language tokens included.
    private let pieceNames: [Int: String]
    public let eosId: Int
    public let unkId: Int

    static let fairseqSpecials = ["<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3]

    /// Loads the tokenizer files of an M2M100, NLLB or mBART-50 model folder: `sentencepiece.bpe.model`, and
    /// `vocab.json` (M2M100) or `tokenizer.json` (NLLB, mBART-50: its added tokens), checked against the model's
    /// vocabulary size.
    public init(directory: URL, style: LanguageCodes.Style, vocabularySize: Int) throws(ModelError) {
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }
        sentencePiece = try SentencePiece(
            path: file("sentencepiece.bpe.model"),
            hint: "M2M100, NLLB and mBART-50 models need sentencepiece.bpe.model (their SentencePiece model).")
        let tokenizerConfig = ModelFile.exists(file("tokenizer_config.json")) ? try JSONFile(path: file("tokenizer_config.json")) : nil
        var pieceIds: [String: Int]
        var specialTokens = Self.fairseqSpecials
        let codes: [String]
        var tokenIds: [String: Int] = [:]
        switch style {
        case .m2m100:
            pieceIds = try MarianTokenizer.readVocabulary(file("vocab.json"), limit: vocabularySize)
            let listName = try tokenizerConfig?.string("language_codes") ?? "m2m100"
            guard let list = LanguageCodes.m2m100Codes[listName] else {
                throw .tokenizer(path: file("tokenizer_config.json"), reason: "unknown language_codes '\(listName)' (m2m100, wmt21)")
            }
            codes = list
            for (offset, code) in codes.enumerated() { tokenIds[code] = pieceIds.count + offset }
            for special in Self.fairseqSpecials.keys { pieceIds.removeValue(forKey: special) }
        case .nllb, .mbart50:
            // fairseq's dictionary: the four specials, then SentencePiece's pieces after its own <unk> <s> </s>.
            let pieces = sentencePiece.pieces
            pieceIds = [:]
            for id in 3..<max(pieces.count, 3) { pieceIds[pieces[id]] = id + 1 }
            let added = try Self.addedTokens(directory)
            let pattern = style == .nllb ? #/^[a-z]{3}_[A-Z][a-z]{3}$/# : #/^[a-z]{2}_[A-Z]{2}$/#
            let languageTokens = added.filter { $0.content.wholeMatch(of: pattern) != nil }.sorted { $0.id < $1.id }
            guard !languageTokens.isEmpty else {
                throw .tokenizer(path: file("tokenizer.json"), reason: "no language tokens among the added tokens")
            }
            codes = languageTokens.map(\.content)
            for token in languageTokens { tokenIds[token.content] = token.id }
            for token in added where tokenIds[token.content] == nil && Self.fairseqSpecials[token.content] == nil {
                specialTokens[token.content] = token.id  // <mask>
            }
        }
        let languages = LanguageCodes(style: style, codes: codes, tokenIds: tokenIds)
        languageTable = languages
        // transformers 5.23's M2M100Tokenizer does not register its language tokens as special tokens, so a `__de__`
        // written in the text is not split out (and its decode writes them out: xlate drops them, see `decode`).
        let splitOut = specialTokens
        for (code, id) in tokenIds { specialTokens[languages.token(for: code)] = id }
        if let (token, id) = specialTokens.first(where: { $0.value < 0 || $0.value >= vocabularySize }) {
            throw .tokenizer(path: file("tokenizer_config.json"), reason: "token '\(token)' has id \(id), outside the model's vocabulary of \(vocabularySize)")
        }
        self.pieceIds = pieceIds
        pieceTable = Dictionary(pieceIds.map { ($0.value, $0.key) }, uniquingKeysWith: min)
        self.specialTokens = style == .m2m100 ? splitOut : specialTokens
        specialIds = Set(specialTokens.values)
        pieceNames = Dictionary(specialTokens.map { ($1, $0) }, uniquingKeysWith: min)
        (eosId, unkId) = (Self.fairseqSpecials["</s>"]!, Self.fairseqSpecials["<unk>"]!)
        let fallback = style == .m2m100 ? "en" : style == .nllb ? "eng_Latn" : "en_XX"
        let configured = try tokenizerConfig?.string("src_lang")
        defaultSourceLanguage = configured.flatMap(languages.code(for:)) ?? fallback
    }

    /// The added tokens of `tokenizer.json` (`added_tokens`: id, content), else of tokenizer_config.json
    /// (`added_tokens_decoder`: id → content).
    private static func addedTokens(_ directory: URL) throws(ModelError) -> [(id: Int, content: String)] {
        let tokenizerJSON = directory.appendingPathComponent("tokenizer.json").path
        if ModelFile.exists(tokenizerJSON) {
            let data = try ModelFile.read(tokenizerJSON, limit: ModelFile.Limit.vocabulary, hint: "")
            guard let added = JSONValue.parse(data)?.objectValue?["added_tokens"]?.arrayValue else {
                throw .tokenizer(path: tokenizerJSON, reason: "no \"added_tokens\" list")
            }
            var tokens: [(id: Int, content: String)] = []
            for token in added {
                guard let id = token.objectValue?["id"]?.intValue, let content = token.objectValue?["content"]?.stringValue else {
                    throw .tokenizer(path: tokenizerJSON, reason: "an added token without an integer \"id\" and a \"content\"")
                }
                tokens.append((id, content))
            }
            return tokens
        }
        let config = directory.appendingPathComponent("tokenizer_config.json")
        guard ModelFile.exists(config.path),
              let decoder = try JSONFile(path: config.path).object["added_tokens_decoder"]?.objectValue
        else {
            throw .missingFile(path: tokenizerJSON, hint: "It lists the language tokens (or tokenizer_config.json's added_tokens_decoder).")
        }
        var tokens: [(id: Int, content: String)] = []
        for (key, value) in decoder {
            guard let id = Int(key), let content = value.objectValue?["content"]?.stringValue else {
                throw .tokenizer(path: config.path, reason: "added_tokens_decoder entry '\(key)' is not id → {content}")
            }
            tokens.append((id, content))
        }
        return tokens
    }

    public var languages: LanguageCodes? { languageTable }

    /// `text` in the default source language.
    public func encode(_ text: String) -> TokenizedText { encode(text, language: nil) }

    /// `[language] pieces </s>`; `language` is one of the model's codes (`LanguageCodes.code(for:)`), nil or an
    /// unknown code the default source language.
    public func encode(_ text: String, language: String?) -> TokenizedText {
        let code = language.flatMap { languageTable.tokenIds[$0] == nil ? nil : $0 } ?? defaultSourceLanguage
        var pieces = [languageTable.token(for: code)]
        var ids = [languageTable.tokenIds[code]!]
        func encodeChunk(_ chunk: Substring) {
            for piece in sentencePiece.encode(String(chunk)) {
                pieces.append(piece)
                ids.append(pieceIds[piece] ?? unkId)
            }
            // NLLB's and mBART-50's tokenizers pipeline (spaces collapsed, then `Metaspace`) keeps a chunk's trailing space as a
            // `▁` piece, where SentencePiece (M2M100's slow tokenizer) drops it.
            if languageTable.style != .m2m100, chunk.last?.isWhitespace == true, let space = pieceIds["\u{2581}"] {
                pieces.append("\u{2581}")
                ids.append(space)
            }
        }
        splitAtSpecialTokens(text, specialAt: specialToken(in:at:), chunk: encodeChunk) { token, id in
            pieces.append(token)
            ids.append(id)
        }
        ids.append(eosId)
        return TokenizedText(pieces: pieces, ids: ids)
    }

    /// The special token that starts at `index` of `text`, if any (the longest).
    private func specialToken(in text: Substring, at index: Substring.Index) -> (token: String, id: Int)? {
        let first = text[index]
        guard first == "<" || first == "_" || first.isLetter else { return nil }
        var best: (token: String, id: Int)?
        for (token, id) in specialTokens where text[index...].hasPrefix(token) {
            if best == nil || token.count > best!.token.count { best = (token, id) }
        }
        return best
    }

    /// A target in `language`: `[language] pieces </s>`, as transformers' `text_target` with `tgt_lang`.
    public func encodeTarget(_ text: String, language: String?) -> TokenizedText { encode(text, language: language) }

    public func targetPieces(_ ids: [Int]) -> [String] {
        ids.map { pieceTable[$0] ?? pieceNames[$0] ?? "<unk>" }
    }

    /// Special tokens are dropped (language tokens included: transformers 5.23's M2M100 decode writes them out, as
    /// it does not know them as special); ids past the tokenizer are dropped (NLLB) or read `<unk>` (M2M100).
    public func decode(_ ids: [Int]) -> String {
        switch languageTable.style {
        case .m2m100:
            // `M2M100Tokenizer.convert_tokens_to_string`: an id past vocab.json (the `madeupword`s) reads `<unk>`,
            // which is written out as text between runs of pieces that SentencePiece decodes one by one.
            var text = ""
            var run: [String] = []
            for id in ids where !specialIds.contains(id) {
                if let piece = pieceTable[id] {
                    run.append(piece)
                } else {
                    text += sentencePiece.decode(run) + "<unk>"
                    run = []
                }
            }
            text += sentencePiece.decode(run)
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        case .nllb, .mbart50:
            let pieces = ids.compactMap { specialIds.contains($0) ? nil : pieceTable[$0] }
            // tokenizers' Metaspace decoder: ▁ → space, the first leading space dropped.
            let text = pieces.joined().replacingOccurrences(of: "\u{2581}", with: " ")
            return text.hasPrefix(" ") ? String(text.dropFirst()) : text
        }
    }
}
