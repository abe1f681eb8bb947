/// Text with its inline markup taken out: the characters a model reads, and the markup as spans over them.
///
/// Spans form a tree (`parent`), listed in document order: a parent before its children, siblings in the order they
/// appear. Rendering walks that tree, so a translated `MarkedText` keeps the source's tags in the source's order and
/// nesting whatever the words did.
///
/// ```swift
/// var builder = MarkedText.Builder(protect: true, escape: HTML.escapeText)
/// builder.appendText("Click ")
/// builder.open("<b>", close: "</b>")
/// builder.appendText("here")
/// builder.close()
/// builder.appendText(" or see https://example.com.")   // the URL becomes a protected span
/// let marked = builder.build()                          // text "Click here or see ."
/// marked.render(escape: HTML.escapeText)                // the source again
/// ```
public struct MarkedText: Sendable, Equatable {
    /// One piece of markup.
    public struct Span: Sendable, Equatable {
        /// What a span puts into the output.
        public enum Kind: Sendable, Equatable {
            /// Markup around text: `open` before it, `close` after it (`<b>`…`</b>`, `**`…`**`).
            case element(open: String, close: String)
            /// Markup at a point that covers no text (`<img …>`); the model never sees it.
            case point(String)
            /// Output the model must not change (a URL, `<code>…</code>`), already in the output's syntax: the model
            /// sees a placeholder in its place, and this comes back byte-identical.
            case protected(String)
        }

        /// What the span puts into the output.
        public var kind: Kind
        /// The text it covers, in Unicode scalars of `text` (empty for points and protected spans).
        public var range: Range<Int>
        /// The span this one is inside (an earlier index in `spans`), nil at the top.
        public var parent: Int?

        /// A span of `kind` over `range`, inside `parent`.
        public init(kind: Kind, range: Range<Int>, parent: Int?) {
            self.kind = kind
            self.range = range
            self.parent = parent
        }
    }

    /// The text without markup, as the model should read it (whitespace as in the source).
    public var text: String
    /// The markup, in document order.
    public var spans: [Span]

    /// Text `text` with markup `spans` (document order, parents first).
    public init(text: String, spans: [Span] = []) {
        self.text = text
        self.spans = spans
    }

    /// Whether the text has any letter or digit to translate.
    public var hasWords: Bool {
        text.unicodeScalars.contains { $0.properties.isAlphabetic || $0.properties.numericType != nil }
    }

    /// The children of each span (index `spans.count` holds the top level), in document order.
    func children() -> [[Int]] {
        var children = [[Int]](repeating: [], count: spans.count + 1)
        for (index, span) in spans.enumerated() { children[span.parent ?? spans.count].append(index) }
        return children
    }

    /// The text with its markup put back: `escape` turns text into the output's syntax (`&` → `&amp;` in HTML).
    /// Siblings are written in order of their start (document order where they start together).
    public func render(escape: (String) -> String) -> String {
        let scalars = Array(text.unicodeScalars)
        let children = children()
        var output = ""
        func writeText(_ range: Range<Int>) {
            guard !range.isEmpty else { return }
            output += escape(String(String.UnicodeScalarView(scalars[range])))
        }
        func write(_ node: Int, within range: Range<Int>) {
            var cursor = range.lowerBound
            let ordered = children[node].enumerated().sorted {
                (spans[$0.element].range.lowerBound, $0.offset) < (spans[$1.element].range.lowerBound, $1.offset)
            }.map(\.element)
            for child in ordered {
                let span = spans[child]
                let start = min(max(span.range.lowerBound, cursor), range.upperBound)
                let end = min(max(span.range.upperBound, start), range.upperBound)
                writeText(cursor..<start)
                switch span.kind {
                case .element(let open, let close):
                    output += open
                    write(child, within: start..<end)
                    output += close
                case .point(let markup):
                    output += markup
                case .protected(let markup):
                    output += markup  // its range holds the placeholder (translated text) or nothing (source)
                }
                cursor = end
            }
            writeText(cursor..<range.upperBound)
        }
        write(spans.count, within: 0..<scalars.count)
        return output
    }

    /// Builds a `MarkedText` from text and markup in document order.
    public struct Builder {
        private var scalars: [Unicode.Scalar] = []
        private var spans: [Span] = []
        private var open: [Int] = []
        private let protect: Bool
        private let escape: (String) -> String

        /// `protect`: URLs, e-mail addresses, numbers and format strings in appended text become protected spans
        /// (see ``Placeholders``); `escape` writes such text in the output's syntax.
        public init(protect: Bool, escape: @escaping (String) -> String) {
            self.protect = protect
            self.escape = escape
        }

        /// Adds text (protecting what `Placeholders` finds in it, when asked).
        public mutating func appendText(_ text: String) {
            guard protect else {
                scalars += text.unicodeScalars
                return
            }
            var cursor = text.startIndex
            for range in Placeholders.protectedRanges(in: text) {
                scalars += text[cursor..<range.lowerBound].unicodeScalars
                protected(escape(String(text[range])))
                cursor = range.upperBound
            }
            scalars += text[cursor...].unicodeScalars
        }

        /// Opens markup around the text that follows, until `close()`.
        public mutating func open(_ open: String, close: String) {
            spans.append(Span(kind: .element(open: open, close: close), range: scalars.count..<scalars.count, parent: self.open.last))
            self.open.append(spans.count - 1)
        }

        /// Closes the innermost open markup.
        public mutating func close() {
            let index = open.removeLast()
            spans[index].range = spans[index].range.lowerBound..<scalars.count
        }

        /// Adds markup at the current point (a void element).
        public mutating func point(_ markup: String) {
            spans.append(Span(kind: .point(markup), range: scalars.count..<scalars.count, parent: open.last))
        }

        /// Adds output that must come back unchanged (already in the output's syntax).
        public mutating func protected(_ markup: String) {
            spans.append(Span(kind: .protected(markup), range: scalars.count..<scalars.count, parent: open.last))
        }

        /// The text so far (markup still open is closed at the end).
        public func build() -> MarkedText {
            var builder = self
            while !builder.open.isEmpty { builder.close() }
            return MarkedText(text: String(String.UnicodeScalarView(builder.scalars)), spans: builder.spans)
        }
    }
}
