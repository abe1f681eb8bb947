import ArgumentParser
import Foundation
import Xlate

/// `xlate align`: translate sentences and draw which source words each target word attended to.
struct AlignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "align",
        abstract: "Translate sentences and show which source words each target word attended to.",
        discussion: """
            For each sentence (each TEXT argument, or each line of -i FILE or of standard input) prints the \
            translation, a heatmap of the cross-attention (rows: target words, columns: source words; a dot marks \
            the source word each target word attended to most) and the hard links in the Moses/Pharaoh format \
            (source-target word indices from 0). The heatmap fits --width, else $COLUMNS, else the terminal, else \
            100 columns. The attention defaults to the model's alignment heads (generation_config.json \
            "alignment_heads"), else the average of all heads of the last decoder layer; with --pairs, to its \
            setting for given pairs ("xlate_pair_alignment", learned on a hand-aligned gold set) when it has one.

            The model, input and decoding options are those of 'xlate'.

            EXAMPLES
              xlate align -s en -t de "The cat sat on the mat."
              xlate align --model Models/xlate-en-de --layer 2 --heads 0,5 "I like tea."
              xlate align -s en -t de -i sentences.txt --html align.html --svg align.svg
              xlate align -s de -t en --level pieces --color none "Die Katze schläft."
              xlate align -s en -t de --pairs "The cat sat . ||| Die Katze saß ."
              xlate align -s en -t de --pairs --symmetrize none -i corpus.en-de
            """)

    @OptionGroup(title: "Model") var selection: ModelArguments
    @OptionGroup(title: "Input") var input: InputArguments
    @OptionGroup(title: "Decoding") var decoding: DecodingArguments

    /// Options given before 'align' (`xlate -s en -t de align ...`) are the root command's.
    @ParentCommand var root: Translate

    private var quiet: Bool { input.filled(from: root.input).quiet }

    @Option(help: "Decoder layer whose cross-attention to show (from 0). Default: the model's alignment layer, else the last; with --pairs, its given-pair setting (generation_config.json \"xlate_pair_alignment\") when it has one.")
    var layer: Int?

    @Option(help: ArgumentHelp("Attention heads to average, e.g. 0,5. Default: all heads (the model's alignment heads, or with --pairs its given-pair heads, when neither --layer nor --heads is given).", valueName: "list"))
    var heads: String?

    @Option(help: "words, or pieces (SentencePiece pieces, special tokens included).")
    var level: AlignmentLevel = .words

    @Argument(help: "Sentences to align (default: the lines of -i FILE, else of standard input).")
    var texts: [String] = []

    @Option(help: ArgumentHelp("Also write the maps as one SVG image.", valueName: "file"))
    var svg: String?

    @Option(help: ArgumentHelp("Also write a self-contained HTML page: one map per sentence, weights on hover, every layer and every head of the chosen layer to choose from.", valueName: "file"))
    var html: String?

    @Option(help: "Heatmap colours: auto (256 colours on a terminal, truecolor if COLORTERM says so, none when piped or NO_COLOR is set), 256, truecolor, none.")
    var color: ColorChoice = .auto

    @Option(help: "Width of the heatmap in columns.")
    var width: Int?

    @Flag(help: "Align given translations instead of translating: each line (or TEXT) is 'source ||| target'; prints the links of each line in the Moses format (source-target indices of the whitespace-separated words, so pre-tokenised text aligns token by token). A line that is not a pair gets an empty line, a message on stderr, and exit status 4 at the end; a blank line, or a blank side, no links.")
    var pairs = false

    @Option(help: "With --pairs: text (the links), or json (one object per line: words, links, the word matrix; with --symmetrize both directions' links and matrices).")
    var format: PairsFormat?

    @Option(help: ArgumentHelp("With --pairs: the model of the opposite direction (target → source), to align both ways and combine the links (--symmetrize). With --src/--tgt it is found by itself: the model for --tgt → --src, when there is one.", valueName: "dir"))
    var reverseModel: String?

    @Option(help: ArgumentHelp("With --pairs: how both directions' links combine: grow-diag-final-and (as fast_align's atools; the default, the lowest error rate measured), intersection, union; none: one direction only.", valueName: "method"))
    var symmetrize: SymmetrizeOption?

    /// `--symmetrize`: a `Symmetrization`, or none.
    enum SymmetrizeOption: String, ExpressibleByArgument, CaseIterable {
        case growDiagFinalAnd = "grow-diag-final-and", intersection, union, none

        var symmetrization: Symmetrization? { Symmetrization(rawValue: rawValue) }
    }

    enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, ansi256 = "256", truecolor, none
    }

    func validate() throws {
        if !input.filled(from: root.input).inputs.isEmpty, !texts.isEmpty {
            throw ValidationError("give sentences as arguments or with -i FILE, not both")
        }
        if let width, width < 20 { throw ValidationError("--width must be >= 20, got \(width)") }
        if !pairs, format != nil || reverseModel != nil || symmetrize != nil {
            throw ValidationError("--format, --reverse-model and --symmetrize go with --pairs")
        }
        _ = try headList()
    }

    /// `--heads 0,5` → [0, 5].
    func headList() throws -> [Int]? {
        guard let heads else { return nil }
        let parts = heads.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Int($0) }
        guard values.count == parts.count, !values.isEmpty else {
            throw ValidationError("--heads takes head numbers separated by commas, e.g. 0,5; got '\(heads)'")
        }
        return Array(Set(values)).sorted()
    }

    func run() throws {
        StandardStreams.prepare()
        let input = self.input.filled(from: root.input)
        let selection = self.selection.filled(from: root.selection)
        if pairs { return try runPairs(input, selection) }
        let translator = try selection.loadTranslator(quiet: input.quiet)
        let sentences = try readSentences(input)
        var options = try self.decoding.filled(from: root.decoding)
            .options(for: translator, source: selection.source, target: selection.target)
        options.splitSentences = false  // one map per line, whatever it holds
        let isDefault = layer == nil && heads == nil
        let fallback = try translator.defaultAlignmentRequest
        let request = CrossAttentionRequest(
            layer: layer ?? fallback.layer, heads: try headList() ?? (layer == nil ? fallback.heads : nil))
        options.decoding.crossAttention = request
        try options.validate(for: translator.model)
        if sentences.isEmpty {
            if !quiet { printError("nothing to align: no non-blank sentence given") }
            return
        }

        let translations = try translator.translate(sentences, options: options)
        let label = request.label + (isDefault ? ", the model's default" : "")
        let colors = terminalColor()
        let columns = terminalWidth()
        var out = "attention: \(label)\n"
        for (number, translation) in translations.enumerated() {
            if translation.truncatedSourceTokens > 0, !quiet {
                printError("warning: sentence \(number + 1) is longer than the model's \(translator.model.maxSourceLength) tokens; its last \(translation.truncatedSourceTokens) tokens were not translated")
            }
            if translation.reachedMaxLength, !quiet {
                printError(maxLengthWarning("sentence \(number + 1)", options: options, model: translator.model))
            }
            let alignment = translation.alignment!  // every sentence is non-blank and cross-attention was requested
            out += "\n[\(number + 1)] \(translation.source)\n    \(translation.text)\n\n"
            out += AlignmentRenderer.terminal(alignment, level: level, width: columns, color: colors)
            out += "links: \(alignment.pharaoh(alignment.hardLinks))\n"
        }
        try write(out, to: nil)

        if let svg {
            let maps = translations.map {
                AlignmentMap(source: $0.source, translation: $0.text, views: [.init(label: label, alignment: $0.alignment!)])
            }
            try write(AlignmentRenderer.svg(maps, level: level), to: svg)
        }
        if let html {
            try write(AlignmentRenderer.html(try views(translator, translations, options, label: label)), to: html)
        }
    }

    /// Each sentence under the chosen attention, then every layer's all-head average and every head of the chosen
    /// layer, for the page's selector. Attention does not change what is computed, so each extra run reproduces the
    /// same translations and only reads another layer or head.
    private func views(
        _ translator: Translator, _ translations: [Translation], _ options: TranslationOptions, label: String
    ) throws -> [AlignmentMap] {
        let chosen = options.decoding.crossAttention!
        var requests: [CrossAttentionRequest] = []
        for request in (0..<translator.model.decoderLayerCount).map({ CrossAttentionRequest(layer: $0) })
            + (0..<translator.model.decoderHeadCount).map({ CrossAttentionRequest(layer: chosen.layer, heads: [$0]) })
        where request != chosen && !requests.contains(request) {
            requests.append(request)
        }
        var maps = translations.map {
            AlignmentMap(source: $0.source, translation: $0.text, views: [.init(label: label, alignment: $0.alignment!)])
        }
        var extra = options
        for request in requests {
            extra.decoding.crossAttention = request
            let again = try translator.translate(translations.map(\.source), options: extra)
            for (i, translation) in again.enumerated() {
                precondition(translation.hypotheses.first?.ids == translations[i].hypotheses.first?.ids, "same options, same translation")
                maps[i].views.append(.init(label: request.label, alignment: translation.alignment!))
            }
        }
        return maps
    }

    /// The TEXT arguments, else the lines of the -i files or stdin; blank ones dropped.
    private func readSentences(_ input: InputArguments) throws -> [String] {
        var lines = texts
        var repairedLines = LineWarnings()
        func warn(_ message: String) { if !quiet { printError(message) } }
        defer { repairedLines.summarize("had invalid UTF-8", print: warn) }
        let inputs = texts.isEmpty ? input.paths : []
        for path in inputs {
            let reader = try LineReader(path: path, strict: input.strictInput)
            while true {
                let chunk = try reader.nextLines(1024)
                if chunk.isEmpty { break }
                for number in reader.takeRepairedLines() {
                    repairedLines.add(invalidUTF8Warning((inputs.count > 1 ? "\(path), line " : "line ") + "\(number)"), print: warn)
                }
                lines += chunk
            }
        }
        return lines.filter { !$0.allSatisfy(\.isWhitespace) }
    }

    /// Writes `text` to `path` (nil: stdout) as `xlate -o` writes: see `OutputSink`.
    func write(_ text: String, to path: String?) throws {
        let sink = try OutputSink(path: path)
        do { try sink.write(text) } catch { throw sink.abandon(after: error) }
        try sink.commitOrAbandon()
        if let path, !quiet { printError("wrote \(path)") }
    }

    private func terminalColor() -> TerminalColor {
        switch color {
        case .ansi256: return .ansi256
        case .truecolor: return .truecolor
        case .none: return .none
        case .auto:
            let environment = ProcessInfo.processInfo.environment
            if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return .none }
            if isatty(STDOUT_FILENO) == 0 { return .none }
            return ["truecolor", "24bit"].contains(environment["COLORTERM"] ?? "") ? .truecolor : .ansi256
        }
    }

    private func terminalWidth() -> Int {
        if let width { return width }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns >= 20 { return columns }
        var size = winsize()
        if isatty(STDOUT_FILENO) != 0, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 20 {
            return Int(size.ws_col)
        }
        return 100
    }
}

extension AlignmentLevel: ExpressibleByArgument {}

/// `--align hard|soft|P`.
extension AlignmentOutput {
    /// `--align`'s value (the library's rules); a usage error that names the option otherwise.
    static func parse(_ argument: String) throws -> AlignmentOutput {
        do { return try AlignmentOutput(parsing: argument) } catch {
            throw ValidationError("--align \(error.message)")
        }
    }
}
