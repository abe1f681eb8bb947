import Foundation
import Testing

/// Options and output details of the second robustness pass (#17: items 13, 17, 19, 20).
extension CLITests {
    @Suite struct OptionsRound2 {
        /// #13: a documented negative value must parse as a value, not as an unknown option.
        @Test func negativeLengthPenaltyParses() throws {
            let result = try CLI.run(["--model", CLI.enDe, "--length-penalty", "-0.5", "--beam", "4"], input: "The cat sleeps.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines.count == 1 && result.output.contains("Katze"), "output: \(result.output)")
        }

        /// #19: with --model DIR, -s/-t name the input's language. A folder named without its languages otherwise
        /// splits "am 3. Oktober" with every language's rules (a sentence break after the German ordinal).
        @Test func sourceLanguageChoosesSplitterRulesForAnyFolder() throws {
            try withTemporaryDirectory { folder in try splitsWithTheGivenLanguage(folder) }
        }

        private func splitsWithTheGivenLanguage(_ folder: URL) throws {
            let model = folder.appendingPathComponent("mymodel")
            try FileManager.default.createSymbolicLink(at: model, withDestinationURL: CLI.repoRoot.appendingPathComponent("Models/xlate-de-en"))
            let input = "Er kam am 3. Oktober nach Hause.\n"
            let whole = try CLI.run(["--model", model.path, "--split", "none"], input: input)
            let german = try CLI.run(["--model", model.path, "-s", "de", "-t", "en"], input: input)
            let unknown = try CLI.run(["--model", model.path], input: input)
            for result in [whole, german, unknown] { #expect(result.status == 0, "stderr: \(result.stderr)") }
            #expect(german.output == whole.output, "German rules keep the ordinal in its sentence")
            #expect(unknown.output != whole.output, "without a language the sentence is cut after \"3.\"")
        }

        /// #19: where the folder's name says its languages, -s/-t must agree with them.
        @Test func languagesMustMatchTheModelFolder() throws {
            let matching = try CLI.run(["--model", CLI.enDe, "-s", "en", "-t", "de"], input: "The cat sleeps.\n")
            #expect(matching.status == 0, "stderr: \(matching.stderr)")
            #expect(matching.output.contains("Katze"))
            let wrong = try CLI.run(["--model", CLI.enDe, "-s", "en", "-t", "fr"], input: "The cat sleeps.\n")
            #expect(wrong.status == 64)
            #expect(wrong.stderr.contains("--tgt fr") && wrong.stderr.contains("en → de"), "stderr: \(wrong.stderr)")
            #expect(wrong.stdout.isEmpty)
        }

        /// #20: text n-best prints scores only with --scores; a blank line gives empty lines, not " ||| ".
        @Test func textNBestScoresOnlyWhenAsked() throws {
            let plain = try CLI.run(["--model", CLI.enDe, "--nbest", "2"], input: "The cat sleeps.\n\n")
            #expect(plain.status == 0, "stderr: \(plain.stderr)")
            #expect(plain.lines.count == 4, "output: \(plain.output)")
            #expect(plain.lines.allSatisfy { !$0.contains("|||") }, "output: \(plain.output)")
            #expect(plain.lines[2...] == ["", ""])
            let scored = try CLI.run(["--model", CLI.enDe, "--nbest", "2", "--scores"], input: "\nThe cat sleeps.\n")
            #expect(scored.status == 0, "stderr: \(scored.stderr)")
            #expect(scored.lines.count == 4, "output: \(scored.output)")
            #expect(scored.lines[..<2] == ["", ""], "blank input: \(scored.lines)")
            #expect(scored.lines[2...].allSatisfy { splitScored($0) != nil }, "output: \(scored.output)")
        }

        /// #20: -V is --version.
        @Test func shortVersionFlag() throws {
            let short = try CLI.run(["-V"])
            let long = try CLI.run(["--version"])
            #expect(short.status == 0 && long.status == 0, "stderr: \(short.stderr)")
            #expect(short.output.hasPrefix("xlate ") && short.output == long.output, "-V: \(short.output)")
        }

        /// #20: an --align weight out of range says which values are valid.
        @Test(arguments: ["1.5", "0", "-0.2", "strong"])
        func alignWeightOutOfRangeSaysTheRange(value: String) throws {
            let result = try CLI.run(["--model", CLI.enDe, "--align", value], input: "The cat sleeps.\n")
            #expect(result.status == 64)
            #expect(result.stderr.contains("0 < P <= 1") || result.stderr.contains("(0, 1]"), "stderr: \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }

        /// #20: at 80 columns every example of --help stays on its line (a wrapped example cannot be copied).
        @Test func helpExamplesFitEightyColumns() throws {
            for arguments in [["--help"], ["align", "--help"], ["generate", "--help"]] {
                let result = try CLI.run(arguments, environment: ["COLUMNS": "80"])
                #expect(result.status == 0)
                let lines = result.output.components(separatedBy: "\n")
                let start = try #require(lines.firstIndex(of: "EXAMPLES"), "no EXAMPLES in \(arguments)")
                let examples = lines[(start + 1)...].prefix { !$0.isEmpty }
                #expect(examples.count >= 3)
                for line in examples {
                    #expect(line.hasPrefix("  ") && line.count <= 80, "\(arguments.joined(separator: " ")): wrapped example line '\(line)'")
                }
            }
        }

        /// #20: the completion scripts swift-argument-parser makes are there, for the documented shells.
        @Test(arguments: ["bash", "zsh", "fish"])
        func completionScript(shell: String) throws {
            let result = try CLI.run(["--generate-completion-script", shell])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.output.contains("beam") && result.output.contains("max-length") && result.output.contains("xlate"))
        }

        /// #17: `xlate generate --help` lists the options it takes (it listed none).
        @Test func generateHelpListsItsOptions() throws {
            let result = try CLI.run(["generate", "--help"])
            #expect(result.status == 0)
            for option in ["--model", "--prefix", "--beam", "--nbest", "--max-length", "--format", "--input", "--output"] {
                #expect(result.output.contains(option), "generate --help lacks \(option): \(result.output)")
            }
        }
    }
}
