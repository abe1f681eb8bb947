import Foundation
import XlateCore
import XlateModel

/// A decoding algorithm: drives a model's decoder steps over an encoded batch.
public protocol SearchStrategy: Sendable {
    /// The hypotheses for each sentence of `encoded` (best first; `options.numReturnSequences` of them).
    /// Throws `cannotReserve` when the decoder state cannot be reserved (see `EncoderOutput.inParts`).
    func search(model: any Seq2SeqModel, encoded: EncoderOutput, options: DecodingOptions) throws(XlateCoreError) -> [[Hypothesis]]
}

/// The strategy the options ask for: greedy for one beam, beam search otherwise.
public func searchStrategy(for options: DecodingOptions) -> any SearchStrategy {
    options.numBeams == 1 ? GreedySearch() : BeamSearch()
}

/// Appends the last step's cross-attention row of each decoder row to the hypothesis of its sentence
/// (`active[row]`), when the step computed attention.
func appendCrossAttention(_ state: borrowing DecoderState, active: [Int], lengths: [Int], to results: inout [Hypothesis]) {
    for (row, sentence) in active.enumerated() {
        if let attention = attentionRow(state, row: row, length: lengths[sentence]) {
            results[sentence].crossAttention!.append(attention)
        }
    }
}

extension Hypothesis {
    /// Sets `score` to `Σ tokenScores / length^lengthPenalty`, as search scores finished hypotheses.
    mutating func scoreFromTokenScores(lengthPenalty: Double) {
        let sum = tokenScores!.reduce(0, +)
        score = sum / Float(pow(Double(tokens.count), lengthPenalty))
    }
}

/// Copies row `row` of the last step's cross-attention, cut to the sentence's source length.
func attentionRow(_ state: borrowing DecoderState, row: Int, length: Int) -> [Float]? {
    guard let attention = state.crossAttention else { return nil }
    let start = row * state.maxSourceLength
    return Array(attention[start..<(start + length)])
}

/// Greedy search (transformers' `_sample` without sampling): the highest-scoring token at each step.
///
/// Finished sentences leave the batch, so later steps only compute the rows still running.
public struct GreedySearch: SearchStrategy {
    /// Called after every decoder step with each sentence's hypothesis so far (tokens, and token scores when
    /// requested; `score` is set only at the end). Return false to stop the search there: every hypothesis is then
    /// returned as it stands. Streaming and cancellation use it.
    public var onStep: (@Sendable (_ hypotheses: [Hypothesis]) -> Bool)?

    public init(onStep: (@Sendable (_ hypotheses: [Hypothesis]) -> Bool)? = nil) {
        self.onStep = onStep
    }

    public func search(
        model: any Seq2SeqModel, encoded: EncoderOutput, options: DecodingOptions
    ) throws(XlateCoreError) -> [[Hypothesis]] {
        let vocabulary = model.vocabulary
        let processors = LogitsProcessors(options: options, eosTokenIds: vocabulary.eosTokenIds)
        let maxLength = options.effectiveMaxLength
        let eos = Set(vocabulary.eosTokenIds)
        let wantScores = options.returnTokenScores

        var results = (0..<encoded.batchSize).map { _ in
            Hypothesis(tokens: [], score: nil, tokenScores: wantScores ? [] : nil, crossAttention: options.crossAttention == nil ? nil : [])
        }
        var sequences = Array(repeating: [vocabulary.decoderStartTokenId], count: encoded.batchSize)
        var active = Array(0..<encoded.batchSize)  // sentence of each decoder row
        var state = try model.makeDecoderState(for: encoded, rowSentences: active, maxLength: maxLength)

        while !active.isEmpty {
            model.decodeStep(active.map { sequences[$0].last! }, state: &state, crossAttention: options.crossAttention)
            let columns = state.vocabularySize
            var keep: [Int] = []
            appendCrossAttention(state, active: active, lengths: encoded.lengths, to: &results)
            state.logits.withUnsafeMutableBufferPointer { all in
                for (row, sentence) in active.enumerated() {
                    let scores = UnsafeMutableBufferPointer(rebasing: all[(row * columns)..<((row + 1) * columns)])
                    processors.apply(scores, sequence: sequences[sentence])
                    // The first maximum (as `for i in 1..<n where scores[i] > scores[best]`), by vectorised scans
                    // for the next value above the best so far.
                    var best = 0
                    while best + 1 < scores.count {
                        let rest = UnsafePointer(scores.baseAddress! + best + 1)
                        let next = best + 1 + Ops.firstAbove(rest, count: scores.count - best - 1, adding: 0, threshold: scores[best])
                        if next >= scores.count { break }
                        best = next
                    }
                    best = options.forcedToken(afterGenerating: results[sentence].tokens.count) ?? best
                    if wantScores {
                        Ops.logSoftmax(scores.baseAddress!, count: scores.count)
                        results[sentence].tokenScores!.append(scores[best])
                    }
                    sequences[sentence].append(best)
                    results[sentence].tokens.append(best)
                    if !eos.contains(best) && sequences[sentence].count < maxLength { keep.append(row) }
                }
            }
            if keep.count != active.count {
                state.reorder(keep)
                active = keep.map { active[$0] }
            }
            if let onStep, !onStep(results) { break }
        }
        if wantScores {
            for i in results.indices { results[i].scoreFromTokenScores(lengthPenalty: options.lengthPenalty) }
        }
        return results.map { [$0] }
    }
}
