import ArgumentParser
import Foundation
import Xlate

/// `xlate generate`: free text-to-text with a T5-style model — each input line is one input, whole.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Run a text-to-text model (T5, Flan-T5, mT5) on each input line: summaries, rewriting, answers.",
        discussion: """
            Reads one input per line from standard input (or -i FILE) and writes one output per line, as 'xlate' \
            does, but never splits a line into sentences: the model sees each line whole (longer lines are cut to \
            the model's positions, with a warning). --prefix TEXT is put before every line, e.g. the task prefix \
            the model was trained with.

            The options are those of 'xlate', less --split.

            EXAMPLES
              echo "studies have shown that owning a dog is good for you" |
                xlate generate --model ~/models/t5-small --prefix "summarize: "
              xlate generate --model ~/models/flan-t5-base -i questions.txt --beam 4
              echo "Answer the question: what is the capital of France?" |
                xlate generate --model ~/models/flan-t5-base --format json
            """)

    @OptionGroup(title: "Model") var selection: ModelArguments
    @OptionGroup(title: "Input") var input: InputArguments
    @OptionGroup(title: "Output") var output: OutputArguments
    @OptionGroup(title: "Decoding") var decoding: DecodingArguments

    /// Options given before 'generate' (`xlate --model M generate`) are the root command's.
    @ParentCommand var root: Translate

    func run() throws {
        try LineTranslation(
            selection: selection.filled(from: root.selection), input: input.filled(from: root.input),
            output: output.filled(from: root.output), decoding: decoding.filled(from: root.decoding), split: .none
        ).run()
    }
}
