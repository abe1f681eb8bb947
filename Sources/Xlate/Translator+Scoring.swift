import Foundation

/// How likely a model finds a given translation: the log-probability of each of its tokens.
public struct TranslationScore: Sendable, Equatable {
    /// The source text.
    public var source: String
    /// The translation that was scored.
    public var target: String
    /// The target's ids as scored: its tokens (target tokenizer) and the closing `</s>`.
    public var ids: [Int]
    /// The target piece of each id.
    public var pieces: [String]
    /// The natural-log probability of each id given the source and the ids before it (`ids.count` values).
    public var tokenScores: [Float]
    /// The log-probability of the whole target: the sum of `tokenScores`.
    public var logProbability: Float
    /// `logProbability / ids.count^lengthPenalty`, the normalisation beam search ranks hypotheses by (with the
    /// default penalty of 1: the mean token log-probability).
    public var score: Float
    /// Source tokens dropped because the source exceeded the model's positions (0: nothing dropped).
    public var truncatedSourceTokens: Int
}

/// A target to score is longer than the model's decoder reads.
public struct TargetTooLong: Error, LocalizedError, Equatable {
    /// The target text.
    public let target: String
    /// Its tokens, `</s>` included.
    public let tokens: Int
    /// The most target tokens the model reads.
    public let limit: Int

    /// The token counts and the start of the target.
    public var errorDescription: String? {
        "the target has \(tokens) tokens with </s>, more than the model's decoder reads (\(limit)): \"\(target.prefix(60))…\""
    }
}

extension Translator {
    /// The log-probabilities the model gives `target` as a translation of `source` (teacher forcing).
    ///
    /// ```swift
    /// let result = try translator.score(source: "I like tea.", target: "Ich mag Tee.")
    /// print(result.logProbability, result.tokenScores)   // one score per target token, </s> included
    /// ```
    ///
    /// - Parameters:
    ///   - source: the text that was translated.
    ///   - target: its translation, as text (tokenized with the target tokenizer; `</s>` is appended).
    ///   - options: batching, the source `prefix` (T5 task prefixes), and the decoding options whose `lengthPenalty`
    ///     normalises ``TranslationScore/score`` and whose logits processors apply under the `.search` distribution;
    ///     default: ``defaultOptions``.
    ///   - distribution: `.model` (the default) scores under the model's own distribution, as transformers'
    ///     `model(**inputs, labels=...)`; `.search` under the distribution the search chosen by `options` sees, so
    ///     that a translation scores exactly its hypothesis's `tokenScores`.
    /// - Throws: `DecodingError` for invalid options, ``TargetTooLong`` for a target the decoder cannot read.
    public func score(
        source: String, target: String, options: TranslationOptions? = nil, distribution: ScoreDistribution = .model
    ) throws -> TranslationScore {
        try score([(source, target)], options: options, distribution: distribution)[0]
    }

    /// Scores several (source, translation) pairs, in batches of similar source length; results keep the input
    /// order. See ``score(source:target:options:distribution:)``.
    public func score(
        _ pairs: [(source: String, target: String)], options: TranslationOptions? = nil,
        distribution: ScoreDistribution = .model
    ) throws -> [TranslationScore] {
        let options = options ?? defaultOptions
        return try forcedDecoding(pairs, options: options, distribution: distribution).enumerated().map { index, forced in
            let tokenScores = forced.hypothesis.tokenScores!
            return TranslationScore(
                source: pairs[index].source, target: pairs[index].target, ids: forced.hypothesis.tokens,
                pieces: tokenizer.targetPieces(forced.hypothesis.tokens), tokenScores: tokenScores,
                logProbability: tokenScores.reduce(0, +), score: forced.hypothesis.score!,
                truncatedSourceTokens: forced.truncated)
        }
    }

    /// Teacher forcing of each pair, in batches of similar source length, results in input order: the scored
    /// hypothesis (with the cross-attention `options.decoding.crossAttention` asks for, prefix columns included),
    /// the source as encoded (`options.prefix` first), the target as tokenized (its pieces as the text writes them,
    /// where the hypothesis has `<unk>`), and the source tokens dropped for length.
    func forcedDecoding(
        _ pairs: [(source: String, target: String)], options: TranslationOptions, distribution: ScoreDistribution
    ) throws -> [(source: TokenizedText, target: TokenizedText, truncated: Int, hypothesis: Hypothesis)] {
        let options = try prepared(options)
        var inputs: [(index: Int, source: TokenizedText, truncated: Int, target: TokenizedText)] = []
        for (index, pair) in pairs.enumerated() {
            let target = tokenizer.encodeTarget(pair.target, language: options.targetLanguageCode)
            guard target.ids.count <= model.maxTargetLength else {
                throw TargetTooLong(target: pair.target, tokens: target.ids.count, limit: model.maxTargetLength)
            }
            let (source, truncated) = encodeSource((options.prefix ?? "") + pair.source, language: options.sourceLanguageCode)
            inputs.append((index, source, truncated, target))
        }
        // Longest first, so each batch holds sentences of similar length (little padding).
        inputs.sort { $0.source.ids.count > $1.source.ids.count }
        let batches = options.threadBatches(inputs)
        let decoded = ParallelResults<[Hypothesis]>(count: batches.count)
        options.runWorkers(batchCount: batches.count) {
            while let b = decoded.claim() {
                let batch = batches[b]
                let encoded = model.encode(batch.map(\.source.ids))
                do throws(XlateCoreError) {
                    decoded.store(try encoded.inParts { part, sentences throws(XlateCoreError) in
                        try ForcedDecoding().score(
                            model: model, encoded: part, targets: batch[sentences].map(\.target.ids), options: options.decoding,
                            distribution: distribution)
                    }, at: b)
                } catch {
                    decoded.fail(error)
                    return
                }
            }
        }
        var results = [(source: TokenizedText, target: TokenizedText, truncated: Int, hypothesis: Hypothesis)?](
            repeating: nil, count: pairs.count)
        for (batch, hypotheses) in zip(batches, try decoded.values()) {
            for (input, hypothesis) in zip(batch, hypotheses) { results[input.index] = (input.source, input.target, input.truncated, hypothesis) }
        }
        return results.map { $0! }
    }
}
