import Foundation
import Xlate
import XlateDocuments

/// Translates a subtitle file (SubRip `.srt` or WebVTT `.vtt`) with xlate's document handler, keeping numbering,
/// timing lines and cue settings as they are.
///
///     subtitle-translator --model ../../Models/xlate-en-de sample.srt
///     subtitle-translator --src en --tgt de -o film.de.vtt film.en.vtt
@main
struct SubtitleTranslator {
    static let usage = """
        usage: subtitle-translator (--model DIR | --src LANG --tgt LANG) [--beam N] [-o OUTPUT] INPUT.srt|INPUT.vtt

          --model DIR    a Marian / OPUS-MT model folder
          --src, --tgt   find a model for this language pair (as `xlate --src/--tgt`)
          --beam N       beam size (default: the model's)
          -o OUTPUT      write here instead of standard output
        """

    static func main() {
        do {
            try run(Array(CommandLine.arguments.dropFirst()))
        } catch let error as UsageError {
            FileHandle.standardError.write(Data("subtitle-translator: \(error.message)\n\n\(usage)\n".utf8))
            exit(64)
        } catch {
            FileHandle.standardError.write(Data("subtitle-translator: \(error.localizedDescription)\n".utf8))
            exit(1)
        }
    }

    static func run(_ arguments: [String]) throws {
        var options: [String: String] = [:]
        var input: String?
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if ["--model", "--src", "--tgt", "--beam", "-o"].contains(argument) {
                guard let value = rest.popFirst() else { throw UsageError(message: "\(argument) needs a value") }
                options[argument] = value
            } else if argument.hasPrefix("-") {
                throw UsageError(message: "unknown option \(argument)")
            } else if input == nil {
                input = argument
            } else {
                throw UsageError(message: "one input file, please")
            }
        }
        guard let input else { throw UsageError(message: "no input file") }
        let format = DocumentFormat(pathExtension: URL(fileURLWithPath: input).pathExtension)
        guard let format, format == .srt || format == .vtt else { throw UsageError(message: "the input must be a .srt or .vtt file") }

        let translator: Translator
        if let model = options["--model"] {
            translator = try Translator(modelAt: URL(fileURLWithPath: model))
        } else if let source = options["--src"], let target = options["--tgt"] {
            translator = try Translator(source: source, target: target)
        } else {
            throw UsageError(message: "pass --model DIR, or --src and --tgt")
        }
        var translation = translator.defaultOptions
        translation.splitSentences = true  // a cue may hold several sentences
        if let beam = options["--beam"] {
            guard let number = Int(beam), number > 0 else { throw UsageError(message: "--beam must be a positive number") }
            translation.decoding.numBeams = number
        }

        // The whole file in one call: its cues are batched together; only cue text changes.
        let subtitles = try String(contentsOfFile: input, encoding: .utf8)
        let translated = try translator.translateDocument(subtitles, format: format, options: translation)
        if let output = options["-o"] {
            try translated.write(toFile: output, atomically: true, encoding: .utf8)
        } else {
            FileHandle.standardOutput.write(Data(translated.utf8))
        }
    }
}

struct UsageError: Error {
    var message: String
}
