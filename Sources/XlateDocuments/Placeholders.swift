/// What a model should not touch, and the placeholders it sees instead.
///
/// Protected: URLs (`https://…`, `www.…`), e-mail addresses, numbers with their separators (`1,199.50`,
/// `2024-05-01`, `10:30`), and format strings (`{name}`, `{{name}}`, `${name}`, `%s`, `%1$d`, `%(name)s`); the
/// document handlers add `<code>` and Markdown code spans. Each becomes a placeholder token that the bundled models
/// copy through translation (``token(_:)``); the token is found in the translation and the original put back,
/// byte-identical. A token the model dropped is put back after the target word that attended most to it.
public enum Placeholders {
    /// The placeholder for the `index`th protected span of a segment.
    ///
    /// `ZQX` + a letter: a capitalised nonsense word with no digit (the models change digits), that SentencePiece
    /// splits into few pieces and that the bundled models copy unchanged (measured in `PlaceholderTests`).
    public static func token(_ index: Int) -> String {
        let letters = Array("ABCDEFGHIJKLMNOPRSTUVWY")
        var suffix = ""
        var n = index
        repeat {
            suffix.append(letters[n % letters.count])
            n /= letters.count
        } while n > 0
        return "ZQX" + suffix
    }

    nonisolated(unsafe) private static let url = #/(?:[A-Za-z][A-Za-z0-9+.\-]*://|www\.)[^\s<>"'`]+/#
    nonisolated(unsafe) private static let email = #/[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+/#
    nonisolated(unsafe) private static let format = #/\{\{[^{}\s]*\}\}|\$\{[^{}\s]*\}|\{[A-Za-z0-9_.:\[\]]*\}|%\d+\$[-+#0]*\d*(?:\.\d+)?[A-Za-z@]|%\([A-Za-z0-9_]+\)[-+#0]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]|%[-+#0]*\d*(?:\.\d+)?(?:ll|l|h|z)?[diouxXeEfFgGcsp@]/#
    nonisolated(unsafe) private static let number = #/\d+(?:[.,:/\-'\u{2019}]\d+)*/#

    /// The ranges of `text` to protect, in order, not overlapping.
    public static func protectedRanges(in text: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        func add(_ range: Range<String.Index>) {
            guard !range.isEmpty, !ranges.contains(where: { $0.overlaps(range) }) else { return }
            ranges.append(range)
        }
        for match in text.matches(of: url) { add(trimmedURL(match.range, in: text)) }
        for match in text.matches(of: email) { add(match.range) }
        for match in text.matches(of: format) where !(text[match.range] == "%" + "%") { add(match.range) }
        for match in text.matches(of: number) {
            // Part of a word ("MP3", "H2O", "3rd"): the model keeps such words whole.
            let before = match.range.lowerBound == text.startIndex ? nil : text[text.index(before: match.range.lowerBound)]
            let after = match.range.upperBound == text.endIndex ? nil : text[match.range.upperBound]
            if before?.isLetter == true || after?.isLetter == true { continue }
            add(match.range)
        }
        return ranges.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// A URL without the punctuation that ends the sentence around it (a `)` stays when the URL opened one).
    private static func trimmedURL(_ range: Range<String.Index>, in text: String) -> Range<String.Index> {
        var end = range.upperBound
        while end > range.lowerBound {
            let last = text[text.index(before: end)]
            let opened = text[range.lowerBound..<end].filter { $0 == "(" }.count
            let closed = text[range.lowerBound..<end].filter { $0 == ")" }.count
            if ".,;:!?'\"]}".contains(last) || (last == ")" && closed > opened) {
                end = text.index(before: end)
            } else {
                break
            }
        }
        return range.lowerBound..<end
    }
}
