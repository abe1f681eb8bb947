import Foundation
import Testing
@testable import Xlate

@Suite("Translator facade")
struct TranslatorTests {
    @Test func emptyAndWhitespaceLinesGiveEmptyTranslationsInPlace() throws {
        let translator = try Bundled.translator("en-de")
        let results = try translator.translate(["Hello.", "", "   \t", "Good morning."])
        #expect(results.map(\.text.isEmpty) == [false, true, true, false])
        #expect(results.map(\.source) == ["Hello.", "", "   \t", "Good morning."])
    }

    @Test func overlongSourceIsTruncatedAndReported() throws {
        let translator = try Bundled.translator("en-de")
        let text = Array(repeating: "The cat sat on the mat.", count: 60).joined(separator: " ")
        var options = translator.defaultOptions
        options.decoding.numBeams = 1
        options.decoding.maxNewTokens = 8
        let result = try translator.translate(text, options: options)
        #expect(result.truncatedSourceTokens > 0)
        #expect(result.sourceIds.count == translator.model.maxSourceLength)
        #expect(result.sourceIds.last == 0)
        #expect(!result.text.isEmpty)
    }

    @Test(arguments: [1, 4])
    func aTranslationCutByTheLengthLimitIsReported(beams: Int) throws {
        let translator = try Bundled.translator("en-de")
        var options = translator.defaultOptions
        options.decoding.numBeams = beams
        let text = "The cat sat on the mat because it was tired."
        let free = try translator.translate(text, options: options)
        #expect(!free.reachedMaxLength)
        #expect(free.hypotheses[0].ids.last == 0)
        options.decoding.maxLength = 5
        let cut = try translator.translate(text, options: options)
        #expect(cut.reachedMaxLength)
        #expect(cut.hypotheses[0].ids.count == 4, "ids \(cut.hypotheses[0].ids)")
        // With sentence splitting, one cut sentence marks the whole text.
        options.splitSentences = true
        let split = try translator.translate("Yes. " + text, options: options)
        #expect(split.reachedMaxLength)
    }

    @Test(arguments: [1, 2, 3], [1, 2, 5, 32, 100])
    func batchesShareTheBatchSizeAmongThreadsAndOutputsDoNotDependOnThem(threads: Int, batchSize: Int) throws {
        var options = TranslationOptions(batchSize: batchSize)
        options.threads = threads
        let items = Array(0..<70)
        let batches = options.threadBatches(items)
        #expect(batches.flatMap { $0 } == items)
        let size = min((batchSize + threads - 1) / threads, (items.count + threads - 1) / threads)
        #expect(batches.dropLast().allSatisfy { $0.count == size }, "sizes \(batches.map { $0.count })")
        // Fewer texts than the batch: still one batch per thread.
        #expect(options.threadBatches(Array(0..<threads)).count == threads)
    }

    @Test func nBestIsSortedAndHasScores() throws {
        let translator = try Bundled.translator("en-de")
        var options = translator.defaultOptions
        options.decoding.numBeams = 5
        options.decoding.numReturnSequences = 3
        let result = try translator.translate("The house is small.", options: options)
        let scores = result.hypotheses.compactMap(\.score)
        #expect(scores.count == 3)
        #expect(scores == scores.sorted(by: >))
        #expect(result.text == result.hypotheses[0].text)
    }

    @Test func greedyTokenScoresAreLogProbabilities() throws {
        let translator = try Bundled.translator("en-de")
        var options = translator.defaultOptions
        options.decoding.numBeams = 1
        options.decoding.returnTokenScores = true
        let hypothesis = try #require(try translator.translate("I like tea.", options: options).hypotheses.first)
        let tokenScores = try #require(hypothesis.tokenScores)
        #expect(tokenScores.count == hypothesis.ids.count)
        #expect(tokenScores.allSatisfy { $0 <= 0 })
        let mean = tokenScores.reduce(0, +) / Float(tokenScores.count)
        #expect(abs(try #require(hypothesis.score) - mean) < 1e-5)
    }

    @Test func invalidOptionsAreRejectedBeforeTranslating() throws {
        let translator = try Bundled.translator("en-de")
        var options = translator.defaultOptions
        options.batchSize = 0
        #expect(throws: DecodingError.invalidOption("the batch size must be >= 1, got 0")) {
            try translator.translate("Hi.", options: options)
        }
    }

    @Test func missingTokenizerFileIsNamed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let source = repositoryRoot.appendingPathComponent("Models/xlate-en-de")
        for name in ["config.json", "generation_config.json", "model.safetensors", "vocab.json", "target.spm"] {
            try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(name), withDestinationURL: source.appendingPathComponent(name))
        }
        #expect {
            try Translator(modelAt: directory)
        } throws: { error in
            guard case .missingFile(let path, _) = error as? ModelError else { return false }
            return path.hasSuffix("source.spm")
        }
    }
}

@Suite("Model resolution")
struct ModelResolverTests {
    @Test func findsPairsByFolderNameInOrderAndListsWhatExists() throws {
        let first = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-\(UUID().uuidString)")
        let second = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-\(UUID().uuidString)")
        for (root, name) in [(first, "opus-mt-fr-en"), (second, "opus-mt-fr-en"), (second, "xlate-en-de"), (second, "not-a-model")] {
            let folder = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            if name != "not-a-model" { try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json")) }
        }
        let resolver = ModelResolver(environment: ["XLATE_MODELS": "\(first.path):\(second.path)"], executable: nil)
        #expect(try resolver.resolve(source: "fr", target: "en") == first.appendingPathComponent("opus-mt-fr-en"))
        #expect(try resolver.resolve(source: "en", target: "de") == second.appendingPathComponent("xlate-en-de"))
        #expect(resolver.available().count == 3)
        #expect {
            try resolver.resolve(source: "ja", target: "en")
        } throws: { error in
            // Library wording: what was searched and how to add a model; the CLI adds its options and commands.
            let message = error.localizedDescription
            return message.contains("Available pairs: en-de, fr-en") && message.contains(first.path)
                && message.hasSuffix("Put a model folder named like opus-mt-ja-en in one of them.")
                && !message.contains("--") && !message.contains("xlate download")
        }
    }
}
