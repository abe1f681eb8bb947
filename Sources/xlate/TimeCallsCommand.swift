import ArgumentParser
import Foundation
import Xlate

/// `xlate time-calls` (hidden; `Benchmarks/scale/latency.py`): the library's latency for one sentence at a time —
/// the model loaded once, each input line one timed `Translator.translate` call, as an editor plugin or a server
/// handler would make it.
struct TimeCallsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "time-calls",
        abstract: "Time one translate call per input line, with the model loaded once (for benchmarks).",
        discussion: """
            Loads the model, makes --warmup untimed calls with the first line, then translates each input line \
            whole (no sentence splitting) in a call of its own and writes one JSON object per line: "ms", the \
            call's wall time in milliseconds (tokenising, decoding, detokenising), and "tokens", the output's \
            target pieces. A last object gives "load_ms", the model load.
            """,
        shouldDisplay: false)

    @OptionGroup(title: "Model") var selection: ModelArguments
    @OptionGroup(title: "Input") var input: InputArguments
    @OptionGroup(title: "Decoding") var decoding: DecodingArguments

    @Option(help: "Untimed calls with the first line before timing (lazy set-up, caches).")
    var warmup = 1

    func validate() throws {
        if warmup < 0 { throw ValidationError("--warmup must be >= 0, got \(warmup)") }
    }

    func run() throws {
        StandardStreams.prepare()
        let started = DispatchTime.now().uptimeNanoseconds
        let translator = try selection.loadTranslator(quiet: input.quiet)
        let loadMs = milliseconds(since: started)
        var settings = decoding.settings
        settings.splitSentences = false
        let options = try decoding.options(settings, for: translator, source: selection.source, target: selection.target)

        var lines: [String] = []
        for path in input.paths {
            let reader = try LineReader(path: path, strict: input.strictInput)
            while true {
                let chunk = try reader.nextLines(512)
                if chunk.isEmpty { break }
                lines += chunk
            }
        }
        if let first = lines.first {
            for _ in 0..<warmup { _ = try translator.translate(first, options: options) }
        }
        for line in lines {
            let start = DispatchTime.now().uptimeNanoseconds
            let translation = try translator.translate(line, options: options)
            let ms = milliseconds(since: start)
            let pieces = translation.hypotheses.first?.pieces ?? []
            print(JSONText.line(["ms": ms, "tokens": pieces]))
        }
        print(JSONText.line(["load_ms": loadMs]))
    }

    private func milliseconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }
}
