import Foundation
import XlateCore

/// `MarianEncoderLayer`: post-norm self-attention and feed-forward blocks.
struct MarianEncoderLayer: Sendable {
    let selfAttn: AttentionWeights  // self_attn
    let selfAttnLayerNorm: LayerNorm  // self_attn_layer_norm
    let feedForward: FeedForward  // fc1, fc2
    let finalLayerNorm: LayerNorm  // final_layer_norm

    init(_ checkpoint: Checkpoint, _ prefix: String, config: MarianConfig) throws(ModelError) {
        let d = config.dModel
        selfAttn = try AttentionWeights(checkpoint, "\(prefix).self_attn", dim: d, heads: config.encoderAttentionHeads, isCross: false)
        selfAttnLayerNorm = try LayerNorm(checkpoint, "\(prefix).self_attn_layer_norm", dim: d)
        feedForward = try FeedForward(checkpoint, prefix, dim: d, ffnDim: config.encoderFFNDim, activation: config.activation)
        finalLayerNorm = try LayerNorm(checkpoint, "\(prefix).final_layer_norm", dim: d)
    }

    /// `x [batch · maxLength, d]` → same; each sentence attends over its own `lengths[b]` tokens only.
    func callAsFunction(_ x: [Float], lengths: [Int], maxLength: Int) -> [Float] {
        let d = selfAttn.outProj.outFeatures
        let (heads, headDim) = (selfAttn.heads, selfAttn.headDim)
        let rows = lengths.count * maxLength
        let qkv = selfAttn.qkvProj!(x, rows: rows)  // [rows, 3·d]
        var context = [Float](repeating: 0, count: rows * d)  // [rows, d]
        var scores = [Float](repeating: 0, count: maxLength)
        qkv.withUnsafeBufferPointer { qkv in
            context.withUnsafeMutableBufferPointer { context in
                scores.withUnsafeMutableBufferPointer { scores in
                    for (b, length) in lengths.enumerated() {
                        let base = qkv.baseAddress! + b * maxLength * 3 * d
                        for i in 0..<length {
                            for h in 0..<heads {
                                attendOne(
                                    query: base + i * 3 * d + h * headDim, keys: base + d + h * headDim,
                                    values: base + 2 * d + h * headDim, stride: 3 * d, count: length, headDim: headDim,
                                    scaling: selfAttn.scaling, scores: scores.baseAddress!,
                                    output: context.baseAddress! + (b * maxLength + i) * d + h * headDim)
                            }
                        }
                    }
                }
            }
        }
        var hidden = x
        addInPlace(&hidden, selfAttn.outProj(context, rows: rows))
        selfAttnLayerNorm(&hidden)
        addInPlace(&hidden, feedForward(hidden, rows: rows))
        finalLayerNorm(&hidden)
        return hidden
    }
}

/// `MarianDecoderLayer`: post-norm masked self-attention, cross-attention and feed-forward blocks.
struct MarianDecoderLayer: Sendable {
    let selfAttn: AttentionWeights  // self_attn
    let selfAttnLayerNorm: LayerNorm  // self_attn_layer_norm
    let encoderAttn: AttentionWeights  // encoder_attn
    let encoderAttnLayerNorm: LayerNorm  // encoder_attn_layer_norm
    let feedForward: FeedForward  // fc1, fc2
    let finalLayerNorm: LayerNorm  // final_layer_norm

    init(_ checkpoint: Checkpoint, _ prefix: String, config: MarianConfig) throws(ModelError) {
        let d = config.dModel
        let heads = config.decoderAttentionHeads
        selfAttn = try AttentionWeights(checkpoint, "\(prefix).self_attn", dim: d, heads: heads, isCross: false)
        selfAttnLayerNorm = try LayerNorm(checkpoint, "\(prefix).self_attn_layer_norm", dim: d)
        encoderAttn = try AttentionWeights(checkpoint, "\(prefix).encoder_attn", dim: d, heads: heads, isCross: true)
        encoderAttnLayerNorm = try LayerNorm(checkpoint, "\(prefix).encoder_attn_layer_norm", dim: d)
        feedForward = try FeedForward(checkpoint, prefix, dim: d, ffnDim: config.decoderFFNDim, activation: config.activation)
        finalLayerNorm = try LayerNorm(checkpoint, "\(prefix).final_layer_norm", dim: d)
    }
}

/// A Marian / OPUS-MT translation model (`MarianMTModel` in transformers).
///
/// Post-norm Transformer with scaled embeddings, sinusoidal positions, `final_logits_bias` and an output
/// projection tied to the decoder embedding (or a separate `lm_head`).
public final class MarianModel: Seq2SeqModel {
    public let config: MarianConfig
    let encoderEmbedTokens: [Float]  // model.shared.weight or model.encoder.embed_tokens.weight [vocab, d]
    let decoderEmbedTokens: [Float]  // model.shared.weight or model.decoder.embed_tokens.weight [decoderVocab, d]
    let encoderPositions: [Float]  // model.encoder.embed_positions.weight or sinusoidal [maxPositions, d]
    let decoderPositions: [Float]  // model.decoder.embed_positions.weight or sinusoidal [maxPositions, d]
    let encoderLayers: [MarianEncoderLayer]  // model.encoder.layers.N
    let decoderLayers: [MarianDecoderLayer]  // model.decoder.layers.N
    let lmHead: Linear  // lm_head.weight (or the tied decoder embedding) [decoderVocab, d], bias: final_logits_bias
    let embedScale: Float

    public let vocabulary: ModelVocabulary
    public var decoderLayerCount: Int { decoderLayers.count }
    public var decoderHeadCount: Int { config.decoderAttentionHeads }
    public var maxSourceLength: Int { config.maxPositionEmbeddings }
    public var maxTargetLength: Int { config.maxPositionEmbeddings }

    /// Loads the weights of a model folder (config.json + safetensors), validating every tensor.
    public convenience init(directory: URL) throws(ModelError) {
        let config = try MarianConfig(contentsOf: directory.appendingPathComponent("config.json"))
        try self.init(config: config, checkpoint: try Checkpoint(directory: directory))
    }

    public init(config: MarianConfig, checkpoint: Checkpoint) throws(ModelError) {
        self.config = config
        let d = config.dModel
        let (vocab, decoderVocab) = (config.vocabSize, config.shareEncoderDecoderEmbeddings ? config.vocabSize : config.decoderVocabSize)
        func firstPresent(_ names: [String]) -> String? { names.first(where: checkpoint.contains) }

        // Embeddings: either only `model.shared.weight`, or that plus copies under the embed_tokens keys, or
        // (separate vocabularies) one table per side.
        if config.shareEncoderDecoderEmbeddings {
            let names = ["model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"]
            guard let name = firstPresent(names) else { throw .missingTensor(name: names[0], path: checkpoint.path) }
            encoderEmbedTokens = try checkpoint.tensor(name, shape: [vocab, d]).data
            decoderEmbedTokens = encoderEmbedTokens
            for copy in names where copy != name && checkpoint.contains(copy) {
                _ = try checkpoint.tensor(copy, shape: [vocab, d])
            }
        } else {
            encoderEmbedTokens = try checkpoint.tensor("model.encoder.embed_tokens.weight", shape: [vocab, d]).data
            decoderEmbedTokens = try checkpoint.tensor("model.decoder.embed_tokens.weight", shape: [decoderVocab, d]).data
            if checkpoint.contains("model.shared.weight") {
                _ = try checkpoint.tensor("model.shared.weight", shape: [vocab, d])
            }
        }
        let sinusoidal = Self.sinusoidalPositions(count: config.maxPositionEmbeddings, dim: d)
        func positions(_ name: String) throws(ModelError) -> [Float] {
            checkpoint.contains(name) ? try checkpoint.tensor(name, shape: [config.maxPositionEmbeddings, d]).data : sinusoidal
        }
        encoderPositions = try positions("model.encoder.embed_positions.weight")
        decoderPositions = try positions("model.decoder.embed_positions.weight")

        var encoderLayers: [MarianEncoderLayer] = []
        for i in 0..<config.encoderLayers {
            encoderLayers.append(try MarianEncoderLayer(checkpoint, "model.encoder.layers.\(i)", config: config))
        }
        var decoderLayers: [MarianDecoderLayer] = []
        for i in 0..<config.decoderLayers {
            decoderLayers.append(try MarianDecoderLayer(checkpoint, "model.decoder.layers.\(i)", config: config))
        }
        self.encoderLayers = encoderLayers
        self.decoderLayers = decoderLayers

        let bias = try checkpoint.tensor("final_logits_bias", shape: [1, decoderVocab]).data
        let outputWeight: [Float]
        if config.tieWordEmbeddings {
            outputWeight = decoderEmbedTokens
            if checkpoint.contains("lm_head.weight") { _ = try checkpoint.tensor("lm_head.weight", shape: [decoderVocab, d]) }
        } else {
            outputWeight = try checkpoint.tensor("lm_head.weight", shape: [decoderVocab, d]).data
        }
        lmHead = Linear(weight: outputWeight, bias: bias, inFeatures: d, outFeatures: decoderVocab)
        try checkpoint.checkAllUsed()

        embedScale = config.scaleEmbedding ? Float(Double(d).squareRoot()) : 1
        vocabulary = ModelVocabulary(
            decoderStartTokenId: config.decoderStartTokenId, eosTokenIds: config.eosTokenIds,
            padTokenId: config.padTokenId, targetSize: decoderVocab,
            forcedEOSTokenIds: config.forcedEOSTokenIds)
    }

    /// transformers' `MarianSinusoidalPositionalEmbedding`: `[sin(p·ω_j) for j < d/2 | cos(p·ω_j) for j < d/2]`,
    /// `ω_j = 10000^(−2j/d)`, computed in double precision and rounded to float as numpy → torch does.
    static func sinusoidalPositions(count: Int, dim: Int) -> [Float] {
        var table = [Float](repeating: 0, count: count * dim)
        let half = dim / 2
        for position in 0..<count {
            for j in 0..<half {
                let angle = Double(position) / pow(10000, Double(2 * j) / Double(dim))
                table[position * dim + j] = Float(sin(angle))
                table[position * dim + half + j] = Float(cos(angle))
            }
        }
        return table
    }

    /// `embed_tokens(ids) · embed_scale + positions` for rows of ids at the given positions.
    private func embed(_ ids: [Int], positions: [Int], table: [Float], positionTable: [Float]) -> [Float] {
        let d = config.dModel
        var x = [Float](repeating: 0, count: ids.count * d)
        for (row, (id, position)) in zip(ids, positions).enumerated() {
            for j in 0..<d {
                x[row * d + j] = table[id * d + j] * embedScale + positionTable[position * d + j]
            }
        }
        return x
    }

    public func encode(_ sentences: [[Int]]) -> EncoderOutput {
        let d = config.dModel
        let lengths = sentences.map(\.count)
        let maxLength = lengths.max() ?? 0
        for sentence in sentences {
            precondition(sentence.count <= config.maxPositionEmbeddings, "source of \(sentence.count) tokens exceeds max_position_embeddings")
            precondition(sentence.allSatisfy { $0 >= 0 && $0 < config.vocabSize }, "source id outside the vocabulary")
        }
        var ids: [Int] = []
        var positions: [Int] = []
        for sentence in sentences {
            ids += sentence + Array(repeating: config.padTokenId, count: maxLength - sentence.count)
            positions += Array(0..<maxLength)
        }
        var hidden = embed(ids, positions: positions, table: encoderEmbedTokens, positionTable: encoderPositions)
        for layer in encoderLayers {
            hidden = layer(hidden, lengths: lengths, maxLength: maxLength)
        }
        // Padding rows carry no meaning; zero them so the output does not depend on batch composition.
        for (b, length) in lengths.enumerated() where length < maxLength {
            for i in (b * maxLength + length) * d..<((b + 1) * maxLength * d) { hidden[i] = 0 }
        }
        return EncoderOutput(hiddenStates: Tensor(shape: [sentences.count, maxLength, d], data: hidden), lengths: lengths)
    }

    public func makeDecoderState(for encoded: EncoderOutput, rowSentences: [Int]) -> DecoderState {
        let rows = encoded.batchSize * encoded.maxLength
        let crossKeyValues = decoderLayers.map { $0.encoderAttn.kvProj!(encoded.hiddenStates.data, rows: rows) }
        return DecoderState(
            rowSentences: rowSentences, layers: decoderLayers.count, width: config.dModel,
            maxLength: config.maxPositionEmbeddings, crossKeyValues: crossKeyValues,
            sourceLengths: encoded.lengths, maxSourceLength: encoded.maxLength)
    }

    public func decodeStep(_ tokens: [Int], state: inout DecoderState, crossAttention request: CrossAttentionRequest?) -> StepOutput {
        precondition(tokens.count == state.rows, "one token per decoder row")
        state.reserveNextPosition()
        let d = config.dModel
        let rows = state.rows
        let step = state.step
        let (heads, headDim) = (config.decoderAttentionHeads, d / config.decoderAttentionHeads)
        let scaling = 1 / Float(headDim).squareRoot()
        var hidden = embed(tokens, positions: Array(repeating: step, count: rows), table: decoderEmbedTokens, positionTable: decoderPositions)
        var scores = [Float](repeating: 0, count: max(step + 1, state.maxSourceLength))
        var alignment: [Float]? = request.map { _ in [Float](repeating: 0, count: rows * state.maxSourceLength) }
        let capacity = state.capacity

        for (l, layer) in decoderLayers.enumerated() {
            // Masked self-attention over positions 0...step through the cache.
            let qkv = layer.selfAttn.qkvProj!(hidden, rows: rows)  // [rows, 3·d]
            var context = [Float](repeating: 0, count: rows * d)  // [rows, d]
            qkv.withUnsafeBufferPointer { qkv in
                state.selfKeys[l].withUnsafeMutableBufferPointer { keys in
                    state.selfValues[l].withUnsafeMutableBufferPointer { values in
                        for r in 0..<rows {
                            let cacheRow = r * capacity * d
                            (keys.baseAddress! + cacheRow + step * d).update(from: qkv.baseAddress! + r * 3 * d + d, count: d)
                            (values.baseAddress! + cacheRow + step * d).update(from: qkv.baseAddress! + r * 3 * d + 2 * d, count: d)
                        }
                        context.withUnsafeMutableBufferPointer { context in
                            scores.withUnsafeMutableBufferPointer { scores in
                                for r in 0..<rows {
                                    for h in 0..<heads {
                                        attendOne(
                                            query: qkv.baseAddress! + r * 3 * d + h * headDim,
                                            keys: keys.baseAddress! + r * capacity * d + h * headDim,
                                            values: values.baseAddress! + r * capacity * d + h * headDim,
                                            stride: d, count: step + 1, headDim: headDim, scaling: scaling,
                                            scores: scores.baseAddress!, output: context.baseAddress! + r * d + h * headDim)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            addInPlace(&hidden, layer.selfAttn.outProj(context, rows: rows))
            layer.selfAttnLayerNorm(&hidden)

            // Cross-attention over the row's source sentence; keys/values computed once in the state.
            let query = layer.encoderAttn.qProj!(hidden, rows: rows)  // [rows, d]
            let wantAttention = request?.layer == l
            let headSet = request?.heads ?? Array(0..<heads)
            state.crossKeyValues[l].withUnsafeBufferPointer { kv in
                query.withUnsafeBufferPointer { query in
                    context.withUnsafeMutableBufferPointer { context in
                        scores.withUnsafeMutableBufferPointer { scores in
                            for r in 0..<rows {
                                let sentence = state.rowSentences[r]
                                let length = state.sourceLengths[sentence]
                                let source = kv.baseAddress! + sentence * state.maxSourceLength * 2 * d
                                for h in 0..<heads {
                                    attendOne(
                                        query: query.baseAddress! + r * d + h * headDim, keys: source + h * headDim,
                                        values: source + d + h * headDim, stride: 2 * d, count: length,
                                        headDim: headDim, scaling: scaling, scores: scores.baseAddress!,
                                        output: context.baseAddress! + r * d + h * headDim)
                                    if wantAttention, headSet.contains(h) {
                                        let weight = 1 / Float(headSet.count)
                                        for j in 0..<length { alignment![r * state.maxSourceLength + j] += scores[j] * weight }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            addInPlace(&hidden, layer.encoderAttn.outProj(context, rows: rows))
            layer.encoderAttnLayerNorm(&hidden)

            addInPlace(&hidden, layer.feedForward(hidden, rows: rows))
            layer.finalLayerNorm(&hidden)
        }
        state.step += 1
        let logits = lmHead(hidden, rows: rows)
        return StepOutput(
            logits: Tensor(shape: [rows, lmHead.outFeatures], data: logits),
            crossAttention: alignment.map { Tensor(shape: [rows, state.maxSourceLength], data: $0) })
    }
}
