import Foundation
import XlateCore

/// `T5LayerNorm`: RMS normalisation with a weight; no mean subtraction, no bias.
struct RMSNorm: Sendable {
    let weight: FloatBuffer  // [dim]
    let eps: Float

    init(_ checkpoint: Checkpoint, _ prefix: String, dim: Int, eps: Float) throws(ModelError) {
        weight = try checkpoint.buffer("\(prefix).weight", shape: [dim])
        self.eps = eps
    }

    /// `y = weight · x / sqrt(mean(x²) + eps)` for each row of `x [rows, dim]`; `y` may be `x`.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let dim = weight.count
        for r in 0..<rows {
            let (row, out) = (x + r * dim, y + r * dim)
            let inverse = 1 / (Ops.dot(row, row, count: dim) / Float(dim) + eps).squareRoot()
            for j in 0..<dim { out[j] = weight.pointer[j] * (row[j] * inverse) }
        }
    }
}

/// `T5Attention` weights: `q`, `k`, `v`, `o`, no biases, `num_heads · d_kv` wide (which may differ from `d_model`).
struct T5AttentionWeights: Sendable {
    let heads: Int
    let headDim: Int  // d_kv
    /// Self-attention: q, k and v in one GEMM `[3·inner, d]`; cross-attention: q `[inner, d]` and k, v `[2·inner, d]`.
    let qkvProj: Linear?
    let qProj: Linear?
    let kvProj: Linear?
    let o: Linear  // o [d, inner]

    init(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config, isCross: Bool) throws(ModelError) {
        let (d, inner) = (config.dModel, config.innerDim)
        heads = config.numHeads
        headDim = config.dKV
        if isCross {
            qkvProj = nil
            qProj = try Linear(checkpoint, ["\(prefix).q"], in: d, out: inner, hasBias: false)
            kvProj = try Linear(checkpoint, ["\(prefix).k", "\(prefix).v"], in: d, out: inner, hasBias: false)
        } else {
            qkvProj = try Linear(checkpoint, ["\(prefix).q", "\(prefix).k", "\(prefix).v"], in: d, out: inner, hasBias: false)
            qProj = nil
            kvProj = nil
        }
        o = try Linear(checkpoint, ["\(prefix).o"], in: inner, out: d, hasBias: false)
    }
}

/// `T5DenseActDense` (`wo(act(wi x))`) or `T5DenseGatedActDense` (`wo(act(wi_0 x) · wi_1 x)`).
struct T5FeedForward: Sendable {
    /// `wi` `[ff, d]`, or `wi_0` and `wi_1` stacked `[2·ff, d]` (one GEMM).
    let wi: Linear
    let wo: Linear  // wo [d, ff]
    let activation: Activation
    let isGated: Bool

    init(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config) throws(ModelError) {
        let (d, ff) = (config.dModel, config.dFF)
        isGated = config.isGatedFeedForward
        let inputs = isGated ? ["\(prefix).wi_0", "\(prefix).wi_1"] : ["\(prefix).wi"]
        wi = try Linear(checkpoint, inputs, in: d, out: ff, hasBias: false)
        wo = try Linear(checkpoint, ["\(prefix).wo"], in: ff, out: d, hasBias: false)
        activation = config.activation
    }

    /// Floats of scratch `apply` needs per row.
    var scratchPerRow: Int { wi.outFeatures }

    /// `y [rows, d]` = the block applied to `x [rows, d]`, using `hidden` (`rows × scratchPerRow`) as scratch.
    func apply(_ x: UnsafePointer<Float>, rows: Int, hidden: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        wi.apply(x, rows: rows, into: hidden)
        let ff = wo.inFeatures
        if isGated {
            // Row r holds [wi_0 x | wi_1 x]; the product goes to the first rows · ff floats, which it never
            // overtakes (r·ff + j <= r·2ff + j).
            for r in 0..<rows {
                let (gate, linear) = (hidden + r * 2 * ff, hidden + r * 2 * ff + ff)
                Ops.activate(gate, count: ff, activation)
                for j in 0..<ff { hidden[r * ff + j] = gate[j] * linear[j] }
            }
        } else {
            Ops.activate(hidden, count: rows * ff, activation)
        }
        wo.apply(hidden, rows: rows, into: y)
    }
}

/// The relative position bias of one stack: `relative_attention_bias` `[buckets, heads]` of its first layer, looked
/// up once for every relative position the stack can see, and added to the attention scores of all its layers.
struct RelativePositionBias: Sendable {
    let heads: Int
    /// Longest sequence covered: relative positions `-(span - 1) ... span - 1`.
    let span: Int
    /// `[heads, 2·span - 1]`: the bias of relative position `k - q` at `k - q + span - 1`.
    let table: FloatBuffer

    init(_ checkpoint: Checkpoint, _ name: String, config: T5Config, bidirectional: Bool, span: Int) throws(ModelError) {
        let buckets = config.relativeAttentionNumBuckets
        let weight = try checkpoint.tensor(name, shape: [buckets, config.numHeads])
        heads = config.numHeads
        self.span = span
        let width = 2 * span - 1
        var table = [Float](repeating: 0, count: heads * width)
        for index in 0..<width {
            let bucket = Self.bucket(
                relativePosition: index - (span - 1), bidirectional: bidirectional, numBuckets: buckets,
                maxDistance: config.relativeAttentionMaxDistance)
            for h in 0..<heads { table[h * width + index] = weight.data[bucket * heads + h] }
        }
        self.table = FloatBuffer(table)
    }

    /// The biases of head `h` for a query at `position` over keys `0, 1, ...` (contiguous).
    @inline(__always)
    func row(head h: Int, queryPosition position: Int) -> UnsafePointer<Float> {
        UnsafePointer(table.pointer + h * (2 * span - 1) + (span - 1 - position))
    }

    /// transformers' `T5Attention._relative_position_bucket` (from Mesh TensorFlow): exact buckets for distances
    /// below half the buckets (of each direction when bidirectional), logarithmic ones up to `maxDistance`, one for
    /// all beyond. The logarithm is computed in float32, as torch does.
    static func bucket(relativePosition: Int, bidirectional: Bool, numBuckets: Int, maxDistance: Int) -> Int {
        var buckets = numBuckets
        var result = 0
        var distance: Int
        if bidirectional {
            buckets /= 2
            if relativePosition > 0 { result += buckets }
            distance = abs(relativePosition)
        } else {
            distance = -min(relativePosition, 0)
        }
        let maxExact = buckets / 2
        if distance < maxExact { return result + distance }
        let scaled = logf(Float(distance) / Float(maxExact)) / Float(log(Double(maxDistance) / Double(maxExact)))
            * Float(buckets - maxExact)
        return result + min(maxExact + Int(scaled), buckets - 1)
    }
}

/// Attention of one query over `count` keys for one head with an additive bias per key (T5: the relative position
/// bias; no 1/sqrt(d) scaling). As `attendOne`: probabilities left in `scores`, the head's output in `output`.
@inline(__always)
private func attendWithBias(
    query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int, count: Int,
    headDim: Int, bias: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
) {
    for j in 0..<count {
        scores[j] = Ops.dot(query, keys + j * stride, count: headDim) + bias[j]
    }
    Ops.softmax(scores, count: count)
    output.initialize(repeating: 0, count: headDim)
    for j in 0..<count {
        Ops.axpy(scores[j], values + j * stride, output, count: headDim)
    }
}

/// `T5Block` of the encoder: pre-norm self-attention (`layer.0`) and feed-forward (`layer.1`) blocks.
struct T5EncoderLayer: Sendable {
    let selfAttention: T5AttentionWeights  // layer.0.SelfAttention
    let selfAttentionNorm: RMSNorm  // layer.0.layer_norm
    let feedForward: T5FeedForward  // layer.1.DenseReluDense
    let feedForwardNorm: RMSNorm  // layer.1.layer_norm

    init(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config) throws(ModelError) {
        let (d, eps) = (config.dModel, config.layerNormEpsilon)
        selfAttention = try T5AttentionWeights(checkpoint, "\(prefix).layer.0.SelfAttention", config: config, isCross: false)
        selfAttentionNorm = try RMSNorm(checkpoint, "\(prefix).layer.0.layer_norm", dim: d, eps: eps)
        feedForward = try T5FeedForward(checkpoint, "\(prefix).layer.1.DenseReluDense", config: config)
        feedForwardNorm = try RMSNorm(checkpoint, "\(prefix).layer.1.layer_norm", dim: d, eps: eps)
    }

    /// Transforms `x [batch · maxLength, d]` in place; each sentence attends over its own `lengths[b]` tokens only.
    func apply(_ x: UnsafeMutablePointer<Float>, lengths: [Int], maxLength: Int, bias: RelativePositionBias, scratch: T5EncoderScratch) {
        let d = selfAttentionNorm.weight.count
        let (heads, headDim) = (selfAttention.heads, selfAttention.headDim)
        let inner = heads * headDim
        let rows = lengths.count * maxLength
        let (normed, qkv, context, projected) = (scratch.normed.pointer, scratch.qkv.pointer, scratch.context.pointer, scratch.projected.pointer)
        selfAttentionNorm.apply(x, rows: rows, into: normed)
        selfAttention.qkvProj!.apply(normed, rows: rows, into: qkv)  // [rows, 3·inner]
        for (b, length) in lengths.enumerated() {
            let base = qkv + b * maxLength * 3 * inner
            for i in 0..<length {
                for h in 0..<heads {
                    attendWithBias(
                        query: base + i * 3 * inner + h * headDim, keys: base + inner + h * headDim,
                        values: base + 2 * inner + h * headDim, stride: 3 * inner, count: length, headDim: headDim,
                        bias: bias.row(head: h, queryPosition: i), scores: scratch.scores.pointer,
                        output: context + (b * maxLength + i) * inner + h * headDim)
                }
            }
        }
        selfAttention.o.apply(context, rows: rows, into: projected)
        Ops.add(projected, to: x, count: rows * d)
        feedForwardNorm.apply(x, rows: rows, into: normed)
        feedForward.apply(normed, rows: rows, hidden: scratch.ffn.pointer, into: projected)
        Ops.add(projected, to: x, count: rows * d)
    }
}

/// Scratch memory for one encoder pass over a batch.
struct T5EncoderScratch {
    let normed: FloatBuffer  // [rows, d]
    let qkv: FloatBuffer  // [rows, 3·inner]
    let context: FloatBuffer  // [rows, inner]
    let projected: FloatBuffer  // [rows, d]
    let ffn: FloatBuffer  // [rows, ff] or [rows, 2·ff] (gated)
    let scores: FloatBuffer  // [maxLength]

    init(rows: Int, config: T5Config, ffnPerRow: Int, maxLength: Int) {
        normed = FloatBuffer(count: rows * config.dModel)
        qkv = FloatBuffer(count: rows * 3 * config.innerDim)
        context = FloatBuffer(count: rows * config.innerDim)
        projected = FloatBuffer(count: rows * config.dModel)
        ffn = FloatBuffer(count: rows * ffnPerRow)
        scores = FloatBuffer(count: maxLength)
    }
}

/// `T5Block` of the decoder: pre-norm masked self-attention (`layer.0`), cross-attention (`layer.1`) and
/// feed-forward (`layer.2`) blocks.
struct T5DecoderLayer: Sendable {
    let selfAttention: T5AttentionWeights  // layer.0.SelfAttention
    let selfAttentionNorm: RMSNorm  // layer.0.layer_norm
    let crossAttention: T5AttentionWeights  // layer.1.EncDecAttention
    let crossAttentionNorm: RMSNorm  // layer.1.layer_norm
    let feedForward: T5FeedForward  // layer.2.DenseReluDense
    let feedForwardNorm: RMSNorm  // layer.2.layer_norm

    init(_ checkpoint: Checkpoint, _ prefix: String, config: T5Config) throws(ModelError) {
        let (d, eps) = (config.dModel, config.layerNormEpsilon)
        selfAttention = try T5AttentionWeights(checkpoint, "\(prefix).layer.0.SelfAttention", config: config, isCross: false)
        selfAttentionNorm = try RMSNorm(checkpoint, "\(prefix).layer.0.layer_norm", dim: d, eps: eps)
        crossAttention = try T5AttentionWeights(checkpoint, "\(prefix).layer.1.EncDecAttention", config: config, isCross: true)
        crossAttentionNorm = try RMSNorm(checkpoint, "\(prefix).layer.1.layer_norm", dim: d, eps: eps)
        feedForward = try T5FeedForward(checkpoint, "\(prefix).layer.2.DenseReluDense", config: config)
        feedForwardNorm = try RMSNorm(checkpoint, "\(prefix).layer.2.layer_norm", dim: d, eps: eps)
    }
}

/// A T5, Flan-T5 or mT5 model (`T5ForConditionalGeneration` / `MT5ForConditionalGeneration` in transformers).
///
/// Pre-norm Transformer with RMS norms, a shared token embedding (not scaled, no position embeddings), a relative
/// position bias computed by the first layer of each stack and added to the self-attention scores of all its
/// layers, no 1/sqrt(d) attention scaling, final norms after both stacks, and an output projection that is the
/// shared embedding (the decoder output rescaled by `d_model^-0.5`) or a separate `lm_head`.
public final class T5Model: Seq2SeqModel {
    public let config: T5Config
    let embedTokens: EmbeddingTable  // shared.weight (or encoder/decoder.embed_tokens.weight) [vocab, d]
    let encoderLayers: [T5EncoderLayer]  // encoder.block.N
    let decoderLayers: [T5DecoderLayer]  // decoder.block.N
    let encoderBias: RelativePositionBias  // encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight
    let decoderBias: RelativePositionBias  // decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight
    let encoderFinalNorm: RMSNorm  // encoder.final_layer_norm
    let decoderFinalNorm: RMSNorm  // decoder.final_layer_norm
    let lmHead: Linear  // lm_head.weight, or the shared embedding [vocab, d]
    /// `d_model^-0.5` when the config rescales the decoder output, else 1.
    let outputScale: Float

    public let vocabulary: ModelVocabulary
    public var decoderLayerCount: Int { decoderLayers.count }
    public var decoderHeadCount: Int { config.numHeads }
    public var maxSourceLength: Int { config.maxPositions }
    public var maxTargetLength: Int { config.maxPositions }

    /// Loads the weights of a model folder (config.json + safetensors), validating every tensor.
    public convenience init(directory: URL) throws(ModelError) {
        let config = try T5Config(contentsOf: directory.appendingPathComponent("config.json"))
        try self.init(config: config, checkpoint: try Checkpoint(directory: directory))
    }

    public init(config: T5Config, checkpoint: Checkpoint) throws(ModelError) {
        self.config = config
        let (d, vocab) = (config.dModel, config.vocabSize)

        // The embedding is `shared.weight`; checkpoints may also store its copies under embed_tokens.
        let names = ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]
        guard let name = names.first(where: checkpoint.contains) else { throw .missingTensor(name: names[0], path: checkpoint.path) }
        let embeddings = try checkpoint.buffer(name, shape: [vocab, d])  // floats until the lm_head is packed
        embedTokens = EmbeddingTable(embeddings.pointer, rows: vocab, width: d)
        for copy in names where copy != name && checkpoint.contains(copy) {
            try checkpoint.checkUnused(copy, shape: [vocab, d])
        }

        var encoderLayers: [T5EncoderLayer] = []
        for i in 0..<config.encoderLayers {
            encoderLayers.append(try T5EncoderLayer(checkpoint, "encoder.block.\(i)", config: config))
        }
        var decoderLayers: [T5DecoderLayer] = []
        for i in 0..<config.decoderLayers {
            decoderLayers.append(try T5DecoderLayer(checkpoint, "decoder.block.\(i)", config: config))
        }
        self.encoderLayers = encoderLayers
        self.decoderLayers = decoderLayers
        let biasKey = "layer.0.SelfAttention.relative_attention_bias.weight"
        encoderBias = try RelativePositionBias(
            checkpoint, "encoder.block.0.\(biasKey)", config: config, bidirectional: true, span: config.maxPositions)
        decoderBias = try RelativePositionBias(
            checkpoint, "decoder.block.0.\(biasKey)", config: config, bidirectional: false, span: config.maxPositions)
        // Old checkpoints carry a cross-attention bias that T5 never uses (transformers ignores it too).
        let unusedCrossBias = "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"
        if checkpoint.contains(unusedCrossBias) {
            try checkpoint.checkUnused(unusedCrossBias, shape: [config.relativeAttentionNumBuckets, config.numHeads])
        }
        encoderFinalNorm = try RMSNorm(checkpoint, "encoder.final_layer_norm", dim: d, eps: config.layerNormEpsilon)
        decoderFinalNorm = try RMSNorm(checkpoint, "decoder.final_layer_norm", dim: d, eps: config.layerNormEpsilon)

        // As transformers 5.23 loads: a stored lm_head that differs from the embedding is used as is; one that
        // equals it, or none, means the embedding. Whether the output is rescaled is the config's business.
        var head = embeddings
        if checkpoint.contains("lm_head.weight") {
            let stored = try checkpoint.buffer("lm_head.weight", shape: [vocab, d])
            if memcmp(stored.pointer, embeddings.pointer, vocab * d * MemoryLayout<Float>.size) != 0 { head = stored }
        }
        lmHead = try Linear(weight: head.pointer, bias: nil, inFeatures: d, outFeatures: vocab, computeType: checkpoint.computeType)
        try checkpoint.checkAllUsed()

        outputScale = config.scaleDecoderOutputs ? Float(pow(Double(d), -0.5)) : 1
        vocabulary = ModelVocabulary(
            decoderStartTokenId: config.decoderStartTokenId, eosTokenIds: config.eosTokenIds,
            padTokenId: config.padTokenId, targetSize: vocab, forcedEOSTokenIds: config.forcedEOSTokenIds)
    }

    /// Writes the embeddings of `ids` into `x`.
    private func embed(_ ids: [Int], into x: UnsafeMutablePointer<Float>) {
        let d = config.dModel
        for (row, id) in ids.enumerated() {
            embedTokens.copyRow(id, to: x + row * d)
        }
    }

    public func encode(_ sentences: [[Int]]) -> EncoderOutput {
        let d = config.dModel
        let lengths = sentences.map(\.count)
        let maxLength = lengths.max() ?? 0
        for sentence in sentences {
            precondition(sentence.count <= config.maxPositions, "source of \(sentence.count) tokens exceeds n_positions")
            precondition(sentence.allSatisfy { $0 >= 0 && $0 < config.vocabSize }, "source id outside the vocabulary")
        }
        let groups = EncoderGroups(lengths: lengths)
        let scratch = T5EncoderScratch(
            rows: groups.maxRows, config: config, ffnPerRow: encoderLayers.first?.feedForward.scratchPerRow ?? 0,
            maxLength: maxLength)
        let hidden = groups.encode(width: d, batchMaxLength: maxLength) { group, groupMaxLength, x in
            let ids = sentences[group].flatMap { $0 + Array(repeating: config.padTokenId, count: groupMaxLength - $0.count) }
            embed(ids, into: x)
            for layer in encoderLayers {
                layer.apply(x, lengths: Array(lengths[group]), maxLength: groupMaxLength, bias: encoderBias, scratch: scratch)
            }
            encoderFinalNorm.apply(x, rows: ids.count, into: x)
        }
        return EncoderOutput(hiddenStates: hidden, lengths: lengths)
    }

    /// Scratch buffers of a decoder step, in `DecoderState.workspace`.
    private enum Scratch: Int, CaseIterable {
        case hidden, normed, qkv, context, projected, query, ffn, scores
    }

    public func makeDecoderState(
        for encoded: EncoderOutput, rowSentences: [Int], maxLength: Int
    ) throws(XlateCoreError) -> DecoderState {
        let (d, inner) = (config.dModel, config.innerDim)
        let crossKeyValues = encoded.crossKeyValues(decoderLayers.map { $0.crossAttention.kvProj! })
        let rows = rowSentences.count
        let sizes: [Scratch: Int] = [
            .hidden: rows * d, .normed: rows * d, .qkv: rows * 3 * inner, .context: rows * inner, .projected: rows * d,
            .query: rows * inner, .ffn: rows * (decoderLayers.first?.feedForward.scratchPerRow ?? 0),
            .scores: max(config.maxPositions, encoded.maxLength),
        ]
        return try DecoderState(
            rowSentences: rowSentences, layers: decoderLayers.count, width: inner, maxLength: min(maxLength, maxTargetLength),
            vocabularySize: lmHead.outFeatures, crossKeyValues: crossKeyValues, sourceLengths: encoded.lengths,
            maxSourceLength: encoded.maxLength, workspaceSizes: Scratch.allCases.map { sizes[$0]! })
    }

    public func decodeStep(_ tokens: [Int], state: inout DecoderState, crossAttention request: CrossAttentionRequest?) {
        precondition(tokens.count == state.rows, "one token per decoder row")
        state.reserveNextPosition()
        let (d, inner) = (config.dModel, config.innerDim)
        let (rows, step, capacity) = (state.rows, state.step, state.capacity)
        let (heads, headDim) = (config.numHeads, config.dKV)
        func scratch(_ buffer: Scratch) -> UnsafeMutablePointer<Float> { state.workspace[buffer.rawValue].pointer }
        let (hidden, normed, qkv, context) = (scratch(.hidden), scratch(.normed), scratch(.qkv), scratch(.context))
        let (projected, query, ffn, scores) = (scratch(.projected), scratch(.query), scratch(.ffn), scratch(.scores))
        let (rowSentences, sourceLengths, maxSource) = (state.rowSentences, state.sourceLengths, state.maxSourceLength)

        embed(tokens, into: hidden)
        var alignment = request == nil ? nil : state.takeCrossAttentionStorage()
        let headSet = request?.heads ?? Array(0..<heads)

        for (l, layer) in decoderLayers.enumerated() {
            // Masked self-attention over positions 0...step through the cache, with the causal position bias.
            let (keys, values) = state.cache(layer: l)
            layer.selfAttentionNorm.apply(hidden, rows: rows, into: normed)
            layer.selfAttention.qkvProj!.apply(normed, rows: rows, into: qkv)  // [rows, 3·inner]
            state.storeKeyValues(layer: l, fromFusedQKV: qkv)
            for r in 0..<rows {
                for h in 0..<heads {
                    attendWithBias(
                        query: qkv + r * 3 * inner + h * headDim, keys: keys + r * capacity * inner + h * headDim,
                        values: values + r * capacity * inner + h * headDim, stride: inner, count: step + 1,
                        headDim: headDim, bias: decoderBias.row(head: h, queryPosition: step), scores: scores,
                        output: context + r * inner + h * headDim)
                }
            }
            layer.selfAttention.o.apply(context, rows: rows, into: projected)
            Ops.add(projected, to: hidden, count: rows * d)

            // Cross-attention over the row's source sentence (no position bias); keys/values computed once.
            layer.crossAttentionNorm.apply(hidden, rows: rows, into: normed)
            layer.crossAttention.qProj!.apply(normed, rows: rows, into: query)  // [rows, inner]
            crossAttend(
                query: query, keyValues: state.crossKeyValues[l].pointer, rowSentences: rowSentences,
                sourceLengths: sourceLengths, maxSource: maxSource, heads: heads, headDim: headDim, scaling: 1,
                scores: scores, context: context, recordAlignment: request?.layer == l, alignmentHeads: headSet,
                alignment: &alignment)
            layer.crossAttention.o.apply(context, rows: rows, into: projected)
            Ops.add(projected, to: hidden, count: rows * d)

            layer.feedForwardNorm.apply(hidden, rows: rows, into: normed)
            layer.feedForward.apply(normed, rows: rows, hidden: ffn, into: projected)
            Ops.add(projected, to: hidden, count: rows * d)
        }
        decoderFinalNorm.apply(hidden, rows: rows, into: normed)
        if outputScale != 1 {
            for i in 0..<(rows * d) { normed[i] *= outputScale }
        }
        state.logits.withUnsafeMutableBufferPointer { lmHead.apply(normed, rows: rows, into: $0.baseAddress!) }
        state.crossAttention = alignment
        state.step += 1
    }
}
