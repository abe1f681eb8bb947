import ArgumentParser
import Foundation
import Xlate
import XlateDocuments

// The option groups that `xlate`, `xlate generate` and `xlate align` share. Each subcommand declares the groups it
// takes, so that its `--help` lists them. Options given before the subcommand's name are parsed by the root command;
// `filled(from:)` takes those the subcommand did not get itself, so `xlate --model M generate` still works.

/// Which model: `--model DIR`, or `--src/--tgt` (and `--download`), and its compute type.
struct ModelArguments: ParsableArguments {
    // Repeatable for `xlate serve`, which serves several; the other commands take one (`model`).
    @Option(
        name: [.customShort("m"), .customLong("model")],
        help: ArgumentHelp("Model folder (Hugging Face layout); 'xlate serve' takes several.", valueName: "dir"))
    var models: [String] = []

    /// The one model folder of a translating command.
    var model: String? { models.last }

    @Option(
        name: [.customShort("s"), .customLong("src")],
        help: "Source language code, e.g. en: with --tgt, chooses the model; with --model DIR, names the input's language (sentence splitting rules; a T5 translation prefix; the language token of NLLB-200, M2M100, mBART-50, which also take their own codes such as eng_Latn).")
    var source: String?

    @Option(name: [.customShort("t"), .customLong("tgt")], help: "Target language code, e.g. de (required by multilingual models: NLLB-200, M2M100, mBART-50).")
    var target: String?

    @Option(help: ArgumentHelp(
        "float32: results identical to the reference implementation (float16 checkpoints keep half-precision weights, exactly); int8: weights quantised to 8 bits per row — faster, less memory, translations may differ slightly. Default: float32.",
        valueName: "float32|int8"))
    var computeType: ComputeType?

    @Flag(help: "When no local model serves --src/--tgt, download Helsinki-NLP/opus-mt-SRC-TGT from the Hugging Face Hub first (see 'xlate download --help').")
    var download = false

    func validate() throws {
        if download, model != nil { throw ValidationError("--download fetches the model for --src/--tgt; it does not go with --model") }
        if model != nil, (source == nil) != (target == nil) { throw ValidationError("--src and --tgt go together") }
    }

    /// These options, with the root command's where these are not given.
    func filled(from root: ModelArguments) -> ModelArguments {
        var filled = self
        if models.isEmpty { filled.models = root.models }
        filled.source = source ?? root.source
        filled.target = target ?? root.target
        filled.computeType = computeType ?? root.computeType
        filled.download = download || root.download
        return filled
    }

    /// Downloads the model first with `--download`, loads it, and checks `--src/--tgt` against it.
    func loadTranslator(quiet: Bool) throws -> Translator {
        if models.count > 1 {
            throw ValidationError("--model is given \(models.count) times: this command translates with one model ('xlate serve' serves several)")
        }
        let downloaded = download ? try downloadedModelForPair(source: source, target: target, quiet: quiet) : nil
        let translator = try xlate.loadTranslator(
            model: model ?? downloaded, source: source, target: target, computeType: computeType ?? .float32)
        try checkLanguages(translator, source: source, target: target)
        return translator
    }
}

/// The input files, how strictly they are read, and how much is said on stderr.
struct InputArguments: ParsableArguments {
    @Option(
        name: [.customShort("i"), .customLong("input")],
        help: ArgumentHelp("Input file; repeat for several, - for stdin. Default: stdin.", valueName: "file"))
    var inputs: [String] = []

    @Flag(help: "Stop at the first line that is not valid UTF-8 (exit status 4). Default: translate it with U+FFFD in place of the invalid bytes, warn, and go on.")
    var strictInput = false

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    var quiet = false

    /// The paths to read: the -i files, else stdin ("-").
    var paths: [String] { inputs.isEmpty ? ["-"] : inputs }

    func filled(from root: InputArguments) -> InputArguments {
        var filled = self
        if inputs.isEmpty { filled.inputs = root.inputs }
        filled.strictInput = strictInput || root.strictInput
        filled.quiet = quiet || root.quiet
        return filled
    }
}

/// Search settings, batching and the text put before each input.
struct DecodingArguments: ParsableArguments {
    @Option(name: [.customShort("b"), .customLong("beam")], help: "Beam size; 1 is greedy search. Default: the model's.")
    var beam: Int?

    @Option(help: "Longest output in tokens, counting the start token. Default: the model's.")
    var maxLength: Int?

    @Option(help: "Shortest output in tokens, counted as --max-length counts (the start token included): end-of-sentence is banned until the output is this long. --min-length N --max-length N makes every output N tokens long, e.g. for timing: N - 2 text tokens and the end-of-sentence Marian (OPUS-MT) models force at the limit; N - 1 text tokens with models that force none (T5). Default: the model's (usually 0).")
    var minLength: Int?

    // `.unconditional`: the value may start with "-" (`--length-penalty -0.5`), which would otherwise read as an option.
    @Option(
        parsing: .unconditional,
        help: "Exponent of the length normalisation of beam scores; negative values favour shorter translations. Default: the model's (usually 1).")
    var lengthPenalty: Double?

    @Option(help: "Ban repeating any n-gram of this size.")
    var noRepeatNgram: Int?

    @Option(parsing: .unconditional, help: "Penalise tokens already generated (> 1 discourages repetition).")
    var repetitionPenalty: Double?

    @Option(help: "Sentences translated at once, shared among the threads (each decodes batch-size / threads together). Larger batches are faster per sentence and use more memory. Default: 32.")
    var batchSize: Int?

    @Option(help: "Threads, each translating its share of the batch. Default: all cores.")
    var threads: Int?

    @Option(help: ArgumentHelp(
        "Text put before every segment, e.g. a T5 task prefix (\"summarize: \"). Default with a T5 model and --src/--tgt: its translation prefix (\"translate English to German: \").",
        valueName: "text"))
    var prefix: String?

    func validate() throws {
        if let beam, beam < 1 { throw ValidationError("--beam must be >= 1, got \(beam)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be >= 1, got \(batchSize)") }
    }

    func filled(from root: DecodingArguments) -> DecodingArguments {
        var filled = self
        filled.beam = beam ?? root.beam
        filled.maxLength = maxLength ?? root.maxLength
        filled.minLength = minLength ?? root.minLength
        filled.lengthPenalty = lengthPenalty ?? root.lengthPenalty
        filled.noRepeatNgram = noRepeatNgram ?? root.noRepeatNgram
        filled.repetitionPenalty = repetitionPenalty ?? root.repetitionPenalty
        filled.batchSize = batchSize ?? root.batchSize
        filled.threads = threads ?? root.threads
        filled.prefix = prefix ?? root.prefix
        return filled
    }

    /// These options as the library's settings (one hypothesis, sentences split: `xlate`'s defaults).
    var settings: TranslationSettings {
        var settings = TranslationSettings()
        settings.beam = beam
        settings.maxLength = maxLength
        settings.minLength = minLength
        settings.lengthPenalty = lengthPenalty
        settings.noRepeatNgram = noRepeatNgram
        settings.repetitionPenalty = repetitionPenalty
        settings.batchSize = batchSize
        settings.threads = threads
        settings.prefix = prefix
        return settings
    }

    /// The model's default options with these on top (see `TranslationSettings`); `source/target` name the input's
    /// languages (the splitter's rules, a T5 model's translation prefix).
    func options(for translator: Translator, source: String?, target: String?) throws -> TranslationOptions {
        try options(settings, for: translator, source: source, target: target)
    }

    /// `settings`' options, with a missing T5 translation prefix reported as a usage error that names --prefix.
    func options(_ settings: TranslationSettings, for translator: Translator, source: String?, target: String?) throws -> TranslationOptions {
        do { return try settings.options(for: translator, source: source, target: target) } catch let error as DecodingError
            where error.setting == "prefix"
        {
            throw ValidationError("no translation prefix for \(source ?? "") → \(target ?? "") (unknown language code); give it with --prefix TEXT")
        }
    }
}

/// What is written for each input line, and where.
struct OutputArguments: ParsableArguments {
    @Option(
        name: [.customShort("o"), .customLong("output")],
        help: ArgumentHelp("Output file. Default: stdout.", valueName: "file"))
    var output: String?

    @Option(name: [.customShort("n"), .customLong("nbest")], help: "Translations per line (<= beam size). Default: 1.")
    var nbest: Int?

    @Option(help: "Output format: text, json (one object per line) or tsv (source, translation[, score]). Default: text.")
    var format: OutputFormat?

    @Option(
        help: ArgumentHelp(
            "Add word alignments: hard (for each target word, the source word it attended to most), soft (the attention matrix, one group of weights per target word), or a number P with 0 < P <= 1 (every link with weight >= P). Text: 'translation ||| 0-0 1-2 ...' (source-target word indices from 0); json: an \"alignment\" object; tsv: one more column.",
            valueName: "hard|soft|P"),
        transform: AlignmentOutput.parse)
    var align: AlignmentOutput?

    @Flag(help: "Add scores (log-probabilities normalised by length) to the output.")
    var scores = false

    func validate() throws {
        if let nbest, nbest < 1 { throw ValidationError("--nbest must be >= 1, got \(nbest)") }
    }

    func filled(from root: OutputArguments) -> OutputArguments {
        var filled = self
        filled.output = output ?? root.output
        filled.nbest = nbest ?? root.nbest
        filled.format = format ?? root.format
        filled.align = align ?? root.align
        filled.scores = scores || root.scores
        return filled
    }
}

/// Markup in input lines, whole documents, and what is kept out of the model's reach.
struct DocumentArguments: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Each input line is a fragment of this markup, given back with its markup: html (inline tags follow their words, block tags and <br> split sentences, code and attributes are kept), markdown (CommonMark), plain (text, with what --no-protect names kept byte-identical). Default: none (the model's own translation, as text).",
        valueName: "html|markdown|plain"))
    var markup: MarkupFormat?

    @Option(help: ArgumentHelp(
        "Translate the input as one document of this format, keeping its structure (only text is translated). Default: from the extension of the -i file: .html/.htm, .md/.markdown, .srt, .vtt.",
        valueName: "html|markdown|srt|vtt"))
    var inputFormat: DocumentFormat?

    @Flag(help: "With --markup or a document: let the model translate URLs, e-mail addresses, numbers, format strings ({name}, %s) and code too, instead of keeping them byte-identical.")
    var noProtect = false

    /// The document format to translate `paths` as, or nil for lines.
    func documentFormat(paths: [String]) throws -> DocumentFormat? {
        if markup != nil {
            if inputFormat != nil { throw ValidationError("--markup is for lines, --input-format for a whole document; give one") }
            return nil
        }
        if let inputFormat {
            guard paths.count == 1 else { throw ValidationError("--input-format translates one document; give one -i file (or stdin)") }
            return inputFormat
        }
        guard paths.count == 1, paths[0] != "-" else { return nil }
        return DocumentFormat(pathExtension: URL(fileURLWithPath: paths[0]).pathExtension)
    }
}

extension MarkupFormat: ExpressibleByArgument {}
extension DocumentFormat: ExpressibleByArgument {}
