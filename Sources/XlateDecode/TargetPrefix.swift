import XlateModel

// Target-prefix constrained decoding (`DecodingOptions.targetPrefix`), as CTranslate2's `target_prefix`: while
// fewer tokens than the prefix are generated, search may only take the next prefix token; afterwards it runs
// unconstrained. A forced token is scored like any other (the log-probability after the logits processors), so a
// constrained hypothesis scores exactly as `ForcedDecoding` scores the same sequence under the search distribution.

extension DecodingOptions {
    /// The token search must take after `generated` tokens (start token excluded), or nil once the prefix is done.
    @inline(__always)
    func forcedToken(afterGenerating generated: Int) -> Int? {
        generated < targetPrefix.count ? targetPrefix[generated] : nil
    }

    /// Beam search: leaves only the forced token (if any) selectable in a row of processed log-probabilities.
    @inline(__always)
    func restrictToTargetPrefix(_ row: UnsafeMutableBufferPointer<Float>, generated: Int) {
        guard let forced = forcedToken(afterGenerating: generated) else { return }
        let kept = row[forced]
        for i in 0..<row.count { row[i] = -.infinity }
        row[forced] = kept
    }

    /// The prefix must be ids of the target vocabulary, leave room for a token after it, hold no end-of-sequence
    /// (that is `ForcedDecoding`'s job), and not be banned by the options' own processors (bad words, repeated
    /// n-grams) — such a prefix would score -∞ and leave beam search without a hypothesis.
    func validateTargetPrefix(for model: any Seq2SeqModel) throws(DecodingError) {
        guard !targetPrefix.isEmpty else { return }
        let vocabulary = model.vocabulary
        if let id = targetPrefix.first(where: { $0 < 0 || $0 >= vocabulary.targetSize }) {
            throw .invalidOption("target prefix id \(id) is outside the vocabulary of \(vocabulary.targetSize)")
        }
        if let id = targetPrefix.first(where: vocabulary.eosTokenIds.contains) {
            throw .invalidOption("the target prefix contains end-of-sequence (id \(id)): use scoring for complete targets")
        }
        guard 1 + targetPrefix.count < effectiveMaxLength else {
            throw .invalidOption(
                "a target prefix of \(targetPrefix.count) tokens leaves no room under the maximum length \(effectiveMaxLength)")
        }
        let processors = LogitsProcessors(options: self, eosTokenIds: vocabulary.eosTokenIds)
        var sequence = [vocabulary.decoderStartTokenId]
        var row = [Float](repeating: 0, count: vocabulary.targetSize)
        for (position, id) in targetPrefix.enumerated() {
            for i in row.indices { row[i] = 0 }
            row.withUnsafeMutableBufferPointer { processors.apply($0, sequence: sequence) }
            if row[id] == -.infinity {
                throw .invalidOption(
                    "target prefix token \(id) at position \(position) is banned by the bad words or no-repeat n-gram settings")
            }
            sequence.append(id)
        }
    }
}
