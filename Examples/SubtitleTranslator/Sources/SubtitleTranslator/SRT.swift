import Foundation

/// A SubRip (`.srt`) file: cues of an index line, a timing line and text lines, separated by blank lines.
///
/// Only the text is ever changed: index and timing lines are written back byte for byte, as is any block that is
/// not a cue (it has no `-->` line).
struct SubtitleFile {
    struct Block {
        /// Lines up to and including the timing line (normally the index and the timing), or the whole block when it
        /// is not a cue.
        var header: [String]
        /// The cue's text lines (empty for a block that is not a cue).
        var text: [String]
    }

    var blocks: [Block]
    /// `"\r\n"` when the file used Windows line ends, else `"\n"`.
    var lineEnd: String
    var byteOrderMark: Bool

    /// Parses UTF-8 `data` (with or without a byte order mark, which is kept).
    init(data: Data) throws {
        let bom = Data([0xEF, 0xBB, 0xBF])
        byteOrderMark = data.starts(with: bom)
        guard let contents = String(data: data.dropFirst(byteOrderMark ? bom.count : 0), encoding: .utf8) else {
            throw SubtitleError(message: "the file is not UTF-8 text")
        }
        lineEnd = contents.contains("\r\n") ? "\r\n" : "\n"
        // "\r\n" is one Character in Swift, and a newline.
        let lines = contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        blocks = []
        var current: [String] = []
        for line in lines + [""] {
            if line.allSatisfy(\.isWhitespace) {
                if !current.isEmpty { blocks.append(Self.block(current)) }
                current = []
            } else {
                current.append(line)
            }
        }
    }

    private static func block(_ lines: [String]) -> Block {
        guard let timing = lines.firstIndex(where: { $0.contains("-->") }) else { return Block(header: lines, text: []) }
        return Block(header: Array(lines[...timing]), text: Array(lines[(timing + 1)...]))
    }

    var contents: String {
        let body = blocks.map { ($0.header + $0.text).joined(separator: lineEnd) }.joined(separator: lineEnd + lineEnd)
        return (byteOrderMark ? "\u{FEFF}" : "") + body + lineEnd
    }
}

struct SubtitleError: Error, LocalizedError {
    var message: String
    var errorDescription: String? { message }
}

/// What is translated of a cue, and how the translations go back into lines.
///
/// A cue whose lines all start with a dash is a dialogue: each line is one speaker and is translated on its own.
/// Otherwise the lines are one text (a sentence broken for display), joined with spaces for translation and
/// re-wrapped afterwards. Italics around the whole line or cue (`<i>…</i>`) are taken off for translation and put
/// back.
struct CueText {
    struct Unit {
        var text: String
        var dash = false
        var italic = false
    }

    var units: [Unit]

    init(lines: [String]) {
        var lines = lines.map { $0.trimmingCharacters(in: .whitespaces) }
        let dialogue = lines.count > 1 && lines.allSatisfy { $0.hasPrefix("-") || $0.hasPrefix("<i>-") }
        if !dialogue, !lines.isEmpty { lines = [lines.joined(separator: " ")] }
        units = lines.map { line in
            var unit = Unit(text: line)
            if unit.text.hasPrefix("<i>"), unit.text.hasSuffix("</i>") {
                unit.italic = true
                unit.text = String(unit.text.dropFirst(3).dropLast(4))
            }
            if dialogue, unit.text.hasPrefix("-") {
                unit.dash = true
                unit.text = unit.text.dropFirst().trimmingCharacters(in: .whitespaces)
            }
            return unit
        }
    }

    /// The lines of the cue with each unit's text replaced by its translation, wrapped to `width` characters.
    func lines(translations: [String], width: Int) -> [String] {
        zip(units, translations).flatMap { unit, translation in
            let prefix = unit.dash ? "- " : ""
            var lines = wrap(prefix + translation, width: width)
            if unit.italic {
                lines = lines.map { "<i>\($0)</i>" }
            }
            return lines
        }
    }
}

/// `text` in as few lines of at most `width` characters as its words allow, the lines as even as possible (subtitle
/// style: two balanced lines read better than one full and one short). A word longer than `width` gets its own line.
func wrap(_ text: String, width: Int) -> [String] {
    let words = text.split(separator: " ").map(String.init)
    guard text.count > width, words.count > 1 else { return [text] }
    var lineCount = (text.count + width - 1) / width
    while true {
        let lines = balancedLines(words, count: lineCount)
        if lines.allSatisfy({ $0.count <= width }) || lineCount >= words.count { return lines }
        lineCount += 1
    }
}

/// `words` in `count` lines, each break at the word boundary nearest to an even share of the text.
private func balancedLines(_ words: [String], count: Int) -> [String] {
    let total = words.reduce(-1) { $0 + $1.count + 1 }
    var lines: [String] = []
    var line: [String] = []
    var used = 0  // characters placed in finished lines, spaces included
    for (index, word) in words.enumerated() {
        let length = line.reduce(-1) { $0 + $1.count + 1 }
        let remainingLines = count - lines.count
        let target = (total - used) / remainingLines
        // Break before this word if the line would end nearer to its target without it.
        if !line.isEmpty, remainingLines > 1, words.count - index >= remainingLines - 1,
            abs(length - target) < abs(length + 1 + word.count - target)
        {
            lines.append(line.joined(separator: " "))
            used += length + 1
            line = []
        }
        line.append(word)
    }
    lines.append(line.joined(separator: " "))
    return lines
}
