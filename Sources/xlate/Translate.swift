import ArgumentParser
import Foundation
import Xlate

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, tsv
}

enum SplitMode: String, ExpressibleByArgument, CaseIterable {
    case sentence, none
}

@main
struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xlate",
        abstract: "Translate text with Transformer models (Marian / OPUS-MT, T5 / Flan-T5 / mT5), on the CPU.",
        discussion: """
            Reads one segment per line from standard input (or -i FILE) and writes one translation per line; \
            empty and whitespace-only lines give empty lines. With --nbest N, each input gives N lines. Beam size, \
            length limit and length penalty default to the model's generation_config.json. A line with several \
            sentences is translated sentence by sentence and rejoined (--split none: each line whole). A progress \
            line is shown on stderr when it is a terminal and the input is not typed (not with --quiet).

            EXAMPLES
              echo "The cat sat on the mat." | xlate --src en --tgt de
              xlate --src de --tgt en -i news.de -o news.en --beam 4
              xlate --model ~/models/opus-mt-en-fr --format json --scores < input.txt
              xlate models                 # the models xlate can find, and where it looks
              xlate -s en -t de --align hard < input.txt    # translation ||| 0-0 1-1 2-3 ... (source-target words)
              xlate align -s en -t de "The cat sat on the mat."   # see 'xlate align --help'
              xlate --model ~/models/t5-small -s en -t de < input.txt   # T5: adds "translate English to German: "
              xlate generate --model ~/models/flan-t5-base --prefix "summarize: " < articles.txt
              xlate download Helsinki-NLP/opus-mt-fr-en   # from the Hugging Face Hub
              xlate -s fr -t en --download < news.fr      # downloads it first if missing

            EXIT STATUS
              0 success · 2 model not found · 3 bad model · 4 bad input · 5 download failed · 64 usage error
            """,
        version: versionText(),
        subcommands: [ListModels.self, AlignCommand.self, GenerateCommand.self, DownloadCommand.self, ConvertCommand.self])

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

    @Option(help: "Sentences translated at once, shared among the threads (each decodes batch-size / threads together). Larger batches are faster per sentence and use more memory.")
    var batchSize: Int = 32

    @Option(help: "Threads, each translating its share of the batch. Default: all cores.")
    var threads: Int?

    @Option(help: "Output format: text, json (one object per line) or tsv (source, translation[, score]).")
    var format: OutputFormat = .text

    @Option(help: "sentence: translate each sentence of a line and rejoin them (over-long sentences are cut at safe boundaries); none: each line is one segment, truncated if longer than the model reads.")
    var split: SplitMode = .sentence

    @Option(help: ArgumentHelp(
        "Add word alignments: hard (for each target word, the source word it attended to most), soft (the attention matrix, one group of weights per target word), or a number P (every link with weight >= P). Text: 'translation ||| 0-0 1-2 ...' (source-target word indices from 0); json: an \"alignment\" object; tsv: one more column.",
        valueName: "hard|soft|P"))
    var align: AlignmentOutput?

    @Option(help: ArgumentHelp(
        "Text put before every segment, e.g. a T5 task prefix (\"summarize: \"). Default with a T5 model and --src/--tgt: its translation prefix (\"translate English to German: \").",
        valueName: "text"))
    var prefix: String?

    @Option(help: ArgumentHelp(
        "float32: results identical to the reference implementation (float16 checkpoints keep half-precision weights, exactly); int8: weights quantised to 8 bits per row — faster, less memory, translations may differ slightly.",
        valueName: "float32|int8"))
    var computeType: ComputeType = .float32

    @Flag(help: "Add scores (log-probabilities normalised by length) to the output.")
    var scores = false

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    var quiet = false

    @Flag(help: "When no local model serves --src/--tgt, download Helsinki-NLP/opus-mt-SRC-TGT from the Hugging Face Hub first (see 'xlate download --help').")
    var download = false

    func validate() throws {
        if download, model != nil { throw ValidationError("--download fetches the model for --src/--tgt; it does not go with --model") }
        if let model, source != nil || target != nil, !isTextToTextModel(model) {
            throw ValidationError("give either --model or --src/--tgt, not both (with a T5 model, --src/--tgt choose the translation prefix)")
        }
        if model != nil, (source == nil) != (target == nil) { throw ValidationError("--src and --tgt go together") }
        if let beam, beam < 1 { throw ValidationError("--beam must be >= 1, got \(beam)") }
        if nbest < 1 { throw ValidationError("--nbest must be >= 1, got \(nbest)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be >= 1, got \(batchSize)") }
    }

    func run() throws {
        let downloaded = download ? try downloadedModelForPair(source: source, target: target, quiet: quiet) : nil
        let interrupt = Interrupt.install()
        let translator = try loadTranslator(model: model ?? downloaded, source: source, target: target, computeType: computeType)
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
        options.splitSentences = split == .sentence
        options.prefix = try inputPrefix(for: translator, prefix: prefix, source: source, target: target)
        if align != nil { options.decoding.crossAttention = try alignmentRequest(translator) }
        do {
            try options.validate(for: translator.model)
        } catch {
            printError(usageMessage(error))
            throw ExitCode(Exit.usage)
        }

        let sink: OutputSink
        do { sink = try OutputSink(path: output) } catch {
            printError("cannot write \(output ?? "stdout"): \(error.localizedDescription)")
            throw ExitCode(Exit.badInput)
        }
        let chunkSize = max(options.batchSize * 16, 512)
        let progress = ProgressBar.make(inputs: inputs.isEmpty ? ["-"] : inputs, quiet: quiet)
        defer { progress?.clear() }
        var linesWritten = 0
        // Translations cut by the length limit: the first few are named, the rest counted (a small --max-length
        // would otherwise warn once per line).
        var cutLines = 0
        let namedCutLines = 5
        defer {
            if cutLines > namedCutLines, !quiet {
                progress?.clear()
                printError("warning: \(cutLines) lines in all reached the length limit of \(options.decoding.effectiveMaxLength) tokens (the first \(namedCutLines) are named above)")
            }
        }
        for path in inputs.isEmpty ? ["-"] : inputs {
            let reader: LineReader
            do { reader = try LineReader(path: path) } catch {
                progress?.clear()
                printError("cannot read \(path): \(error.localizedDescription)")
                throw ExitCode(Exit.badInput)
            }
            var linesDone = 0
            while true {
                let chunk: [String]
                do { chunk = try reader.nextLines(chunkSize) } catch let error as LineReader.InvalidUTF8 {
                    progress?.clear()
                    printError("\(path == "-" ? "stdin" : path), line \(error.line): invalid UTF-8; convert the input to UTF-8 (e.g. iconv -f latin1 -t utf-8)")
                    sink.flush()
                    throw ExitCode(Exit.badInput)
                }
                if chunk.isEmpty { break }
                if let number = interrupt.signal {
                    progress?.clear()
                    printError("interrupted: the first \(linesWritten) input lines are translated and written, the rest is not")
                    throw ExitCode(128 + number)
                }
                progress?.begin(chunk)
                let translations: [Translation]
                do { translations = try translator.translate(chunk, options: options, progress: progress?.advance) } catch let error as XlateCoreError {
                    progress?.clear()
                    printError(error.localizedDescription)
                    throw ExitCode(Exit.outOfMemory)
                }
                for (offset, translation) in translations.enumerated() {
                    let line = (inputs.count > 1 ? "\(path), line " : "line ") + "\(linesDone + offset + 1)"
                    if translation.truncatedSourceTokens > 0, !quiet {
                        progress?.clear()
                        printError("warning: \(line) is longer than the model's \(translator.model.maxSourceLength) tokens; its last \(translation.truncatedSourceTokens) tokens were not translated" + (split == .none ? " (--split sentence would translate it in pieces)" : ""))
                    }
                    if translation.reachedMaxLength {
                        cutLines += 1
                        if cutLines <= namedCutLines, !quiet {
                            progress?.clear()
                            printError(maxLengthWarning(line, options: options, model: translator.model, splitting: split != .none))
                        }
                    }
                    sink.write(try render(translation))
                }
                sink.flush()
                progress?.end()
                linesDone += chunk.count
                linesWritten += chunk.count
            }
        }
    }

    func render(_ translation: Translation) throws -> String {
        // A blank input has no hypotheses; it still gives `nbest` (empty) outputs so that groups stay aligned.
        let hypotheses = translation.hypotheses.isEmpty
            ? Array(repeating: TranslatedHypothesis(text: "", ids: [], pieces: [], score: nil, tokenScores: nil, crossAttention: nil), count: nbest)
            : translation.hypotheses
        func score(_ h: TranslatedHypothesis) -> String { h.score.map { String(format: "%.6f", $0) } ?? "" }
        switch format {
        case .text:
            if let align {
                return hypotheses.prefix(nbest).indices.map { n in
                    "\(hypotheses[n].text)" + (scores || nbest > 1 ? " ||| \(score(hypotheses[n]))" : "")
                        + " ||| \(align.text(translation.alignment(ofHypothesis: n)))\n"
                }.joined()
            }
            if nbest > 1 {
                return hypotheses.map { "\($0.text) ||| \(score($0))\n" }.joined()
            }
            return scores ? "\(hypotheses[0].text) ||| \(score(hypotheses[0]))\n" : "\(hypotheses[0].text)\n"
        case .tsv:
            // One record per line, fields split by tabs: tabs and line breaks inside a field become spaces.
            func clean(_ s: String) -> String {
                String(s.unicodeScalars.map { "\t\n\r\u{0B}\u{0C}\u{85}\u{2028}\u{2029}".unicodeScalars.contains($0) ? " " : Character($0) })
            }
            return hypotheses.prefix(nbest).indices.map { n in
                let h = hypotheses[n]
                return [clean(translation.source), clean(h.text)].joined(separator: "\t") + (scores ? "\t\(score(h))" : "")
                    + (align.map { "\t" + $0.text(translation.alignment(ofHypothesis: n)) } ?? "") + "\n"
            }.joined()
        case .json:
            var object: [String: Any] = [
                "source": translation.source, "translation": hypotheses[0].text, "tokens": hypotheses[0].pieces,
            ]
            // JSON has no NaN or infinity: such a score (a forced token the model ruled out: −∞) is written as null.
            func number(_ x: Float) -> Any { x.isFinite ? Double(x) : NSNull() }
            if let s = hypotheses[0].score { object["score"] = number(s) }
            if scores, let tokenScores = hypotheses[0].tokenScores { object["token_scores"] = tokenScores.map(number) }
            if translation.truncatedSourceTokens > 0 { object["truncated_source_tokens"] = translation.truncatedSourceTokens }
            if let align { object["alignment"] = align.json(translation.alignment) }
            if nbest > 1 {
                object["nbest"] = hypotheses.indices.map { n -> [String: Any] in
                    let h = hypotheses[n]
                    var entry: [String: Any] = ["translation": h.text, "tokens": h.pieces]
                    if let s = h.score { entry["score"] = number(s) }
                    if let align { entry["alignment"] = align.json(translation.alignment(ofHypothesis: n)) }
                    return entry
                }
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }
}

/// The warning for a translation that used every position the length limit allows: `what` names the input
/// ("line 3"); `splitting`: sentences are already translated one by one.
func maxLengthWarning(_ what: String, options: TranslationOptions, model: any Seq2SeqModel, splitting: Bool = true) -> String {
    let limit = options.decoding.effectiveMaxLength
    let advice = limit < model.maxTargetLength
        ? "raise --max-length (the model allows up to \(model.maxTargetLength))"
        : "that is the model's limit: translate shorter pieces" + (splitting ? "" : " (--split sentence)")
    return "warning: \(what): the translation reached the length limit of \(limit) tokens and may be cut; \(advice)"
}
