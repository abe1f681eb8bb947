import Foundation
import XlateCore

/// A T5, Flan-T5 or mT5 model (`T5ForConditionalGeneration` / `MT5ForConditionalGeneration` in transformers).
///
/// Pre-norm Transformer with RMS norms, a shared token embedding (not scaled, no position embeddings), a relative
/// position bias computed by the first layer of each stack and added to the self-attention scores of all its
/// layers, no 1/sqrt(d) attention scaling, final norms after both stacks, and an output projection that is the
/// shared embedding (the decoder output rescaled by `d_model^-0.5`) or a separate `lm_head`.
public final class T5Model: EncoderDecoderModel, @unchecked Sendable {
    public let config: T5Config

    /// Loads the weights of a model folder (config.json + safetensors), validating every tensor.
    public convenience init(directory: URL) throws(ModelError) {
        let config = try T5Config(contentsOf: directory.appendingPathComponent("config.json"))
        try self.init(config: config, checkpoint: try Checkpoint(directory: directory))
    }

    /// Maps the checkpoint onto the skeleton: `shared.weight` (or `encoder/decoder.embed_tokens.weight`) `[vocab, d]`
    /// for both stacks, `{encoder,decoder}.block.N`, the relative position bias of each stack's first block,
    /// `{encoder,decoder}.final_layer_norm`, and `lm_head.weight` or the shared embedding `[vocab, d]`.
    public init(config: T5Config, checkpoint: Checkpoint) throws(ModelError) {
        self.config = config
        let (d, vocab) = (config.dModel, config.vocabSize)

        // The embedding is `shared.weight`; checkpoints may also store its copies under embed_tokens.
        let names = ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]
        guard let name = names.first(where: checkpoint.contains) else { throw .missingTensor(name: names[0], path: checkpoint.path) }
        let embeddings = try checkpoint.buffer(name, shape: [vocab, d])  // floats until the lm_head is packed
        for copy in names where copy != name && checkpoint.contains(copy) {
            try checkpoint.checkUnused(copy, shape: [vocab, d])
        }
        // As transformers 5.23 loads: a stored lm_head that differs from the embedding is used as is; one that
        // equals it, or none, means the embedding. Whether the output is rescaled is the config's business.
        var head = embeddings
        if checkpoint.contains("lm_head.weight") {
            let stored = try checkpoint.buffer("lm_head.weight", shape: [vocab, d])
            if memcmp(stored.pointer, embeddings.pointer, vocab * d * MemoryLayout<Float>.size) != 0 { head = stored }
        }
        let lmHead = try Linear(weight: head.pointer, bias: nil, inFeatures: d, outFeatures: vocab, computeType: checkpoint.computeType)
        // A tied head is the embedding table too: one copy of the vocabulary (int8: dequantised rows).
        let embedTokens = head === embeddings
            ? EmbeddingTable(rowsOf: lmHead.weight) : EmbeddingTable(embeddings.pointer, rows: vocab, width: d)

        var encoderLayers: [EncoderLayer] = []
        for i in 0..<config.encoderLayers {
            encoderLayers.append(try EncoderLayer(checkpoint, "encoder.block.\(i)", t5: config))
        }
        var decoderLayers: [DecoderLayer] = []
        for i in 0..<config.decoderLayers {
            decoderLayers.append(try DecoderLayer(checkpoint, "decoder.block.\(i)", t5: config))
        }
        func bias(_ stack: String, bidirectional: Bool) throws(ModelError) -> Positions {
            .relativeBias(
                try RelativePositionBias(
                    checkpoint, "\(stack).block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                    buckets: config.relativeAttentionNumBuckets, heads: config.numHeads,
                    maxDistance: config.relativeAttentionMaxDistance, bidirectional: bidirectional, span: config.maxPositions))
        }
        let encoderBias = try bias("encoder", bidirectional: true)
        let decoderBias = try bias("decoder", bidirectional: false)
        // Old checkpoints carry a cross-attention bias that T5 never uses (transformers ignores it too).
        let unusedCrossBias = "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"
        if checkpoint.contains(unusedCrossBias) {
            try checkpoint.checkUnused(unusedCrossBias, shape: [config.relativeAttentionNumBuckets, config.numHeads])
        }
        let encoderFinalNorm = try Norm.t5(checkpoint, "encoder.final_layer_norm", config: config)
        let decoderFinalNorm = try Norm.t5(checkpoint, "decoder.final_layer_norm", config: config)

        try checkpoint.checkAllUsed()

        super.init(
            encoder: EncoderStack(embedding: embedTokens, positions: encoderBias, layers: encoderLayers, finalNorm: encoderFinalNorm),
            decoder: DecoderStack(
                embedding: embedTokens, positions: decoderBias, layers: decoderLayers, finalNorm: decoderFinalNorm,
                outputProjection: lmHead),
            settings: EncoderDecoderSettings(
                normPlacement: .pre, embedScale: 1, outputScale: config.scaleDecoderOutputs ? Float(pow(Double(d), -0.5)) : 1,
                sourceVocabularySize: vocab, maxSourceLength: config.maxPositions, maxTargetLength: config.maxPositions,
                vocabulary: ModelVocabulary(
                    decoderStartTokenId: config.decoderStartTokenId, eosTokenIds: config.eosTokenIds,
                    padTokenId: config.padTokenId, targetSize: vocab, forcedEOSTokenIds: config.forcedEOSTokenIds)))
    }
}
