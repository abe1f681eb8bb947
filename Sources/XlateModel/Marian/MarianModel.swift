import Foundation
import XlateCore

/// A Marian / OPUS-MT translation model (`MarianMTModel` in transformers).
///
/// Post-norm Transformer with scaled embeddings, sinusoidal positions, `final_logits_bias` and an output
/// projection tied to the decoder embedding (or a separate `lm_head`).
public final class MarianModel: Seq2SeqModel {
    public let config: MarianConfig
    let encoderEmbedTokens: EmbeddingTable  // model.shared.weight or model.encoder.embed_tokens.weight [vocab, d]
    let decoderEmbedTokens: EmbeddingTable  // model.shared.weight or model.decoder.embed_tokens.weight [decoderVocab, d]
    let encoderPositions: FloatBuffer  // model.encoder.embed_positions.weight or sinusoidal [maxPositions, d]
    let decoderPositions: FloatBuffer  // model.decoder.embed_positions.weight or sinusoidal [maxPositions, d]
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
        (encoderEmbedTokens, decoderEmbedTokens, lmHead) = try Self.embeddingsAndOutput(config, checkpoint)
        let sinusoidal = FloatBuffer(Self.sinusoidalPositions(count: config.maxPositionEmbeddings, dim: d))
        func positions(_ name: String) throws(ModelError) -> FloatBuffer {
            checkpoint.contains(name) ? try checkpoint.buffer(name, shape: [config.maxPositionEmbeddings, d]) : sinusoidal
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

        try checkpoint.checkAllUsed()

        embedScale = config.scaleEmbedding ? Float(Double(d).squareRoot()) : 1
        vocabulary = ModelVocabulary(
            decoderStartTokenId: config.decoderStartTokenId, eosTokenIds: config.eosTokenIds,
            padTokenId: config.padTokenId, targetSize: lmHead.outFeatures,
            forcedEOSTokenIds: config.forcedEOSTokenIds)
    }

    /// The token embeddings (`EmbeddingTable`s; one shared table when the vocabularies are shared) and the output
    /// projection (the tied decoder embedding or `lm_head`, with `final_logits_bias`). The float copies read for
    /// packing are freed on return, before the layers load, which keeps the load's peak memory down.
    private static func embeddingsAndOutput(
        _ config: MarianConfig, _ checkpoint: Checkpoint
    ) throws(ModelError) -> (encoder: EmbeddingTable, decoder: EmbeddingTable, output: Linear) {
        let d = config.dModel
        let (vocab, decoderVocab) = (config.vocabSize, config.shareEncoderDecoderEmbeddings ? config.vocabSize : config.decoderVocabSize)
        func firstPresent(_ names: [String]) -> String? { names.first(where: checkpoint.contains) }
        // A table from its halves when the checkpoint stores float16 (no float copy), else from floats, which are
        // returned too (the tied projection is packed from them).
        func table(_ name: String, rows: Int) throws(ModelError) -> (EmbeddingTable, FloatBuffer?) {
            var table: EmbeddingTable?
            if try checkpoint.withHalves([name], shape: [rows, d], { table = EmbeddingTable(halves: $0[0], rows: rows, width: d) }) {
                return (table!, nil)
            }
            let floats = try checkpoint.buffer(name, shape: [rows, d])
            return (EmbeddingTable(floats.pointer, rows: rows, width: d), floats)
        }
        // Embeddings: either only `model.shared.weight`, or that plus copies under the embed_tokens keys, or
        // (separate vocabularies) one table per side.
        let (encoderTable, decoderTable): (EmbeddingTable, EmbeddingTable)
        let decoderFloats: FloatBuffer?
        if config.shareEncoderDecoderEmbeddings {
            let names = ["model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"]
            guard let name = firstPresent(names) else { throw .missingTensor(name: names[0], path: checkpoint.path) }
            (encoderTable, decoderFloats) = try table(name, rows: vocab)
            decoderTable = encoderTable
            for copy in names where copy != name && checkpoint.contains(copy) {
                try checkpoint.checkUnused(copy, shape: [vocab, d])
            }
        } else {
            (encoderTable, _) = try table("model.encoder.embed_tokens.weight", rows: vocab)
            (decoderTable, decoderFloats) = try table("model.decoder.embed_tokens.weight", rows: decoderVocab)
            if checkpoint.contains("model.shared.weight") {
                try checkpoint.checkUnused("model.shared.weight", shape: [vocab, d])
            }
        }
        let head: Linear
        let bias = try checkpoint.buffer("final_logits_bias", shape: [1, decoderVocab])
        let computeType = checkpoint.computeType
        if config.tieWordEmbeddings {
            if checkpoint.contains("lm_head.weight") { try checkpoint.checkUnused("lm_head.weight", shape: [decoderVocab, d]) }
            if let decoderFloats {
                head = try Linear(weight: decoderFloats.pointer, bias: bias, inFeatures: d, outFeatures: decoderVocab, computeType: computeType)
            } else {
                head = try Linear(
                    halves: [UnsafeRawPointer(decoderTable.storedHalves!)], rowsPerPart: decoderVocab, bias: bias, inFeatures: d,
                    computeType: computeType)
            }
        } else {
            var halvesHead: Linear?
            _ = try checkpoint.withHalves(["lm_head.weight"], shape: [decoderVocab, d]) { (parts) throws(ModelError) in
                halvesHead = try Linear(halves: parts, rowsPerPart: decoderVocab, bias: bias, inFeatures: d, computeType: computeType)
            }
            if let halvesHead {
                head = halvesHead
            } else {
                let weight = try checkpoint.buffer("lm_head.weight", shape: [decoderVocab, d])
                head = try Linear(weight: weight.pointer, bias: bias, inFeatures: d, outFeatures: decoderVocab, computeType: computeType)
            }
        }
        return (encoderTable, decoderTable, head)
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

    /// Writes `embed_tokens(ids) · embed_scale + positions` for rows of ids at the given positions into `x`.
    private func embed(_ ids: [Int], positions: [Int], table: EmbeddingTable, positionTable: FloatBuffer, into x: UnsafeMutablePointer<Float>) {
        let d = config.dModel
        for (row, (id, position)) in zip(ids, positions).enumerated() {
            let token = x + row * d
            table.copyRow(id, to: token)
            let place = positionTable.pointer + position * d
            for j in 0..<d { token[j] = token[j] * embedScale + place[j] }
        }
    }

    public func encode(_ sentences: [[Int]]) -> EncoderOutput {
        let d = config.dModel
        let lengths = sentences.map(\.count)
        let maxLength = lengths.max() ?? 0
        for sentence in sentences {
            precondition(sentence.count <= config.maxPositionEmbeddings, "source of \(sentence.count) tokens exceeds max_position_embeddings")
            precondition(sentence.allSatisfy { $0 >= 0 && $0 < config.vocabSize }, "source id outside the vocabulary")
        }
        let groups = EncoderGroups(lengths: lengths)
        let scratch = EncoderScratch(rows: groups.maxRows, dim: d, ffnDim: config.encoderFFNDim, maxLength: maxLength)
        let hidden = groups.encode(width: d, batchMaxLength: maxLength) { group, groupMaxLength, x in
            var ids: [Int] = []
            for sentence in sentences[group] {
                ids += sentence + Array(repeating: config.padTokenId, count: groupMaxLength - sentence.count)
            }
            let positions = Array(repeating: Array(0..<groupMaxLength), count: group.count).flatMap { $0 }
            embed(ids, positions: positions, table: encoderEmbedTokens, positionTable: encoderPositions, into: x)
            for layer in encoderLayers {
                layer.apply(x, lengths: Array(lengths[group]), maxLength: groupMaxLength, scratch: scratch)
            }
        }
        return EncoderOutput(hiddenStates: hidden, lengths: lengths)
    }

    /// Scratch buffers of a decoder step, in `DecoderState.workspace`.
    private enum Scratch: Int, CaseIterable {
        case hidden, qkv, context, projected, query, ffn, scores
    }

    public func makeDecoderState(
        for encoded: EncoderOutput, rowSentences: [Int], maxLength: Int
    ) throws(XlateCoreError) -> DecoderState {
        let d = config.dModel
        let crossKeyValues = encoded.crossKeyValues(decoderLayers.map { $0.encoderAttn.kvProj })
        let rows = rowSentences.count
        let sizes: [Scratch: Int] = [
            .hidden: rows * d, .qkv: rows * 3 * d, .context: rows * d, .projected: rows * d, .query: rows * d,
            .ffn: rows * config.decoderFFNDim, .scores: max(config.maxPositionEmbeddings, encoded.maxLength),
        ]
        return try DecoderState(
            rowSentences: rowSentences, layers: decoderLayers.count, width: d,
            maxLength: min(maxLength, maxTargetLength), vocabularySize: lmHead.outFeatures, crossKeyValues: crossKeyValues,
            sourceLengths: encoded.lengths, maxSourceLength: encoded.maxLength,
            workspaceSizes: Scratch.allCases.map { sizes[$0]! })
    }

    public func decodeStep(_ tokens: [Int], state: inout DecoderState, crossAttention request: CrossAttentionRequest?) {
        precondition(tokens.count == state.rows, "one token per decoder row")
        state.reserveNextPosition()
        let d = config.dModel
        let (rows, step, capacity) = (state.rows, state.step, state.capacity)
        let (heads, headDim) = (config.decoderAttentionHeads, d / config.decoderAttentionHeads)
        let scaling = 1 / Float(headDim).squareRoot()
        func scratch(_ buffer: Scratch) -> UnsafeMutablePointer<Float> { state.workspace[buffer.rawValue].pointer }
        let (hidden, qkv, context, projected) = (scratch(.hidden), scratch(.qkv), scratch(.context), scratch(.projected))
        let (query, ffn, scores) = (scratch(.query), scratch(.ffn), scratch(.scores))
        let (rowSentences, sourceLengths, maxSource) = (state.rowSentences, state.sourceLengths, state.maxSourceLength)

        embed(tokens, positions: Array(repeating: step, count: rows), table: decoderEmbedTokens, positionTable: decoderPositions, into: hidden)
        var alignment = request == nil ? nil : state.takeCrossAttentionStorage()
        let headSet = request?.heads ?? Array(0..<heads)

        for (l, layer) in decoderLayers.enumerated() {
            // Masked self-attention over positions 0...step through the cache.
            let (keys, values) = state.cache(layer: l)
            layer.selfAttn.qkvProj.apply(hidden, rows: rows, into: qkv)  // [rows, 3·d]
            state.storeKeyValues(layer: l, fromFusedQKV: qkv)
            for r in 0..<rows {
                for h in 0..<heads {
                    attendOne(
                        query: qkv + r * 3 * d + h * headDim, keys: keys + r * capacity * d + h * headDim,
                        values: values + r * capacity * d + h * headDim, stride: d, count: step + 1, headDim: headDim,
                        scaling: scaling, scores: scores, output: context + r * d + h * headDim)
                }
            }
            layer.selfAttn.outProj.apply(context, rows: rows, into: projected)
            Ops.add(projected, to: hidden, count: rows * d)
            layer.selfAttnLayerNorm.apply(hidden, rows: rows)

            // Cross-attention over the row's source sentence; keys/values computed once in the state.
            layer.encoderAttn.qProj.apply(hidden, rows: rows, into: query)  // [rows, d]
            crossAttend(
                query: query, keyValues: state.crossKeyValues[l].pointer, rowSentences: rowSentences,
                sourceLengths: sourceLengths, maxSource: maxSource, heads: heads, headDim: headDim, scaling: scaling,
                scores: scores, context: context, recordAlignment: request?.layer == l, alignmentHeads: headSet,
                alignment: &alignment)
            layer.encoderAttn.outProj.apply(context, rows: rows, into: projected)
            Ops.add(projected, to: hidden, count: rows * d)
            layer.encoderAttnLayerNorm.apply(hidden, rows: rows)

            layer.feedForward.apply(hidden, rows: rows, hidden: ffn, into: projected)
            Ops.add(projected, to: hidden, count: rows * d)
            layer.finalLayerNorm.apply(hidden, rows: rows)
        }
        state.logits.withUnsafeMutableBufferPointer { lmHead.apply(hidden, rows: rows, into: $0.baseAddress!) }
        state.crossAttention = alignment
        state.step += 1
    }
}
