import ArgumentParser
import Foundation
import Xlate
import XlateDocuments

/// One whole document → its translation (`xlate -i page.html -o page.de.html`): reads it all, translates it with the
/// library's document handler, writes it at once (with -o, the file is replaced only when all of it is written).
struct DocumentTranslation {
    let selection: ModelArguments
    let input: InputArguments
    let output: OutputArguments
    let decoding: DecodingArguments
    let split: SplitMode
    let format: DocumentFormat
    let protect: Bool

    func run() throws {
        StandardStreams.prepare()
        if let message = inputIsOutputMessage(inputs: input.paths, output: output.output) {
            printError(message)
            throw ExitCode(Exit.usage)
        }
        if (output.nbest ?? 1) > 1 || (output.format ?? .text) != .text || output.scores || output.align != nil {
            throw ValidationError("a document (\(format.rawValue)) is translated as a document: --nbest, --format, --scores and --align are for lines")
        }
        let path = input.paths[0]
        let name = path == "-" ? "stdin" : path
        let bytes = try readAll(path)
        var text: String
        if let valid = String(validating: bytes, as: UTF8.self) {
            text = valid
        } else if input.strictInput {
            throw DocumentFailure(input: name, message: "invalid UTF-8; convert the input to UTF-8 (e.g. iconv -f latin1 -t utf-8)")
        } else {
            text = String(decoding: bytes, as: UTF8.self)
            if !input.quiet {
                printError("warning: \(name): invalid UTF-8 replaced by U+FFFD; convert the input to UTF-8 (e.g. iconv -f latin1 -t utf-8), or stop at it with --strict-input")
            }
        }
        let interrupt = Interrupt.install()
        let translator = try selection.loadTranslator(quiet: input.quiet)
        var options = try decoding.options(for: translator, source: selection.source, target: selection.target)
        options.splitSentences = split == .sentence
        try options.validate(for: translator.model)
        let translated: String
        do {
            translated = try translator.translateDocument(
                text, format: format, protect: protect, options: options, shouldStop: { interrupt.signal != nil })
        } catch let error as DocumentError {
            throw DocumentFailure(input: name, message: error.localizedDescription)
        } catch is TranslationStopped {
            printError("interrupted: nothing is written (a document is written whole)")
            throw ExitCode(128 + (interrupt.signal ?? SIGINT))
        }
        // Opened only now: an interrupted or failed translation leaves no file behind.
        let sink = try OutputSink(path: output.output)
        do {
            try sink.write(translated)
            try sink.commit()
        } catch {
            throw sink.abandon(after: error)
        }
    }

    /// The whole of `path` ("-": stdin).
    private func readAll(_ path: String) throws(ReadFailure) -> [UInt8] {
        let name = path == "-" ? "stdin" : path
        let descriptor: Int32
        if path == "-" {
            guard !StandardStreams.closed.contains(STDIN_FILENO) else { throw ReadFailure(input: name, code: EBADF) }
            descriptor = STDIN_FILENO
        } else {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw ReadFailure(input: name, code: errno) }
        }
        defer { if descriptor != STDIN_FILENO { close(descriptor) } }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw ReadFailure(input: name, code: errno) }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
    }
}

/// A document that cannot be read as its format, or is not UTF-8 (exit 4).
struct DocumentFailure: Error {
    /// "stdin" or the path.
    let input: String
    let message: String

    var description: String { "\(input): \(message)" }
}
