import XlateModel

/// The score adjustments transformers applies before choosing tokens, in its order (`_get_logits_processor`):
/// repetition penalty, no-repeat n-grams, bad words, minimum length, forced first token, forced end-of-sequence.
struct LogitsProcessors {
    let options: DecodingOptions
    let eosTokenIds: [Int]
    let maxLength: Int
    /// Single-token bad words, banned at every step.
    private let bannedAlways: [Int]
    /// Longer bad-word sequences: the last token is banned when the sequence's prefix was just generated.
    private let bannedAfterPrefix: [[Int]]

    init(options: DecodingOptions, eosTokenIds: [Int]) {
        self.options = options
        self.eosTokenIds = eosTokenIds
        maxLength = options.effectiveMaxLength
        bannedAlways = options.badWordsIds.filter { $0.count == 1 }.map { $0[0] }
        bannedAfterPrefix = options.badWordsIds.filter { $0.count > 1 }
    }

    /// Adjusts `scores` (one row, `[vocabulary]`) for a sequence `sequence` (start token included).
    func apply(_ scores: UnsafeMutableBufferPointer<Float>, sequence: [Int]) {
        let length = sequence.count
        if options.repetitionPenalty != 1 {
            // RepetitionPenaltyLogitsProcessor: every id in the sequence (start token included), once.
            let penalty = Float(options.repetitionPenalty)
            for id in Set(sequence) {
                let score = scores[id]
                scores[id] = score < 0 ? score * penalty : score / penalty
            }
        }
        let n = options.noRepeatNgramSize
        if n > 0, length >= n {
            // NoRepeatNGramLogitsProcessor: ban tokens that would complete an n-gram already in the sequence
            // (a sequence shorter than n holds no n-gram yet).
            let prefix = Array(sequence[(length - n + 1)...])
            if n == 1 {
                for id in sequence { scores[id] = -.infinity }
            } else {
                for start in 0...(length - n) where Array(sequence[start..<(start + n - 1)]) == prefix {
                    scores[sequence[start + n - 1]] = -.infinity
                }
            }
        }
        for id in bannedAlways { scores[id] = -.infinity }
        for words in bannedAfterPrefix {
            let prefix = words.dropLast()
            if length >= prefix.count, sequence.suffix(prefix.count).elementsEqual(prefix) {
                scores[words.last!] = -.infinity
            }
        }
        if length < options.minLength {
            for id in eosTokenIds { scores[id] = -.infinity }
        }
        if let forced = options.forcedBOSTokenId, length == 1 {
            // ForcedBOSTokenLogitsProcessor: after the start token only the forced token remains, with score 0.
            for i in 0..<scores.count { scores[i] = -.infinity }
            scores[forced] = 0
        }
        if !options.forcedEOSTokenIds.isEmpty, length == maxLength - 1 {
            // ForcedEOSTokenLogitsProcessor: only end-of-sequence remains, with score 0.
            for i in 0..<scores.count { scores[i] = -.infinity }
            for id in options.forcedEOSTokenIds { scores[id] = 0 }
        }
    }
}
