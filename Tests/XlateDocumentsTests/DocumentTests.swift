import CCmarkGFM
import Foundation
import Testing
import Xlate
@testable import XlateDocuments

@Suite("Documents: HTML, Markdown, SRT, WebVTT keep their structure")
struct DocumentTests {
    @Test func htmlPage() throws {
        let source = try Bundled.document("page.html")
        let output = try Bundled.translator().translateDocument(source, format: .html, options: Bundled.options())
        #expect(LibXML2.isWellFormed(source, wholeDocument: true))
        #expect(LibXML2.isWellFormed(output, wholeDocument: true), "\(output)")
        let before = try HTML.parseDocument(source), after = try HTML.parseDocument(output)
        #expect(skeleton(after) == skeleton(before))
        for name in ["pre", "code", "script", "style"] {
            #expect(contents(of: name, in: after) == contents(of: name, in: before), "<\(name)> changed")
        }
        #expect(output.hasPrefix("<!DOCTYPE html>"))
        #expect(output.contains("<!-- a comment stays -->"))
        #expect(output.contains("href=\"https://example.com/birds?lang=en&amp;page=2\""))
        #expect(output.contains("<p class=\"notranslate\">Acme Garden Tools</p>"))
        #expect(!output.contains("flowers") && !output.contains("Cut the grass") && !output.contains("A water drop"))
    }

    /// The block structure cmark-gfm reads: every node but text, with code, URLs and HTML as written.
    static func markdownStructure(_ markdown: String) -> [String] {
        cmark_gfm_core_extensions_ensure_registered()
        let parser = cmark_parser_new(CMARK_OPT_DEFAULT)!
        defer { cmark_parser_free(parser) }
        cmark_parser_attach_syntax_extension(parser, cmark_find_syntax_extension("table"))
        cmark_parser_feed(parser, markdown, markdown.utf8.count)
        let document = cmark_parser_finish(parser)!
        defer { cmark_node_free(document) }
        let iterator = cmark_iter_new(document)
        defer { cmark_iter_free(iterator) }
        var structure: [String] = []
        while case let event = cmark_iter_next(iterator), event != CMARK_EVENT_DONE {
            guard event == CMARK_EVENT_ENTER, let node = cmark_iter_get_node(iterator) else { continue }
            let type = String(cString: cmark_node_get_type_string(node))
            guard !["text", "softbreak", "linebreak"].contains(type) else { continue }
            var entry = type
            if ["code_block", "code", "html_block", "html_inline"].contains(type) { entry += " " + String(cString: cmark_node_get_literal(node)) }
            if ["link", "image"].contains(type) { entry += " " + String(cString: cmark_node_get_url(node)) }
            if type == "heading" { entry += " \(cmark_node_get_heading_level(node))" }
            structure.append(entry)
        }
        return structure
    }

    @Test func markdownReadme() throws {
        let source = try Bundled.document("README.md")
        let output = try Bundled.translator().translateDocument(source, format: .markdown, options: Bundled.options())
        let frontMatter = "---\ntitle: Garden tool\nversion: 1.2\n---\n"
        #expect(output.hasPrefix(frontMatter))
        #expect(Self.markdownStructure(String(output.dropFirst(frontMatter.count)))
            == Self.markdownStructure(String(source.dropFirst(frontMatter.count))), "\(output)")
        for kept in ["```sh\n$ apt install garden-tool\n$ garden --version\n```\n", "    indented code stays as it is\n",
                     "|---------|--------------|\n", "<div align=\"center\">An HTML block stays.</div>\n",
                     "[ref]: https://example.com/ref\n", "| `garden water` | "] {
            #expect(output.contains(kept), "\(kept) changed")
        }
        #expect(!output.contains("user guide") && !output.contains("package manager") && !output.contains("first item"))
    }

    /// Blocks of a subtitle file split into lines, for comparing everything but cue text.
    static func subtitleBlocks(_ text: String) -> [[String]] {
        text.components(separatedBy: "\n\n").map { $0.components(separatedBy: "\n") }
    }

    @Test func srtFile() throws {
        let source = try Bundled.document("movie.srt")
        let output = try Bundled.translator().translateDocument(source, format: .srt, options: Bundled.options())
        #expect(output.components(separatedBy: "\r\n").count == source.components(separatedBy: "\r\n").count, "\(output)")
        let before = Self.subtitleBlocks(source.replacingOccurrences(of: "\r\n", with: "\n"))
        let after = Self.subtitleBlocks(output.replacingOccurrences(of: "\r\n", with: "\n"))
        #expect(before.count == after.count)
        for (b, a) in zip(before, after) {
            #expect(a.count == b.count)
            #expect(Array(a.prefix(2)) == Array(b.prefix(2)), "numbering or timing changed")
            #expect(a.dropFirst(2) != b.dropFirst(2), "not translated: \(a)")
        }
        #expect(after[2][2].hasPrefix("<i>") && after[2][2].hasSuffix("</i>"))
        #expect(after[3][2].hasPrefix("- ") && after[3][3].hasPrefix("- "))
    }

    @Test func vttFile() throws {
        let source = try Bundled.document("talk.vtt")
        let output = try Bundled.translator().translateDocument(source, format: .vtt, options: Bundled.options())
        let before = Self.subtitleBlocks(source), after = Self.subtitleBlocks(output)
        #expect(after.count == before.count)
        #expect(Array(after.prefix(3)) == Array(before.prefix(3)), "header, NOTE or STYLE changed")
        for (b, a) in zip(before.dropFirst(3), after.dropFirst(3)) {
            let timing = b.firstIndex { $0.contains("-->") }!
            #expect(Array(a.prefix(timing + 1)) == Array(b.prefix(timing + 1)), "identifier or timing changed")
            #expect(a.count == b.count, "\(a)")
        }
        #expect(output.contains("<v Anna>") && !output.contains("</v>"))
        #expect(output.contains("<b>") && output.contains("</b>"))
        #expect(!output.contains("Welcome to this talk"))
    }

    @Test func vttWithoutHeaderIsAnError() throws {
        #expect(throws: DocumentError.self) {
            try Bundled.translator().translateDocument("00:00:01.000 --> 00:00:02.000\nHello.\n", format: .vtt)
        }
    }

    @Test func formatFromExtension() {
        #expect(DocumentFormat(pathExtension: "HTM") == .html)
        #expect(DocumentFormat(pathExtension: "md") == .markdown)
        #expect(DocumentFormat(pathExtension: "srt") == .srt)
        #expect(DocumentFormat(pathExtension: "vtt") == .vtt)
        #expect(DocumentFormat(pathExtension: "txt") == nil)
    }
}
