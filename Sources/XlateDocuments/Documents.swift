import Foundation
import Xlate

/// How a segment's text is marked up.
public enum MarkupFormat: String, Sendable, CaseIterable {
    /// Plain text (placeholders still protect URLs, numbers, … unless turned off).
    case plain
    /// An HTML fragment: inline tags follow their words, block tags split it (see ``HTML``).
    case html
    /// A Markdown fragment with CommonMark semantics (see ``Markdown``).
    case markdown
}

/// A whole document's format.
public enum DocumentFormat: String, Sendable, CaseIterable {
    /// An HTML page.
    case html
    /// Markdown (CommonMark with GitHub tables), YAML front matter kept.
    case markdown
    /// SubRip subtitles.
    case srt
    /// WebVTT subtitles.
    case vtt

    /// The format a file name's extension names (`.html`/`.htm`/`.xhtml`, `.md`/`.markdown`, `.srt`, `.vtt`), else
    /// nil.
    public init?(pathExtension: String) {
        switch pathExtension.lowercased() {
        case "html", "htm", "xhtml": self = .html
        case "md", "markdown", "mdown", "mkd": self = .markdown
        case "srt": self = .srt
        case "vtt": self = .vtt
        default: return nil
        }
    }
}

/// A document or segment that cannot be read as its format.
public enum DocumentError: Error, LocalizedError, Equatable {
    /// The parser gave up on it.
    case unparsable(format: String, reason: String)
    /// A subtitle file whose cue at `line` (1-based) is not as the format says.
    case invalidSubtitle(format: String, line: Int, reason: String)

    public var errorDescription: String? {
        switch self {
        case .unparsable(let format, let reason):
            "cannot parse the \(format): \(reason)"
        case .invalidSubtitle(let format, let line, let reason):
            "line \(line) of the \(format) file: \(reason); a cue is an optional identifier line, a timing line (00:00:01,000 --> 00:00:02,000) and text lines, cues separated by blank lines"
        }
    }
}

extension Translator {
    /// Translates segments with markup, each keeping its markup: the entry point for `--markup` and a server's
    /// `format: "html"`.
    ///
    /// ```swift
    /// let translator = try Translator(modelAt: URL(fileURLWithPath: "Models/xlate-en-de"))
    /// let out = try translator.translate(["The <b>cat</b> sat on the <a href=\"/mat\">mat</a>."], markup: .html)
    /// // ["Die <b>Katze</b> saß auf der <a href=\"/mat\">Matte</a>."]
    /// ```
    ///
    /// All segments are translated in one batch. With `.html` each segment is an HTML fragment (block tags and
    /// `<br>` split it into several sentences-to-translate; the output is one fragment); with `.markdown` a Markdown
    /// fragment; `.plain` is text. `protect` (default on) keeps URLs, e-mail addresses, numbers, format strings and
    /// code byte-identical through placeholders (``Placeholders``). Sentences are split as `options` say
    /// (`splitSentences`; turn it on for long segments, which are otherwise cut at the model's length). `shouldStop`
    /// works as in ``Translator/translate(_:options:progress:shouldStop:)``: once it says stop, this throws
    /// `TranslationStopped` and returns nothing (a segment's markup needs all of its sentences).
    ///
    /// - Throws: ``DocumentError`` when a segment cannot be parsed; what
    ///   ``Translator/translate(_:options:progress:shouldStop:)`` throws.
    public func translate(
        _ texts: [String], markup: MarkupFormat, protect: Bool = true, options: TranslationOptions? = nil,
        shouldStop: (@Sendable () -> Bool)? = nil
    ) throws -> [String] {
        let context = MarkupContext(translator: self, protect: protect, options: options, shouldStop: shouldStop)
        switch markup {
        case .plain:
            let marked = texts.map { text in
                var builder = context.builder(escape: { $0 })
                builder.appendText(text)
                return builder.build()
            }
            return try context.translate(marked).map { $0.render(escape: { $0 }) }
        case .html:
            let roots = try texts.map { text throws(DocumentError) in try HTML.parseFragment(text) }
            try HTML.translate(roots, context: context)
            return roots.map(\.serialized)
        case .markdown:
            return try Markdown.translate(texts, context: context)
        }
    }

    /// Translates a whole document, keeping its structure: only its text is translated, batched across the
    /// document.
    ///
    /// ```swift
    /// let page = try String(contentsOfFile: "page.html", encoding: .utf8)
    /// let german = try translator.translateDocument(page, format: .html)
    /// ```
    ///
    /// - HTML: as ``HTML`` says; the doctype, comments, `head`, scripts and styles are kept.
    /// - Markdown: paragraphs, headings, list items, table cells and block quotes are translated (emphasis, links,
    ///   images and code spans follow their words or are protected); code blocks, HTML blocks, link reference
    ///   definitions, front matter and every byte outside translated text stay as they were.
    /// - SRT and WebVTT: numbering, timing lines, the WebVTT header, `NOTE`, `STYLE` and `REGION` blocks and cue
    ///   settings are kept; a cue's lines are translated as one segment and split again into as many lines.
    ///
    /// `protect`, `options` and `shouldStop` as in ``translate(_:markup:protect:options:shouldStop:)``.
    ///
    /// - Throws: ``DocumentError`` for a document its format cannot read; what
    ///   ``Translator/translate(_:options:progress:shouldStop:)`` throws.
    public func translateDocument(
        _ document: String, format: DocumentFormat, protect: Bool = true, options: TranslationOptions? = nil,
        shouldStop: (@Sendable () -> Bool)? = nil
    ) throws -> String {
        let context = MarkupContext(translator: self, protect: protect, options: options, shouldStop: shouldStop)
        switch format {
        case .html:
            // A file without <html> or a doctype is a fragment: nothing is added around it.
            let lowercased = document.lowercased()
            let isPage = lowercased.contains("<html") || lowercased.contains("<!doctype")
            let root = isPage ? try HTML.parseDocument(document) : try HTML.parseFragment(document)
            try HTML.translate([root], context: context)
            let output = root.serialized
            // libxml2 drops the whitespace after the last element of a page.
            return isPage && document.hasSuffix("\n") && !output.hasSuffix("\n") ? output + "\n" : output
        case .markdown:
            return try Markdown.translate([document], context: context)[0]
        case .srt, .vtt:
            return try Subtitles.translate(document, format: format, context: context)
        }
    }
}
