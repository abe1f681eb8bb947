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

extension Translator {
    /// What to put before every input (``TranslationOptions/prefix``): `explicit` when given; else, for a T5 model
    /// told both languages, its ``translationPrefix(source:target:)``; else nothing. The one place that makes this
    /// choice for the command line and the server.
    ///
    /// - Throws: `DecodingError.outOfRange` (setting `prefix`) when a T5 model has no translation prefix for
    ///   `source` → `target` (an unknown language code): the prefix must then be given.
    public func inputPrefix(explicit: String?, source: String?, target: String?) throws(DecodingError) -> String? {
        if let explicit { return explicit }
        guard architecture == .t5, let source, let target else { return nil }
        guard let prefix = translationPrefix(source: source, target: target) else {
            throw .outOfRange(
                setting: "prefix", message: "no translation prefix for \(source) → \(target) (unknown language code); give the prefix")
        }
        return prefix
    }
}

extension AlignmentOutput {
    /// `hard`, `soft`, or a weight P with 0 < P <= 1 (`threshold`).
    ///
    /// - Throws: `DecodingError.outOfRange` (setting `alignment`) for anything else.
    public init(parsing value: String) throws(DecodingError) {
        switch value {
        case "hard": self = .hard
        case "soft": self = .soft
        default:
            guard let weight = Double(value) else {
                throw .outOfRange(setting: "alignment", message: "takes hard, soft or a weight P with 0 < P <= 1; got '\(value)'")
            }
            guard weight > 0, weight <= 1 else {
                throw .outOfRange(setting: "alignment", message: "P keeps links with weight >= P, so P must be in (0, 1]; got \(value)")
            }
            self = .threshold(weight)
        }
    }
}
