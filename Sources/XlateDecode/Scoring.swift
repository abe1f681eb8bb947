import Foundation
import XlateCore
import XlateModel

/// The distribution teacher forcing reads log-probabilities from.
public enum ScoreDistribution: Sendable, Equatable, CaseIterable {
    /// The model's own: log-softmax of the logits, as transformers' `model(..., labels=...)` and CTranslate2's
    /// `score_batch`.
    case model
    /// The one search sees under the given `DecodingOptions`: their logits processors (bad words, repetition
    /// penalty, no-repeat n-grams, minimum length, forced end-of-sequence) applied before the log-softmax for greedy
    /// search (`_sample`), after it for beam search (`_beam_search`). The scores of a translation are then its
    /// hypothesis's `tokenScores`.
    case search
}

/// Teacher forcing: the log-probability of every token of given target sequences, one decoder step per token for
/// the whole batch (the model computes; this loop only feeds the targets and reads their scores).
public struct ForcedDecoding: Sendable {
    public init() {}

    /// Scores `targets[i]` (ids without the start token; every token is scored, normally ending with `</s>`) as the
    /// translation of sentence `i` of `encoded`.
    ///
    /// Returns one hypothesis per sentence: its `tokens` are the target, `tokenScores` the log-probability of each,
    /// `score` their sum divided by `count^options.lengthPenalty` (as search scores hypotheses), and `crossAttention`
    /// is set when `options.crossAttention` asks for it. Each target must be non-empty and at most
    /// `model.maxTargetLength` tokens long.
    public func score(
        model: any Seq2SeqModel, encoded: EncoderOutput, targets: [[Int]], options: DecodingOptions,
        distribution: ScoreDistribution = .model
    ) throws(XlateCoreError) -> [Hypothesis] {
        precondition(targets.count == encoded.batchSize, "one target per encoded sentence")
        precondition(
            targets.allSatisfy { !$0.isEmpty && $0.count <= model.maxTargetLength },
            "targets must have 1...\(model.maxTargetLength) tokens")
        let start = model.vocabulary.decoderStartTokenId
        let processors = distribution == .search
            ? LogitsProcessors(options: options, eosTokenIds: model.vocabulary.eosTokenIds) : nil
        let processBeforeSoftmax = options.numBeams == 1
        let wantAttention = options.crossAttention != nil

        var results = targets.map {
            Hypothesis(tokens: $0, score: nil, tokenScores: [], crossAttention: wantAttention ? [] : nil)
        }
        var active = Array(targets.indices)  // sentence of each decoder row
        // Room for the start token and every target token but the last (fed tokens only).
        var state = try model.makeDecoderState(
            for: encoded, rowSentences: active, maxLength: targets.map(\.count).max() ?? 1)
        var step = 0  // target tokens fed so far

        while !active.isEmpty {
            model.decodeStep(active.map { step == 0 ? start : targets[$0][step - 1] }, state: &state, crossAttention: options.crossAttention)
            let columns = state.vocabularySize
            appendCrossAttention(state, active: active, lengths: encoded.lengths, to: &results)
            state.logits.withUnsafeMutableBufferPointer { all in
                for (row, sentence) in active.enumerated() {
                    let scores = UnsafeMutableBufferPointer(rebasing: all[(row * columns)..<((row + 1) * columns)])
                    if let processors {
                        let sequence = [start] + targets[sentence][..<step]
                        if processBeforeSoftmax { processors.apply(scores, sequence: sequence) }
                        Ops.logSoftmax(scores.baseAddress!, count: columns)
                        if !processBeforeSoftmax { processors.apply(scores, sequence: sequence) }
                    } else {
                        Ops.logSoftmax(scores.baseAddress!, count: columns)
                    }
                    results[sentence].tokenScores!.append(scores[targets[sentence][step]])
                }
            }
            step += 1
            let keep = active.indices.filter { targets[active[$0]].count > step }
            if keep.count != active.count {
                state.reorder(keep)
                active = keep.map { active[$0] }
            }
        }
        for i in results.indices { results[i].scoreFromTokenScores(lengthPenalty: options.lengthPenalty) }
        return results
    }
}
