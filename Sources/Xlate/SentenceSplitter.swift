import Foundation

/// Rule-based sentence splitting, and cutting of over-long sentences at safe boundaries.
///
/// ```swift
/// let splitter = SentenceSplitter(language: "en")
/// let text = "Dr. Smith paid 3.50 dollars, e.g. for tea. He said: \"Thanks!\" Then he left..."
/// splitter.sentences(in: text).map { text[$0] }
/// // ["Dr. Smith paid 3.50 dollars, e.g. for tea.", "He said: \"Thanks!\"", "Then he left..."]
/// ```
///
/// A sentence ends after `.`, `!`, `?`, `…` (or a run of them, e.g. `?!`, `...`), optionally followed by closing
/// quotes or brackets, then whitespace, then a word that does not start with a lowercase letter (after any opening
/// quotes or brackets). CJK full stops (`。！？`) end a sentence without whitespace. A period does not end a sentence
/// after an abbreviation that precedes a word ("Dr.", "Mr.", "Prof.", "vgl."), after one that precedes a number when a
/// digit follows ("No. 5", "Nr. 3", "S. 12"), after an initial ("J. K. Rowling") or a dotted abbreviation ("e.g.",
/// "z.B.", "U.S."), nor after a number in languages that write ordinals with a period ("am 3. Oktober", German and
/// others). Abbreviations that often end a sentence ("etc.", "usw.", "Inc.") follow the general rule: a capital
/// after them starts a new sentence. No-break spaces never separate sentences.
public struct SentenceSplitter: Sendable {
    /// The language whose rules apply (ISO 639-1, e.g. "en", "de"); nil: the rules of all known languages.
    public let language: String?
    private let prefixes: Set<String>
    private let numericPrefixes: Set<String>
    private let ordinalPeriods: Bool

    /// A splitter with the abbreviation rules of `language` (nil, or a language without rules: all languages').
    public init(language: String? = nil) {
        let language = language?.lowercased()
        self.language = language
        let rules = language.flatMap { Self.abbreviations[$0] }.map { [$0] } ?? Array(Self.abbreviations.values)
        prefixes = Set(rules.flatMap(\.prefixes))
        numericPrefixes = Set(rules.flatMap(\.numeric))
        ordinalPeriods = language.map(Self.ordinalPeriodLanguages.contains) ?? false
    }

    /// The sentences of `text`, in order, without the whitespace around them. Text without sentence boundaries is
    /// one sentence; whitespace-only text has none.
    public func sentences(in text: String) -> [Range<String.Index>] { sentences(in: text[...]) }

    /// The sentences of part of a string, as ranges of the whole string.
    ///
    /// The text is walked by its own indices, with no copy of it: a line of megabytes needs no more memory than the
    /// list of its sentences.
    public func sentences(in text: Substring) -> [Range<String.Index>] {
        var sentences: [Range<String.Index>] = []
        var start = text.startIndex
        var i = text.startIndex
        func close(_ end: String.Index) {
            let sentence = text[start..<end].drop(while: \.isWhitespace)
            if let last = sentence.lastIndex(where: { !$0.isWhitespace }) {
                sentences.append(sentence.startIndex..<text.index(after: last))
            }
        }
        while i < text.endIndex {
            guard Self.isTerminal(text[i]) else {
                i = text.index(after: i)
                continue
            }
            var end = i  // past the run of terminal marks, then past closing quotes and brackets
            while end < text.endIndex, Self.isTerminal(text[end]) { end = text.index(after: end) }
            let marks = i..<end
            while end < text.endIndex, Self.closing.contains(text[end]) { end = text.index(after: end) }
            if text[marks].contains(where: Self.cjkTerminals.contains) {
                close(end)
                start = end
            } else if end < text.endIndex, Self.isBreakingSpace(text[end]) {
                var next = end
                while next < text.endIndex, text[next].isWhitespace { next = text.index(after: next) }
                if next < text.endIndex, endsSentence(text, marks: marks, next: next) {
                    close(end)
                    start = next
                }
            }
            i = end
        }
        close(text.endIndex)
        return sentences
    }

    /// Whether the terminal marks at `marks` end a sentence, given that the next word starts at `next`.
    private func endsSentence(_ text: Substring, marks: Range<String.Index>, next: String.Index) -> Bool {
        var first = next  // the first character of the next word, past opening quotes and brackets
        while first < text.endIndex, Self.opening.contains(text[first]) { first = text.index(after: first) }
        guard first < text.endIndex else { return true }
        let following = text[first]
        if following.isLowercase { return false }
        // Only a single period can belong to an abbreviation or a number; "?", "!", "..." end the sentence.
        guard text.index(after: marks.lowerBound) == marks.upperBound, text[marks.lowerBound] == "." else { return true }
        var wordStart = marks.lowerBound
        while wordStart > text.startIndex, !text[text.index(before: wordStart)].isWhitespace {
            wordStart = text.index(before: wordStart)
        }
        while wordStart < marks.lowerBound, Self.opening.contains(text[wordStart]) { wordStart = text.index(after: wordStart) }
        let word = String(text[wordStart..<marks.lowerBound])
        guard !word.isEmpty else { return true }
        if prefixes.contains(word) { return false }
        if following.isNumber, numericPrefixes.contains(word) { return false }
        // An initial ("J. K. Rowling") or a dotted abbreviation ("e.g.", "z.B.", "U.S.").
        let parts = word.split(separator: ".", omittingEmptySubsequences: false)
        if parts.allSatisfy({ $0.count == 1 && $0.first!.isLetter }), parts.count > 1 || word.first!.isUppercase { return false }
        if ordinalPeriods, word.count <= 2, word.allSatisfy(\.isNumber) { return false }
        return true
    }

    // MARK: Cutting over-long sentences

    /// Cuts `range` of `text` into consecutive pieces for which `fits` holds, each as long as possible: at the last
    /// word boundary that fits, or at an earlier one after a comma, semicolon, colon or dash when that keeps at
    /// least half of the piece; inside a word only when a single word does not fit. The pieces carry no surrounding
    /// whitespace; a piece of one character is kept even if it does not fit (nothing is dropped).
    ///
    /// `fits` is assumed monotone (a longer text never fits when a shorter one does not), as token counts are. It
    /// is only asked about texts up to about twice as long as the piece being cut, so the time is linear in the
    /// length of `range` (the pieces are a model's input, a few thousand characters at most) however long it is.
    public func pieces(of text: String, in range: Range<String.Index>, fits: (Substring) -> Bool) -> [Range<String.Index>] {
        var pieces: [Range<String.Index>] = []
        var start = range.lowerBound
        var window = Self.firstWindow
        while start < range.upperBound {
            let (end, read) = Self.pieceEnd(text, from: start, limit: range.upperBound, window: window, fits: fits)
            pieces.append(start..<end)
            // The next piece is likely about as long as this one: the window that held this cut likely holds the next.
            window = read
            start = end
            while start < range.upperBound, text[start].isWhitespace { start = text.index(after: start) }
        }
        return pieces
    }

    /// Characters read first when looking for the end of a piece; doubled until the window does not fit.
    private static let firstWindow = 256

    /// The end of the piece of `text` that starts at `start` (see `pieces`), and the length in characters of the
    /// window that held it. Windows of `window`, 2 × `window`, … characters are tried until one does not fit (or
    /// reaches `limit` and fits); the cut is then searched inside that window only.
    private static func pieceEnd(
        _ text: String, from start: String.Index, limit: String.Index, window: Int, fits: (Substring) -> Bool
    ) -> (end: String.Index, window: Int) {
        var length = window
        var windowEnd = start
        while true {
            windowEnd = text.index(start, offsetBy: length, limitedBy: limit) ?? limit
            if fits(text[start..<windowEnd]) {
                if windowEnd == limit { return (limit, length) }
                length *= 2
            } else {
                break
            }
        }
        // Ends of words inside the window: where whitespace follows a non-space character.
        var ends: [String.Index] = []
        var index = start
        while index < windowEnd {
            let next = text.index(after: index)
            if next < windowEnd, !text[index].isWhitespace, text[next].isWhitespace { ends.append(next) }
            index = next
        }
        if let last = lastFitting(ends, { fits(text[start..<$0]) }) {
            let minimum = text.distance(from: start, to: ends[last]) / 2
            if let clause = ends[...last].last(where: { clauseEnd.contains(text[text.index(before: $0)]) }),
                text.distance(from: start, to: clause) >= minimum
            {
                return (clause, length)
            }
            return (ends[last], length)
        }
        let characters = Array(text[start..<windowEnd].indices.dropFirst())
        return (lastFitting(characters, { fits(text[start..<$0]) }).map { characters[$0] } ?? text.index(after: start), length)
    }

    /// The last position of `candidates` (in increasing order) for which the monotone `fits` holds, by bisection.
    private static func lastFitting<T>(_ candidates: [T], _ fits: (T) -> Bool) -> Int? {
        var low = 0
        var high = candidates.count  // candidates[..<low] fit; candidates[high...] do not
        while low < high {
            let middle = (low + high) / 2
            if fits(candidates[middle]) { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : low - 1
    }

    // MARK: Rejoining

    /// The text between two translated pieces: the source's whitespace between them, or, where the source had
    /// none (CJK full stops, a cut inside a word), a space unless `previous` ends in a script written without spaces.
    public static func separator(_ sourceGap: Substring, after previous: String) -> String {
        if !sourceGap.isEmpty { return String(sourceGap) }
        guard let last = previous.unicodeScalars.last else { return "" }
        return isUnspacedScript(last) ? "" : " "
    }

    /// Han, kana, Thai, Lao, Khmer, Myanmar, and CJK punctuation / full-width forms.
    private static func isUnspacedScript(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF, 0x2E80...0x9FFF, 0xF900...0xFAFF, 0xFF00...0xFFEF,
            0x20000...0x3FFFF:
            true
        default: false
        }
    }

    // MARK: Characters and abbreviations

    private static let cjkTerminals: Set<Character> = ["。", "！", "？", "｡"]
    private static let terminals: Set<Character> = [".", "!", "?", "…", "‼", "⁇", "⁈", "⁉", "।", "॥", "؟", "۔"]
    /// Closing quotes include the German “ ‘ and « ‹ (they only count right after the terminal mark).
    private static let closing: Set<Character> = ["\"", "'", "”", "’", "“", "‘", "»", "›", "«", "‹", ")", "]", "}", "」", "』", "）"]
    private static let opening: Set<Character> = ["\"", "'", "“", "„", "‘", "‚", "«", "‹", "(", "[", "{", "¿", "¡", "「", "『", "（", "-", "–", "—"]
    private static let clauseEnd: Set<Character> = [",", ";", ":", "–", "—", ")", "]", "，", "；", "：", "、"]

    private static func isTerminal(_ character: Character) -> Bool {
        terminals.contains(character) || cjkTerminals.contains(character)
    }

    /// Whitespace that may separate sentences: not a no-break space (U+00A0, U+2007, U+202F), which typists use
    /// precisely to keep "Dr.\u{A0}Smith" together.
    private static func isBreakingSpace(_ character: Character) -> Bool {
        character.isWhitespace && !["\u{00A0}", "\u{2007}", "\u{202F}"].contains(character)
    }

    /// Abbreviations followed by a period that never end a sentence (`prefixes`), and those that do not when a
    /// number follows (`numeric`), as written (case matters: "Dr" but not "dr"); dotted ones ("e.g.", "z.B.") need
    /// no entry. Without a language all lists apply, so no entry may be a common word of another language.
    private static let abbreviations: [String: (prefixes: [String], numeric: [String])] = [
        "en": (
            ["Mr", "Mrs", "Ms", "Messrs", "Dr", "Prof", "Sr", "St", "Mt", "Gen", "Col", "Lt", "Sgt", "Capt", "Cmdr", "Rev",
             "Hon", "Gov", "Sen", "Rep", "Pres", "Supt", "vs", "cf", "approx", "viz", "ca"],
            ["No", "Nos", "Art", "pp", "p", "Vol", "Fig", "Figs", "Ch", "Sec", "Eq", "Tab", "ed"]
        ),
        "de": (
            ["Hr", "Hrn", "Fr", "Frl", "Dr", "Prof", "Dipl", "Ing", "St", "bzw", "vgl", "ca", "evtl", "ggf", "inkl", "exkl",
             "sog", "Mio", "Mrd", "Tsd", "Jh", "geb", "gest", "zzgl"],
            ["Nr", "Art", "Abs", "Abb", "Bd", "Kap", "S", "Jg", "Ziff", "Tab", "Tel"]
        ),
        "fr": (["M", "MM", "Mme", "Mmes", "Mlle", "Dr", "Pr", "St", "Ste", "cf", "env"], ["No", "p", "art", "vol", "chap"]),
        "es": (["Sr", "Sra", "Srta", "Sres", "Dr", "Dra", "Ud", "Uds", "Lic", "Ing", "Avda", "Dña"], ["No", "Núm", "p", "pág", "art"]),
        "it": (["Sig", "Sigg", "Dott", "Dr", "Prof", "Ing", "Avv", "Spett"], ["N", "n", "p", "pag", "art"]),
        "nl": (["Dhr", "Mevr", "Dr", "Prof", "Mr", "Ir", "Drs", "ca", "bijv", "vgl"], ["Nr", "No", "blz", "art"]),
    ]

    /// Languages that write ordinal numbers with a period ("am 3. Oktober").
    private static let ordinalPeriodLanguages: Set<String> = [
        "de", "da", "nb", "nn", "no", "fi", "is", "et", "lv", "lt", "cs", "sk", "sl", "hr", "sr", "bs", "pl", "hu", "tr",
    ]
}
