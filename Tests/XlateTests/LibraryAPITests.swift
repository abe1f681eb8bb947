import Foundation
import Testing
import Xlate

/// Log-probabilities of reference translations recorded from transformers by `Fixtures/generate_scores.py`.
struct ScoreReference: Decodable {
    struct Case: Decodable {
        let source: String
        let target: String
        let input_ids: [Int]
        let labels: [Int]
        let token_logprobs: [Float]
        let sum: Float
    }

    struct Direction: Decodable {
        let model: String
        let cases: [Case]
    }

    let directions: [Direction]

    static func load(_ direction: String) throws -> [Case] {
        let url = repositoryRoot.appendingPathComponent("Fixtures/bundled/scores.json")
        let reference = try JSONDecoder().decode(ScoreReference.self, from: Data(contentsOf: url))
        return try #require(reference.directions.first { $0.model == "xlate-\(direction)" }).cases
    }
}

private let sentences = [
    "The cat sat on the mat because it was tired.",
    "I like tea.",
    "Where is the station?",
    "Tom was very young in 2013.",
    "We will meet tomorrow at the old bridge near the river.",
]

/// The blocking `translate`: in async code, the same call resolves to the async overload.
private func blocking(_ translator: Translator, _ texts: [String], _ options: TranslationOptions) throws -> [Translation] {
    try translator.translate(texts, options: options)
}

private func greedy(_ translator: Translator, scores: Bool = false) -> TranslationOptions {
    var options = translator.defaultOptions
    options.decoding.numBeams = 1
    options.decoding.returnTokenScores = scores
    return options
}

@Suite("Library API: entry points")
struct LibraryEntryPointTests {
    @Test func loadsByFolderAndByLanguagePair() throws {
        let byFolder = try Bundled.translator("en-de")
        let resolver = ModelResolver(searchPaths: [repositoryRoot.appendingPathComponent("Models")])
        let byPair = try Translator(source: "en", target: "de", resolver: resolver)
        #expect(byPair.directory.lastPathComponent == "xlate-en-de")
        #expect(try byPair.translate("I like tea.").text == byFolder.translate("I like tea.").text)
    }

    @Test func batchEqualsOneByOne() throws {
        let translator = try Bundled.translator("en-de")
        let options = greedy(translator)
        let batch = try translator.translate(sentences, options: options)
        #expect(batch.map(\.text) == (try sentences.map { try translator.translate($0, options: options).text }))
    }

    @Test func asyncTranslateEqualsBlockingTranslate() async throws {
        let translator = try Bundled.translator("de-en")
        var options = translator.defaultOptions
        options.batchSize = 2
        options.threads = 1
        let texts = ["Ich mag Tee.", "", "Wo ist der Bahnhof?", "Das Haus ist klein.", "Guten Morgen."]
        let progress = Progress()
        let results = try await translator.translate(texts, options: options, progress: { done, total in progress.record(done, total) })
        #expect(results.map(\.text) == (try blocking(translator, texts, options).map(\.text)))
        #expect(progress.calls == [[2, 5], [4, 5], [5, 5]])
        #expect(try await translator.translate("Ich mag Tee.").text == results[0].text)
    }

    @Test func lowerLevelSearchRunsOnAnyModel() throws {
        let translator = try Bundled.translator("en-de")
        let model = translator.model
        var options = DecodingOptions()
        options.maxLength = model.maxTargetLength
        options.badWordsIds = [[model.vocabulary.padTokenId]]
        let encoded = model.encode([translator.tokenizer.encode("I like tea.").ids])
        let greedyIds = try GreedySearch().search(model: model, encoded: encoded, options: options)[0][0].tokens
        #expect(translator.tokenizer.decode(greedyIds) == (try translator.translate("I like tea.", options: greedy(translator)).text))
        options.numBeams = 4
        let beam = try searchStrategy(for: options).search(model: model, encoded: encoded, options: options)[0][0]
        #expect(beam.score != nil && beam.tokens.last == model.vocabulary.eosTokenIds[0])
    }
}

@Suite("Library API: scoring a given translation")
struct ScoringTests {
    @Test(arguments: ["en-de", "de-en"])
    func matchesTransformersLabelsLogProbabilities(_ direction: String) throws {
        let translator = try Bundled.translator(direction)
        let cases = try ScoreReference.load(direction)
        #expect(cases.count >= 10)
        let scores = try translator.score(cases.map { ($0.source, $0.target) })
        for (testCase, score) in zip(cases, scores) {
            #expect(translator.tokenizer.encode(testCase.source).ids == testCase.input_ids, "\(testCase.source)")
            #expect(score.ids == testCase.labels, "\(testCase.target)")
            #expect(score.tokenScores.count == testCase.token_logprobs.count)
            for (got, expected) in zip(score.tokenScores, testCase.token_logprobs) {
                #expect(abs(got - expected) <= 1e-4 * max(1, abs(expected)), "\(testCase.target)")
            }
            #expect(abs(score.logProbability - testCase.sum) <= 1e-4 * max(1, abs(testCase.sum)))
            #expect(abs(score.score - testCase.sum / Float(testCase.labels.count)) <= 1e-4 * max(1, abs(testCase.sum)))
        }
    }

    @Test func greedyOutputScoresItsOwnTokenScores() throws {
        let translator = try Bundled.translator("en-de")
        let options = greedy(translator, scores: true)
        var compared = 0
        for translation in try translator.translate(sentences, options: options) {
            let hypothesis = try #require(translation.hypotheses.first)
            let score = try translator.score(source: translation.source, target: translation.text, options: options, distribution: .search)
            // Re-tokenizing the text gives the generated ids unless the model chose a non-canonical segmentation.
            guard score.ids == hypothesis.ids else { continue }
            compared += 1
            #expect(zip(score.tokenScores, hypothesis.tokenScores!).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(translation.source)")
            #expect(abs(score.score - hypothesis.score!) <= 1e-5)
        }
        #expect(compared >= 4)
    }

    @Test(arguments: [1, 4])
    func forcedDecodingReproducesSearchScores(beams: Int) throws {
        let translator = try Bundled.translator("de-en")
        var options = translator.defaultOptions.decoding
        options.numBeams = beams
        options.returnTokenScores = true
        options.lengthPenalty = 1.3
        let model = translator.model
        let encoded = model.encode(["Ich mag Tee.", "Wo ist der Bahnhof?", "Das Haus ist klein."].map { translator.tokenizer.encode($0).ids })
        let hypotheses = try searchStrategy(for: options).search(model: model, encoded: encoded, options: options).map { $0[0] }
        let forced = try ForcedDecoding().score(
            model: model, encoded: encoded, targets: hypotheses.map(\.tokens), options: options, distribution: .search)
        for (searched, scored) in zip(hypotheses, forced) {
            #expect(scored.tokens == searched.tokens)
            #expect(zip(scored.tokenScores!, searched.tokenScores!).allSatisfy { abs($0 - $1) <= 1e-5 })
            #expect(abs(scored.score! - searched.score!) <= 1e-5)
        }
    }

    @Test func modelDistributionIsSearchDistributionWithoutProcessors() throws {
        let translator = try Bundled.translator("en-de")
        var options = greedy(translator, scores: true)
        options.decoding.badWordsIds = []
        options.decoding.forcedEOSTokenIds = []
        let translation = try translator.translate("Where is the station?", options: options)
        let hypothesis = try #require(translation.hypotheses.first)
        let model = try translator.score(source: translation.source, target: translation.text, options: options)
        try #require(model.ids == hypothesis.ids)
        #expect(zip(model.tokenScores, hypothesis.tokenScores!).allSatisfy { abs($0 - $1) <= 1e-5 })
        // Banning <pad> renormalises the greedy distribution: the processed scores are a little higher.
        let search = try translator.score(source: translation.source, target: translation.text, distribution: .search)
        #expect(zip(search.tokenScores, model.tokenScores).allSatisfy { $0 >= $1 })
    }

    @Test func referenceScoresBelowGreedyOutputAndTooLongTargetsThrow() throws {
        let translator = try Bundled.translator("en-de")
        let options = greedy(translator)
        let text = try translator.translate("I like tea.", options: options).text
        let pair = try translator.score([("I like tea.", text), ("I like tea.", "Der Hund schläft im Garten.")])
        #expect(pair[0].score > pair[1].score)
        #expect(pair[0].pieces.last == "</s>" && pair[0].tokenScores.count == pair[0].ids.count)
        let long = Array(repeating: "Katze", count: 400).joined(separator: " ")
        #expect(throws: TargetTooLong.self) { try translator.score(source: "Cat.", target: long) }
    }
}

@Suite("Library API: target prefix")
struct TargetPrefixTests {
    @Test(arguments: ["en-de", "de-en"])
    func greedyWithItsOwnPrefixIsUnchanged(_ direction: String) throws {
        let translator = try Bundled.translator(direction)
        let reference = try BundledReference.load(direction)
        var options = greedy(translator, scores: true)
        for testCase in reference.cases.prefix(12) where testCase.greedy.ids.count > 3 {
            let free = try translator.translate(testCase.source, options: options)
            options.decoding.targetPrefix = Array(testCase.greedy.ids.prefix(3))
            let constrained = try translator.translate(testCase.source, options: options)
            options.decoding.targetPrefix = []
            #expect(constrained.hypotheses[0].ids == free.hypotheses[0].ids, "\(testCase.source)")
            #expect(constrained.hypotheses[0].tokenScores == free.hypotheses[0].tokenScores)
        }
    }

    @Test(arguments: [1, 4])
    func forcesThePrefixThenContinues(beams: Int) throws {
        let translator = try Bundled.translator("en-de")
        var options = translator.defaultOptions
        options.decoding.numBeams = beams
        options.decoding.numReturnSequences = beams == 1 ? 1 : 2
        options.decoding.returnTokenScores = true
        let source = "I saw the cat yesterday."
        let free = try translator.translate(source, options: options)
        #expect(!free.text.hasPrefix("Gestern"))
        let constrained = try translator.translate(source, startingWith: "Gestern", options: options)
        let prefix = translator.targetPrefixIds("Gestern")
        #expect(!prefix.isEmpty)
        for hypothesis in constrained.hypotheses {
            #expect(Array(hypothesis.ids.prefix(prefix.count)) == prefix)
            #expect(hypothesis.text.hasPrefix("Gestern"))
            #expect(hypothesis.ids.last == translator.model.vocabulary.eosTokenIds[0])
        }
        // The prefix's tokens are scored like the rest: scoring the output under the search distribution agrees.
        let best = constrained.hypotheses[0]
        let scored = try translator.score(source: source, target: best.text, options: options, distribution: .search)
        if scored.ids == best.ids {
            #expect(zip(scored.tokenScores, best.tokenScores!).allSatisfy { abs($0 - $1) <= 1e-5 })
        }
    }

    @Test func invalidPrefixesAreRejected() throws {
        let translator = try Bundled.translator("en-de")
        let vocabulary = translator.model.vocabulary
        for (prefix, message) in [
            ([vocabulary.eosTokenIds[0]], "end-of-sequence"),
            ([vocabulary.padTokenId], "banned"),
            ([vocabulary.targetSize], "outside the vocabulary"),
        ] {
            var options = translator.defaultOptions
            options.decoding.targetPrefix = prefix
            #expect {
                try translator.translate("Hi.", options: options)
            } throws: { error in
                (error as? DecodingError)?.localizedDescription.contains(message) == true
            }
        }
    }
}

@Suite("Library API: streaming and cancellation")
struct StreamingTests {
    @Test(arguments: ["en-de", "de-en"])
    func concatenatedStreamEqualsGreedyTranslation(_ direction: String) async throws {
        let translator = try Bundled.translator(direction)
        let reference = try BundledReference.load(direction)
        for testCase in reference.cases.prefix(8) + reference.cases.suffix(4) {
            let expected = try blocking(translator, [testCase.source], greedy(translator))[0]
            var concatenated = ""
            var elements: [PartialTranslation] = []
            for try await partial in translator.stream(testCase.source) {
                concatenated += partial.delta
                elements.append(partial)
            }
            let last = try #require(elements.last)
            #expect(concatenated == expected.text, "\(testCase.source)")
            #expect(last.translation == expected)
            #expect(last.text == expected.text)
            // One element per generated token, each holding the text so far, then the complete one.
            #expect(elements.count == expected.hypotheses.first.map { $0.ids.count + 1 } ?? 1)
            #expect(elements.dropLast().allSatisfy { !$0.isComplete && $0.text == translator.tokenizer.decode($0.ids) })
            #expect(zip(elements, elements.dropFirst()).allSatisfy { $1.ids.starts(with: $0.ids) })
        }
    }

    @Test func streamsTokenScoresWhenAsked() async throws {
        let translator = try Bundled.translator("en-de")
        let options = greedy(translator, scores: true)
        let expected = try blocking(translator, ["I like tea."], options)[0]
        var last: PartialTranslation?
        for try await partial in translator.stream("I like tea.", options: options) { last = partial }
        #expect(last?.tokenScores == expected.hypotheses[0].tokenScores)
        #expect(last?.translation == expected)
    }

    @Test func beamSearchAndSentenceSplittingAreClearErrors() async throws {
        let translator = try Bundled.translator("en-de")
        var options = translator.defaultOptions
        options.decoding.numBeams = 4
        await #expect(throws: DecodingError.invalidOption("streaming uses greedy search: set numBeams to 1 (got 4)")) {
            for try await _ in translator.stream("Hello.", options: options) {}
        }
        options = greedy(translator)
        options.splitSentences = true
        await #expect(throws: DecodingError.self) {
            for try await _ in translator.stream("Hello. How are you?", options: options) {}
        }
    }

    @Test func cancellingTheConsumerStopsTheStream() async throws {
        let translator = try Bundled.translator("en-de")
        let text = "We will meet tomorrow at the old bridge near the river, and then we will walk to the station together."
        let task = Task {
            var received: [PartialTranslation] = []
            for try await partial in translator.stream(text) {
                received.append(partial)
                withUnsafeCurrentTask { $0?.cancel() }
            }
            return received
        }
        // The stream ends at once, without its complete last element: the decoder never got past the next step.
        let received = try await task.value
        #expect(received.count == 1)
        #expect(received.allSatisfy { !$0.isComplete })

        // A consumer that stops iterating stops the decoder, and a new stream starts afresh.
        var first: PartialTranslation?
        for try await partial in translator.stream(text) {
            first = partial
            break
        }
        #expect(first?.ids.count == 1)
    }

    @Test func greedyStepHookStopsTheSearch() throws {
        let translator = try Bundled.translator("en-de")
        let model = translator.model
        var options = translator.defaultOptions.decoding
        options.numBeams = 1
        let encoded = model.encode([translator.tokenizer.encode("We will meet tomorrow at the old bridge.").ids])
        let steps = Counter()
        let search = GreedySearch { _ in
            steps.increment()
            return steps.value < 3
        }
        let hypothesis = try search.search(model: model, encoded: encoded, options: options)[0][0]
        #expect(steps.value == 3)
        #expect(hypothesis.tokens.count == 3)
    }

    @Test func cancelledAsyncTranslateStopsBetweenBatchesAndThrows() async throws {
        let translator = try Bundled.translator("en-de")
        var options = greedy(translator)
        options.batchSize = 1
        options.threads = 1
        let texts = Array(repeating: sentences, count: 4).flatMap { $0 }
        let progress = Progress()
        let task = Task {
            try await translator.translate(texts, options: options) { done, total in
                progress.record(done, total)
                withUnsafeCurrentTask { $0?.cancel() }
            }
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(progress.calls == [[1, texts.count]])

        // A task cancelled before it starts translates nothing.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await translator.translate("I like tea.")
        }
        await #expect(throws: CancellationError.self) { try await early.value }
    }
}

/// Thread-safe recorders for callbacks.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}

private final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [[Int]] = []
    var calls: [[Int]] { lock.withLock { recorded } }
    func record(_ done: Int, _ total: Int) { lock.withLock { recorded.append([done, total]) } }
}
