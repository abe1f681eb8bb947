import XlateModel

extension Translator {
    /// The languages of a multilingual model (M2M100, NLLB-200, mBART-50): its language codes and their ISO 639-1
    /// names; nil for a model of one language pair.
    ///
    /// ```swift
    /// var options = nllb.defaultOptions
    /// options.sourceLanguage = "en"           // eng_Latn
    /// options.targetLanguage = "de"           // deu_Latn, forced as the first output token
    /// let german = try nllb.translate("The cat sat on the mat.", options: options)
    /// ```
    public var languages: LanguageCodes? { tokenizer.languages }

    /// The language tokens as pieces (`deu_Latn`, `__de__`), which alignments leave out of the words.
    var languageTokens: Set<String> {
        guard let languages = tokenizer.languages else { return [] }
        return Set(languages.codes.map(languages.token(for:)))
    }

    /// `options` checked against the model, with a multilingual model's languages resolved: the source language's
    /// code (for the source's language token) and the target language's token forced first. Throws
    /// `DecodingError.invalidOption` for a language the model does not know, `.outOfRange` (`forced_bos_token_id`)
    /// when a multilingual model is given no target language.
    func prepared(_ options: TranslationOptions) throws(DecodingError) -> TranslationOptions {
        var options = options
        if let languages = tokenizer.languages {
            func code(_ language: String, _ role: String) throws(DecodingError) -> String {
                guard let code = languages.code(for: language) else {
                    throw .invalidOption(
                        "the model has no \(role) language '\(language)' (it knows \(languages.codes.count) languages, "
                            + "e.g. \(languages.codes.prefix(5).joined(separator: ", ")))")
                }
                return code
            }
            options.sourceLanguageCode = try options.sourceLanguage.map { language throws(DecodingError) in try code(language, "source") }
            if let target = options.targetLanguage {
                let targetCode = try code(target, "target")
                options.targetLanguageCode = targetCode
                options.decoding.forcedBOSTokenId = languages.tokenIds[targetCode]
            } else if options.decoding.forcedBOSTokenId == nil {
                // Named by the generation setting it decides, so that a caller can say which of its options sets it.
                throw .outOfRange(
                    setting: "forced_bos_token_id",
                    message: "the model translates into \(languages.codes.count) languages: choose the target language")
            }
        }
        try options.validate(for: model)
        return options
    }
}
