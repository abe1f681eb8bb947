import Foundation
import Testing

/// Text → text cases of the relu-tied T5 fixture (its spiece.model and weights), recorded from transformers.
struct T5EndToEnd: Decodable {
    struct Case: Decodable {
        let prefix: String
        let text: String
        let greedy: String
        let beam4: String
    }

    let end_to_end: [Case]

    static let recorded: T5EndToEnd = {
        let url = CLI.repoRoot.appendingPathComponent("Fixtures/t5/tokenizer-cases.json")
        return try! JSONDecoder().decode(T5EndToEnd.self, from: Data(contentsOf: url))
    }()

    static let translation = "translate English to German: "
}

extension CLITests {
    /// The CLI with a T5 model: the same options and outputs as with Marian, plus prefixes and `xlate generate`.
    @Suite struct T5 {
        static let model = "Fixtures/t5/relu-tied"
        static let cases = T5EndToEnd.recorded.end_to_end

        func input(_ texts: [String]) -> String { texts.map { $0 + "\n" }.joined() }

        @Test(arguments: [1, 4])
        func translatesLikeTransformersWithTheConfigsTaskPrefix(beams: Int) throws {
            let cases = Self.cases.filter { $0.prefix == T5EndToEnd.translation }
            try #require(cases.count >= 6)
            let result = try CLI.run(
                ["--model", Self.model, "-s", "en", "-t", "de", "--beam", "\(beams)"], input: input(cases.map(\.text)))
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines == cases.map { beams == 1 ? $0.greedy : $0.beam4 })
        }

        @Test(arguments: [1, 4])
        func generateRunsAnyPrefixLikeTransformers(beams: Int) throws {
            let cases = Self.cases.filter { $0.prefix == "summarize: " }
            try #require(cases.count >= 4)
            let result = try CLI.run(
                ["generate", "--model", Self.model, "--prefix", "summarize: ", "--beam", "\(beams)"], input: input(cases.map(\.text)))
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines == cases.map { beams == 1 ? $0.greedy : $0.beam4 })
        }

        @Test func languagePairPrefixEqualsTheExplicitPrefixAndMatters() throws {
            let text = input(["Hello world.", "", "I like tea."])
            let pair = try CLI.run(["--model", Self.model, "-s", "en", "-t", "de"], input: text)
            let explicit = try CLI.run(["--model", Self.model, "--prefix", T5EndToEnd.translation], input: text)
            let none = try CLI.run(["--model", Self.model], input: text)
            for result in [pair, explicit, none] { #expect(result.status == 0, "stderr: \(result.stderr)") }
            #expect(pair.lines.count == 3 && pair.lines[1] == "")
            #expect(pair.output == explicit.output)
            #expect(pair.output != none.output)
        }

        @Test func generateNeverSplitsSentences() throws {
            let text = input(["Hello world. It rained all day. Call me tomorrow."])
            let generated = try CLI.run(["generate", "--model", Self.model, "--prefix", "summarize: "], input: text)
            let whole = try CLI.run(["--model", Self.model, "--prefix", "summarize: ", "--split", "none"], input: text)
            let split = try CLI.run(["--model", Self.model, "--prefix", "summarize: "], input: text)
            #expect(generated.status == 0, "stderr: \(generated.stderr)")
            #expect(generated.output == whole.output)
            #expect(generated.output != split.output)
        }

        @Test func alignmentIndexesTheInputWordsNotThePrefix() throws {
            let result = try CLI.run(
                ["--model", Self.model, "-s", "en", "-t", "de", "--align", "soft", "--format", "json"],
                input: "The cat sat on the mat.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let object = try jsonObject(try #require(result.lines.first))
            let alignment = try #require(object["alignment"] as? [String: Any])
            #expect(alignment["source_words"] as? [String] == ["The", "cat", "sat", "on", "the", "mat."])
            let matrix = try #require(alignment["matrix"] as? [[Double]])
            #expect(!matrix.isEmpty && matrix.allSatisfy { $0.count == 6 && $0.allSatisfy { $0 >= 0 } })
            let hard = try CLI.run(["--model", Self.model, "-s", "en", "-t", "de", "--align", "hard"], input: "I like tea.\n")
            #expect(hard.status == 0, "stderr: \(hard.stderr)")
            let links = try #require(hard.lines.first?.components(separatedBy: " ||| ").last).split(separator: " ")
            #expect(!links.isEmpty && links.allSatisfy { Int($0.split(separator: "-")[0])! < 3 }, "\(links)")
        }

        @Test func alignCommandDrawsAMapForT5() throws {
            let result = try CLI.run(
                ["align", "--model", Self.model, "-s", "en", "-t", "de", "--color", "none", "--width", "60", "I like tea."])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let expected = try #require(Self.cases.first { $0.text == "I like tea." }).greedy
            #expect(result.output.contains("I like tea.\n    \(expected)\n"), "output: \(result.output)")
            #expect(result.output.contains("links: "))
        }

        @Test func nbestScoresAndFormatsWork() throws {
            let json = try CLI.run(
                ["--model", Self.model, "--beam", "3", "--nbest", "2", "--format", "json", "--scores"], input: "Hello world.\n")
            #expect(json.status == 0, "stderr: \(json.stderr)")
            let object = try jsonObject(try #require(json.lines.first))
            #expect((object["nbest"] as? [[String: Any]])?.count == 2)
            #expect(object["score"] is Double && object["token_scores"] is [Double])
            let tsv = try CLI.run(["--model", Self.model, "--format", "tsv", "--scores"], input: "Hello world.\n")
            #expect(tsv.status == 0, "stderr: \(tsv.stderr)")
            #expect(tsv.lines.first?.split(separator: "\t").count == 3, "output: \(tsv.output)")
        }

        @Test(arguments: [
            (["--model", model, "-s", "en"], "--src and --tgt go together"),
            (["--model", model, "-s", "en", "-t", "xx"], "--prefix"),
            (["generate", "--model", model, "--beam", "0"], "--beam"),
        ])
        func usageErrorsExit64(arguments: [String], expected: String) throws {
            let result = try CLI.run(arguments, input: "Hello.\n")
            #expect(result.status == 64)
            #expect(result.stderr.contains(expected), "stderr: \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }

        @Test func generateHelpTeachesByExample() throws {
            let result = try CLI.run(["generate", "--help"])
            #expect(result.status == 0)
            #expect(result.output.contains("EXAMPLES") && result.output.contains("--prefix"), "stdout: \(result.output)")
        }
    }
}
