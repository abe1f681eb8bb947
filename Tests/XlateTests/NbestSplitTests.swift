import Foundation
import Testing

@testable import Xlate

/// Issue 17 item 13 (second half): the n-best list of a text translated sentence by sentence is the best
/// combinations of the sentences' own n-best lists, best first by the sum of their scores, not the n-th best of
/// every sentence glued together.
@Suite("N-best lists with sentence splitting")
struct NbestSplitTests {
    @Test func combinationsComeBestFirstByTheSumOfScores() {
        // Two pieces: scores [0, -1, -5] and [0, -2].
        let scores: [[Double]] = [[0, -1, -5], [0, -2]]
        let all = Translator.bestCombinations(count: 10, choices: [3, 2]) { scores[$0][$1] }
        #expect(all == [[0, 0], [1, 0], [0, 1], [1, 1], [2, 0], [2, 1]])
        #expect(Translator.bestCombinations(count: 3, choices: [3, 2]) { scores[$0][$1] } == [[0, 0], [1, 0], [0, 1]])
        #expect(Translator.bestCombinations(count: 1, choices: [3, 2]) { scores[$0][$1] } == [[0, 0]])
        // A piece with one choice (a copied one) never changes.
        #expect(Translator.bestCombinations(count: 4, choices: [1, 3, 1]) { _, n in -Double(n) } == [[0, 0, 0], [0, 1, 0], [0, 2, 0]])
    }

    @Test func combinationsAreExhaustiveAndDistinct() {
        let choices = [3, 1, 4, 2]
        let score = { (piece: Int, n: Int) in -Double(n) * Double(piece + 1) * 0.7 }
        let all = Translator.bestCombinations(count: 1000, choices: choices, score: score)
        #expect(all.count == 3 * 1 * 4 * 2)
        #expect(Set(all).count == all.count)
        let sums = all.map { $0.enumerated().reduce(0) { $0 + score($1.offset, $1.element) } }
        #expect(sums == sums.sorted(by: >))
    }

    @Test func aLineOfSentencesGetsItsOwnNBestList() throws {
        let translator = try Bundled.translator("en-de")
        var options = translator.defaultOptions
        options.decoding.numBeams = 4
        options.decoding.numReturnSequences = 4
        options.splitSentences = true
        let sentences = ["How are you?", "I am fine.", "See you tomorrow."]
        let line = try translator.translate(sentences.joined(separator: " "), options: options)
        let alone = try translator.translate(sentences, options: options)
        #expect(line.hypotheses.count == 4)
        // The first is every sentence's best, as without --nbest.
        #expect(line.text == alone.map(\.text).joined(separator: " "))
        #expect(Set(line.hypotheses.map(\.text)).count == 4)
        // Each is one hypothesis per sentence; the second best changes exactly one sentence to its runner-up.
        var previous = Double.infinity
        var changed: [Int] = []
        for hypothesis in line.hypotheses {
            let choice = try #require(choiceOf(hypothesis.text, among: alone), "\(hypothesis.text)")
            let sum = zip(alone, choice).reduce(0.0) { $0 + Double($1.0.hypotheses[$1.1].score!) }
            #expect(sum <= previous + 1e-6)
            previous = sum
            changed.append(choice.filter { $0 != 0 }.count)
        }
        #expect(changed[0] == 0)
        #expect(changed[1] == 1)
    }

    /// Which hypothesis of each sentence `text` is made of, if it is such a combination.
    private func choiceOf(_ text: String, among sentences: [Translation]) -> [Int]? {
        func search(_ rest: Substring, _ index: Int) -> [Int]? {
            guard index < sentences.count else { return rest.isEmpty ? [] : nil }
            for (n, hypothesis) in sentences[index].hypotheses.enumerated() {
                let separator = index == 0 ? "" : " "
                guard rest.hasPrefix(separator + hypothesis.text) else { continue }
                if let tail = search(rest.dropFirst(separator.count + hypothesis.text.count), index + 1) { return [n] + tail }
            }
            return nil
        }
        return search(text[...], 0)
    }
}
