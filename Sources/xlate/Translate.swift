import ArgumentParser
import Foundation
import Xlate
import XlateDocuments

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
        abstract: "Translate text with Transformer models (Marian / OPUS-MT, T5 / Flan-T5 / mT5, NLLB-200, M2M100, mBART-50, BART), on the CPU.",
        discussion: """
            Reads one segment per line from standard input (or -i FILE) and writes one translation per line; \
            empty and whitespace-only lines give empty lines. With --nbest N, each input gives N lines. Beam size, \
            length limit and length penalty default to the model's generation_config.json. A line with several \
            sentences is translated sentence by sentence and rejoined (--split none: each line whole). A progress \
            line is shown on stderr when it is a terminal and the input is not typed (not with --quiet).

            EXAMPLES
              echo "The cat sat on the mat." | xlate --src en --tgt de
              xlate --src de --tgt en -i news.de -o news.en --beam 4
              xlate --model ~/models/opus-mt-en-fr --format json --scores < in.txt
              # the models xlate can find, and where it looks
              xlate models
              # translation ||| 0-0 1-1 2-3 ... (source-target word links)
              xlate -s en -t de --align hard < input.txt
              # a heatmap of the alignment: see 'xlate align --help'
              xlate align -s en -t de "The cat sat on the mat."
              # T5: adds "translate English to German: " before each sentence
              xlate --model ~/models/t5-small -s en -t de < input.txt
              xlate generate --model ~/models/t5-small --prefix "summarize: " < in.txt
              # NLLB-200, M2M100, mBART-50: one model, many languages ('xlate models')
              xlate --model ~/models/nllb-200-distilled-600M -s en -t fr < in.txt
              # from the Hugging Face Hub; --download fetches it first if missing
              xlate download Helsinki-NLP/opus-mt-fr-en
              xlate -s fr -t en --download < news.fr
              # documents keep their structure: HTML, Markdown, SRT, WebVTT (by extension)
              xlate -s en -t de -i page.html -o page.de.html
              xlate -s en -t de -i talk.vtt -o talk.de.vtt
              # lines with markup: tags follow their words
              echo 'The <b>cat</b> sat.' | xlate -s en -t de --markup html
              # shell completion (bash; also zsh, fish) and a man page (make man)
              xlate --generate-completion-script bash > /etc/bash_completion.d/xlate

            EXIT STATUS
              0 success · 1 cannot write the output · 2 model not found · 3 bad model
              4 bad input · 5 download failed · 64 usage error · 128+N stopped by signal N
            """,
        version: versionText(),
        subcommands: [ListModels.self, AlignCommand.self, AlignEvalCommand.self, TimeCallsCommand.self, GenerateCommand.self, ServeCommand.self, DownloadCommand.self, ConvertCommand.self])

    @OptionGroup(title: "Model") var selection: ModelArguments
    @OptionGroup(title: "Input") var input: InputArguments
    @OptionGroup(title: "Output") var output: OutputArguments
    @OptionGroup(title: "Decoding") var decoding: DecodingArguments
    @OptionGroup(title: "Documents and markup") var documents: DocumentArguments

    @Option(help: "sentence: translate each sentence of a line and rejoin them (over-long sentences are cut at safe boundaries); none: each line is one segment, truncated if longer than the model reads.")
    var split: SplitMode = .sentence

    @Flag(name: .customShort("V"), help: "Show the version (as --version).")
    var showVersion = false

    func run() throws {
        if showVersion {
            print(versionText())
            return
        }
        if let format = try documents.documentFormat(paths: input.paths) {
            try DocumentTranslation(
                selection: selection, input: input, output: output, decoding: decoding, split: split, format: format,
                protect: !documents.noProtect
            ).run()
            return
        }
        try LineTranslation(
            selection: selection, input: input, output: output, decoding: decoding, split: split,
            markup: documents.markup, protect: !documents.noProtect
        ).run()
    }
}

/// One segment per input line → translations (`xlate`, `xlate generate`): reads, translates in chunks, writes, and
/// maps failures to exit statuses.
struct LineTranslation {
    let selection: ModelArguments
    let input: InputArguments
    let output: OutputArguments
    let decoding: DecodingArguments
    let split: SplitMode
    /// Each line is a fragment of this markup (nil: plain text, the model's own translation).
    var markup: MarkupFormat? = nil
    /// With `markup`: keep URLs, numbers, format strings and code byte-identical.
    var protect = true

    private var inputs: [String] { input.paths }
    private var quiet: Bool { input.quiet }
    private var nbest: Int { output.nbest ?? 1 }
    private var format: OutputFormat { output.format ?? .text }
    private var scores: Bool { output.scores }
    private var align: AlignmentOutput? { output.align }

    func run() throws {
        StandardStreams.prepare()
        // Before anything is loaded or opened: writing the output would destroy the input.
        if let message = inputIsOutputMessage(inputs: inputs, output: output.output) {
            printError(message)
            throw ExitCode(Exit.usage)
        }
        if markup != nil, nbest > 1 || format != .text || scores || align != nil {
            throw ValidationError("--markup gives one translation per line, as text: it does not go with --nbest, --format, --scores or --align")
        }
        let interrupt = Interrupt.install()
        let translator = try selection.loadTranslator(quiet: quiet)
        var settings = decoding.settings
        settings.nbest = nbest
        settings.tokenScores = scores || format == .json
        settings.splitSentences = split == .sentence
        settings.alignment = align != nil
        let options = try decoding.options(settings, for: translator, source: selection.source, target: selection.target)

        let sink = try OutputSink(path: output.output)
        interrupt.deleteOnForcedExit(sink.temporaryPath)
        do {
            try translateInputs(translator, options: options, into: sink, interrupt: interrupt)
        } catch let failure as WriteFailure {
            throw sink.abandon(after: failure)
        } catch {
            // Stopped by bad input or a signal: the complete lines written so far are kept.
            try sink.commitOrAbandon()
            throw error
        }
        try sink.commitOrAbandon()
    }

    /// Translates every input into `sink`, chunk by chunk, with warnings about single lines on stderr. Throws
    /// `ReadFailure` or `LineReader.InvalidUTF8` for bad input (after writing the lines before it), `ExitCode` when
    /// interrupted (after writing the lines translated), `WriteFailure` when the output fails.
    private func translateInputs(
        _ translator: Translator, options: TranslationOptions, into sink: OutputSink, interrupt: Interrupt
    ) throws {
        let chunkSize = max(options.batchSize * 16, 512)
        let progress = ProgressBar.make(inputs: inputs, quiet: quiet)
        defer { progress?.clear() }
        func warn(_ message: String) {
            guard !quiet else { return }
            progress?.clear()
            printError(message)
        }
        var linesWritten = 0
        func stop(_ number: Int32, unfinishedLine: Bool = false) -> ExitCode {
            progress?.clear()
            printError("interrupted: the first \(linesWritten) input lines are translated and written, the rest is not"
                + (unfinishedLine ? " (nor the unfinished line being read)" : ""))
            return ExitCode(128 + number)
        }
        // Translations cut by the length limit, and lines whose invalid UTF-8 was replaced.
        var cutLines = LineWarnings()
        var repairedLines = LineWarnings()
        defer {
            cutLines.summarize("reached the length limit of \(options.decoding.effectiveMaxLength) tokens", print: warn)
            repairedLines.summarize("had invalid UTF-8", print: warn)
        }
        for path in inputs {
            let reader = try LineReader(path: path, strict: input.strictInput, wakeup: interrupt.wakeup)
            func lineName(_ number: Int) -> String { (inputs.count > 1 ? "\(path), line " : "line ") + "\(number)" }
            var linesDone = 0
            while true {
                let chunk: [String]
                do { chunk = try reader.nextLines(chunkSize) } catch let error as LineReader.Interrupted {
                    throw stop(interrupt.signal ?? SIGINT, unfinishedLine: error.unfinishedLine)
                }
                if chunk.isEmpty { break }
                for number in reader.takeRepairedLines() { repairedLines.add(invalidUTF8Warning(lineName(number)), print: warn) }
                progress?.begin(chunk)
                if let markup {
                    let translated: [String]
                    do {
                        translated = try translator.translate(
                            chunk, markup: markup, protect: protect, options: options, shouldStop: { interrupt.signal != nil })
                    } catch is TranslationStopped {
                        throw stop(interrupt.signal ?? SIGINT)
                    }
                    for line in translated { try sink.write(line + "\n") }
                    try sink.flush()
                    progress?.end()
                    linesDone += translated.count
                    linesWritten += translated.count
                    if let number = interrupt.signal { throw stop(number) }
                    continue
                }
                let translations: [Translation]
                do {
                    translations = try translator.translate(
                        chunk, options: options, progress: progress?.advance, shouldStop: { interrupt.signal != nil })
                } catch let stopped as TranslationStopped {
                    translations = stopped.completedPrefix
                }
                for (offset, translation) in translations.enumerated() {
                    let line = lineName(linesDone + offset + 1)
                    if translation.truncatedSourceTokens > 0 {
                        warn("warning: \(line) is longer than the model's \(translator.model.maxSourceLength) tokens; its last \(translation.truncatedSourceTokens) tokens were not translated" + (split == .none ? " (--split sentence would translate it in pieces)" : ""))
                    }
                    // --min-length as long as --max-length asked for outputs of the full length: nothing to warn about.
                    if translation.reachedMaxLength, options.decoding.minLength < options.decoding.effectiveMaxLength {
                        cutLines.add(maxLengthWarning(line, options: options, model: translator.model, splitting: split != .none), print: warn)
                    }
                    try sink.write(try render(translation))
                }
                try sink.flush()
                progress?.end()
                linesDone += translations.count
                linesWritten += translations.count
                if let number = interrupt.signal { throw stop(number) }
            }
        }
    }

    func render(_ translation: Translation) throws -> String {
        // A blank input has no hypotheses; it still gives `nbest` (empty) outputs so that groups stay aligned.
        let hypotheses = translation.paddedHypotheses(nbest)
        func score(_ h: TranslatedHypothesis) -> String { h.score.map { String(format: "%.6f", $0) } ?? "" }
        switch format {
        case .text:
            // `translation[ ||| score][ ||| links]`, one line per hypothesis; a blank input gives empty lines (no
            // translation, so nothing to score or align).
            if translation.hypotheses.isEmpty { return String(repeating: "\n", count: nbest) }
            return hypotheses.prefix(nbest).indices.map { n in
                hypotheses[n].text + (scores ? " ||| \(score(hypotheses[n]))" : "")
                    + (align.map { " ||| " + $0.text(translation.alignment(ofHypothesis: n)) } ?? "") + "\n"
            }.joined()
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
            return translation.jsonLine(nbest: nbest, scores: scores, alignment: align) + "\n"
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
