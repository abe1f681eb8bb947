import Foundation
import Testing

extension CLITests {
    @Suite struct Files {
        @Test func inputFilesAreTranslatedInOrder() throws {
            try withTemporaryDirectory { directory in
                let first = directory.appendingPathComponent("first.en")
                let second = directory.appendingPathComponent("second.en")
                try "Good morning.\n".write(to: first, atomically: true, encoding: .utf8)
                try "The cat sleeps.\nGood morning.\n".write(to: second, atomically: true, encoding: .utf8)
                let result = try CLI.run(["--model", CLI.enDe, "-i", first.path, "-i", second.path])
                #expect(result.status == 0, "stderr: \(result.stderr)")
                let lines = result.lines
                try #require(lines.count == 3, "output: \(result.output)")
                #expect(lines[0].contains("Morgen"))
                #expect(lines[1].contains("Katze"))
                #expect(lines[2] == lines[0])
            }
        }

        @Test func outputFileLeavesStdoutEmpty() throws {
            try withTemporaryDirectory { directory in
                let output = directory.appendingPathComponent("out.de")
                let result = try CLI.run(["--model", CLI.enDe, "-o", output.path], input: "The cat sleeps.\nGood morning.\n")
                #expect(result.status == 0, "stderr: \(result.stderr)")
                #expect(result.stdout.isEmpty, "stdout: \(result.output)")
                let written = try String(contentsOf: output, encoding: .utf8)
                let lines = written.split(separator: "\n", omittingEmptySubsequences: false)
                #expect(lines.count == 3 && lines[2].isEmpty, "file: \(written)")
                #expect(lines.first?.contains("Katze") == true)
            }
        }

        @Test func dashReadsStdin() throws {
            let result = try CLI.run(["--model", CLI.enDe, "-i", "-"], input: "The cat sleeps.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines.count == 1)
            #expect(result.lines.first?.contains("Katze") == true, "output: \(result.output)")
        }

        @Test func missingInputFileIsBadInput() throws {
            let result = try CLI.run(["--model", CLI.enDe, "-i", "/nonexistent/input.txt"])
            #expect(result.status == 4)
            #expect(result.stderr.contains("/nonexistent/input.txt"), "stderr: \(result.stderr)")
        }

        /// With --strict-input (by default such lines are repaired: InvalidInputCLITests). Where the invalid line
        /// sits: `validLinesBefore` lines precede it, the first "The cat sleeps." and the rest empty (cheap: empty
        /// lines are not translated). 512 makes it the first line of the CLI's second chunk.
        @Test(arguments: [0, 1, 512])
        func invalidUTF8NamesTheLineAndKeepsEarlierOutput(validLinesBefore: Int) throws {
            var input = Data()
            if validLinesBefore > 0 {
                input.append(Data(("The cat sleeps.\n" + String(repeating: "\n", count: validLinesBefore - 1)).utf8))
            }
            input.append(contentsOf: [0x48, 0xFF, 0xFE, 0x0A])
            input.append(Data("Good morning.\n".utf8))
            let result = try CLI.run(["--model", CLI.enDe, "--strict-input"], stdin: input)
            #expect(result.status == 4)
            #expect(result.stderr.contains("line \(validLinesBefore + 1):"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("UTF-8"), "stderr: \(result.stderr)")
            // Lines before the bad one are translated and written before xlate stops.
            #expect(result.lines.count == validLinesBefore, "output: \(result.output)")
            if validLinesBefore > 0 {
                #expect(result.lines.first?.contains("Katze") == true, "output: \(result.output)")
            }
        }

        @Test func invalidUTF8InFileNamesTheFile() throws {
            try withTemporaryDirectory { directory in
                let file = directory.appendingPathComponent("latin1.txt")
                try Data([0x47, 0x72, 0xFC, 0xDF, 0x65, 0x0A]).write(to: file)  // "Grüße" in Latin-1
                let result = try CLI.run(["--model", CLI.enDe, "--strict-input", "-i", file.path])
                #expect(result.status == 4)
                #expect(result.stderr.contains("\(file.path), line 1"), "stderr: \(result.stderr)")
                #expect(result.stdout.isEmpty)
            }
        }
    }

    @Suite struct ModelErrors {
        @Test func unknownPairListsAvailablePairs() throws {
            let result = try CLI.run(["--src", "fr", "--tgt", "en"], input: "Bonjour.\n")
            #expect(result.status == 2)
            for expected in ["de-en", "en-de", "Looked in"] {
                #expect(result.stderr.contains(expected), "stderr lacks \(expected): \(result.stderr)")
            }
            #expect(result.stdout.isEmpty)
        }

        @Test func missingModelFolder() throws {
            let result = try CLI.run(["--model", "/nonexistent"], input: "Hello.\n")
            #expect(result.status == 2)
            #expect(result.stderr.contains("/nonexistent"), "stderr: \(result.stderr)")
        }

        /// Ways to break a copy of the en-de model folder, with what the error must name.
        enum Breakage: String, CaseIterable, Sendable {
            case truncatedWeights, missingSourceSPM, wrongDModel, bertModelType

            var expectedInMessage: [String] {
                switch self {
                case .truncatedWeights: ["model.safetensors"]
                case .missingSourceSPM: ["source.spm"]
                case .wrongDModel: ["d_model", "shape"]
                case .bertModelType: ["model_type"]
                }
            }

            /// A copy of Models/xlate-en-de in `directory` with this breakage; large files unchanged are symlinked.
            func makeModel(in directory: URL) throws -> URL {
                let original = CLI.repoRoot.appendingPathComponent(CLI.enDe)
                let model = directory.appendingPathComponent("broken-en-de")
                try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
                for name in try FileManager.default.contentsOfDirectory(atPath: original.path) {
                    let source = original.appendingPathComponent(name)
                    let copy = model.appendingPathComponent(name)
                    switch (self, name) {
                    case (.truncatedWeights, "model.safetensors"):
                        let bytes = try Data(contentsOf: source)
                        try bytes.prefix(bytes.count / 2).write(to: copy)
                    case (.missingSourceSPM, "source.spm"):
                        continue
                    case (.wrongDModel, "config.json"), (.bertModelType, "config.json"):
                        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any])
                        if self == .wrongDModel { config["d_model"] = 100 } else { config["model_type"] = "bert" }
                        try JSONSerialization.data(withJSONObject: config).write(to: copy)
                    default:
                        try FileManager.default.createSymbolicLink(at: copy, withDestinationURL: source)
                    }
                }
                return model
            }
        }

        @Test(arguments: Breakage.allCases)
        func brokenModelIsBadModel(_ breakage: Breakage) throws {
            try withTemporaryDirectory { directory in
                let model = try breakage.makeModel(in: directory)
                let result = try CLI.run(["--model", model.path], input: "Hello.\n")
                #expect(result.status == 3, "stderr: \(result.stderr)")
                #expect(
                    breakage.expectedInMessage.contains { result.stderr.contains($0) },
                    "stderr names none of \(breakage.expectedInMessage): \(result.stderr)")
                #expect(result.stdout.isEmpty)
            }
        }
    }

    @Suite struct Usage {
        struct Case: Sendable, CustomTestStringConvertible {
            let arguments: [String]
            let expectedInMessage: String
            var testDescription: String { arguments.isEmpty ? "(no options)" : arguments.joined(separator: " ") }
        }

        @Test(arguments: [
            Case(arguments: [], expectedInMessage: "--model"),
            Case(arguments: ["--src", "en"], expectedInMessage: "--tgt"),
            Case(arguments: ["--model", CLI.enDe, "--beam", "0"], expectedInMessage: "--beam"),
            Case(arguments: ["--model", CLI.enDe, "--src", "fr", "--tgt", "de"], expectedInMessage: "translates en → de"),
            Case(arguments: ["--model", CLI.enDe, "--format", "xml"], expectedInMessage: "xml"),
            Case(arguments: ["--model", CLI.enDe, "--no-such-option"], expectedInMessage: "--no-such-option"),
        ])
        func usageErrorExits64(_ usage: Case) throws {
            let result = try CLI.run(usage.arguments, input: "Hello.\n")
            #expect(result.status == 64)
            #expect(result.stderr.contains(usage.expectedInMessage), "stderr: \(result.stderr)")
            #expect(result.stdout.isEmpty, "stdout: \(result.output)")
        }

        @Test func versionNamesBLASKernel() throws {
            let result = try CLI.run(["--version"])
            #expect(result.status == 0)
            #expect(result.output.contains("OpenBLAS kernel:"), "stdout: \(result.output)")
        }

        @Test func modelsListsBundledPairs() throws {
            let result = try CLI.run(["models"])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.output.contains("Looked in:"))
            for pair in ["en-de", "de-en"] {
                #expect(result.lines.contains { $0.hasPrefix(pair + "\t") }, "no \(pair) in: \(result.output)")
            }
        }

        @Test func helpTeachesByExample() throws {
            let result = try CLI.run(["--help"])
            #expect(result.status == 0)
            #expect(result.output.contains("EXAMPLES"), "stdout: \(result.output)")
            #expect(result.output.contains("--src"), "stdout: \(result.output)")
        }

        @Test func translateHelpListsOptions() throws {
            let result = try CLI.run(["--help"])
            #expect(result.status == 0)
            for option in ["--src", "--tgt", "--model", "--beam", "--nbest", "--format", "--max-length"] {
                #expect(result.output.contains(option), "--help lacks \(option)")
            }
        }
    }
}
