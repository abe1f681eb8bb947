import Xlate

/// SubRip (`.srt`) and WebVTT (`.vtt`) subtitles: cues are blocks separated by blank lines, each an optional
/// identifier line (the number in SRT), a timing line (`-->`, with WebVTT's cue settings after it) and text lines.
///
/// Only cue text changes: every other line is written back byte for byte (the `WEBVTT` header, `NOTE`, `STYLE` and
/// `REGION` blocks, numbering, timing lines, line ends, a byte order mark). A cue's lines are one segment (a
/// sentence broken for display), split again after translation into as many lines, balanced by length, where the
/// translation has enough words; a cue whose lines all start with `-` is a dialogue, one segment per line. Tags in
/// cue text (`<i>`, `<b>`, `<font …>`, WebVTT's `<v Name>`, `<c.class>`, timestamps) are markup that follows its words.
enum Subtitles {
    struct Cue {
        /// Index of the cue's first text line in `lines`.
        var firstLine: Int
        var lineCount: Int
    }

    static func translate(_ document: String, format: DocumentFormat, context: MarkupContext) throws -> String {
        var body = Substring(document)
        let byteOrderMark = body.hasPrefix("\u{FEFF}")
        if byteOrderMark { body = body.dropFirst() }
        let lineEnd = body.contains("\r\n") ? "\r\n" : "\n"
        // "\r\n" is one Character, and a newline.
        var lines = body.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        let name = format == .vtt ? "WebVTT" : "SRT"
        if format == .vtt {
            guard let first = lines.first, first.hasPrefix("WEBVTT"),
                first.count == 6 || first.dropFirst(6).first == " " || first.dropFirst(6).first == "\t"
            else {
                throw DocumentError.invalidSubtitle(format: name, line: 1, reason: "a WebVTT file starts with a line WEBVTT")
            }
        }

        // Cues: in each block of non-blank lines, the text after a timing line.
        var cues: [Cue] = []
        var index = 0
        while index < lines.count {
            guard !lines[index].allSatisfy(\.isWhitespace) else {
                index += 1
                continue
            }
            var end = index
            while end < lines.count, !lines[end].allSatisfy(\.isWhitespace) { end += 1 }
            let block = lines[index..<end]
            let isMetadata = format == .vtt
                && (index == 0 || ["NOTE", "STYLE", "REGION"].contains { block.first!.hasPrefix($0) })
            if !isMetadata, let timing = block.firstIndex(where: { $0.contains("-->") }), timing <= index + 1 {
                if timing + 1 < end { cues.append(Cue(firstLine: timing + 1, lineCount: end - timing - 1)) }
            } else if format == .srt, !isMetadata, block.count > 1 || block.first!.contains(where: \.isLetter) {
                throw DocumentError.invalidSubtitle(format: name, line: index + 1, reason: "this block has no timing line")
            }
            index = end
        }

        // Segments: a cue's lines joined (or, for a dialogue, each line).
        var segments: [MarkedText] = []
        var units: [(lines: Range<Int>, segment: Int)] = []
        for cue in cues {
            let range = cue.firstLine..<(cue.firstLine + cue.lineCount)
            let dialogue = cue.lineCount > 1 && range.allSatisfy {
                let line = lines[$0].drop { $0 == " " }
                return line.hasPrefix("-") || line.hasPrefix("<i>-")
            }
            let groups = dialogue ? range.map { $0..<($0 + 1) } : [range]
            for group in groups {
                units.append((group, segments.count))
                segments.append(markedCueText(lines[group].joined(separator: "\n"), format: format, protect: context.protect))
            }
        }
        let translated = try context.translate(segments)
        let escape = escaping(format)
        // Cues with nothing to translate (♪) keep their lines.
        for unit in units.reversed() where segments[unit.segment].hasWords {
            let text = split(translated[unit.segment], lines: unit.lines.count)
            let rendered = text.render(escape: escape).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines.replaceSubrange(unit.lines, with: rendered)
        }
        return (byteOrderMark ? "\u{FEFF}" : "") + lines.joined(separator: lineEnd)
    }

    /// Cue text as a marked text: its tags as spans (a tag never closed stays unclosed), line breaks as spaces.
    static func markedCueText(_ text: String, format: DocumentFormat, protect: Bool) -> MarkedText {
        enum Token {
            case text(String)
            case open(name: String, tag: String)
            case close(name: String, tag: String)
            case point(String)
        }
        var tokens: [Token] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            if rest.first == "<", let end = rest.firstIndex(of: ">") {
                let tag = String(rest[...end])
                let inner = tag.dropFirst().dropLast()
                let name = String(inner.drop { $0 == "/" }.prefix { $0.isLetter }).lowercased()
                if inner.hasPrefix("/") {
                    tokens.append(.close(name: name, tag: tag))
                } else if name.isEmpty {
                    tokens.append(.point(tag))  // a WebVTT timestamp
                } else {
                    tokens.append(.open(name: name, tag: tag))
                }
                rest = rest[rest.index(after: end)...]
            } else {
                let end = rest.dropFirst().firstIndex(of: "<") ?? rest.endIndex
                var chunk = String(rest[..<end]).replacingOccurrences(of: "\n", with: " ")
                if format == .vtt {
                    chunk = chunk.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                        .replacingOccurrences(of: "&nbsp;", with: "\u{A0}").replacingOccurrences(of: "&amp;", with: "&")
                }
                tokens.append(.text(chunk))
                rest = rest[end...]
            }
        }
        // Which opening tags are closed, and by which token.
        var closing: [Int: Int] = [:]
        var stack: [Int] = []
        for (i, token) in tokens.enumerated() {
            if case .open = token { stack.append(i) }
            if case .close(let name, _) = token, let top = stack.last, case .open(let openName, _) = tokens[top], openName == name {
                closing[top] = i
                stack.removeLast()
            }
        }
        let closed = Set(closing.values)
        let escape = escaping(format)
        var builder = MarkedText.Builder(protect: protect, escape: escape)
        var open: [Int] = []
        for (i, token) in tokens.enumerated() {
            switch token {
            case .text(let text): builder.appendText(text)
            case .point(let tag): builder.point(tag)
            case .open(_, let tag):
                if let close = closing[i], case .close(_, let closeTag) = tokens[close] {
                    builder.open(tag, close: closeTag)
                    open.append(i)
                } else {
                    builder.point(tag)  // never closed (WebVTT's <v Name> often is not)
                }
            case .close(_, let tag):
                if closed.contains(i) {
                    builder.close()
                    open.removeLast()
                } else {
                    builder.point(tag)
                }
            }
        }
        return builder.build()
    }

    /// How cue text of `format` is written: WebVTT escapes, SRT has no escapes.
    static func escaping(_ format: DocumentFormat) -> (String) -> String {
        if case .vtt = format { return { escapeVTT($0) } }
        return { $0 }
    }

    /// WebVTT cue text escapes `&`, `<` and `>`.
    static func escapeVTT(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// The text broken into `lines` lines of even length at spaces (fewer when it has fewer words).
    static func split(_ marked: MarkedText, lines: Int) -> MarkedText {
        var scalars = Array(marked.text.unicodeScalars)
        let spaces = scalars.indices.filter { scalars[$0] == " " }
        guard lines > 1, !spaces.isEmpty else { return marked }
        var chosen: [Int] = []
        for k in 1..<lines {
            let target = scalars.count * k / lines
            let candidates = spaces.filter { $0 > (chosen.last ?? -1) }
            guard let best = candidates.min(by: { abs($0 - target) < abs($1 - target) }) else { break }
            chosen.append(best)
        }
        for position in chosen { scalars[position] = "\n" }
        var result = marked
        result.text = String(String.UnicodeScalarView(scalars))
        return result
    }
}
