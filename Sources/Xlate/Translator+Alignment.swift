import Foundation

extension Translator {
    /// Aligns a given translation: which of `source`'s words each of `target`'s words comes from, read from the
    /// cross-attention while the model reads `target` as its output (teacher forcing, as
    /// ``score(source:target:options:distribution:)``), no search.
    ///
    /// ```swift
    /// let alignment = try translator.align(source: "The cat sat on the mat .", target: "Die Katze saß auf der Matte .")
    /// print(alignment.pharaoh(alignment.hardLinks))    // 0-0 1-1 2-2 3-3 4-4 5-5 6-6
    /// ```
    ///
    /// Words are each text's whitespace-separated tokens (``Alignment/words(text:pieces:)``), so a pre-tokenised
    /// corpus aligns token by token; link indices count those tokens. A blank side gives an alignment with no
    /// links (and no pieces).
    ///
    /// - Parameter options: `decoding.crossAttention` chooses the layer and heads, `alignmentMethod` how links are
    ///   read; each left nil is the model's given-pair setting's (``defaultPairAlignment``: measured on human
    ///   translations, which may differ from ``defaultAlignmentRequest``, the heads for the model's own). `prefix`
    ///   (T5) is put before the source and left out of the alignment. Default: ``defaultOptions``.
    /// - Throws: `DecodingError` for invalid options, ``TargetTooLong`` for a target the decoder cannot read,
    ///   `ModelError` for an invalid `alignment_heads` or `xlate_pair_alignment` in the model folder.
    public func align(source: String, target: String, options: TranslationOptions? = nil) throws -> Alignment {
        try align([(source, target)], options: options)[0]
    }

    /// Aligns several given (source, translation) pairs, in batches; results keep the input order. See
    /// ``align(source:target:options:)``.
    public func align(_ pairs: [(source: String, target: String)], options: TranslationOptions? = nil) throws -> [Alignment] {
        var options = options ?? defaultOptions
        let request: CrossAttentionRequest, method: AlignmentMethod
        if let chosen = options.decoding.crossAttention, let chosenMethod = options.alignmentMethod {
            (request, method) = (chosen, chosenMethod)
        } else {
            let setting = try defaultPairAlignment
            (request, method) = (options.decoding.crossAttention ?? setting.request, options.alignmentMethod ?? setting.method)
        }
        options.decoding.crossAttention = request
        let blank = pairs.map { $0.source.allSatisfy(\.isWhitespace) || $0.target.allSatisfy(\.isWhitespace) }
        let work = pairs.indices.filter { !blank[$0] }
        let decoded = try forcedDecoding(work.map { pairs[$0] }, options: options, distribution: .model)
        let prefix = options.prefix ?? ""
        let prefixPieces = prefix.isEmpty ? [] : tokenizer.encode(prefix).pieces
        var results = pairs.map { pair in
            // Nothing to attend to or nothing read: the words, and no pieces under them.
            Alignment(
                sourcePieces: [], targetPieces: [], matrix: [], request: request, method: method,
                sourceWords: Alignment.words(text: pair.source, pieces: []),
                targetWords: Alignment.words(text: pair.target, pieces: []))
        }
        for (index, forced) in zip(work, decoded) {
            // The prefix's own tokens, when the text did not merge into them, are left out as translation does.
            let prefixLength = forced.source.pieces.starts(with: prefixPieces) ? prefixPieces.count : 0
            let sourcePieces = Array(forced.source.pieces.dropFirst(prefixLength)) + [MarianTokenizer.eosToken]
            // As the text writes them (an unknown piece stays itself), so that words map by character offsets.
            let targetPieces = forced.target.pieces + [MarianTokenizer.eosToken]
            let matrix = forced.hypothesis.crossAttention!.map { Array($0.dropFirst(prefixLength)) }
            results[index] = Alignment(
                sourcePieces: sourcePieces, targetPieces: targetPieces, matrix: matrix, request: request,
                method: method,
                sourceWords: Alignment.words(text: pairs[index].source, pieces: sourcePieces),
                targetWords: Alignment.words(text: pairs[index].target, pieces: targetPieces))
        }
        return results
    }
}
