import Foundation

extension Translator {
    /// The task prefix a T5 model was trained with for translating `source` → `target` (language codes):
    /// `task_specific_params["translation_SRC_to_TGT"].prefix` from config.json, else "translate English to German: "
    /// built from the languages' English names. Nil for other architectures, which need no prefix, and for unknown
    /// language codes.
    ///
    /// ```swift
    /// var options = translator.defaultOptions
    /// options.prefix = translator.translationPrefix(source: "en", target: "de")  // "translate English to German: "
    /// ```
    public func translationPrefix(source: String, target: String) -> String? {
        (model as? T5Model)?.config.translationPrefix(source: source, target: target)
    }
}
