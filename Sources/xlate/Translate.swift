import ArgumentParser
import Foundation
import Xlate

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, tsv
}

@main
struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xlate",
        abstract: "Translate text with Transformer models (Marian / OPUS-MT), on the CPU.",
        discussion: """
            Reads one segment per line from standard input (or -i FILE) and writes one translation per line; \
            empty and whitespace-only lines give empty lines. With --nbest N, each input gives N lines. Beam size, \
            length limit and length penalty default to the model's generation_config.json.

            EXAMPLES
              echo "The cat sat on the mat." | xlate --src en --tgt de
              xlate --src de --tgt en -i news.de -o news.en --beam 4
              xlate --model ~/models/opus-mt-en-fr --format json --scores < input.txt
              xlate models                 # the models xlate can find, and where it looks

            EXIT STATUS
              0 success · 2 model not found · 3 bad model · 4 bad input · 64 usage error
            """,
        version: versionText(),
        subcommands: [ListModels.self])

    @Option(name: .shortAndLong, help: ArgumentHelp("Model folder (Hugging Face layout).", valueName: "dir"))
    var model: String?

    @Option(name: [.customShort("s"), .customLong("src")], help: "Source language code, e.g. en.")
    var source: String?

    @Option(name: [.customShort("t"), .customLong("tgt")], help: "Target language code, e.g. de.")
    var target: String?

    @Option(name: [.customShort("i"), .customLong("input")], help: ArgumentHelp("Input file; repeat for several, - for stdin. Default: stdin.", valueName: "file"))
    var inputs: [String] = []

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Output file. Default: stdout.", valueName: "file"))
    var output: String?

    @Option(name: [.customShort("b"), .customLong("beam")], help: "Beam size; 1 is greedy search. Default: the model's.")
    var beam: Int?

    @Option(name: [.customShort("n"), .customLong("nbest")], help: "Translations per line (<= beam size).")
    var nbest: Int = 1

    @Option(help: "Longest output in tokens, counting the start token. Default: the model's.")
    var maxLength: Int?

    @Option(help: "Exponent of the length normalisation of beam scores. Default: the model's (usually 1).")
    var lengthPenalty: Double?

    @Option(help: "Ban repeating any n-gram of this size.")
    var noRepeatNgram: Int?

    @Option(help: "Penalise tokens already generated (> 1 discourages repetition).")
    var repetitionPenalty: Double?

    @Option(help: "Sentences translated together.")
    var batchSize: Int = 32

    @Option(help: "Batches translated in parallel, one per thread. Default: all cores.")
    var threads: Int?

    @Option(help: "Output format: text, json (one object per line) or tsv (source, translation[, score]).")
    var format: OutputFormat = .text

    @Flag(help: "Add scores (log-probabilities normalised by length) to the output.")
    var scores = false

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    var quiet = false

    func validate() throws {
        if model != nil, source != nil || target != nil {
            throw ValidationError("give either --model or --src/--tgt, not both")
        }
        if let beam, beam < 1 { throw ValidationError("--beam must be >= 1, got \(beam)") }
        if nbest < 1 { throw ValidationError("--nbest must be >= 1, got \(nbest)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be >= 1, got \(batchSize)") }
    }

    func run() throws {
        // Checked here, not in validate(): validate() also runs before subcommands such as `xlate models`.
        if model == nil, (source == nil) != (target == nil) {
            throw ValidationError("--src and --tgt go together")
        }
        if model == nil, source == nil {
            throw ValidationError("choose a model: --src LANG --tgt LANG, or --model DIR (see 'xlate models')")
        }
        let translator: Translator
        do {
            if let model {
                translator = try Translator(modelAt: URL(fileURLWithPath: model))
            } else {
                translator = try Translator(source: source!, target: target!)
            }
        } catch let error as ModelNotFound {
            printError(error.localizedDescription)
            throw ExitCode(Exit.modelNotFound)
        } catch let error as ModelError {
            printError(error.localizedDescription)
            if case .missingFile(let path, _) = error, path.hasSuffix(model ?? "\u{0}") { throw ExitCode(Exit.modelNotFound) }
            throw ExitCode(Exit.badModel)
        }
        var options = translator.defaultOptions
        options.batchSize = batchSize
        if let threads { options.threads = threads }
        if let beam { options.decoding.numBeams = beam }
        options.decoding.numReturnSequences = nbest
        if nbest > options.decoding.numBeams, beam == nil { options.decoding.numBeams = nbest }
        if let maxLength { options.decoding.maxLength = maxLength }
        if let lengthPenalty { options.decoding.lengthPenalty = lengthPenalty }
        if let noRepeatNgram { options.decoding.noRepeatNgramSize = noRepeatNgram }
        if let repetitionPenalty { options.decoding.repetitionPenalty = repetitionPenalty }
        options.decoding.returnTokenScores = scores || format == .json
        do {
            try options.validate(for: translator.model)
        } catch {
            printError(error.localizedDescription)
            throw ExitCode(Exit.usage)
        }

        let sink: OutputSink
        do { sink = try OutputSink(path: output) } catch {
            printError("cannot write \(output ?? "stdout"): \(error.localizedDescription)")
            throw ExitCode(Exit.badInput)
        }
        let chunkSize = max(options.batchSize * 16, 512)
        for path in inputs.isEmpty ? ["-"] : inputs {
            let reader: LineReader
            do { reader = try LineReader(path: path) } catch {
                printError("cannot read \(path): \(error.localizedDescription)")
                throw ExitCode(Exit.badInput)
            }
            var linesDone = 0
            while true {
                let chunk: [String]
                do { chunk = try reader.nextLines(chunkSize) } catch let error as LineReader.InvalidUTF8 {
                    printError("\(path == "-" ? "stdin" : path), line \(error.line): invalid UTF-8; convert the input to UTF-8 (e.g. iconv -f latin1 -t utf-8)")
                    sink.flush()
                    throw ExitCode(Exit.badInput)
                }
                if chunk.isEmpty { break }
                let translations = try translator.translate(chunk, options: options)
                for (offset, translation) in translations.enumerated() {
                    if translation.truncatedSourceTokens > 0, !quiet {
                        printError("warning: line \(linesDone + offset + 1) is longer than the model's \(translator.model.maxSourceLength) tokens; its last \(translation.truncatedSourceTokens) tokens were not translated")
                    }
                    sink.write(render(translation))
                }
                sink.flush()
                linesDone += chunk.count
            }
        }
    }

    func render(_ translation: Translation) -> String {
        // A blank input has no hypotheses; it still gives `nbest` (empty) outputs so that groups stay aligned.
        let hypotheses = translation.hypotheses.isEmpty
            ? Array(repeating: TranslatedHypothesis(text: "", ids: [], pieces: [], score: nil, tokenScores: nil, crossAttention: nil), count: nbest)
            : translation.hypotheses
        func score(_ h: TranslatedHypothesis) -> String { h.score.map { String(format: "%.6f", $0) } ?? "" }
        switch format {
        case .text:
            if nbest > 1 {
                return hypotheses.map { "\($0.text) ||| \(score($0))\n" }.joined()
            }
            return scores ? "\(hypotheses[0].text) ||| \(score(hypotheses[0]))\n" : "\(hypotheses[0].text)\n"
        case .tsv:
            func clean(_ s: String) -> String { s.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ") }
            return hypotheses.prefix(nbest).map { h in
                [clean(translation.source), clean(h.text)].joined(separator: "\t") + (scores ? "\t\(score(h))" : "") + "\n"
            }.joined()
        case .json:
            var object: [String: Any] = [
                "source": translation.source, "translation": hypotheses[0].text, "tokens": hypotheses[0].pieces,
            ]
            if let s = hypotheses[0].score { object["score"] = Double(s) }
            if scores, let tokenScores = hypotheses[0].tokenScores { object["token_scores"] = tokenScores.map(Double.init) }
            if translation.truncatedSourceTokens > 0 { object["truncated_source_tokens"] = translation.truncatedSourceTokens }
            if nbest > 1 {
                object["nbest"] = hypotheses.map { h -> [String: Any] in
                    var entry: [String: Any] = ["translation": h.text, "tokens": h.pieces]
                    if let s = h.score { entry["score"] = Double(s) }
                    return entry
                }
            }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }
}
