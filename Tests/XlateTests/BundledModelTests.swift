import Foundation
import Testing
import Xlate

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Translations of `../shared/eval` sentences recorded from transformers by `Fixtures/generate.py`.
struct BundledReference: Decodable {
    struct Output: Decodable {
        let ids: [Int]
        let text: String
        let score: Float?
    }

    struct Case: Decodable {
        let source: String
        let input_ids: [Int]
        let source_pieces: [String]
        let greedy: Output
        let beam4: Output
    }

    let model: String
    let cases: [Case]

    static func load(_ direction: String) throws -> BundledReference {
        let url = repositoryRoot.appendingPathComponent("Fixtures/bundled/\(direction).json")
        return try JSONDecoder().decode(BundledReference.self, from: Data(contentsOf: url))
    }
}

/// Loaded once per direction and shared by the tests (a Translator is immutable and Sendable).
enum Bundled {
    static let translators: [String: Translator] = {
        var translators: [String: Translator] = [:]
        for direction in ["en-de", "de-en"] {
            translators[direction] = try? Translator(modelAt: repositoryRoot.appendingPathComponent("Models/xlate-\(direction)"))
        }
        return translators
    }()

    static func translator(_ direction: String) throws -> Translator {
        try #require(translators[direction], "Models/xlate-\(direction) did not load")
    }
}

@Suite("Bundled models: identical to transformers on sentences from ../shared/eval")
struct BundledModelTests {
    @Test(arguments: ["en-de", "de-en"])
    func tokenizerIdsMatch(_ direction: String) throws {
        let reference = try BundledReference.load(direction)
        let translator = try Bundled.translator(direction)
        for testCase in reference.cases {
            let tokens = translator.tokenizer.encode(testCase.source)
            #expect(tokens.ids == testCase.input_ids, "\(testCase.source)")
            #expect(tokens.pieces == testCase.source_pieces, "\(testCase.source)")
        }
    }

    @Test(arguments: ["en-de", "de-en"], [1, 4])
    func translationsMatch(_ direction: String, beams: Int) throws {
        let reference = try BundledReference.load(direction)
        #expect(reference.cases.count >= 50)
        let translator = try Bundled.translator(direction)
        var options = translator.defaultOptions
        options.decoding.numBeams = beams
        // All sentences in batches: batching must not change any result.
        let translations = try translator.translate(reference.cases.map(\.source), options: options)
        var identical = 0
        var compared = 0
        for (testCase, translation) in zip(reference.cases, translations) {
            if testCase.source.allSatisfy(\.isWhitespace) {
                // Deliberate departure: blank input gives blank output (transformers translates `</s>` alone).
                #expect(translation.text.isEmpty)
                continue
            }
            compared += 1
            let expected = beams == 1 ? testCase.greedy : testCase.beam4
            let hypothesis = try #require(translation.hypotheses.first)
            #expect(hypothesis.ids == expected.ids, "\(direction) beam \(beams): \(testCase.source)")
            #expect(translation.text == expected.text, "\(direction) beam \(beams): \(testCase.source)")
            if let score = expected.score, let got = hypothesis.score {
                #expect(abs(got - score) <= 1e-4 * max(1, abs(score)))
            }
            if hypothesis.ids == expected.ids && translation.text == expected.text { identical += 1 }
        }
        #expect(compared >= 50)
        print("[parity] \(direction) beam \(beams): \(identical)/\(compared) identical to transformers")
    }
}
