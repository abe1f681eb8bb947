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
            "alignment_heads"), else the average of all heads of the last decoder layer.

            The model (--model DIR, or -s/--src and -t/--tgt), the input files (-i FILE), --beam and --quiet are \
            the translation options of 'xlate' and may be given before or after 'align'.

            EXAMPLES
              xlate align -s en -t de "The cat sat on the mat."
              xlate align --model Models/xlate-en-de --layer 2 --heads 0,5 "I like tea."
              xlate align -s en -t de -i sentences.txt --html align.html --svg align.svg
              xlate align -s de -t en --level pieces --color none "Die Katze schläft."
            """)

    /// The model, input files, beam size and --quiet are the root command's options, parsed wherever they appear.
    @ParentCommand var translate: Translate

    @Option(help: "Decoder layer whose cross-attention to show (from 0). Default: the model's alignment layer, else the last.")
    var layer: Int?

    @Option(help: ArgumentHelp("Attention heads to average, e.g. 0,5. Default: all heads (the model's alignment heads when neither --layer nor --heads is given).", valueName: "list"))
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

    enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, ansi256 = "256", truecolor, none
    }

    func validate() throws {
        if !translate.inputs.isEmpty, !texts.isEmpty {
            throw ValidationError("give sentences as arguments or with -i FILE, not both")
        }
        if let width, width < 20 { throw ValidationError("--width must be >= 20, got \(width)") }
        _ = try headList()
    }

    /// `--heads 0,5` → [0, 5].
    private func headList() throws -> [Int]? {
        guard let heads else { return nil }
        let parts = heads.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Int($0) }
        guard values.count == parts.count, !values.isEmpty else {
            throw ValidationError("--heads takes head numbers separated by commas, e.g. 0,5; got '\(heads)'")
        }
        return Array(Set(values)).sorted()
    }

    func run() throws {
        let downloaded = translate.download
            ? try downloadedModelForPair(source: translate.source, target: translate.target, quiet: translate.quiet) : nil
        let translator = try loadTranslator(
            model: translate.model ?? downloaded, source: translate.source, target: translate.target,
            computeType: translate.computeType)
        let sentences = try readSentences()
        var options = translator.defaultOptions
        if let beam = translate.beam { options.decoding.numBeams = beam }
        options.splitSentences = false  // one map per line, whatever it holds
        options.prefix = try inputPrefix(for: translator, prefix: translate.prefix, source: translate.source, target: translate.target)
        let isDefault = layer == nil && heads == nil
        let fallback = try alignmentRequest(translator)
        let request = CrossAttentionRequest(
            layer: layer ?? fallback.layer, heads: try headList() ?? (layer == nil ? fallback.heads : nil))
        options.decoding.crossAttention = request
        do { try options.validate(for: translator.model) } catch {
            printError(usageMessage(error))
            throw ExitCode(Exit.usage)
        }
        if sentences.isEmpty {
            if !translate.quiet { printError("nothing to align: no non-blank sentence given") }
            return
        }

        let translations = try translator.translate(sentences, options: options)
        let label = request.label + (isDefault ? ", the model's default" : "")
        let colors = terminalColor()
        let columns = terminalWidth()
        var out = "attention: \(label)\n"
        for (number, translation) in translations.enumerated() {
            if translation.truncatedSourceTokens > 0, !translate.quiet {
                printError("warning: sentence \(number + 1) is longer than the model's \(translator.model.maxSourceLength) tokens; its last \(translation.truncatedSourceTokens) tokens were not translated")
            }
            if translation.reachedMaxLength, !translate.quiet {
                printError(maxLengthWarning("sentence \(number + 1)", options: options, model: translator.model))
            }
            let alignment = translation.alignment!  // every sentence is non-blank and cross-attention was requested
            out += "\n[\(number + 1)] \(translation.source)\n    \(translation.text)\n\n"
            out += AlignmentRenderer.terminal(alignment, level: level, width: columns, color: colors)
            out += "links: \(alignment.pharaoh(alignment.hardLinks))\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))

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
    private func readSentences() throws -> [String] {
        var lines = texts
        for path in texts.isEmpty ? (translate.inputs.isEmpty ? ["-"] : translate.inputs) : [] {
            do {
                let reader = try LineReader(path: path)
                while true {
                    let chunk = try reader.nextLines(1024)
                    if chunk.isEmpty { break }
                    lines += chunk
                }
            } catch let error as LineReader.InvalidUTF8 {
                printError("\(path == "-" ? "stdin" : path), line \(error.line): invalid UTF-8; convert the input to UTF-8 (e.g. iconv -f latin1 -t utf-8)")
                throw ExitCode(Exit.badInput)
            } catch {
                printError("cannot read \(path): \(error.localizedDescription)")
                throw ExitCode(Exit.badInput)
            }
        }
        return lines.filter { !$0.allSatisfy(\.isWhitespace) }
    }

    private func write(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
            printError("cannot write \(path): \(error.localizedDescription)")
            throw ExitCode(Exit.badInput)
        }
        if !translate.quiet { printError("wrote \(path)") }
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

/// The cross-attention to align with by default (`Translator.defaultAlignmentRequest`), or exit 3 when the model
/// folder names alignment heads it does not have.
func alignmentRequest(_ translator: Translator) throws -> CrossAttentionRequest {
    do { return try translator.defaultAlignmentRequest } catch {
        printError(error.localizedDescription)
        throw ExitCode(Exit.badModel)
    }
}

/// `--align hard|soft|P`: which alignment to print with each translation.
enum AlignmentOutput: ExpressibleByArgument {
    case hard, soft
    /// Every link with word-level weight >= the value.
    case threshold(Double)

    init?(argument: String) {
        switch argument {
        case "hard": self = .hard
        case "soft": self = .soft
        default:
            guard let value = Double(argument), value > 0, value <= 1 else { return nil }
            self = .threshold(value)
        }
    }

    /// What follows ` ||| ` in text output: Pharaoh links, or for soft the word matrix as Marian prints it.
    func text(_ alignment: Alignment?) -> String {
        guard let alignment else { return "" }
        switch self {
        case .hard: return alignment.pharaoh(alignment.hardLinks)
        case .soft: return alignment.softText
        case .threshold(let value): return alignment.pharaoh(alignment.links(threshold: Float(value)))
        }
    }

    /// The `alignment` object of JSON output (`heads` absent: all heads averaged).
    func json(_ alignment: Alignment?) -> [String: Any] {
        guard let alignment else {
            return ["source_words": [String](), "target_words": [String](), "links": [[Int]](), "pharaoh": ""]
        }
        let links: [Alignment.Link]
        var object: [String: Any] = [
            "layer": alignment.request.layer,
            "source_words": alignment.sourceWords.map(\.text), "target_words": alignment.targetWords.map(\.text),
        ]
        if let heads = alignment.request.heads { object["heads"] = heads }
        switch self {
        case .hard:
            links = alignment.hardLinks
        case .soft:
            links = alignment.hardLinks
            object["matrix"] = alignment.wordMatrix.map { row in row.map { (Double($0) * 1e6).rounded() / 1e6 } }
        case .threshold(let value):
            links = alignment.links(threshold: Float(value))
            object["threshold"] = value
        }
        object["links"] = links.map { [$0.source, $0.target] }
        object["pharaoh"] = alignment.pharaoh(links)
        return object
    }
}
