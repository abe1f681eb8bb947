import Xlate

/// Carries the spans of a source text onto its translation through the hard word alignment.
///
/// Like bergamot-translator's `HTML::restore` (Firefox), markup follows the words: a span covers the target words
/// whose hard-aligned source word it covered. Unlike it (it gives each target token the tag stack of its aligned
/// source token, so a tag over words that are not contiguous in the translation is split), a span is never split
/// or repeated: it covers the one
/// contiguous run of such words that holds most of them (gaps of up to two words bridged), so the output has the
/// source's tags, in the source's order and nesting, once each. Where the words of siblings came out in another
/// order, the siblings that keep their order keep their words (the longest ordered run); the others, and spans whose
/// words align nowhere, become empty at the place after their preceding sibling. Punctuation at the edge of a span's
/// words stays outside unless the source span had it there.
struct SpanTransfer {
    /// The text the model read, its words (whitespace-separated runs), and the spans over it.
    let source: [Unicode.Scalar]
    let sourceSpans: [MarkedText.Span]
    /// The placeholder token of each protected span (by span index).
    let placeholders: [Int: String]
    /// Whether the source had whitespace before and after each point span (by span index).
    var pointSpacing: [Int: (before: Bool, after: Bool)] = [:]

    /// Spans over `target` (placeholders the model dropped put back, so `target` may grow).
    func transfer(target: inout [Unicode.Scalar], alignment: Alignment?) -> [MarkedText.Span] {
        let sourceWords = Self.words(source)
        var targetWords = Self.words(target)
        // Hard links and attention, indexed by our words (SentencePiece words are whitespace runs too; when the
        // tokenizer normalised whitespace away the counts differ and indices are scaled).
        var hard: [Int?] = targetWords.indices.map { _ in nil }
        var rows: [[Float]?] = targetWords.indices.map { _ in nil }
        if let alignment, !alignment.sourceWords.isEmpty, !alignment.targetWords.isEmpty, !sourceWords.isEmpty {
            let matrix = Self.contentRows(alignment)
            for t in targetWords.indices {
                let row = matrix[Self.scale(t, targetWords.count, alignment.targetWords.count)]
                rows[t] = sourceWords.indices.map { row[Self.scale($0, sourceWords.count, alignment.sourceWords.count)] }
                hard[t] = rows[t]!.indices.max { rows[t]![$0] < rows[t]![$1] }
            }
        }
        func wordsOverlapping(_ range: Range<Int>) -> [Int] {
            sourceWords.indices.filter { sourceWords[$0].overlaps(range) }
        }
        /// The target word that attended most to source word `s`.
        func mostAttending(_ s: Int) -> Int? {
            var best: Int?
            for t in targetWords.indices {
                guard let row = rows[t] else { continue }
                if best == nil || row[s] > rows[best!]![s] { best = t }
            }
            return best
        }

        // Placeholder-like words the model made up or repeated ("ZQXE ZQXE", "ZQXI") are taken out, so that only
        // the first of each real placeholder remains.
        var real: [Range<Int>] = []
        for token in placeholders.sorted(by: { $0.key < $1.key }).map(\.value) {
            if let found = Self.find(Array(token.unicodeScalars), in: target, avoiding: real) { real.append(found) }
        }
        for stray in Self.placeholderLike(in: target).reversed() where !real.contains(stray) {
            target.removeSubrange(stray)
            for i in real.indices where real[i].lowerBound >= stray.upperBound {
                real[i] = (real[i].lowerBound - stray.count)..<(real[i].upperBound - stray.count)
            }
            for i in targetWords.indices.reversed() {
                let word = targetWords[i]
                if word.lowerBound >= stray.upperBound {
                    targetWords[i] = (word.lowerBound - stray.count)..<(word.upperBound - stray.count)
                } else if word.lowerBound <= stray.lowerBound, stray.upperBound <= word.upperBound {
                    if word.count == stray.count {
                        // The whole word goes, and one space beside it.
                        targetWords.remove(at: i)
                        hard.remove(at: i)
                        rows.remove(at: i)
                        let space = stray.lowerBound < target.count && target[stray.lowerBound].properties.isWhitespace
                            ? stray.lowerBound : stray.lowerBound > 0 && target[stray.lowerBound - 1].properties.isWhitespace ? stray.lowerBound - 1 : nil
                        if let space {
                            target.remove(at: space)
                            for j in targetWords.indices where targetWords[j].lowerBound > space {
                                targetWords[j] = (targetWords[j].lowerBound - 1)..<(targetWords[j].upperBound - 1)
                            }
                            for j in real.indices where real[j].lowerBound > space {
                                real[j] = (real[j].lowerBound - 1)..<(real[j].upperBound - 1)
                            }
                        }
                    } else {
                        targetWords[i] = word.lowerBound..<(word.upperBound - stray.count)
                    }
                }
            }
        }

        var spans = sourceSpans.map { MarkedText.Span(kind: $0.kind, range: 0..<0, parent: $0.parent) }
        var aligned = [Bool](repeating: false, count: spans.count)

        // Protected spans: find each placeholder; put back one the model dropped after the word that attended most
        // to it (or at the end).
        for (index, token) in placeholders.sorted(by: { $0.key < $1.key }) {
            let tokenScalars = Array(token.unicodeScalars)
            if let found = Self.find(tokenScalars, in: target, avoiding: spans.indices.filter { placeholders[$0] != nil && aligned[$0] }.map { spans[$0].range }) {
                spans[index].range = found
                aligned[index] = true
                continue
            }
            let sourceWord = wordsOverlapping(sourceSpans[index].range).first
            let after = sourceWord.flatMap(mostAttending).map { targetWords[$0].upperBound } ?? target.count
            let inserted = Array(" ".unicodeScalars) + tokenScalars
            target.insert(contentsOf: inserted, at: after)
            for i in spans.indices where aligned[i] && spans[i].range.lowerBound >= after {
                spans[i].range = (spans[i].range.lowerBound + inserted.count)..<(spans[i].range.upperBound + inserted.count)
            }
            spans[index].range = (after + 1)..<(after + inserted.count)
            aligned[index] = true
            // The new word links to the placeholder's source word.
            let position = targetWords.firstIndex { $0.lowerBound >= after } ?? targetWords.count
            for i in position..<targetWords.count {
                targetWords[i] = (targetWords[i].lowerBound + inserted.count)..<(targetWords[i].upperBound + inserted.count)
            }
            targetWords.insert(spans[index].range, at: position)
            hard.insert(sourceWord, at: position)
            rows.insert(nil, at: position)
        }

        func isPunctuation(_ scalars: ArraySlice<Unicode.Scalar>) -> Bool {
            !scalars.contains { $0.properties.isAlphabetic || $0.properties.numericType != nil }
        }

        // Element spans: the best run of target words aligned to their source words.
        for index in spans.indices where placeholders[index] == nil {
            guard case .element = spans[index].kind else { continue }
            let range = sourceSpans[index].range
            let words = Set(wordsOverlapping(range))
            guard !words.isEmpty else { continue }
            let punctuationInSource = words.contains { isPunctuation(source[sourceWords[$0]]) }
            var members = targetWords.indices.filter { t in
                guard let s = hard[t], words.contains(s) else { return false }
                return punctuationInSource || !isPunctuation(target[targetWords[t]])
            }
            // A link much weaker than the strongest into the same source word is dropped ("ein" beside "Buch" for
            // "a <b>book</b>": the article attends to the noun a little, the noun a lot).
            let strong = members.filter { t in
                guard let s = hard[t], let weight = rows[t]?[s] else { return true }
                let best = targetWords.indices.compactMap { rows[$0]?[s] }.max() ?? weight
                return weight >= 0.75 * best
            }
            if !strong.isEmpty { members = strong }
            if members.isEmpty { members = words.sorted().compactMap(mostAttending).filter { !isPunctuation(target[targetWords[$0]]) } }
            // A span over every word of the text (a whole cue in italics) covers the whole translation.
            if words.count == sourceWords.count, !targetWords.isEmpty { members = Array(targetWords.indices) }
            guard let run = Self.bestRun(Array(Set(members)).sorted()) else { continue }
            var start = targetWords[run.lowerBound].lowerBound, end = targetWords[run.upperBound].upperBound
            // Punctuation that the source span did not have at its edges stays outside.
            let sourceText = source[range].drop { $0.properties.isWhitespace }
            let endsWithPunctuation = sourceText.last.map { !($0.properties.isAlphabetic || $0.properties.numericType != nil) } ?? false
            let startsWithPunctuation = sourceText.first.map { !($0.properties.isAlphabetic || $0.properties.numericType != nil) } ?? false
            if !endsWithPunctuation {
                while end > start, !(target[end - 1].properties.isAlphabetic || target[end - 1].properties.numericType != nil) { end -= 1 }
            }
            if !startsWithPunctuation {
                while start < end, !(target[start].properties.isAlphabetic || target[start].properties.numericType != nil) { start += 1 }
            }
            guard start < end else { continue }
            spans[index].range = start..<end
            aligned[index] = true
        }

        // A parent covers its aligned children (protected ones included).
        for index in spans.indices.reversed() where aligned[index] {
            guard let parent = spans[index].parent else { continue }
            if aligned[parent] {
                let r = spans[parent].range, c = spans[index].range
                spans[parent].range = min(r.lowerBound, c.lowerBound)..<max(r.upperBound, c.upperBound)
            } else if case .element = spans[parent].kind {
                spans[parent].range = spans[index].range
                aligned[parent] = true
            }
        }

        // Where an unaligned span goes: after the target word of the last source word before it.
        func anchor(_ index: Int) -> Int {
            let start = sourceSpans[index].range.lowerBound
            guard let previous = sourceWords.lastIndex(where: { $0.upperBound <= start }) else { return 0 }
            let targets = targetWords.indices.filter { hard[$0] == previous }
            if let last = targets.max() { return targetWords[last].upperBound }
            if sourceWords.last?.upperBound ?? 0 <= start { return target.count }
            return mostAttending(previous).map { targetWords[$0].upperBound } ?? 0
        }

        // Siblings in order, inside their parent.
        let children = MarkedText(text: "", spans: spans).children()
        func place(_ node: Int, within bounds: Range<Int>) {
            let kids = children[node].filter { placeholders[$0] == nil }
            let keep = Set(Self.longestOrdered(kids.filter { aligned[$0] }) { spans[$0].range.lowerBound })
            var cursor = bounds.lowerBound
            for (position, child) in kids.enumerated() {
                let nextStart = kids[(position + 1)...].first { keep.contains($0) }.map {
                    min(max(spans[$0].range.lowerBound, cursor), bounds.upperBound)
                } ?? bounds.upperBound
                if keep.contains(child) {
                    let start = min(max(spans[child].range.lowerBound, cursor), bounds.upperBound)
                    let end = min(max(spans[child].range.upperBound, start), bounds.upperBound)
                    spans[child].range = start..<end
                } else {
                    let at = min(max(anchor(child), cursor), max(nextStart, cursor))
                    spans[child].range = at..<at
                }
                cursor = spans[child].range.upperBound
                place(child, within: spans[child].range)
            }
        }
        place(spans.count, within: 0..<target.count)

        // A void element between spaces ("the <img> icon") stays between spaces: the model's text has one there.
        for index in spans.indices {
            guard case .point(let markup) = spans[index].kind else { continue }
            guard let (spaceBefore, spaceAfter) = pointSpacing[index] else { continue }
            var p = spans[index].range.lowerBound
            let bound = spans[index].parent.map { spans[$0].range.upperBound } ?? target.count
            if spaceBefore, p < bound, target[p].properties.isWhitespace {
                p += 1
                spans[index].range = p..<p
            }
            if spaceAfter, p > 0, target[p - 1].properties.isWhitespace, p == target.count || !target[p].properties.isWhitespace {
                spans[index].kind = .point(markup + " ")
            }
        }

        // A protected span belongs to the innermost element around its placeholder (usually its source parent).
        for index in spans.indices where placeholders[index] != nil {
            let range = spans[index].range
            var parent: Int?
            for candidate in spans.indices where placeholders[candidate] == nil {
                guard case .element = spans[candidate].kind, spans[candidate].range.lowerBound <= range.lowerBound,
                    range.upperBound <= spans[candidate].range.upperBound, !spans[candidate].range.isEmpty
                else { continue }
                if parent == nil || spans[candidate].range.count <= spans[parent!].range.count { parent = candidate }
            }
            spans[index].parent = parent
        }
        return spans
    }

    /// `[targetWords][sourceWords]` attention like `Alignment.wordMatrix`, but a target word's row averages only its
    /// pieces with a letter or digit: the piece of "Kaffee." that is "." attends to `</s>` and would halve the word's
    /// attention to "coffee".
    static func contentRows(_ alignment: Alignment) -> [[Float]] {
        alignment.targetWords.map { word in
            let content = word.pieces.filter { alignment.targetPieces[$0].unicodeScalars.contains { $0.properties.isAlphabetic || $0.properties.numericType != nil } }
            let pieces = content.isEmpty ? Array(word.pieces) : content
            return alignment.sourceWords.map { source in
                var sum: Float = 0
                for t in pieces { for s in source.pieces { sum += alignment.pieceMatrix[t][s] } }
                return sum / Float(pieces.count)
            }
        }
    }

    /// Whitespace-separated runs of `text`.
    static func words(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var start: Int?
        for (i, scalar) in text.enumerated() {
            if scalar.properties.isWhitespace {
                if let s = start { words.append(s..<i) }
                start = nil
            } else if start == nil {
                start = i
            }
        }
        if let s = start { words.append(s..<text.count) }
        return words
    }

    /// Index `i` of `from` items mapped onto `to` items.
    static func scale(_ i: Int, _ from: Int, _ to: Int) -> Int {
        from == to ? i : min(to - 1, i * to / max(from, 1))
    }

    /// The first occurrence of `token` in `text` not inside `taken` and not followed by a letter of the same token
    /// alphabet (so that `ZQXA` does not match inside `ZQXAB`).
    static func find(_ token: [Unicode.Scalar], in text: [Unicode.Scalar], avoiding taken: [Range<Int>]) -> Range<Int>? {
        guard token.count <= text.count else { return nil }
        for start in 0...(text.count - token.count) where text[start..<(start + token.count)].elementsEqual(token) {
            let range = start..<(start + token.count)
            if range.upperBound < text.count, ("A"..."Z").contains(text[range.upperBound]) { continue }
            if taken.contains(where: { $0.overlaps(range) }) { continue }
            return range
        }
        return nil
    }

    /// Every "ZQX" followed by capital letters in `text` (what placeholders look like).
    static func placeholderLike(in text: [Unicode.Scalar]) -> [Range<Int>] {
        var found: [Range<Int>] = []
        var i = 0
        while i + 3 <= text.count {
            guard text[i] == "Z", text[i + 1] == "Q", text[i + 2] == "X" else {
                i += 1
                continue
            }
            var end = i + 3
            while end < text.count, ("A"..."Z").contains(text[end]) { end += 1 }
            found.append(i..<end)
            i = end
        }
        return found
    }

    /// The run of `sorted` with the most members where neighbours are at most three apart (first of equals), as a
    /// closed range of word indices.
    static func bestRun(_ sorted: [Int]) -> ClosedRange<Int>? {
        guard var runStart = sorted.first else { return nil }
        var best = runStart...runStart, bestCount = 1, count = 1
        for (previous, next) in zip(sorted, sorted.dropFirst()) {
            if next - previous > 3 {
                runStart = next
                count = 1
            } else {
                count += 1
            }
            if count > bestCount {
                best = runStart...next
                bestCount = count
            }
        }
        return best
    }

    /// The longest subsequence of `items` whose keys do not decrease (the first such, by patience sorting).
    static func longestOrdered(_ items: [Int], key: (Int) -> Int) -> [Int] {
        guard !items.isEmpty else { return [] }
        var length = [Int](repeating: 1, count: items.count), previous = [Int?](repeating: nil, count: items.count)
        for i in items.indices {
            for j in 0..<i where key(items[j]) <= key(items[i]) && length[j] + 1 > length[i] {
                length[i] = length[j] + 1
                previous[i] = j
            }
        }
        var i: Int? = length.indices.max { length[$0] < length[$1] || (length[$0] == length[$1] && $0 > $1) }
        var result: [Int] = []
        while let k = i {
            result.append(items[k])
            i = previous[k]
        }
        return result.reversed()
    }
}
