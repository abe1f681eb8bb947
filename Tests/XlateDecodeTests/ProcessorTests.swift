import Foundation
import Testing
@testable import XlateDecode

@Suite("Logits processors (transformers' semantics)")
struct ProcessorTests {
    func apply(_ options: DecodingOptions, scores: [Float], sequence: [Int], eos: [Int] = [0]) -> [Float] {
        var scores = scores
        scores.withUnsafeMutableBufferPointer { LogitsProcessors(options: options, eosTokenIds: eos).apply($0, sequence: sequence) }
        return scores
    }

    @Test func badWordsBanSingleTokensAlwaysAndSequencesAfterTheirPrefix() {
        var options = DecodingOptions()
        options.badWordsIds = [[4], [1, 2]]
        let scores: [Float] = [0, 0, 0, 0, 0]
        #expect(apply(options, scores: scores, sequence: [3, 3]) == [0, 0, 0, 0, -.infinity])
        #expect(apply(options, scores: scores, sequence: [3, 1]) == [0, 0, -.infinity, 0, -.infinity])
    }

    @Test func forcedEOSOnlyAtTheLastAllowedPosition() {
        var options = DecodingOptions()
        options.maxLength = 4
        options.forcedEOSTokenIds = [0]
        let scores: [Float] = [-3, -1, -2]
        #expect(apply(options, scores: scores, sequence: [9, 1]) == scores)
        #expect(apply(options, scores: scores, sequence: [9, 1, 2]) == [0, -.infinity, -.infinity])
    }

    @Test func noRepeatNgramBansTheTokenCompletingASeenNgram() {
        var options = DecodingOptions()
        options.noRepeatNgramSize = 2
        // Sequence 5 1 2 1: the bigram (1, 2) was seen, the last token is 1, so 2 is banned.
        #expect(apply(options, scores: [0, 0, 0, 0], sequence: [3, 1, 2, 1]) == [0, 0, -.infinity, 0])
        // Shorter than n: nothing to ban.
        #expect(apply(options, scores: [0, 0, 0, 0], sequence: [3]) == [0, 0, 0, 0])
        options.noRepeatNgramSize = 1
        #expect(apply(options, scores: [0, 0, 0, 0], sequence: [3, 1]) == [0, -.infinity, 0, -.infinity])
    }

    @Test func repetitionPenaltyDividesPositiveAndMultipliesNegativeScoresOnce() {
        var options = DecodingOptions()
        options.repetitionPenalty = 2
        #expect(apply(options, scores: [4, -4, 4], sequence: [0, 1, 1]) == [2, -8, 4])
    }

    @Test func minLengthBansEOSUntilReached() {
        var options = DecodingOptions()
        options.minLength = 3
        #expect(apply(options, scores: [1, 1], sequence: [5, 1]) == [-.infinity, 1])
        #expect(apply(options, scores: [1, 1], sequence: [5, 1, 1]) == [1, 1])
    }
}

@Suite("Search helpers")
struct SearchHelperTests {
    @Test func topKKeepsTheLargestValuesAndEarlierIndicesOnTies() {
        var top = TopK(k: 3)
        for (index, value) in [Float(1), 5, 3, 5, -1, 4].enumerated() { top.insert(value, index: index) }
        #expect(top.sorted.map(\.index) == [1, 3, 5])
        #expect(stableTopIndices([1, 5, 3, 5], k: 2) == [1, 3])
    }

    @Test func effectiveMaxLengthPrefersMaxNewTokens() {
        var options = DecodingOptions()
        options.maxLength = 50
        #expect(options.effectiveMaxLength == 50)
        options.maxNewTokens = 7
        #expect(options.effectiveMaxLength == 8)
    }
}
