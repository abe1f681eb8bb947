import ArgumentParser
import Foundation
import Xlate

/// `xlate align-eval` (`make align-eval`): alignment error rate of each way of reading links from the attention,
/// both directions and symmetrised, on a hand-aligned gold set.
struct AlignEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "align-eval",
        abstract: "Measure alignment methods against hand-made gold links (AER, precision, recall).",
        discussion: """
            Reads DIR/SRC.txt, DIR/TGT.txt (one tokenised sentence per line) and DIR/gold.txt (one line per pair: \
            i-j sure links, ipj possible links, 0-based SRC-TGT word indices), aligns every pair with the SRC-TGT \
            model (forward) and the TGT-SRC model (reverse), and prints a table: for each method and direction its \
            AER on the dev half (even lines, where layer and heads are chosen) and AER, precision and recall on \
            the test half (odd lines, never used for a choice).

            Given pairs (align --pairs) are aligned with the model's "xlate_pair_alignment" (generation_config.json), \
            its own translations with its "alignment_heads". --write stores in each model's \
            "xlate_pair_alignment" the layer, heads and reading method with the lowest dev AER (the file is \
            rewritten with sorted keys).
            """,
        shouldDisplay: false)

    @Option(help: ArgumentHelp("The gold set's folder.", valueName: "dir"))
    var gold = "Fixtures/alignment-gold"

    @Option(help: ArgumentHelp("The languages of the gold's source and target sides: its files' names.", valueName: "src-tgt"))
    var pair = "en-de"

    @Flag(help: "Write the setting learned on the dev half into each model's generation_config.json (\"xlate_pair_alignment\").")
    var write = false

    /// The alignment heads the bundled models named before the methods were measured (their generation_config.json
    /// until then): the "before" rows read them at the predicting step, every source word a candidate. Other
    /// models' "before" is their own heads.
    static let headsBefore = [
        "en-de": CrossAttentionRequest(layer: 1, heads: [4]), "de-en": CrossAttentionRequest(layer: 2, heads: [0, 5]),
    ]

    /// A way of reading links and the alignments it gives, per pair, in gold orientation.
    private struct Measured {
        var name: String
        var direction: String
        var links: [[Alignment.Link]]
    }

    func run() throws {
        StandardStreams.prepare()
        let languages = pair.split(separator: "-").map(String.init)
        guard languages.count == 2 else { throw ValidationError("--pair takes SRC-TGT, e.g. en-de; got '\(pair)'") }
        func lines(_ name: String) throws -> [String] {
            let path = URL(fileURLWithPath: gold).appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path) else { throw ReadFailure(input: path, code: ENOENT) }
            return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init).dropLast(data.last == UInt8(ascii: "\n") ? 1 : 0)
        }
        let sources = try lines("\(languages[0]).txt"), targets = try lines("\(languages[1]).txt")
        let goldLines = try lines("gold.txt")
        guard sources.count == targets.count, sources.count == goldLines.count else {
            throw ValidationError(
                "\(gold): \(sources.count) source, \(targets.count) target and \(goldLines.count) gold lines; they must be as many")
        }
        let golds = try goldLines.enumerated().map { number, line in
            guard let parsed = AlignmentErrorRate.parseGold(line) else {
                throw ValidationError("\(gold)/gold.txt, line \(number + 1): expected 'i-j' and 'ipj' links, got '\(line)'")
            }
            return parsed
        }
        let dev = sources.indices.filter { $0 % 2 == 0 }, test = sources.indices.filter { $0 % 2 == 1 }
        func score(_ links: [[Alignment.Link]], _ indices: [Int]) -> AlignmentErrorRate {
            var rate = AlignmentErrorRate()
            for i in indices { rate.add(links[i], sure: golds[i].sure, possible: golds[i].possible) }
            return rate
        }

        var rows: [Measured] = []
        var bestOnDev: [String: Measured] = [:]  // per direction
        var before: [String: Measured] = [:], after: [String: Measured] = [:]
        var learnedOnDev: [String: String] = [:]  // per direction: the given-pair setting with the lowest dev AER
        for reverse in [false, true] {
            let (from, to) = reverse ? (languages[1], languages[0]) : (languages[0], languages[1])
            let direction = "\(from)→\(to)"
            let translator = try Translator(source: from, target: to)
            let pairs = reverse ? Array(zip(targets, sources)) : Array(zip(sources, targets))
            let model = translator.model
            var requests = (0..<model.decoderLayerCount).map { CrossAttentionRequest(layer: $0) }
            for layer in 0..<model.decoderLayerCount {
                requests += (0..<model.decoderHeadCount).map { CrossAttentionRequest(layer: layer, heads: [$0]) }
            }
            let chosen = try translator.defaultAlignmentRequest
            let previous = Self.headsBefore["\(from)-\(to)"] ?? chosen
            for request in [chosen, previous] where !requests.contains(request) { requests.append(request) }
            // What a choice is learned among: every layer's average, every head, the model's heads, the heads before.
            let candidates = requests
            var pairSetting = try translator.defaultPairAlignment
            if !requests.contains(pairSetting.request) { requests.append(pairSetting.request) }
            var options = translator.defaultOptions
            options.alignmentMethod = .predicting
            var aligned: [CrossAttentionRequest: [Alignment]] = [:]
            for request in requests {
                options.decoding.crossAttention = request
                aligned[request] = try translator.align(pairs.map { (source: $0.0, target: $0.1) }, options: options)
            }
            // Every layer's every head, averaged: one matrix per pair.
            let layerAverages = (0..<model.decoderLayerCount).map { aligned[CrossAttentionRequest(layer: $0)]! }
            let allAveraged = pairs.indices.map { i -> Alignment in
                let base = layerAverages[0][i]
                let matrix = base.pieceMatrix.indices.map { r in
                    base.pieceMatrix[r].indices.map { c in
                        layerAverages.reduce(Float(0)) { $0 + $1[i].pieceMatrix[r][c] } / Float(layerAverages.count)
                    }
                }
                return Alignment(
                    sourcePieces: base.sourcePieces, targetPieces: base.targetPieces, matrix: matrix, request: base.request,
                    method: .predicting, sourceWords: base.sourceWords, targetWords: base.targetWords)
            }
            func links(_ alignments: [Alignment], _ method: AlignmentMethod) -> [[Alignment.Link]] {
                alignments.map { alignment in
                    let links = alignment.reading(method).hardLinks
                    return reverse ? links.map(\.swapped) : links
                }
            }
            /// The candidate whose links under `method` have the lowest AER on the dev half (the first of equals).
            func learned(_ method: AlignmentMethod) -> (CrossAttentionRequest, [[Alignment.Link]]) {
                let scored = candidates.map { ($0, links(aligned[$0]!, method)) }
                return scored.min { score($0.1, dev).errorRate < score($1.1, dev).errorRate }!
            }
            let skip = AlignmentMethod(skipsPunctuation: true)
            let shifted = AlignmentMethod(shifted: true), shiftedSkip = AlignmentMethod(shifted: true, skipsPunctuation: true)
            let methods = [AlignmentMethod.predicting, skip, shifted, shiftedSkip]
            // The given-pair setting: layer, heads and method with the lowest dev AER of all.
            let best = methods.map { method in (method: method, learned: learned(method)) }
                .min { score($0.learned.1, dev).errorRate < score($1.learned.1, dev).errorRate }!
            learnedOnDev[direction] = "\(best.learned.0.label), \(best.method)"
            if write {
                let file = try Self.writePairAlignment(best.learned.0, best.method, in: translator.directory)
                printError("wrote \(PairAlignmentSetting.key) (\(best.learned.0.label), \(best.method)) to \(file.path)")
                pairSetting = try translator.defaultPairAlignment
            }
            var measured: [Measured] = []
            func add(_ name: String, _ links: [[Alignment.Link]]) {
                measured.append(Measured(name: name, direction: direction, links: links))
            }
            add("before: \(previous.label), predicting step", links(aligned[previous]!, .predicting))
            before[direction] = measured[0]
            add("own translations' default: alignment_heads (\(chosen.label)), \(AlignmentMethod.default)", links(aligned[chosen]!, .default))
            add("after (the given-pair default): \(PairAlignmentSetting.key) (\(pairSetting.request.label)), \(pairSetting.method)",
                links(aligned[pairSetting.request]!, pairSetting.method))
            after[direction] = measured[2]
            let last = CrossAttentionRequest(layer: model.decoderLayerCount - 1)
            add("last layer, all heads (\(last.label)), predicting step", links(aligned[last]!, .predicting))
            add("all layers and heads averaged, predicting step", links(allAveraged, .predicting))
            add("all layers and heads averaged, predicting step, punctuation skipped", links(allAveraged, skip))
            for (label, method) in [("predicting step", AlignmentMethod.predicting), ("predicting step, punctuation skipped", skip),
                                    ("shift-att", shifted), ("shift-att, punctuation skipped", shiftedSkip)] {
                let (request, best) = learned(method)
                add("learned on dev: \(request.label), \(label)", best)
            }
            add("\(previous.label), predicting step, punctuation skipped", links(aligned[previous]!, skip))
            add("\(previous.label), shift-att", links(aligned[previous]!, shifted))
            add("\(previous.label), shift-att, punctuation skipped", links(aligned[previous]!, shiftedSkip))
            add("all layers and heads averaged, shift-att", links(allAveraged, shifted))
            add("all layers and heads averaged, shift-att, punctuation skipped", links(allAveraged, shiftedSkip))
            rows += measured
            bestOnDev[direction] = measured.min { score($0.links, dev).errorRate < score($1.links, dev).errorRate }!
        }
        let forwardName = "\(languages[0])→\(languages[1])", reverseName = "\(languages[1])→\(languages[0])"
        for symmetrization in Symmetrization.allCases {
            for (label, chosen) in [("before", before), ("after", after)] {
                let forward = chosen[forwardName]!, reverse = chosen[reverseName]!
                rows.append(Measured(
                    name: "\(label) both ways, \(symmetrization.rawValue)", direction: "both",
                    links: zip(forward.links, reverse.links).map { Alignment.symmetrize($0, $1, symmetrization) }))
            }
        }

        var out = "Gold: \(gold) (\(sources.count) pairs; dev: the \(dev.count) even lines, test: the \(test.count) odd lines)\n"
        out += "Best on dev: \(forwardName): \(bestOnDev[forwardName]!.name); \(reverseName): \(bestOnDev[reverseName]!.name)\n"
        out += "Given-pair setting learned on dev\(write ? " (written)" : " (--write stores it)"): \(forwardName): "
            + "\(learnedOnDev[forwardName]!); \(reverseName): \(learnedOnDev[reverseName]!)\n\n"
        out += "| direction | method | dev AER | test AER | test precision | test recall |\n|---|---|---|---|---|---|\n"
        for row in rows {
            let d = score(row.links, dev), t = score(row.links, test)
            let cells = [row.direction, row.name, percent(d.errorRate), percent(t.errorRate), percent(t.precision), percent(t.recall)]
            out += "| " + cells.joined(separator: " | ") + " |\n"
        }
        print(out, terminator: "")
    }

    private func percent(_ value: Double) -> String { String(format: "%.1f %%", value * 100) }

    /// Sets `xlate_pair_alignment` in `directory`'s generation_config.json to `request` read with `method`; returns
    /// the file. The file is rewritten with sorted keys, as transformers writes it (spacing aside).
    static func writePairAlignment(_ request: CrossAttentionRequest, _ method: AlignmentMethod, in directory: URL) throws -> URL {
        let file = directory.appendingPathComponent("generation_config.json")
        guard let data = FileManager.default.contents(atPath: file.path) else { throw ReadFailure(input: file.path, code: ENOENT) }
        guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("\(file.path): not a JSON object; cannot add \(PairAlignmentSetting.key)")
        }
        var setting: [String: Any] = ["layer": request.layer, "shifted": method.shifted, "skips_punctuation": method.skipsPunctuation]
        if let heads = request.heads { setting["heads"] = heads }
        object[PairAlignmentSetting.key] = setting
        let text = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try (text + Data("\n".utf8)).write(to: file, options: .atomic)
        return file
    }
}
