import Foundation
import XlateCore

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
        let crossKeyValues = encoded.crossKeyValues(decoderLayers.map { $0.crossAttention.kvProj })
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
            layer.selfAttention.qkvProj.apply(normed, rows: rows, into: qkv)  // [rows, 3·inner]
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
            layer.selfAttention.outProj.apply(context, rows: rows, into: projected)
            Ops.add(projected, to: hidden, count: rows * d)

            // Cross-attention over the row's source sentence (no position bias); keys/values computed once.
            layer.crossAttentionNorm.apply(hidden, rows: rows, into: normed)
            layer.crossAttention.qProj.apply(normed, rows: rows, into: query)  // [rows, inner]
            crossAttend(
                query: query, keyValues: state.crossKeyValues[l].pointer, rowSentences: rowSentences,
                sourceLengths: sourceLengths, maxSource: maxSource, heads: heads, headDim: headDim, scaling: 1,
                scores: scores, context: context, recordAlignment: request?.layer == l, alignmentHeads: headSet,
                alignment: &alignment)
            layer.crossAttention.outProj.apply(context, rows: rows, into: projected)
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
