import CCmarkGFM
import Xlate

/// Markdown: parsed by cmark-gfm (GitHub's CommonMark reference implementation, with its table and strikethrough
/// extensions and source positions); the source is edited in place, by position, so every byte outside translated
/// text stays as it was.
///
/// Translated: the inline content of paragraphs, headings and table cells (in lists and block quotes too). Emphasis,
/// strong emphasis, strikethrough and links follow their words (a link's destination and title are written back as
/// cmark-gfm read them); code spans, images, inline HTML and autolinks are protected. A paragraph that spanned
/// several lines comes back on one line (its soft and hard line breaks become spaces). Code blocks, HTML blocks, link
/// reference definitions, thematic breaks and YAML front matter (`---` … `---` at the top) are not touched.
public enum Markdown {
    /// Text in Markdown's syntax: characters that could start markup escaped with a backslash.
    static func escape(_ text: String, inTable: Bool) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if "\\`*[]<".unicodeScalars.contains(scalar) || (inTable && scalar == "|") { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    /// One stretch of source bytes to replace with a translation.
    struct Segment {
        var document: Int
        var bytes: Range<Int>
        var text: MarkedText
        var inTable: Bool
    }

    static func translate(_ documents: [String], context: MarkupContext) throws -> [String] {
        let sources = documents.map { Array($0.utf8) }
        var segments: [Segment] = []
        for (index, source) in sources.enumerated() {
            let body = frontMatterEnd(source)
            segments += try self.segments(Array(source[body...]), offset: body, protect: context.protect).map {
                var segment = $0
                segment.document = index
                return segment
            }
        }
        let translated = try context.translate(segments.map(\.text))
        var outputs = sources
        // Segments with nothing to translate keep their bytes.
        for (segment, text) in zip(segments, translated).reversed() where segment.text.hasWords {
            let inTable = segment.inTable
            let rendered = text.render { escape($0, inTable: inTable) }
            outputs[segment.document].replaceSubrange(segment.bytes, with: Array(rendered.utf8))
        }
        return outputs.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Where the document's body starts: after YAML front matter (`---` on the first line, up to a line `---` or
    /// `...`), else 0.
    static func frontMatterEnd(_ source: [UInt8]) -> Int {
        let lines = source.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        func trimmed(_ line: ArraySlice<UInt8>) -> String {
            String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces.union(.init(charactersIn: "\r")))
        }
        guard let first = lines.first, trimmed(first) == "---" else { return 0 }
        var offset = first.count + 1
        for line in lines.dropFirst() {
            offset += line.count + 1
            if trimmed(line) == "---" || trimmed(line) == "..." { return min(offset, source.count) }
        }
        return 0
    }

    /// The translatable stretches of `source` (its bytes start at `offset` of the whole document).
    static func segments(_ source: [UInt8], offset: Int, protect: Bool) throws(DocumentError) -> [Segment] {
        cmark_gfm_core_extensions_ensure_registered()
        guard let parser = cmark_parser_new(CMARK_OPT_SOURCEPOS) else {
            throw .unparsable(format: "Markdown", reason: "cmark-gfm could not start a parser")
        }
        defer { cmark_parser_free(parser) }
        for name in ["table", "strikethrough"] {
            if let extensionPointer = cmark_find_syntax_extension(name) { cmark_parser_attach_syntax_extension(parser, extensionPointer) }
        }
        source.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { cmark_parser_feed(parser, $0, buffer.count) }
            }
        }
        guard let document = cmark_parser_finish(parser) else {
            throw .unparsable(format: "Markdown", reason: "cmark-gfm returned no document")
        }
        defer { cmark_node_free(document) }

        // Byte offset of each line's start (cmark's lines and columns count from 1, columns in bytes).
        var lineStarts = [0]
        for (i, byte) in source.enumerated() where byte == UInt8(ascii: "\n") { lineStarts.append(i + 1) }
        func byte(line: Int32, column: Int32) -> Int? {
            guard line >= 1, Int(line) <= lineStarts.count, column >= 1 else { return nil }
            return min(lineStarts[Int(line) - 1] + Int(column) - 1, source.count)
        }
        func type(_ node: OpaquePointer) -> String { String(cString: cmark_node_get_type_string(node)) }

        var segments: [Segment] = []
        let iterator = cmark_iter_new(document)
        defer { cmark_iter_free(iterator) }
        while case let event = cmark_iter_next(iterator), event != CMARK_EVENT_DONE {
            guard event == CMARK_EVENT_ENTER, let node = cmark_iter_get_node(iterator) else { continue }
            let kind = type(node)
            guard ["paragraph", "heading", "table_cell"].contains(kind), cmark_node_first_child(node) != nil else { continue }
            let startLine = cmark_node_get_start_line(node)
            let endLine = cmark_node_get_end_line(node)
            var start: Int?, end: Int?
            switch kind {
            case "paragraph":
                start = byte(line: startLine, column: cmark_node_get_start_column(node))
                end = byte(line: endLine, column: cmark_node_get_end_column(node)).map { $0 + 1 }
            case "heading" where endLine > startLine:
                // Setext: the text lines, not the underline.
                start = byte(line: startLine, column: cmark_node_get_start_column(node))
                end = lineStarts[Int(endLine) - 1] - 1
            case "heading":
                // ATX: the line without its opening `#`s and an optional closing sequence of `#`s.
                start = byte(line: startLine, column: cmark_node_get_start_column(node))
                end = byte(line: endLine, column: cmark_node_get_end_column(node)).map { $0 + 1 }
                if var s = start, var e = end {
                    while s < e, source[s] == UInt8(ascii: "#") { s += 1 }
                    while e > s, [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n")].contains(source[e - 1]) { e -= 1 }
                    var closing = e
                    while closing > s, source[closing - 1] == UInt8(ascii: "#") { closing -= 1 }
                    if closing < e, closing > s, [UInt8(ascii: " "), UInt8(ascii: "\t")].contains(source[closing - 1]) { e = closing }
                    start = s
                    end = e
                }
            default:
                // A cell: its bytes between the pipes.
                start = byte(line: startLine, column: cmark_node_get_start_column(node))
                end = byte(line: endLine, column: cmark_node_get_end_column(node)).map { $0 + 1 }
            }
            guard var start, var end, start < end, end <= source.count else { continue }
            // Trailing whitespace and line endings stay in the source.
            while end > start, [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n")].contains(source[end - 1]) { end -= 1 }
            while start < end, [UInt8(ascii: " "), UInt8(ascii: "\t")].contains(source[start]) { start += 1 }
            let inTable = kind == "table_cell"
            var builder = MarkedText.Builder(protect: protect, escape: { escape($0, inTable: inTable) })
            addInlines(of: node, to: &builder, source: source, blockLine: startLine, byte: byte)
            segments.append(Segment(document: 0, bytes: (offset + start)..<(offset + end), text: builder.build(), inTable: inTable))
        }
        return segments
    }

    /// Adds the inline children of `node` to `builder`.
    private static func addInlines(
        of node: OpaquePointer, to builder: inout MarkedText.Builder, source: [UInt8], blockLine: Int32,
        byte: (Int32, Int32) -> Int?
    ) {
        var child = cmark_node_first_child(node)
        while let inline = child {
            child = cmark_node_next(inline)
            let kind = String(cString: cmark_node_get_type_string(inline))
            let literal = cmark_node_get_literal(inline).map { String(cString: $0) } ?? ""
            // The delimiter as written, where cmark's position for it is exact (the block's first line).
            func delimiter(_ fallback: String) -> String {
                guard cmark_node_get_start_line(inline) == blockLine,
                    let at = byte(cmark_node_get_start_line(inline), cmark_node_get_start_column(inline)), at < source.count,
                    source[at] == UInt8(ascii: "_")
                else { return fallback }
                return String(repeating: "_", count: fallback.count)
            }
            switch kind {
            case "text":
                builder.appendText(literal)
            case "softbreak", "linebreak":
                builder.appendText(" ")
            case "emph", "strong", "strikethrough":
                let mark = kind == "emph" ? delimiter("*") : kind == "strong" ? delimiter("**") : "~~"
                builder.open(mark, close: mark)
                addInlines(of: inline, to: &builder, source: source, blockLine: blockLine, byte: byte)
                builder.close()
            case "link":
                let url = cmark_node_get_url(inline).map { String(cString: $0) } ?? ""
                let title = cmark_node_get_title(inline).map { String(cString: $0) } ?? ""
                let text = plainText(inline)
                if text == url || "mailto:" + text == url {
                    builder.protected("<" + url + ">")  // an autolink
                    continue
                }
                builder.open("[", close: "](" + destination(url, title: title) + ")")
                addInlines(of: inline, to: &builder, source: source, blockLine: blockLine, byte: byte)
                builder.close()
            case "image":
                let url = cmark_node_get_url(inline).map { String(cString: $0) } ?? ""
                let title = cmark_node_get_title(inline).map { String(cString: $0) } ?? ""
                builder.protected("![" + escape(plainText(inline), inTable: false) + "](" + destination(url, title: title) + ")")
            case "code":
                var longest = 0, run = 0
                for character in literal {
                    run = character == "`" ? run + 1 : 0
                    longest = max(longest, run)
                }
                let fence = String(repeating: "`", count: longest + 1)
                let pad = literal.hasPrefix("`") || literal.hasSuffix("`") ? " " : ""
                builder.protected(fence + pad + literal + pad + fence)
            default:  // html_inline, footnote references, ...
                builder.point(literal)
            }
        }
    }

    /// A link destination and title as Markdown writes them.
    private static func destination(_ url: String, title: String) -> String {
        let needsBrackets = url.isEmpty || url.contains { $0 == " " || $0 == "(" || $0 == ")" || $0 == "<" || $0 == ">" }
        let target = needsBrackets ? "<" + url + ">" : url
        guard !title.isEmpty else { return target }
        return target + " \"" + title.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// The text of an inline node's children.
    private static func plainText(_ node: OpaquePointer) -> String {
        var text = ""
        var child = cmark_node_first_child(node)
        while let inline = child {
            child = cmark_node_next(inline)
            text += cmark_node_get_literal(inline).map { String(cString: $0) } ?? ""
            text += plainText(inline)
        }
        return text
    }
}
