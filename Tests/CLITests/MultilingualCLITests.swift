import Foundation
import Testing

/// Text → text cases of the tiny M2M100 and NLLB fixtures (their tokenizer files and weights), recorded from
/// transformers by `Fixtures/generate_m2m100.py`.
struct MultilingualEndToEnd: Decodable {
    struct Output: Decodable {
        let ids: [Int]
        let text: String
    }

    struct Case: Decodable {
        let src: String?  // nil for BART (one language)
        let tgt: String?
        let text: String
        let greedy: Output
        let beam4: Output
    }

    let end_to_end: [Case]

    static func recorded(_ model: String) throws -> MultilingualEndToEnd {
        let url = CLI.repoRoot.appendingPathComponent("\(model)/reference.json")
        return try JSONDecoder().decode(MultilingualEndToEnd.self, from: Data(contentsOf: url))
    }
}

extension CLITests {
    /// `xlate --model DIR --src en --tgt de` with the multilingual families: plain ISO 639-1 codes choose the
    /// source language token and the forced target language token (`__de__`, `deu_Latn`).
    @Suite struct Multilingual {
        static let models = ["Fixtures/m2m100/m2m100-tiny", "Fixtures/m2m100/nllb-tiny", "Fixtures/mbart50/mbart50-tiny"]

        @Test(arguments: models, [1, 4])
        func translatesLikeTransformersWithISOCodes(model: String, beams: Int) throws {
            let cases = try MultilingualEndToEnd.recorded(model).end_to_end
            for (source, target) in [("en", "de"), ("de", "en")] {
                let pair = cases.filter { $0.src == source && $0.tgt == target }
                try #require(pair.count >= 4, "\(model) \(source) → \(target)")
                let result = try CLI.run(
                    ["--model", model, "--src", source, "--tgt", target, "--beam", "\(beams)", "--format", "json"],
                    input: pair.map { $0.text + "\n" }.joined())
                #expect(result.status == 0, "stderr: \(result.stderr)")
                let objects = try result.lines.map(jsonObject)
                #expect(objects.map { $0["translation"] as? String } == pair.map { beams == 1 ? $0.greedy.text : $0.beam4.text })
            }
        }

        @Test(arguments: models)
        func unknownOrMissingTargetLanguageIsAUsageError(model: String) throws {
            let unknown = try CLI.run(["--model", model, "--src", "en", "--tgt", "xx"], input: "Hello world.\n")
            #expect(unknown.status == 64 && unknown.stderr.contains("--tgt xx is not one of the"), "\(unknown.stderr)")
            // The fixtures' generation_config.json forces German; without it, a target language is required.
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-multilingual-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: CLI.repoRoot.appendingPathComponent(model), to: folder)
            defer { try? FileManager.default.removeItem(at: folder) }
            try FileManager.default.removeItem(at: folder.appendingPathComponent("generation_config.json"))
            let missing = try CLI.run(["--model", folder.path], input: "Hello world.\n")
            #expect(missing.status == 64 && missing.stderr.contains("--tgt: the model translates into"), "\(missing.stderr)")
            let given = try CLI.run(["--model", folder.path, "--src", "en", "--tgt", "de"], input: "Hello world.\n")
            #expect(given.status == 0, "stderr: \(given.stderr)")
        }

        /// Alignments index the input's words: the source language token is left out, as a T5 prefix is.
        @Test(arguments: models)
        func alignmentLeavesTheLanguageTokenOut(model: String) throws {
            let result = try CLI.run(
                ["--model", model, "-s", "en", "-t", "de", "--align", "soft", "--format", "json"],
                input: "The cat sat on the mat.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let object = try jsonObject(try #require(result.lines.first))
            let alignment = try #require(object["alignment"] as? [String: Any])
            #expect(alignment["source_words"] as? [String] == ["The", "cat", "sat", "on", "the", "mat."])
        }

        /// `xlate models` lists a multilingual model once, as every pair of its languages, with their ISO codes.
        @Test func modelsListsTheLanguagesOfMultilingualModels() throws {
            let result = try CLI.run(
                ["models"], environment: ["XLATE_MODELS": CLI.repoRoot.appendingPathComponent("Fixtures/m2m100").path])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            for name in ["m2m100-tiny", "nllb-tiny"] {
                let line = try #require(result.lines.firstIndex { $0.hasPrefix("any-any\tm2m_100\t") && $0.hasSuffix(name) })
                #expect(result.lines[line + 1].contains(" en ") && result.lines[line + 1].contains(" de "), "\(result.output)")
            }
            #expect(result.output.contains("202 languages") && result.output.contains("100 languages"), "\(result.output)")
            #expect(!result.lines.contains { $0.hasPrefix("m2m100-tiny") || $0.hasPrefix("nllb-tiny") })
        }
    }
}

extension CLITests {
    /// BART runs as any text-to-text model: `xlate generate --model DIR`, text in → text out as transformers.
    @Suite struct Bart {
        @Test(arguments: [1, 4])
        func generateMatchesTransformers(beams: Int) throws {
            let model = "Fixtures/bart/bart-tiny"
            let cases = try MultilingualEndToEnd.recorded(model).end_to_end
            try #require(cases.count >= 6)
            let result = try CLI.run(
                ["generate", "--model", model, "--beam", "\(beams)", "--format", "json"], input: cases.map { $0.text + "\n" }.joined())
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let objects = try result.lines.map(jsonObject)
            #expect(objects.map { $0["translation"] as? String } == cases.map { beams == 1 ? $0.greedy.text : $0.beam4.text })
        }
    }
}
