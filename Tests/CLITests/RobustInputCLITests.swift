import Foundation
import Testing

extension CLITests {
    /// Text no one should send but someone will: every line gives exactly one output line, in place, and nothing is
    /// dropped without a message. (TranslateCLITests has single odd lines; FilesAndErrorsCLITests invalid UTF-8.)
    @Suite struct RobustInput {
        /// An input line, shown escaped in test names and messages.
        struct Line: Sendable, CustomTestStringConvertible {
            let text: String
            let kind: String
            var testDescription: String { "\(kind): \(text.debugDescription)" }
            /// Blank by `Character.isWhitespace`, the translator's test: translated to an empty line.
            var isBlank: Bool { text.allSatisfy(\.isWhitespace) }
        }

        static let mixed: [Line] = [
            Line(text: "Hello.", kind: "plain"),
            Line(text: "", kind: "empty"),
            Line(text: "   \t  ", kind: "spaces and tabs"),
            Line(text: "\u{A0}\u{3000}\u{2028}\u{0B}\u{0C}\u{85}\u{2009}", kind: "Unicode whitespace only"),
            Line(text: "مرحبا بالعالم، كيف حالك اليوم؟", kind: "Arabic"),
            Line(text: "שלום עולם, מה שלומך היום?", kind: "Hebrew"),
            Line(text: "He said \u{202B}שלום\u{202C} and paid \u{200F}123\u{200E} dollars.", kind: "bidi embedding and marks"),
            Line(text: "\u{202E}txet desrever\u{202C} and \u{2067}isolate\u{2069}", kind: "bidi override and isolate"),
            Line(text: "nul\u{0}inside\u{0}", kind: "NUL bytes"),
            Line(text: "ᚠᛇᚻ᛫ᛒᛦᚦ ꦲꦏ꧀ꦱꦫ 𓀀𓁐 ⠓⠑⠇⠇⠕", kind: "scripts unknown to the vocabulary"),
            Line(text: "😀👍🏽🇩🇪👨‍👩‍👧 🫠", kind: "emoji: modifiers, flags, ZWJ sequences"),
            Line(text: "Z\u{334}\u{321}\u{31B}a\u{338}\u{347}l\u{337}g\u{336}o text", kind: "stacked combining marks"),
            Line(text: "\u{200B}\u{FEFF}\u{200D}", kind: "zero-width characters only (not whitespace)"),
            Line(text: "</s> <unk> <pad> >>de<<", kind: "special-token strings"),
            Line(text: "\u{7}\u{1B}[31mred\u{1B}[0m\u{8}", kind: "control characters and ANSI escapes"),
            Line(text: "\u{FFFD}\u{FFFF}\u{10FFFF}\u{E000}", kind: "replacement character, noncharacters, private use"),
            Line(text: "The cat sleeps.", kind: "plain"),
        ]

        static var mixedInput: String { mixed.map(\.text).joined(separator: "\n") + "\n" }

        /// All kinds in one input: one JSON object per line, in order, its source the input line byte for byte (NUL
        /// and bidi controls included), blank lines blank, and no warning (nothing was cut or skipped). As text and
        /// as TSV (a tab or NUL in the source must not split a row): the same line count and translations.
        @Test func everyKindOfLineGivesOneOutputLineInPlace() throws {
            let json = try CLI.run(["--model", CLI.enDe, "--beam", "1", "--format", "json"], input: Self.mixedInput)
            #expect(json.status == 0, "stderr: \(json.stderr)")
            #expect(json.stderr.isEmpty, "stderr: \(json.stderr)")
            try #require(json.lines.count == Self.mixed.count, "output: \(json.output)")
            var translations: [String] = []
            for (line, output) in zip(Self.mixed, json.lines) {
                let object = try jsonObject(output)
                #expect(object["source"] as? String == line.text, "\(line.testDescription) came back as \(output)")
                let translation = try #require(object["translation"] as? String)
                #expect(translation.isEmpty == line.isBlank, "\(line.testDescription) → \(translation.debugDescription)")
                translations.append(translation)
            }

            for format in ["text", "tsv"] {
                let result = try CLI.run(["--model", CLI.enDe, "--beam", "1", "--format", format], input: Self.mixedInput)
                #expect(result.status == 0, "\(format) stderr: \(result.stderr)")
                try #require(result.lines.count == Self.mixed.count, "\(format) output: \(result.output)")
                let texts = format == "text" ? result.lines
                    : result.lines.map { String($0.split(separator: "\t", omittingEmptySubsequences: false).last ?? "") }
                #expect(texts == translations, "\(format)")
            }
        }

        /// 100,000 characters of words with no sentence end: cut at word boundaries into pieces that fit the model's
        /// 256 positions, every piece translated and rejoined (README, "Long input"), with no warning; with
        /// `--split none` it is truncated to 256 tokens and the warning names the line.
        @Test func aLineOf100000CharactersIsCutIntoPiecesOrTruncatedWithAWarning() throws {
            let words = ["the", "old", "man", "who", "lived", "near", "the", "river", "told", "many", "stories", "about", "rain"]
            var line = ""
            var index = 0
            while line.count < 100_000 {
                line += (line.isEmpty ? "" : " ") + words[index % words.count]
                index += 1
            }
            line = String(line.prefix(100_000))
            let input = "Hello.\n\(line)\nThe cat sleeps.\n"

            // --max-length 8 keeps each piece's translation short: the encoder still reads every piece.
            let split = try CLI.run(["--model", CLI.enDe, "--beam", "1", "--max-length", "8"], input: input, timeout: 300)
            #expect(split.status == 0, "stderr: \(split.stderr)")
            // Nothing is truncated; the short limit cuts the pieces' translations, which is said once for the line.
            #expect(split.stderr == "xlate: warning: line 2: the translation reached the length limit of 8 tokens and may be cut; raise --max-length (the model allows up to 256)\n",
                "stderr: \(split.stderr)")
            try #require(split.lines.count == 3, "output lines: \(split.lines.count)")
            // About 25,000 tokens make about 100 pieces of at most 7 output tokens each; one piece alone gives <= 7 words.
            let words100k = split.lines[1].split(separator: " ").count
            #expect(words100k > 100, "only \(words100k) words for 100,000 characters: \(split.lines[1].prefix(300))")
            #expect(!split.lines[0].isEmpty && !split.lines[2].isEmpty)

            let whole = try CLI.run(["--model", CLI.enDe, "--beam", "1", "--max-length", "8", "--split", "none"], input: input)
            #expect(whole.status == 0, "stderr: \(whole.stderr)")
            #expect(whole.lines.count == 3)
            let warnings = whole.stderr.split(separator: "\n").filter { !$0.contains("length limit") }
            #expect(warnings.count == 1 && warnings[0].contains("line 2 is longer than") && warnings[0].contains("not translated"),
                "stderr: \(whole.stderr)")
        }
    }

    /// Broken copies of the bundled model that ModelErrors (FilesAndErrorsCLITests) does not cover: exit status 3,
    /// the message naming the file and the problem, nothing on stdout.
    @Suite struct ModelCorruption {
        enum Breakage: String, CaseIterable, Sendable {
            case nanWeight, unsupportedDType, zeroHeads, emptyEOSList, truncatedSourceSPM, vocabularyBeyondTheModel

            /// What stderr must contain.
            var expected: [String] {
                switch self {
                case .nanWeight: ["model.safetensors", "model.encoder.layers.0.fc1.weight", "NaN or infinite"]
                case .unsupportedDType: ["model.safetensors", "model.encoder.layers.0.fc1.weight", "dtype I16"]
                case .zeroHeads: ["config.json", "\"encoder_attention_heads\" must be positive, got 0"]
                case .emptyEOSList: ["config.json", "\"eos_token_id\" is an empty list"]
                case .truncatedSourceSPM: ["source.spm", "not a valid SentencePiece model"]
                case .vocabularyBeyondTheModel: ["vocab.json", "outside the model's vocabulary of 16000"]
                }
            }

            /// The file this breakage rewrites, and how.
            func broken(_ name: String, _ original: Data) throws -> Data? {
                switch (self, name) {
                case (.nanWeight, "model.safetensors"):
                    var bytes = original
                    let begin = try tensorStart(bytes, "model.encoder.layers.0.fc1.weight")
                    bytes.replaceSubrange(begin + 10..<begin + 12, with: [0x00, 0x7E])  // float16 NaN
                    return bytes
                case (.unsupportedDType, "model.safetensors"):
                    // Same element size as F16, so only the dtype is wrong.
                    return try replacing(#""model.encoder.layers.0.fc1.weight":{"dtype":"F16""#,
                        with: #""model.encoder.layers.0.fc1.weight":{"dtype":"I16""#, in: original)
                case (.zeroHeads, "config.json"):
                    return try replacing(#""encoder_attention_heads": 6"#, with: #""encoder_attention_heads": 0"#, in: original)
                case (.emptyEOSList, "config.json"):
                    return try replacing(#""eos_token_id": 0"#, with: #""eos_token_id": []"#, in: original)
                case (.truncatedSourceSPM, "source.spm"):
                    return original.prefix(original.count / 3)
                case (.vocabularyBeyondTheModel, "vocab.json"):
                    // The shape of a larger OPUS-MT vocabulary (opus-mt-en-de has 58,101) under this 16,000-token model.
                    return try replacing(#""<unk>": 1,"#, with: #""<unk>": 1, "▁Fernsehturm": 58100,"#, in: original)
                default:
                    return nil
                }
            }
        }

        @Test(arguments: Breakage.allCases)
        func aBrokenModelExitsWith3AndNamesTheFileAndTheProblem(_ breakage: Breakage) throws {
            try withTemporaryDirectory { directory in
                let model = try brokenCopy(in: directory) { name, original in try breakage.broken(name, original) }
                let result = try CLI.run(["--model", model.path], input: "Hello.\n")
                #expect(result.status == 3, "stderr: \(result.stderr)")
                for expected in breakage.expected {
                    #expect(result.stderr.contains(expected), "stderr lacks \(expected): \(result.stderr)")
                }
                #expect(result.stdout.isEmpty, "stdout: \(result.output)")
            }
        }

        /// generation_config.json values out of range make a bad model (3), the message naming the file, as for
        /// config.json (they were once refused only as a usage error, 64, when the options were checked).
        @Test func anOutOfRangeGenerationConfigIsABadModel() throws {
            try withTemporaryDirectory { directory in
                let model = try brokenCopy(in: directory) { name, original in
                    name == "generation_config.json" ? try replacing(#""max_length": 256"#, with: #""max_length": -5"#, in: original) : nil
                }
                let result = try CLI.run(["--model", model.path], input: "Hello.\n")
                #expect(result.stdout.isEmpty, "stdout: \(result.output)")
                #expect(result.stderr.contains("-5"), "stderr: \(result.stderr)")
                #expect(result.status == 3, "stderr: \(result.stderr)")
                #expect(result.stderr.contains("generation_config.json"), "stderr: \(result.stderr)")
            }
        }
    }
}

/// A copy of Models/xlate-en-de in `directory` where `change` (file name, original bytes) returns new bytes for the
/// files it breaks; the other files are symlinked. Named `*-en-de` so the source language is still known.
private func brokenCopy(in directory: URL, _ change: (String, Data) throws -> Data?) throws -> URL {
    let original = CLI.repoRoot.appendingPathComponent(CLI.enDe)
    let model = directory.appendingPathComponent("broken-en-de")
    try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
    for name in try FileManager.default.contentsOfDirectory(atPath: original.path) {
        let source = original.appendingPathComponent(name)
        if let bytes = try change(name, try Data(contentsOf: source, options: .mappedIfSafe)) {
            try bytes.write(to: model.appendingPathComponent(name))
        } else {
            try FileManager.default.createSymbolicLink(at: model.appendingPathComponent(name), withDestinationURL: source)
        }
    }
    return model
}

/// `data` with the one occurrence of `target` replaced; fails the test if `target` does not occur exactly once.
private func replacing(_ target: String, with replacement: String, in data: Data) throws -> Data {
    let ranges = data.ranges(of: Data(target.utf8))
    try #require(ranges.count == 1, "'\(target)' occurs \(ranges.count) times")
    var result = data
    result.replaceSubrange(ranges[0], with: Data(replacement.utf8))
    return result
}

/// The file offset of tensor `name`'s first byte in safetensors `bytes`.
private func tensorStart(_ bytes: Data, _ name: String) throws -> Int {
    let headerLength = Int(UInt64(littleEndian: bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
    let header = try #require(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + headerLength))) as? [String: Any])
    let entry = try #require(header[name] as? [String: Any], "no tensor '\(name)'")
    let offsets = try #require(entry["data_offsets"] as? [Int])
    return 8 + headerLength + offsets[0]
}
