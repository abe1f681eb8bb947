import Foundation
import XlateCore
import XlateModel

/// Beam search with the semantics of transformers 5.x `_beam_search` (the vectorized implementation):
/// per step, the top `max(2, 1 + #eos) · numBeams` continuations over all beams; those among the first
/// `numBeams` that end become finished hypotheses scored `Σ log p / length^lengthPenalty`; the best
/// `numBeams` that do not end keep running; the sentence stops by `_check_early_stop_heuristic`.
///
/// Source: transformers `generation/utils.py` (`_get_top_k_continuations`, `_get_running_beams_for_next_iteration`,
/// `_update_finished_beams`, `_check_early_stop_heuristic`, `_beam_search_has_unfinished_sequences`).
/// The -1e9 sentinels and float32 arithmetic are reproduced because they decide ties exactly as there.
public struct BeamSearch: SearchStrategy {
    public init() {}

    /// A running or finished hypothesis.
    struct Beam {
        var tokens: [Int]  // start token included
        var score: Float  // accumulated log-probability (running) or length-penalised score (finished)
        var tokenScores: [Float]
        var attention: [[Float]]?
    }

    /// One of the `numBeams` finished slots of a sentence (transformers' `sequences` / `beam_scores`).
    struct Slot {
        var beam: Beam?
        var score: Float = -1.0e9
        var finished = false
    }

    struct Sentence {
        var running: [Beam]
        var slots: [Slot]
        var improvable = true  // is_early_stop_heuristic_unsatisfied
        var done = false
    }

    struct Candidate {
        var beam: Int
        var token: Int
        var score: Float  // accumulated log-probability
        var tokenScore: Float
    }

    public func search(
        model: any Seq2SeqModel, encoded: EncoderOutput, options: DecodingOptions
    ) throws(XlateCoreError) -> [[Hypothesis]] {
        let vocabulary = model.vocabulary
        let numBeams = options.numBeams
        let processors = LogitsProcessors(options: options, eosTokenIds: vocabulary.eosTokenIds)
        let maxLength = options.effectiveMaxLength
        let eos = Set(vocabulary.eosTokenIds)
        let beamsToKeep = max(2, 1 + vocabulary.eosTokenIds.count) * numBeams
        let lengthPenalty = options.lengthPenalty
        let wantAttention = options.crossAttention != nil

        let start = Beam(tokens: [vocabulary.decoderStartTokenId], score: 0, tokenScores: [], attention: wantAttention ? [] : nil)
        var sentences = (0..<encoded.batchSize).map { _ in
            // Only the first beam starts with score 0, so the first step does not pick one token numBeams times.
            Sentence(
                running: (0..<numBeams).map { b in var beam = start; beam.score = b == 0 ? 0 : -1.0e9; return beam },
                slots: Array(repeating: Slot(), count: numBeams))
        }
        var active = Array(0..<encoded.batchSize)
        // Room for every beam, but the first step feeds one row per sentence: all beams hold the same start token,
        // so their rows would be identical (the other beams' -1e9 scores are applied to copies of that row).
        var state = try model.makeDecoderState(
            for: encoded, rowSentences: active.flatMap { Array(repeating: $0, count: numBeams) }, maxLength: maxLength)
        state.reorder(active.map { $0 * numBeams })
        var rowsPerSentence = 1

        while !active.isEmpty {
            let tokens = active.flatMap { s in sentences[s].running.prefix(rowsPerSentence).map { $0.tokens.last! } }
            model.decodeStep(tokens, state: &state, crossAttention: options.crossAttention)
            let vocabularySize = state.vocabularySize
            let perSentence = rowsPerSentence
            /// The decoder row holding beam `b` of the sentence whose first row is `firstRow`.
            func row(_ firstRow: Int, _ b: Int) -> Int { firstRow + (perSentence == 1 ? 0 : b) }
            // Attention rows of this step, taken before the logits are borrowed mutably.
            let attention: [[Float]?] = wantAttention
                ? active.enumerated().flatMap { position, s in
                    (0..<perSentence).map { r in attentionRow(state, row: position * perSentence + r, length: encoded.lengths[s]) }
                }
                : []
            var rows: [Int] = []
            var stillActive: [Int] = []

            state.logits.withUnsafeMutableBufferPointer { all in
                for (position, s) in active.enumerated() {
                    let firstRow = position * perSentence
                    let curLength = sentences[s].running[0].tokens.count
                    func logits(_ r: Int) -> UnsafeMutableBufferPointer<Float> {
                        UnsafeMutableBufferPointer(rebasing: all[(r * vocabularySize)..<((r + 1) * vocabularySize)])
                    }
                    // log-softmax, then processors (once per row), then add the running score (as `_beam_search`).
                    for r in 0..<perSentence {
                        Ops.logSoftmax(logits(firstRow + r).baseAddress!, count: vocabularySize)
                        processors.apply(logits(firstRow + r), sequence: sentences[s].running[r].tokens)
                        options.restrictToTargetPrefix(logits(firstRow + r), generated: curLength - 1)
                    }
                    var top = TopK(k: beamsToKeep)
                    for b in 0..<numBeams {
                        let scores = logits(row(firstRow, b))
                        let runningScore = sentences[s].running[b].score
                        top.insert(scores, adding: runningScore, firstIndex: b * vocabularySize)
                    }
                    let candidates = top.sorted.map { entry in
                        Candidate(
                            beam: entry.index / vocabularySize, token: entry.index % vocabularySize, score: entry.value,
                            tokenScore: all[row(firstRow, entry.index / vocabularySize) * vocabularySize + entry.index % vocabularySize])
                    }
                    let hitsStop = candidates.map { eos.contains($0.token) || curLength + 1 >= maxLength }
                    func extended(_ c: Candidate, score: Float) -> Beam {
                        var beam = sentences[s].running[c.beam]
                        beam.tokens.append(c.token)
                        beam.tokenScores.append(c.tokenScore)
                        beam.score = score
                        if wantAttention, let weights = attention[row(firstRow, c.beam)] {
                            beam.attention!.append(weights)
                        }
                        return beam
                    }

                    // Running beams for the next step: the best candidates that did not stop.
                    let runningScores = zip(candidates, hitsStop).map { $0.score + ($1 ? -1.0e9 : 0) }
                    let nextRunning = stableTopIndices(runningScores, k: numBeams)

                    // Finished hypotheses: merge the top-numBeams candidates that stopped into the slots.
                    var sentence = sentences[s]
                    let full = sentence.slots.allSatisfy(\.finished) && options.earlyStopping == .enabled
                    let divisor = Float(pow(Double(curLength), lengthPenalty))
                    var merged = sentence.slots
                    for (c, candidate) in candidates.enumerated() {
                        let justFinished = hitsStop[c] && c < numBeams
                        var score = candidate.score / divisor
                        if full { score += -1.0e9 }
                        if !sentence.improvable { score += -1.0e9 }
                        if !justFinished { score += -1.0e9 }
                        merged.append(Slot(beam: extended(candidate, score: score), score: score, finished: justFinished))
                    }
                    sentence.slots = stableTopIndices(merged.map(\.score), k: numBeams).map { merged[$0] }
                    sentence.running = nextRunning.map { extended(candidates[$0], score: runningScores[$0]) }

                    // `_check_early_stop_heuristic` at the new length.
                    let bestLength = options.earlyStopping == .never && lengthPenalty > 0 ? maxLength - 1 : curLength
                    let bestPossible = sentence.running[0].score / Float(pow(Double(bestLength), lengthPenalty))
                    let worst = sentence.slots.map(\.score).min()!
                    sentence.improvable = sentence.improvable
                        && sentence.slots.contains { bestPossible > ($0.finished ? worst : -1.0e9) }
                    let allFinished = options.earlyStopping == .enabled && sentence.slots.allSatisfy(\.finished)
                    sentence.done = !sentence.improvable || allFinished || hitsStop.allSatisfy { $0 }
                    sentences[s] = sentence
                    if !sentence.done {
                        stillActive.append(s)
                        rows += nextRunning.map { row(firstRow, candidates[$0].beam) }
                    }
                }
            }
            state.reorder(rows)
            active = stillActive
            rowsPerSentence = numBeams
        }

        return sentences.map { sentence in
            sentence.slots.prefix(options.numReturnSequences).compactMap { slot in
                slot.beam.map { beam in
                    Hypothesis(
                        tokens: Array(beam.tokens.dropFirst()), score: slot.score, tokenScores: beam.tokenScores,
                        crossAttention: beam.attention)
                }
            }
        }
    }
}

/// Indices of the `k` largest values, largest first; equal values keep their order.
func stableTopIndices(_ values: [Float], k: Int) -> [Int] {
    Array(values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }.prefix(k))
}

/// The `k` largest values seen, with their indices; on ties the earlier index ranks first.
struct TopK {
    let k: Int
    private(set) var sorted: [(value: Float, index: Int)] = []

    init(k: Int) {
        self.k = k
        sorted.reserveCapacity(k + 1)
    }

    /// Inserts `values[v] + add` with index `firstIndex + v` for each `v` in order: the same as `insert` one by one,
    /// but once `k` values are held, a vectorised scan skips the values that cannot enter.
    mutating func insert(_ values: UnsafeMutableBufferPointer<Float>, adding add: Float, firstIndex: Int) {
        var v = 0
        while v < values.count, sorted.count < k {
            insert(values[v] + add, index: firstIndex + v)
            v += 1
        }
        let base = values.baseAddress!
        while v < values.count {
            v += Ops.firstAbove(base + v, count: values.count - v, adding: add, threshold: sorted[k - 1].value)
            guard v < values.count else { break }
            insert(values[v] + add, index: firstIndex + v)
            v += 1
        }
    }

    @inline(__always)
    mutating func insert(_ value: Float, index: Int) {
        if sorted.count == k, !(value > sorted[k - 1].value) { return }
        var position = sorted.count
        while position > 0, value > sorted[position - 1].value { position -= 1 }
        sorted.insert((value, index), at: position)
        if sorted.count > k { sorted.removeLast() }
    }
}
