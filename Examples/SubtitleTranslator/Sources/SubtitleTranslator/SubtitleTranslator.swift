import Foundation
import Xlate

/// Translates a SubRip (`.srt`) subtitle file with xlate, keeping every index and timing line as it is.
///
///     subtitle-translator --model ../../Models/xlate-en-de sample.srt
///     subtitle-translator --src en --tgt de --width 37 -o film.de.srt film.en.srt
@main
struct SubtitleTranslator {
    static let usage = """
        usage: subtitle-translator (--model DIR | --src LANG --tgt LANG) [--beam N] [--width N] [-o OUTPUT] INPUT.srt

          --model DIR    a Marian / OPUS-MT model folder
          --src, --tgt   find a model for this language pair (as `xlate --src/--tgt`)
          --beam N       beam size (default: the model's)
          --width N      longest subtitle line in characters (default 42)
          -o OUTPUT      write here instead of standard output
        """

    static func main() async {
        do {
            try await run(Array(CommandLine.arguments.dropFirst()))
        } catch let error as UsageError {
            FileHandle.standardError.write(Data("subtitle-translator: \(error.message)\n\n\(usage)\n".utf8))
            exit(64)
        } catch {
            FileHandle.standardError.write(Data("subtitle-translator: \(error.localizedDescription)\n".utf8))
            exit(1)
        }
    }

    static func run(_ arguments: [String]) async throws {
        var options: [String: String] = [:]
        var input: String?
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if ["--model", "--src", "--tgt", "--beam", "--width", "-o"].contains(argument) {
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
        let width = try options["--width"].map { try positive($0, "--width") } ?? 42

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
        if let beam = options["--beam"] { translation.decoding.numBeams = try positive(beam, "--beam") }

        var file = try SubtitleFile(data: Data(contentsOf: URL(fileURLWithPath: input)))
        let cues = file.blocks.map { CueText(lines: $0.text) }
        // Every text of the file in one call: xlate batches them by length and translates batches in parallel.
        let texts = cues.flatMap { $0.units.map(\.text) }
        var translated = try await translator.translate(texts, options: translation).map(\.text)[...]
        for (index, cue) in cues.enumerated() where !file.blocks[index].text.isEmpty {
            let ours = Array(translated.prefix(cue.units.count))
            translated = translated.dropFirst(cue.units.count)
            file.blocks[index].text = cue.lines(translations: ours, width: width)
        }

        if let output = options["-o"] {
            try file.contents.write(toFile: output, atomically: true, encoding: .utf8)
        } else {
            FileHandle.standardOutput.write(Data(file.contents.utf8))
        }
    }

    static func positive(_ value: String, _ option: String) throws -> Int {
        guard let number = Int(value), number > 0 else { throw UsageError(message: "\(option) must be a positive number") }
        return number
    }
}

struct UsageError: Error {
    var message: String
}
