import ArgumentParser
import Foundation
import Xlate

/// `xlate align --pairs`: aligns given `source ||| target` lines instead of translating.
extension AlignCommand {
    /// What `--format` prints for each pair.
    enum PairsFormat: String, ExpressibleByArgument, CaseIterable {
        /// The links, `0-0 1-2 ...` (Moses/Pharaoh).
        case text
        /// One JSON object per line: words, links, and the word matrices.
        case json
    }

    /// One input line: its number for messages, and its two sides or why it has none.
    struct PairLine {
        var label: String
        var pair: (source: String, target: String)?
        var error: String?

        /// Splits `source ||| target`; a blank line is a pair of two empty sides.
        init(_ line: String, label: String) {
            self.label = label
            if line.allSatisfy(\.isWhitespace) {
                pair = ("", "")
                return
            }
            let sides = line.components(separatedBy: "|||")
            guard sides.count == 2 else {
                error = sides.count == 1
                    ? "expected 'source ||| target', found no '|||'"
                    : "expected 'source ||| target', found \(sides.count - 1) '|||'"
                return
            }
            // Whitespace around the sides (a CRLF file's "\r" too) is no word.
            let trimmed = sides.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            pair = (trimmed[0], trimmed[1])
        }
    }

    /// The result for one line: the forward alignment, the reverse one (target→source) with `--symmetrize`, and the
    /// links printed.
    struct AlignedPair {
        var forward: Alignment
        var reverse: Alignment?
        var links: [Alignment.Link]
    }

    func runPairs(_ input: InputArguments, _ selection: ModelArguments) throws {
        let translator = try selection.loadTranslator(quiet: input.quiet)
        var options = try decoding.filled(from: root.decoding)
            .options(for: translator, source: selection.source, target: selection.target)
        // The model's setting for given pairs, which may differ from the heads for its own translations.
        let fallback = try translator.defaultPairAlignment
        options.decoding.crossAttention = CrossAttentionRequest(
            layer: layer ?? fallback.request.layer, heads: try headList() ?? (layer == nil ? fallback.request.heads : nil))
        options.alignmentMethod = fallback.method
        try options.validate(for: translator.model)
        let reverse = try reverseTranslator(selection, quiet: input.quiet)
        let symmetrization = reverse == nil ? nil : symmetrize?.symmetrization ?? .growDiagFinalAnd

        // `--format` after 'align' may reach the root command, which has one too (text, json, tsv).
        let json: Bool
        switch (format, root.output.format) {
        case (.json?, _), (nil, .json?): json = true
        case (.text?, _), (nil, nil), (nil, .text?): json = false
        case (nil, .some(let other)): throw ValidationError("--pairs prints text or json, not \(other.rawValue)")
        }
        let sink = try OutputSink(path: nil)
        var maps: [AlignmentMap] = []
        let keepMaps = html != nil || svg != nil
        var failed = 0
        do {
            let inputs = texts.isEmpty ? input.paths : []
            var chunks: [[PairLine]] = []
            if !texts.isEmpty {
                chunks = [texts.enumerated().map { PairLine($1, label: "argument \($0 + 1)") }]
            }
            var repairedLines = LineWarnings()
            func warn(_ message: String) { if !input.quiet { printError(message) } }
            defer { repairedLines.summarize("had invalid UTF-8", print: warn) }
            var readers = inputs.makeIterator()
            var reader: LineReader?
            while true {
                var chunk: [PairLine]
                if !chunks.isEmpty {
                    chunk = chunks.removeFirst()
                } else {
                    if reader == nil {
                        guard let path = readers.next() else { break }
                        reader = try LineReader(path: path, strict: input.strictInput)
                    }
                    let start = reader!.lineNumber
                    let lines = try reader!.nextLines(256)
                    if lines.isEmpty {
                        reader = nil
                        continue
                    }
                    for number in reader!.takeRepairedLines() {
                        repairedLines.add(invalidUTF8Warning(lineLabel(number, reader!, inputs)), print: warn)
                    }
                    chunk = lines.enumerated().map { PairLine($1, label: lineLabel(start + $0 + 1, reader!, inputs)) }
                }
                let results = try align(&chunk, translator, reverse, options, symmetrization)
                var out = ""
                for (line, result) in zip(chunk, results) {
                    if let error = line.error {
                        failed += 1
                        printError("\(line.label): \(error)")
                    }
                    out += json ? try jsonLine(line, result, symmetrization) : textLine(result)
                    if keepMaps, let result, let pair = line.pair {
                        var view = AlignmentMap.View(label: options.decoding.crossAttention!.label, alignment: result.forward)
                        if symmetrization != nil { view.links = result.links }
                        maps.append(AlignmentMap(source: pair.source, translation: pair.target, views: [view]))
                    }
                }
                try sink.write(out)
            }
            try sink.flush()
        } catch let error as WriteFailure {
            throw sink.abandon(after: error)
        } catch {
            try sink.flush()  // the lines aligned before the failure
            throw error
        }
        try sink.commitOrAbandon()
        if let svg { try write(AlignmentRenderer.svg(maps, level: level), to: svg) }
        if let html { try write(AlignmentRenderer.html(maps), to: html) }
        if failed > 0 {
            printError("\(failed) line\(failed == 1 ? "" : "s") could not be aligned (an empty line stands for each)")
            throw ExitCode(Exit.badInput)
        }
    }

    private func lineLabel(_ number: Int, _ reader: LineReader, _ inputs: [String]) -> String {
        (inputs.count > 1 ? "\(reader.name), line " : "line ") + "\(number)"
    }

    /// The opposite direction's model: `--reverse-model DIR`, else with `--src/--tgt` the model for `--tgt` →
    /// `--src` (when `--symmetrize` is not given, only if there is one: one direction otherwise, said on stderr);
    /// nil with `--symmetrize none`.
    private func reverseTranslator(_ selection: ModelArguments, quiet: Bool) throws -> Translator? {
        if symmetrize == SymmetrizeOption.none { return nil }
        if let reverseModel {
            return try xlate.loadTranslator(
                model: reverseModel, source: nil, target: nil, computeType: selection.computeType ?? .float32)
        }
        guard selection.model == nil, let source = selection.source, let target = selection.target else {
            guard symmetrize == nil else {
                throw ValidationError(
                    "--symmetrize needs the model of the opposite direction: --reverse-model DIR (found by itself with --src/--tgt)")
            }
            return nil
        }
        var reversed = selection
        (reversed.source, reversed.target) = (target, source)
        reversed.download = selection.download && symmetrize != nil  // unasked, the other direction is a bonus
        do {
            return try reversed.loadTranslator(quiet: quiet)
        } catch let error as ModelNotFound where symmetrize == nil {
            if !quiet { printError("note: \(error.localizedDescription) Aligning \(source) → \(target) only.") }
            return nil
        }
    }

    /// Aligns the chunk's well-formed lines (both directions with `reverse`); a line whose target the decoder cannot
    /// read gets its error, and nil.
    private func align(
        _ chunk: inout [PairLine], _ translator: Translator, _ reverse: Translator?, _ options: TranslationOptions,
        _ symmetrization: Symmetrization?
    ) throws -> [AlignedPair?] {
        let lines = chunk.indices.filter { chunk[$0].pair != nil }
        func alignAll(
            _ translator: Translator, _ pairs: [(source: String, target: String)], _ options: TranslationOptions?
        ) throws -> [Alignment?] {
            do {
                return try translator.align(pairs, options: options)
            } catch is TargetTooLong {
                // One pair at a time, to tell which.
                return try pairs.indices.map { index in
                    do {
                        return try translator.align([pairs[index]], options: options)[0]
                    } catch let error as TargetTooLong {
                        chunk[lines[index]].error = error.localizedDescription
                        return nil
                    }
                }
            }
        }
        let pairs = lines.map { chunk[$0].pair! }
        let forward = try alignAll(translator, pairs, options)
        var reversed = [Alignment?](repeating: nil, count: pairs.count)
        if let reverse {
            reversed = try alignAll(reverse, pairs.map { ($0.target, $0.source) }, nil)
        }
        var results = [AlignedPair?](repeating: nil, count: chunk.count)
        for (index, line) in lines.enumerated() where chunk[line].error == nil {
            guard let forwardAlignment = forward[index] else { continue }
            var result = AlignedPair(forward: forwardAlignment, reverse: nil, links: forwardAlignment.hardLinks)
            if let symmetrization, let reverseAlignment = reversed[index] {
                result.reverse = reverseAlignment
                result.links = Alignment.symmetrize(
                    forwardAlignment.hardLinks, reverseAlignment.hardLinks.map(\.swapped), symmetrization)
            }
            results[line] = result
        }
        return results
    }

    private func textLine(_ result: AlignedPair?) -> String {
        guard let result else { return "\n" }
        return result.forward.pharaoh(result.links) + "\n"
    }

    private func jsonLine(_ line: PairLine, _ result: AlignedPair?, _ symmetrization: Symmetrization?) throws -> String {
        func matrix(_ alignment: Alignment) -> [[Double]] {
            alignment.wordMatrix.map { row in row.map { (Double($0) * 1e6).rounded() / 1e6 } }
        }
        var object: [String: Any]
        if let result {
            let forward = result.forward
            object = [
                "source_words": forward.sourceWords.map(\.text), "target_words": forward.targetWords.map(\.text),
                "links": result.links.map { [$0.source, $0.target] }, "pharaoh": forward.pharaoh(result.links),
                "layer": forward.request.layer, "method": forward.method.description, "matrix": matrix(forward),
            ]
            if let heads = forward.request.heads { object["heads"] = heads }
            if let reverse = result.reverse, let symmetrization {
                object["symmetrization"] = symmetrization.rawValue
                object["forward_links"] = forward.hardLinks.map { [$0.source, $0.target] }
                object["reverse_links"] = reverse.hardLinks.map { [$0.target, $0.source] }
                object["reverse_matrix"] = matrix(reverse)  // [source words][target words]: the reverse model's rows
            }
        } else {
            object = ["error": "\(line.label): \(line.error ?? "not aligned")"]
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

