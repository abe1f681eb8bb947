import XlateCore

/// The encoder–decoder Transformer every family runs: it owns the encode loop, the decoder state (cross-attention
/// K/V once per sentence) and the decoder step. A family (`MarianModel`, `T5Model`) is a subclass that reads its
/// config and maps its checkpoint keys onto `EncoderStack`, `DecoderStack` and `EncoderDecoderSettings`.
///
/// Immutable after `init` (every stored property is a `let` of Sendable values), hence `@unchecked Sendable`: a
/// class that families subclass cannot be checked.
public class EncoderDecoderModel: Seq2SeqModel, @unchecked Sendable {
    let encoder: EncoderStack
    let decoder: DecoderStack
    let settings: EncoderDecoderSettings

    public var vocabulary: ModelVocabulary { settings.vocabulary }
    public var decoderLayerCount: Int { decoder.layers.count }
    public var decoderHeadCount: Int { decoder.layers.first?.crossAttention.shape.heads ?? 0 }
    public var maxSourceLength: Int { settings.maxSourceLength }
    public var maxTargetLength: Int { settings.maxTargetLength }
    /// `d_model^-0.5` when the family rescales the decoder output, else 1.
    var outputScale: Float { settings.outputScale }

    init(encoder: EncoderStack, decoder: DecoderStack, settings: EncoderDecoderSettings) {
        (self.encoder, self.decoder, self.settings) = (encoder, decoder, settings)
    }

    private var dModel: Int { decoder.outputProjection.inFeatures }

    /// Writes `embed_tokens(ids) · embed_scale` (+ the position table's row `row(i)` for token i) into
    /// `x [ids.count, d]`.
    private func embed(
        _ ids: [Int], table: EmbeddingTable, positions: Positions, into x: UnsafeMutablePointer<Float>,
        row: (_ index: Int) -> Int
    ) {
        let (d, scale) = (dModel, settings.embedScale)
        for (index, id) in ids.enumerated() {
            let token = x + index * d
            table.copyRow(id, to: token)
            switch positions {
            case .table(let positionTable):
                let place = positionTable.rows.pointer + row(index) * d
                for j in 0..<d { token[j] = token[j] * scale + place[j] }
            case .relativeBias:
                if scale != 1 { for j in 0..<d { token[j] *= scale } }
            }
        }
    }

    /// The input of a block: pre-norm normalises `x` into `normed`; post-norm reads `x`.
    @inline(__always)
    private func blockInput(
        _ norm: Norm, _ x: UnsafeMutablePointer<Float>, rows: Int, normed: UnsafeMutablePointer<Float>
    ) -> UnsafeMutablePointer<Float> {
        guard settings.normPlacement == .pre else { return x }
        norm.apply(x, rows: rows, into: normed)
        return normed
    }

    /// Adds a block's output `projected` to `x`; post-norm then normalises `x` in place.
    @inline(__always)
    private func residual(_ projected: UnsafePointer<Float>, to x: UnsafeMutablePointer<Float>, rows: Int, norm: Norm) {
        Ops.add(projected, to: x, count: rows * dModel)
        if settings.normPlacement == .post { norm.apply(x, rows: rows, into: x) }
    }

    public final func encode(_ sentences: [[Int]]) -> EncoderOutput {
        let d = dModel
        let lengths = sentences.map(\.count)
        let maxLength = lengths.max() ?? 0
        for sentence in sentences {
            precondition(sentence.count <= maxSourceLength, "source of \(sentence.count) tokens exceeds \(maxSourceLength) positions")
            precondition(sentence.allSatisfy { $0 >= 0 && $0 < settings.sourceVocabularySize }, "source id outside the vocabulary")
        }
        let groups = EncoderGroups(lengths: lengths)
        let scratch = EncoderScratch(
            rows: groups.maxRows, dim: d, inner: encoder.layers.first?.selfAttention.shape.inner ?? 0,
            ffnPerRow: encoder.layers.first?.feedForward.scratchPerRow ?? 0, maxLength: maxLength,
            normPlacement: settings.normPlacement)
        let pad = vocabulary.padTokenId
        let hidden = groups.encode(width: d, batchMaxLength: maxLength) { group, groupMaxLength, x in
            let ids = sentences[group].flatMap { $0 + Array(repeating: pad, count: groupMaxLength - $0.count) }
            let rows: [Int] = if case .table(let table) = encoder.positions {
                stride(from: 0, to: ids.count, by: groupMaxLength).flatMap { table.sourceRows(ids[$0..<($0 + groupMaxLength)]) }
            } else { [] }
            embed(ids, table: encoder.embedding, positions: encoder.positions, into: x) { rows[$0] }
            encoder.embeddingNorm?.apply(x, rows: ids.count, into: x)
            for layer in encoder.layers {
                apply(layer, x, lengths: Array(lengths[group]), maxLength: groupMaxLength, scratch: scratch)
            }
            encoder.finalNorm?.apply(x, rows: ids.count, into: x)
        }
        return EncoderOutput(hiddenStates: hidden, lengths: lengths)
    }

    /// Transforms `x [batch · maxLength, d]` in place; each sentence attends over its own `lengths[b]` tokens only.
    private func apply(
        _ layer: EncoderLayer, _ x: UnsafeMutablePointer<Float>, lengths: [Int], maxLength: Int, scratch: EncoderScratch
    ) {
        let attention = layer.selfAttention
        let (heads, headDim, inner) = (attention.shape.heads, attention.shape.headDim, attention.shape.inner)
        let rows = lengths.count * maxLength
        let bias = encoder.positions.relativeBias
        let qkv = scratch.qkv.pointer  // [rows, 3·inner]
        let context = scratch.context.pointer  // [rows, inner]
        let projected = scratch.projected.pointer  // [rows, d]
        let input = blockInput(layer.selfAttentionNorm, x, rows: rows, normed: scratch.normed.pointer)
        attention.qkvProj.apply(input, rows: rows, into: qkv)
        for (b, length) in lengths.enumerated() {
            let base = qkv + b * maxLength * 3 * inner
            for i in 0..<length {
                for h in 0..<heads {
                    attendHead(
                        query: base + i * 3 * inner + h * headDim, keys: base + inner + h * headDim,
                        values: base + 2 * inner + h * headDim, stride: 3 * inner, count: length, headDim: headDim,
                        scaling: attention.shape.scaling, bias: bias?.row(head: h, queryPosition: i),
                        scores: scratch.scores.pointer,
                        output: context + (b * maxLength + i) * inner + h * headDim)
                }
            }
        }
        attention.outProj.apply(context, rows: rows, into: projected)
        residual(projected, to: x, rows: rows, norm: layer.selfAttentionNorm)
        let ffnInput = blockInput(layer.feedForwardNorm, x, rows: rows, normed: scratch.normed.pointer)
        layer.feedForward.apply(ffnInput, rows: rows, hidden: scratch.ffn.pointer, into: projected)
        residual(projected, to: x, rows: rows, norm: layer.feedForwardNorm)
    }

    /// Scratch buffers of a decoder step, in `DecoderState.workspace`.
    private enum Scratch: Int, CaseIterable {
        case hidden, normed, qkv, context, projected, query, ffn, scores
    }

    public final func makeDecoderState(
        for encoded: EncoderOutput, rowSentences: [Int], maxLength: Int
    ) throws(XlateCoreError) -> DecoderState {
        let d = dModel
        let inner = decoder.layers.first?.selfAttention.shape.inner ?? 0
        let crossKeyValues = encoded.crossKeyValues(decoder.layers.map(\.crossAttention.kvProj))
        let rows = rowSentences.count
        let sizes: [Scratch: Int] = [
            .hidden: rows * d, .normed: rows * d, .qkv: rows * 3 * inner, .context: rows * inner, .projected: rows * d,
            .query: rows * inner, .ffn: rows * (decoder.layers.first?.feedForward.scratchPerRow ?? 0),
            .scores: max(maxTargetLength, encoded.maxLength),
        ]
        return try DecoderState(
            rowSentences: rowSentences, layers: decoder.layers.count, width: inner,
            maxLength: min(maxLength, maxTargetLength), vocabularySize: decoder.outputProjection.outFeatures,
            crossKeyValues: crossKeyValues, sourceLengths: encoded.lengths, maxSourceLength: encoded.maxLength,
            workspaceSizes: Scratch.allCases.map { sizes[$0]! })
    }

    public final func decodeStep(_ tokens: [Int], state: inout DecoderState, crossAttention request: CrossAttentionRequest?) {
        precondition(tokens.count == state.rows, "one token per decoder row")
        state.reserveNextPosition()
        let d = dModel
        let (rows, step, capacity) = (state.rows, state.step, state.capacity)
        func scratch(_ buffer: Scratch) -> UnsafeMutablePointer<Float> { state.workspace[buffer.rawValue].pointer }
        let (hidden, normed, qkv, context) = (scratch(.hidden), scratch(.normed), scratch(.qkv), scratch(.context))
        let (projected, query, ffn, scores) = (scratch(.projected), scratch(.query), scratch(.ffn), scratch(.scores))
        let (rowSentences, sourceLengths, maxSource) = (state.rowSentences, state.sourceLengths, state.maxSourceLength)
        let bias = decoder.positions.relativeBias

        if case .table(let table) = decoder.positions {
            embed(tokens, table: decoder.embedding, positions: decoder.positions, into: hidden) { table.targetRow(tokens[$0], step: step) }
        } else {
            embed(tokens, table: decoder.embedding, positions: decoder.positions, into: hidden) { _ in step }
        }
        decoder.embeddingNorm?.apply(hidden, rows: rows, into: hidden)
        var alignment = request == nil ? nil : state.takeCrossAttentionStorage()
        let headSet = request.map { $0.heads ?? Array(0..<decoderHeadCount) } ?? []  // read only with a request

        for (l, layer) in decoder.layers.enumerated() {
            // Masked self-attention over positions 0...step through the cache.
            let attention = layer.selfAttention
            let (heads, headDim, inner) = (attention.shape.heads, attention.shape.headDim, attention.shape.inner)
            let (keys, values) = state.cache(layer: l)
            let input = blockInput(layer.selfAttentionNorm, hidden, rows: rows, normed: normed)
            attention.qkvProj.apply(input, rows: rows, into: qkv)  // [rows, 3·inner]
            state.storeKeyValues(layer: l, fromFusedQKV: qkv)
            for r in 0..<rows {
                for h in 0..<heads {
                    attendHead(
                        query: qkv + r * 3 * inner + h * headDim, keys: keys + r * capacity * inner + h * headDim,
                        values: values + r * capacity * inner + h * headDim, stride: inner, count: step + 1,
                        headDim: headDim, scaling: attention.shape.scaling, bias: bias?.row(head: h, queryPosition: step),
                        scores: scores, output: context + r * inner + h * headDim)
                }
            }
            attention.outProj.apply(context, rows: rows, into: projected)
            residual(projected, to: hidden, rows: rows, norm: layer.selfAttentionNorm)

            // Cross-attention over the row's source sentence (no position bias); keys/values computed once.
            let cross = layer.crossAttention
            let crossInput = blockInput(layer.crossAttentionNorm, hidden, rows: rows, normed: normed)
            cross.qProj.apply(crossInput, rows: rows, into: query)  // [rows, inner]
            crossAttend(
                query: query, keyValues: state.crossKeyValues[l].pointer, rowSentences: rowSentences,
                sourceLengths: sourceLengths, maxSource: maxSource, heads: cross.shape.heads,
                headDim: cross.shape.headDim, scaling: cross.shape.scaling, scores: scores, context: context,
                recordAlignment: request?.layer == l, alignmentHeads: headSet, alignment: &alignment)
            cross.outProj.apply(context, rows: rows, into: projected)
            residual(projected, to: hidden, rows: rows, norm: layer.crossAttentionNorm)

            let ffnInput = blockInput(layer.feedForwardNorm, hidden, rows: rows, normed: normed)
            layer.feedForward.apply(ffnInput, rows: rows, hidden: ffn, into: projected)
            residual(projected, to: hidden, rows: rows, norm: layer.feedForwardNorm)
        }
        var output = hidden  // [rows, d]
        if let finalNorm = decoder.finalNorm {
            finalNorm.apply(hidden, rows: rows, into: normed)
            output = normed
        }
        if settings.outputScale != 1 {
            for i in 0..<(rows * d) { output[i] *= settings.outputScale }
        }
        state.logits.withUnsafeMutableBufferPointer { decoder.outputProjection.apply(output, rows: rows, into: $0.baseAddress!) }
        state.crossAttention = alignment
        state.step += 1
    }
}

/// Attention of one query over `count` keys for one head: with a relative position bias (unscaled scores), else
/// scaled by `scaling`. Probabilities left in `scores`, the head's output in `output`.
@inline(__always)
private func attendHead(
    query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int, count: Int,
    headDim: Int, scaling: Float, bias: UnsafePointer<Float>?, scores: UnsafeMutablePointer<Float>,
    output: UnsafeMutablePointer<Float>
) {
    if let bias {
        attendWithBias(
            query: query, keys: keys, values: values, stride: stride, count: count, headDim: headDim, bias: bias,
            scores: scores, output: output)
    } else {
        attendOne(
            query: query, keys: keys, values: values, stride: stride, count: count, headDim: headDim, scaling: scaling,
            scores: scores, output: output)
    }
}
