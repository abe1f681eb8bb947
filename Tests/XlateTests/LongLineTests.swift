import Foundation
import Testing

@testable import Xlate

/// Issue 17 item 12: cutting a line that is one over-long sentence must take time (and memory) linear in its length.
/// The cutting is tested directly on megabyte lines (translating them would take many minutes, every piece being
/// translated); a smaller line goes through the translator end to end.
@Suite("Long lines: cutting is linear, nothing is dropped")
struct LongLineTests {
    /// `count` characters of `word` repeated with single spaces, and no sentence punctuation.
    private static func unpunctuated(_ count: Int) -> String {
        let words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dogs", "while", "cats", "sleep"]
        var text = ""
        text.reserveCapacity(count + 8)
        var i = 0
        while text.utf8.count < count {
            if !text.isEmpty { text += " " }
            text += words[i % words.count]
            i += 1
        }
        return text
    }

    /// The pieces of `text` as the translator cuts them (at most the model's positions each).
    private static func pieces(_ text: String, _ translator: Translator) -> [Range<String.Index>] {
        let limit = translator.model.maxSourceLength
        return SentenceSplitter(language: "en").pieces(of: text, in: text.startIndex..<text.endIndex) {
            translator.tokenizer.encode(String($0)).ids.count <= limit
        }
    }

    /// The pieces cover `text`: rejoined with the text between them, which is whitespace only, they are the text.
    private static func expectCovers(_ pieces: [Range<String.Index>], _ text: String) {
        #expect(pieces.first?.lowerBound == text.startIndex)
        #expect(pieces.last?.upperBound == text.endIndex)
        var rejoined = ""
        for (piece, next) in zip(pieces, pieces.dropFirst() + [text.endIndex..<text.endIndex]) {
            rejoined += text[piece]
            let gap = text[piece.upperBound..<next.lowerBound]
            #expect(gap.allSatisfy { $0.isWhitespace })
            rejoined += gap
        }
        #expect(rejoined == text)
    }

    /// The result of `body` and the seconds it took.
    private static func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// The result of `body` and the CPU seconds this thread spent on it: unlike the time on the clock, this does not
    /// grow when the tests running beside it take the cores.
    private static func threadCPUTimed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        func now() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        let start = now()
        let result = try body()
        return (result, now() - start)
    }

    // Each cut was found by tokenizing the whole rest of the line several times (quadratic: these lines ran for
    // more than two minutes without finishing); now each costs a few tokenizations of about the piece's length. The
    // cutting runs on the test's thread (the tokenizer does not spread work), whose CPU time is bounded: several
    // times the 2 to 4 s measured in release builds.
    @Test func megabyteLineWithoutPunctuationIsCutInLinearTime() throws {
        let translator = try Bundled.translator("en-de")
        let text = Self.unpunctuated(1_000_000)
        let (pieces, time) = Self.threadCPUTimed { Self.pieces(text, translator) }
        #expect(time < 15, "cutting 1 MB took \(time) s of CPU")
        #expect(pieces.count > 100)
        let limit = translator.model.maxSourceLength
        #expect(pieces.allSatisfy { translator.tokenizer.encode(String(text[$0])).ids.count <= limit })
        // As long as possible: each piece and the next word do not fit together.
        let first = try #require(pieces.first)
        let nextWord = text[first.upperBound...].drop(while: \.isWhitespace).prefix(while: { !$0.isWhitespace })
        #expect(translator.tokenizer.encode(String(text[first]) + " " + nextWord).ids.count > limit)
        Self.expectCovers(pieces, text)
    }

    @Test func megabyteLineWithoutSpacesIsCutInLinearTime() throws {
        let translator = try Bundled.translator("en-de")
        let text = String(repeating: "abcdefghij", count: 100_000)  // 1 MB, one word
        let (pieces, time) = Self.threadCPUTimed { Self.pieces(text, translator) }
        #expect(time < 15, "cutting 1 MB took \(time) s of CPU")
        #expect(pieces.count > 100)
        let limit = translator.model.maxSourceLength
        #expect(pieces.allSatisfy { translator.tokenizer.encode(String(text[$0])).ids.count <= limit })
        Self.expectCovers(pieces, text)
    }

    /// Cuts at the same places as cutting by hand: the last word end that fits, else inside the word.
    @Test func cutsWhereTheLastFittingWordEnds() {
        let splitter = SentenceSplitter()
        let text = "aaa bbb ccc ddd eee"
        let fitsSeven = { (piece: Substring) in piece.count <= 7 }
        #expect(splitter.pieces(of: text, in: text.startIndex..<text.endIndex, fits: fitsSeven).map { String(text[$0]) }
            == ["aaa bbb", "ccc ddd", "eee"])
        let word = String(repeating: "x", count: 10_000)
        let pieces = splitter.pieces(of: word, in: word.startIndex..<word.endIndex) { $0.count <= 300 }
        #expect(pieces.map { word[$0].count } == Array(repeating: 300, count: 33) + [100])
    }

    /// The whole path through `Translator`: a line of about 60 kB without punctuation comes back translated in pieces.
    @Test func longUnpunctuatedLineIsTranslatedEndToEnd() throws {
        let translator = try Bundled.translator("en-de")
        let text = Self.unpunctuated(60_000)
        var options = translator.defaultOptions
        options.decoding.numBeams = 1
        options.decoding.maxNewTokens = 2
        options.splitSentences = true
        let (translation, time) = try Self.timed { try translator.translate(text, options: options) }
        #expect(time < 60, "translating 60 kB took \(time) s")
        #expect(translation.truncatedSourceTokens == 0)
        #expect(translation.sourceIds.count > 10 * translator.model.maxSourceLength)
    }
}
