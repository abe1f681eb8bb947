import Foundation
import Testing
import Xlate

/// `translate(_:options:progress:shouldStop:)`: a stop asked for after the first batch ends the call before the rest.
@Suite("Stopping a translation between batches")
struct StopTests {
    /// One thread, batches of two: the texts, longest first, are translated in batches in input order, so the first
    /// batch holds the first two texts.
    static let texts = [
        "The old man walked slowly along the river towards the town.", "The children played in the big garden with their friends all day.",
        "", "He writes a letter to his mother.", "I like tea.", "Good morning.",
    ]

    static func options(_ translator: Translator, split: Bool) -> TranslationOptions {
        var options = translator.defaultOptions
        options.decoding.numBeams = 1
        options.threads = 1
        options.batchSize = 2
        options.splitSentences = split
        return options
    }

    @Test(arguments: [false, true])
    func stopAfterTheFirstBatchKeepsItsTranslationsOnly(split: Bool) throws {
        let translator = try Bundled.translator("en-de")
        let options = Self.options(translator, split: split)
        let expected = try translator.translate(Self.texts, options: options)
        let stop = StopFlag()
        let error = #expect(throws: TranslationStopped.self) {
            try translator.translate(Self.texts, options: options, progress: { _, _ in stop.set() }, shouldStop: stop.isSet)
        }
        let stopped = try #require(error)
        #expect(stopped.translations.count == Self.texts.count)
        // The first batch and the blank text are done; nothing else started.
        #expect(stopped.translations.map { $0 != nil } == [true, true, true, false, false, false])
        #expect(stopped.completedPrefix == Array(expected.prefix(3)))
    }

    /// With sentence splitting a text is done only when all of its sentences are: here the first batch (three
    /// sentences, longest first) holds both sentences of the first text and the first of the second.
    @Test func aTextWithAnUnfinishedSentenceIsNotDone() throws {
        let translator = try Bundled.translator("en-de")
        var options = Self.options(translator, split: true)
        options.batchSize = 3
        let texts = ["The old man walked slowly along the wide river towards the small town. The children played in the big garden with their friends all day.",
                     "He writes a long letter to his mother every week. I like tea."]
        let expected = try translator.translate(texts, options: options)
        let stop = StopFlag()
        let error = #expect(throws: TranslationStopped.self) {
            try translator.translate(texts, options: options, progress: { _, _ in stop.set() }, shouldStop: stop.isSet)
        }
        let stopped = try #require(error)
        #expect(stopped.translations == [expected[0], nil])
        #expect(stopped.completedPrefix == [expected[0]])
    }

    @Test func aStopNeverAskedForChangesNothing() throws {
        let translator = try Bundled.translator("en-de")
        let options = Self.options(translator, split: false)
        let expected = try translator.translate(Self.texts, options: options)
        #expect(try translator.translate(Self.texts, options: options, shouldStop: { false }) == expected)
    }

    @Test func aStopBeforeTheStartTranslatesNothingButBlankTexts() throws {
        let translator = try Bundled.translator("en-de")
        let error = #expect(throws: TranslationStopped.self) {
            try translator.translate(Self.texts, options: Self.options(translator, split: false), shouldStop: { true })
        }
        #expect(error?.translations.map { $0 != nil } == Self.texts.map(\.isEmpty))
        #expect(error?.completedPrefix.isEmpty == true)
    }
}
