import Xlate

extension Translator {
    /// Translates texts with markup taken out (``MarkedText``), carrying each span onto the translation through the
    /// word alignment (``SpanTransfer``), in one call: the texts are batched together.
    ///
    /// The model reads each text with its whitespace collapsed and a placeholder (``Placeholders``) for each
    /// protected span; whitespace before and after the text is kept as it was. Texts with nothing to translate (no
    /// letter or digit) come back unchanged. The cross-attention request is `options.decoding.crossAttention`, else
    /// the model's ``Translator/defaultAlignmentRequest``.
    ///
    /// - Throws: what ``Translator/translate(_:options:progress:shouldStop:)`` throws; `ModelError` when the model
    ///   folder names alignment heads that do not exist.
    public func translate(
        marked texts: [MarkedText], options: TranslationOptions? = nil, progress: (@Sendable (Int, Int) -> Void)? = nil,
        shouldStop: (@Sendable () -> Bool)? = nil
    ) throws -> [MarkedText] {
        var options = options ?? defaultOptions
        if options.decoding.crossAttention == nil { options.decoding.crossAttention = try defaultAlignmentRequest }
        let inputs = texts.map(ModelInput.init)
        let translated = inputs.indices.filter { texts[$0].hasWords }
        let translations = try translate(
            translated.map { String(String.UnicodeScalarView(inputs[$0].source)) }, options: options, progress: progress,
            shouldStop: shouldStop)
        var results = texts
        for (index, translation) in zip(translated, translations) {
            results[index] = inputs[index].restore(text: translation.text, alignment: translation.alignment)
        }
        return results
    }
}

/// What the document handlers translate with: one model, its options, placeholders on or off.
struct MarkupContext {
    let translator: Translator
    let protect: Bool
    let options: TranslationOptions?
    var shouldStop: (@Sendable () -> Bool)? = nil

    /// Translates `texts` in one batch (see ``Translator/translate(marked:options:progress:shouldStop:)``).
    func translate(_ texts: [MarkedText]) throws -> [MarkedText] {
        try translator.translate(marked: texts, options: options, shouldStop: shouldStop)
    }

    /// A builder of marked text with this context's placeholders.
    func builder(escape: @escaping (String) -> String) -> MarkedText.Builder {
        MarkedText.Builder(protect: protect, escape: escape)
    }
}

/// A marked text as the model reads it: whitespace collapsed, placeholders for protected spans.
struct ModelInput {
    /// What the model reads.
    var source: [Unicode.Scalar] = []
    /// The spans over `source` (a protected span over its placeholder).
    var spans: [MarkedText.Span]
    /// The placeholder of each protected span, by span index.
    var placeholders: [Int: String] = [:]
    /// Whitespace before and after the text, kept out of the translation.
    var leading = "", trailing = ""
    /// Whether the text had whitespace before and after each point span.
    var pointSpacing: [Int: (before: Bool, after: Bool)] = [:]
    /// Spans inside the outer whitespace keep their place there: by span index, the range in the source text
    /// (leading) or its offset from the end of the translated part (trailing).
    var leadingSpans: [Int: Range<Int>] = [:], trailingSpans: [Int: Range<Int>] = [:]

    init(_ marked: MarkedText) {
        spans = marked.spans
        let text = Array(marked.text.unicodeScalars)
        var tokensAt: [Int: [Int]] = [:]
        for (index, span) in marked.spans.enumerated() {
            if case .protected = span.kind { tokensAt[span.range.lowerBound, default: []].append(index) }
            if case .point = span.kind {
                let at = span.range.lowerBound
                pointSpacing[index] = (at > 0 && text[at - 1].properties.isWhitespace, at < text.count && text[at].properties.isWhitespace)
            }
        }
        let firstContent = min(text.firstIndex { !$0.properties.isWhitespace } ?? text.count, tokensAt.keys.min() ?? text.count)
        let lastContent = max((text.lastIndex { !$0.properties.isWhitespace }).map { $0 + 1 } ?? 0, tokensAt.keys.max() ?? 0)
        leading = String(String.UnicodeScalarView(text[0..<firstContent]))
        for (index, span) in marked.spans.enumerated() {
            if case .protected = span.kind { continue }
            if firstContent > 0, span.range.upperBound <= firstContent, span.range.lowerBound < firstContent {
                leadingSpans[index] = span.range
            } else if firstContent < lastContent, span.range.lowerBound >= lastContent, span.range.upperBound > lastContent || span.range.isEmpty {
                trailingSpans[index] = (span.range.lowerBound - lastContent)..<(span.range.upperBound - lastContent)
            }
        }
        trailing = firstContent < lastContent ? String(String.UnicodeScalarView(text[lastContent...])) : ""
        // boundary[i]: the offset in `source` of the gap before text scalar i (before any placeholder there).
        var boundary = [Int](repeating: 0, count: text.count + 1)
        var pendingSpace = false
        var tokenCount = 0
        for i in 0...text.count {
            boundary[i] = min(source.count + (pendingSpace ? 1 : 0), source.count + 1)
            for index in tokensAt[i] ?? [] {
                if pendingSpace { source.append(" ") }
                pendingSpace = false
                let token = Placeholders.token(tokenCount)
                tokenCount += 1
                placeholders[index] = token
                let start = source.count
                source += token.unicodeScalars
                spans[index].range = start..<source.count
            }
            guard i < text.count, i >= firstContent, i < lastContent else { continue }
            if text[i].properties.isWhitespace {
                pendingSpace = !source.isEmpty
            } else {
                if pendingSpace { source.append(" ") }
                pendingSpace = false
                source.append(text[i])
            }
        }
        for index in spans.indices where placeholders[index] == nil {
            let range = marked.spans[index].range
            let start = min(boundary[range.lowerBound], source.count)
            spans[index].range = start..<max(start, min(boundary[range.upperBound], source.count))
        }
        // An element covers the placeholders inside it (they sit at its edges when it holds only them).
        for index in spans.indices.reversed() {
            guard let parent = spans[index].parent, case .element = spans[parent].kind else { continue }
            let r = spans[parent].range, c = spans[index].range
            guard !c.isEmpty else { continue }
            spans[parent].range = r.isEmpty ? c : min(r.lowerBound, c.lowerBound)..<max(r.upperBound, c.upperBound)
        }
    }

    /// The translation as a marked text: the spans carried over, the source's outer whitespace around it.
    func restore(text: String, alignment: Alignment?) -> MarkedText {
        var target = Array(text.unicodeScalars)
        let transfer = SpanTransfer(source: source, sourceSpans: spans, placeholders: placeholders, pointSpacing: pointSpacing)
        let targetSpans = transfer.transfer(target: &target, alignment: alignment)
        let shift = leading.unicodeScalars.count, end = shift + target.count
        return MarkedText(
            text: leading + String(String.UnicodeScalarView(target)) + trailing,
            spans: targetSpans.enumerated().map { index, span in
                var span = span
                if let range = leadingSpans[index] {
                    span.range = range
                } else if let offset = trailingSpans[index] {
                    span.range = (end + offset.lowerBound)..<(end + offset.upperBound)
                } else {
                    span.range = (span.range.lowerBound + shift)..<(span.range.upperBound + shift)
                }
                return span
            })
    }
}
