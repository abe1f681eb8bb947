import CLibXML2
import Foundation
import Testing
import Xlate
@testable import XlateDocuments

/// The bundled en-de model, loaded once for all suites.
enum Bundled {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    private static let loaded = Result { try Translator(modelAt: root.appendingPathComponent("Models/xlate-en-de")) }
    static func translator() throws -> Translator { try loaded.get() }

    /// Greedy options (fast; the tests judge markup, not translation quality).
    static func options() throws -> TranslationOptions {
        var options = try translator().defaultOptions
        options.decoding.numBeams = 1
        return options
    }

    /// A test document from Documents/.
    static func document(_ name: String) throws -> String {
        try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Documents/\(name)"), encoding: .utf8)
    }
}

/// Checks made with libxml2 itself, independently of the code under test.
enum LibXML2 {
    /// Whether libxml2's HTML parser reports no error for `fragment` inside a `<div>` of a minimal page.
    static func isWellFormed(_ fragment: String, wholeDocument: Bool = false) -> Bool {
        let page = wholeDocument ? fragment : "<!DOCTYPE html><html><head><title>t</title></head><body><div>" + fragment + "</div></body></html>"
        let bytes = Array(page.utf8)
        return bytes.withUnsafeBufferPointer { buffer -> Bool in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { pointer -> Bool in
                guard let context = htmlCreateMemoryParserCtxt(pointer, Int32(buffer.count)) else { return false }
                defer { htmlFreeParserCtxt(context) }
                _ = htmlCtxtUseOptions(context, Int32(HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue | HTML_PARSE_NONET.rawValue))
                _ = htmlParseDocument(context)
                if let document = context.pointee.myDoc { xmlFreeDoc(document) }
                return context.pointee.wellFormed != 0
            }
        }
    }
}

/// The element skeleton of parsed HTML: every element with its attributes, nested, without text. `translated`
/// attributes are written without their values (alt and title are translated).
func skeleton(_ node: HTMLNode, ignoringValuesOf translated: Set<String> = ["alt", "title"]) -> String {
    var out = ""
    for child in node.children {
        switch child.kind {
        case .element(let name):
            out += "<" + name
            for (attribute, value) in child.attributes {
                out += " " + attribute + (translated.contains(attribute) ? "" : "=" + (value.map { "\"\($0)\"" } ?? "-"))
            }
            out += ">" + skeleton(child, ignoringValuesOf: translated) + "</" + name + ">"
        case .markup(let markup) where markup.hasPrefix("<!--"):
            out += markup
        default:
            break
        }
    }
    return out
}

/// The text of every element named `name`, in order.
func contents(of name: String, in node: HTMLNode) -> [String] {
    var found: [String] = []
    func visit(_ node: HTMLNode) {
        if node.name == name { found.append(node.serialized) }
        node.children.forEach(visit)
    }
    visit(node)
    return found
}
