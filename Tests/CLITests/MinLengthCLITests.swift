import Foundation
import Testing

extension CLITests {
    /// `--min-length` against transformers 5.23.0 on the bundled model (`MarianMTModel.generate(**tokenizer([cat]),
    /// min_length=…)`, float32, eager attention): the same tokens. Unforced, it gives "Die Katze saß auf der Matte,
    /// weil es müde war." (13 pieces).
    @Suite struct MinLength {
        static let cat = "The cat sat on the mat because it was tired."
        static let unforced = ["▁Die", "▁Katze", "▁saß", "▁auf", "▁der", "▁Matt", "e", ",", "▁weil", "▁es", "▁müde", "▁war", "."]

        struct Case: Sendable, CustomTestStringConvertible {
            let arguments: [String]
            let expected: [String]
            var testDescription: String { arguments.joined(separator: " ") }
        }

        @Test(arguments: [
            // min_length=24, greedy: `</s>` is banned until 24 tokens (start included), so 23 pieces, then `</s>`
            // (the JSON's `tokens` list it; not the start token).
            Case(arguments: ["--beam", "1", "--min-length", "24"], expected: unforced + Array(repeating: ".", count: 10) + ["</s>"]),
            // min_length=24 with the model's beam 4.
            Case(arguments: ["--min-length", "24"], expected: unforced + [
                ",", "▁auf", "▁der", "▁Matt", "e", "▁war", "▁zu", "▁sein", ".", ",", "▁da", "▁sie", "▁müde", "▁war", ".", "</s>",
            ]),
            // min_length = max_length = 20: exactly 18 text pieces and the forced `</s>`.
            Case(arguments: ["--min-length", "20", "--max-length", "20"], expected: unforced + ["▁", "n", "ä", "cht", "lich", "</s>"]),
        ])
        func forcesLongerOutputAsTransformers(_ c: Case) throws {
            let result = try CLI.run(["--model", CLI.enDe, "--format", "json"] + c.arguments, input: Self.cat + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            try #require(result.lines.count == 1, "output: \(result.output)")
            let tokens = try #require(try jsonObject(result.lines[0])["tokens"] as? [String])
            #expect(tokens == c.expected)
            // Forced to the limit on purpose: no "reached the length limit" warning.
            #expect(result.stderr.isEmpty, "stderr: \(result.stderr)")
        }

        @Test func minAboveMaxIsAUsageErrorNamingBoth() throws {
            let result = try CLI.run(["--model", CLI.enDe, "--min-length", "30", "--max-length", "20"], input: "Hello.\n")
            #expect(result.status == 64)
            #expect(result.output.isEmpty)
            #expect(result.stderr == "xlate: --min-length: the minimum length 30 exceeds the maximum length 20.\n", "stderr: \(result.stderr)")
        }

        @Test func negativeMinLengthIsAUsageError() throws {
            let result = try CLI.run(["--model", CLI.enDe, "--min-length=-1"], input: "Hello.\n")
            #expect(result.status == 64)
            #expect(result.stderr.contains("--min-length") && result.stderr.contains(">= 0"), "stderr: \(result.stderr)")
        }
    }
}

extension CLITests {
    /// The hidden `xlate time-calls` of Benchmarks/scale/latency.py: one timed call per line, with the tokens the
    /// same options give through `xlate --format json`.
    @Suite struct TimeCalls {
        @Test func timesEachLineAndGivesItsTokens() throws {
            let lines = ["The cat sat on the mat because it was tired.", "Good morning."]
            let options = ["--model", CLI.enDe, "--beam", "1", "--min-length", "12", "--max-length", "12"]
            let result = try CLI.run(["time-calls"] + options, input: lines.joined(separator: "\n") + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            try #require(result.lines.count == 3, "output: \(result.output)")
            let expected = try CLI.run(options + ["--format", "json", "--split", "none"], input: lines.joined(separator: "\n") + "\n")
            for (line, reference) in zip(result.lines.prefix(2), expected.lines) {
                let object = try jsonObject(line)
                #expect((object["ms"] as? Double).map { $0 > 0 } == true, "\(line)")
                let tokens = try #require(object["tokens"] as? [String])
                #expect(tokens == (try jsonObject(reference)["tokens"] as? [String]))
                #expect(tokens.count == 11, "10 text tokens and the forced </s>: \(tokens)")
            }
            #expect((try jsonObject(result.lines[2])["load_ms"] as? Double).map { $0 > 0 } == true, "\(result.lines[2])")
        }
    }
}
