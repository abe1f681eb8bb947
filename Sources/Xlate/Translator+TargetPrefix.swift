extension Translator {
    /// The ids of `text` as the beginning of a translation (target tokenizer, no `</s>`), for
    /// `DecodingOptions.targetPrefix`.
    ///
    /// The prefix is tokenized on its own, so end it at a word boundary: `"Die Katze"` forces the pieces
    /// `▁Die ▁Katze`, after which the model may still continue the word (`Katze` + `n`).
    /// For a multilingual model the ids begin with the token of `language` (a code of `languages`), as the model's
    /// output does.
    public func targetPrefixIds(_ text: String, language: String? = nil) -> [Int] {
        Array(tokenizer.encodeTarget(text, language: language).ids.dropLast())
    }

    /// Translates `text` into a translation that starts with `prefix` (for interactive or post-edited translation):
    /// the search forces the prefix's tokens, then continues as usual, greedy or beam.
    ///
    /// ```swift
    /// let translation = try translator.translate("I saw the cat yesterday.", startingWith: "Gestern")
    /// print(translation.text)   // Gestern habe ich die Katze gesehen.
    /// ```
    ///
    /// The text is translated as one segment (`splitSentences` does not apply: the prefix belongs to the start of the
    /// whole translation). The prefix's tokens are part of every hypothesis, and their log-probabilities count in its
    /// score. An empty prefix translates without constraint.
    public func translate(_ text: String, startingWith prefix: String, options: TranslationOptions? = nil) throws -> Translation {
        var options = try prepared(options ?? defaultOptions)
        options.splitSentences = false
        options.decoding.targetPrefix = targetPrefixIds(prefix, language: options.targetLanguageCode)
        return try translate(text, options: options)
    }
}
