import CLibXML2
import Xlate

/// HTML: parsed by libxml2's HTML parser (the one Debian ships; no maintained Swift HTML parser is in the allowed
/// package list), translated segment by segment, written back by ``HTMLNode/serialized``.
///
/// Block elements (`p`, `li`, `h1`, `td`, `div`, …) and `br` split segments; inline elements (`b`, `a`, `span`, …)
/// become spans of a ``MarkedText`` and follow their words; void elements (`img`, `wbr`) stay at their place between
/// words; `code`, `kbd`, `samp`, `var` and anything marked `translate="no"` or `class="notranslate"` inside a segment
/// is protected (comes back byte-identical); `pre`, `script`, `style`, `textarea`, `svg`, `math`, `template` and
/// marked blocks are left alone. Attribute values are never translated, except `alt` and `title`.
///
/// What is written is libxml2's tree: element and attribute names in lower case, attribute values exactly as parsed,
/// in double quotes; text with `&`, `<`, `>` and no-break spaces as entities. A tag that was left open is closed.
public enum HTML {
    static let voidElements: Set<String> = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
        "basefont", "frame", "isindex", "keygen",
    ]
    static let inlineElements: Set<String> = [
        "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd", "mark", "q", "rp",
        "rt", "ruby", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "del", "ins", "label",
        "img", "wbr", "big", "tt", "strike", "abbr", "acronym",
    ]
    /// Inline elements whose content is code, kept as it is.
    static let codeElements: Set<String> = ["code", "kbd", "samp", "var", "tt"]
    /// Elements whose content is never translated.
    static let untouchedElements: Set<String> = [
        "pre", "script", "style", "textarea", "svg", "math", "template", "code", "kbd", "samp", "var", "tt", "noscript",
        "object", "iframe",
    ]
    /// Elements whose text is written as it is (no entities).
    static let rawTextElements: Set<String> = ["script", "style"]
    /// Attributes whose values are translated.
    static let translatedAttributes: Set<String> = ["alt", "title"]

    /// Text in HTML's syntax: `&`, `<`, `>` and U+00A0 as entities.
    public static func escapeText(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\u{A0}": out += "&nbsp;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// An attribute value in HTML's syntax, for double quotes.
    static func escapeAttribute(_ value: String) -> String {
        escapeText(value).replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Parses a whole document (libxml2 adds `html` and `body` where they are missing).
    public static func parseDocument(_ html: String) throws(DocumentError) -> HTMLNode {
        try parse(html, options: 0).1
    }

    /// Parses a fragment (a segment's markup: no `html` or `body` added; top-level text stays top-level).
    public static func parseFragment(_ html: String) throws(DocumentError) -> HTMLNode {
        // libxml2 puts top-level text in an implied <p>; inside an element it does not. The wrapper's name is one
        // no HTML uses, so that no tag of the fragment closes it.
        let (_, document) = try parse("<xlate-fragment>" + html + "</xlate-fragment>", options: Int32(HTML_PARSE_NOIMPLIED.rawValue))
        guard document.children.count == 1, document.children[0].name == "xlate-fragment" else {
            throw .unparsable(format: "HTML", reason: "libxml2 did not keep the fragment together")
        }
        let root = HTMLNode(kind: .document)
        root.children = document.children[0].children
        return root
    }

    private static func parse(_ html: String, options: Int32) throws(DocumentError) -> (Void, HTMLNode) {
        let flags = options | Int32(HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue | HTML_PARSE_NONET.rawValue
            | HTML_PARSE_NODEFDTD.rawValue)
        let bytes = Array(html.utf8)
        let document = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buffer.count, 1)) {
                htmlReadMemory($0, Int32(buffer.count), nil, "UTF-8", flags)
            }
        }
        guard let document else { throw .unparsable(format: "HTML", reason: "libxml2 could not parse it") }
        defer { xmlFreeDoc(document) }
        let root = HTMLNode(kind: .document)
        root.children = convert(document.pointee.children)
        return ((), root)
    }

    private static func string(_ pointer: UnsafePointer<xmlChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
    }

    /// libxml2's node list → our tree.
    private static func convert(_ first: xmlNodePtr?) -> [HTMLNode] {
        var nodes: [HTMLNode] = []
        var next = first
        while let node = next {
            next = node.pointee.next
            switch node.pointee.type {
            case XML_ELEMENT_NODE:
                let element = HTMLNode(kind: .element(string(node.pointee.name)))
                var attribute = node.pointee.properties
                while let a = attribute {
                    // The value's text nodes (libxml2 has decoded the entities in them).
                    var value: String?
                    var part = a.pointee.children
                    while let text = part {
                        value = (value ?? "") + string(text.pointee.content)
                        part = text.pointee.next
                    }
                    element.attributes.append((string(a.pointee.name), value))
                    attribute = a.pointee.next
                }
                element.children = convert(node.pointee.children)
                nodes.append(element)
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                nodes.append(HTMLNode(kind: .text(string(node.pointee.content))))
            case XML_COMMENT_NODE:
                nodes.append(HTMLNode(kind: .markup("<!--" + string(node.pointee.content) + "-->")))
            case XML_DTD_NODE:
                let dtd = UnsafeMutableRawPointer(node).assumingMemoryBound(to: xmlDtd.self).pointee
                var doctype = "<!DOCTYPE " + string(dtd.name)
                if dtd.ExternalID != nil { doctype += " PUBLIC \"" + string(dtd.ExternalID) + "\"" }
                if dtd.SystemID != nil { doctype += (dtd.ExternalID == nil ? " SYSTEM" : "") + " \"" + string(dtd.SystemID) + "\"" }
                nodes.append(HTMLNode(kind: .markup(doctype + ">")))
            case XML_PI_NODE:
                nodes.append(HTMLNode(kind: .markup("<?" + string(node.pointee.name) + " " + string(node.pointee.content) + ">")))
            case XML_ENTITY_REF_NODE:
                nodes.append(HTMLNode(kind: .markup("&" + string(node.pointee.name) + ";")))
            default:
                nodes.append(contentsOf: convert(node.pointee.children))
            }
        }
        return nodes
    }
}

/// A node of a parsed HTML document or fragment.
public final class HTMLNode {
    /// What the node is.
    public enum Kind: Equatable {
        /// The document (or fragment) root.
        case document
        /// An element, by its lower-case name.
        case element(String)
        /// Text, entities decoded.
        case text(String)
        /// Markup written as it is: a comment, the doctype, translated content.
        case markup(String)
    }

    /// What the node is.
    public var kind: Kind
    /// An element's attributes, in order (nil value: a name alone).
    public var attributes: [(name: String, value: String?)] = []
    /// Child nodes, in order.
    public var children: [HTMLNode] = []

    init(kind: Kind) { self.kind = kind }

    /// The element's name, else nil.
    public var name: String? {
        if case .element(let name) = kind { return name }
        return nil
    }

    /// An attribute's value.
    public func attribute(_ name: String) -> String? {
        attributes.first { $0.name == name }?.value ?? nil
    }

    /// Whether the content of this element is left alone (`pre`, `code`, `translate="no"`, `class="notranslate"`).
    var isUntouched: Bool {
        guard let name else { return false }
        if HTML.untouchedElements.contains(name) { return true }
        if attribute("translate")?.lowercased() == "no" { return true }
        return attribute("class")?.split(whereSeparator: \.isWhitespace).contains("notranslate") ?? false
    }

    /// Whether the element is inline and holds only inline content (it can be a span of a segment).
    var isInline: Bool {
        guard let name, HTML.inlineElements.contains(name) else {
            if case .element = kind { return false }
            return true
        }
        return isUntouched || children.allSatisfy(\.isInline)
    }

    /// The start tag as written.
    var startTag: String {
        guard let name else { return "" }
        var tag = "<" + name
        for (attribute, value) in attributes {
            tag += " " + attribute
            if let value, !(value == attribute && htmlIsBooleanAttr(attribute) != 0) {
                tag += "=\"" + HTML.escapeAttribute(value) + "\""
            }
        }
        return tag + ">"
    }

    /// The end tag as written (none for void elements).
    var endTag: String {
        guard let name, !HTML.voidElements.contains(name) else { return "" }
        return "</" + name + ">"
    }

    /// The node and everything in it, as HTML.
    public var serialized: String {
        var output = ""
        write(to: &output, raw: false)
        return output
    }

    private func write(to output: inout String, raw: Bool) {
        switch kind {
        case .document:
            for (index, child) in children.enumerated() {
                child.write(to: &output, raw: false)
                // libxml2 keeps no whitespace between the doctype and <html>.
                if case .markup(let markup) = child.kind, markup.hasPrefix("<!DOCTYPE"), index + 1 < children.count {
                    output += "\n"
                }
            }
        case .element(let name):
            output += startTag
            guard !HTML.voidElements.contains(name) else { return }
            for child in children { child.write(to: &output, raw: HTML.rawTextElements.contains(name)) }
            output += endTag
        case .text(let text):
            output += raw ? text : HTML.escapeText(text)
        case .markup(let markup):
            output += markup
        }
    }
}

extension HTML {
    /// Translates the text of parsed HTML trees in place, all in one batch: `alt` and `title` values first (their
    /// elements' tags carry them into the segments), then every segment.
    static func translate(_ roots: [HTMLNode], context: MarkupContext) throws {
        // Attribute values: plain text segments.
        var attributes: [(node: HTMLNode, index: Int)] = []
        func collectAttributes(_ node: HTMLNode) {
            guard !node.isUntouched else { return }
            for (index, attribute) in node.attributes.enumerated()
            where translatedAttributes.contains(attribute.name) && attribute.value != nil {
                attributes.append((node, index))
            }
            node.children.forEach(collectAttributes)
        }
        roots.forEach(collectAttributes)
        if !attributes.isEmpty {
            let texts = attributes.map { node, index in
                var builder = context.builder(escape: { $0 })
                builder.appendText(node.attributes[index].value!)
                return builder.build()
            }
            let translated = try context.translate(texts)
            for ((node, index), text) in zip(attributes, translated) {
                node.attributes[index].value = text.render(escape: { $0 })
            }
        }

        // Segments: runs of inline content inside block containers.
        var segments: [(parent: HTMLNode, range: Range<Int>, text: MarkedText)] = []
        func collectSegments(_ node: HTMLNode) {
            guard !node.isUntouched else { return }
            var runStart: Int?
            func endRun(at end: Int) {
                guard let start = runStart else { return }
                runStart = nil
                var builder = context.builder(escape: escapeText)
                for child in node.children[start..<end] { add(child, to: &builder) }
                segments.append((node, start..<end, builder.build()))
            }
            for (index, child) in node.children.enumerated() {
                if child.isInline, child.name != "br" {
                    if runStart == nil { runStart = index }
                } else {
                    endRun(at: index)
                    collectSegments(child)
                }
            }
            endRun(at: node.children.count)
        }
        func add(_ node: HTMLNode, to builder: inout MarkedText.Builder) {
            switch node.kind {
            case .text(let text):
                builder.appendText(text)
            case .markup(let markup):
                builder.point(markup)
            case .element(let name):
                if node.isUntouched, codeElements.contains(name) || node.children.contains(where: { $0.name == nil }) {
                    builder.protected(node.serialized)
                } else if node.isUntouched || voidElements.contains(name) {
                    builder.point(node.serialized)
                } else {
                    builder.open(node.startTag, close: node.endTag)
                    for child in node.children { add(child, to: &builder) }
                    builder.close()
                }
            case .document:
                break
            }
        }
        roots.forEach(collectSegments)
        let translated = try context.translate(segments.map(\.text))
        // Later runs first, so that the ranges of earlier runs in the same parent stay valid.
        for (segment, text) in zip(segments, translated).reversed() {
            let node = HTMLNode(kind: .markup(text.render(escape: escapeText)))
            segment.parent.children.replaceSubrange(segment.range, with: [node])
        }
    }
}
