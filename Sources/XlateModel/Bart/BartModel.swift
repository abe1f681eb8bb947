import Foundation
import XlateCore

/// A BART, mBART-50 or M2M100 / NLLB-200 model (`BartForConditionalGeneration`,
/// `MBartForConditionalGeneration`, `M2M100ForConditionalGeneration` in transformers): Marian's layers (the same
/// checkpoint keys) with the family's norm placement, positions, extra norms and output bias (`BartFamily`).
public final class BartModel: EncoderDecoderModel, @unchecked Sendable {
    public let config: BartConfig

    /// Loads the weights of a model folder (config.json + safetensors), validating every tensor.
    public convenience init(directory: URL) throws(ModelError) {
        let config = try BartConfig(contentsOf: directory.appendingPathComponent("config.json"))
        try self.init(config: config, checkpoint: try Checkpoint(directory: directory))
    }

    /// Maps the checkpoint onto the skeleton: `model.shared.weight` (or `model.{encoder,decoder}.embed_tokens.weight`)
    /// `[vocab, d]`; BART / mBART: `model.{encoder,decoder}.embed_positions.weight` `[maxPositions + 2, d]` and
    /// `model.{encoder,decoder}.layernorm_embedding`; `model.{encoder,decoder}.layers.N`; mBART / M2M100:
    /// `model.{encoder,decoder}.layer_norm`; the tied embedding or `lm_head.weight`, with `final_logits_bias` (BART,
    /// mBART).
    public init(config: BartConfig, checkpoint: Checkpoint) throws(ModelError) {
        self.config = config
        let (d, family) = (config.dModel, config.family)
        let (encoderEmbedTokens, decoderEmbedTokens, lmHead) = try bartEmbeddingsAndOutput(
            checkpoint, vocab: config.vocabSize, decoderVocab: config.vocabSize, dim: d, shared: true,
            tied: config.tieWordEmbeddings, hasFinalLogitsBias: family.hasFinalLogitsBias)
        // BART's learned positions start at row 2 (`BartLearnedPositionalEmbedding.offset`); M2M100's sinusoidal
        // ones at `pad + 1`, counting only tokens that are not padding (`create_position_ids_from_input_ids`), from a
        // table transformers grows on demand: `maxPositionEmbeddings` positions after the offset here.
        let sinusoidal: FloatBuffer? = family == .m2m100
            ? FloatBuffer(Positions.fairseqSinusoidal(
                count: config.maxPositionEmbeddings + config.padTokenId + 1, dim: d, padding: config.padTokenId))
            : nil
        func positions(_ stack: String) throws(ModelError) -> Positions {
            if let sinusoidal {
                return .table(PositionTable(sinusoidal, offset: config.padTokenId + 1, padding: config.padTokenId))
            }
            let learned = try checkpoint.buffer("model.\(stack).embed_positions.weight", shape: [config.maxPositionEmbeddings + 2, d])
            return .table(PositionTable(learned, offset: 2))
        }
        func norm(_ name: String, when present: Bool) throws(ModelError) -> Norm? {
            present ? .layerNorm(try LayerNorm(checkpoint, name, dim: d)) : nil
        }
        let encoderPositions = try positions("encoder")
        let decoderPositions = try positions("decoder")
        let encoderEmbeddingNorm = try norm("model.encoder.layernorm_embedding", when: family.hasEmbeddingNorm)
        let decoderEmbeddingNorm = try norm("model.decoder.layernorm_embedding", when: family.hasEmbeddingNorm)

        var encoderLayers: [EncoderLayer] = []
        for i in 0..<config.encoderLayers {
            encoderLayers.append(try EncoderLayer(checkpoint, "model.encoder.layers.\(i)", bart: config.encoderSizes))
        }
        var decoderLayers: [DecoderLayer] = []
        for i in 0..<config.decoderLayers {
            decoderLayers.append(try DecoderLayer(checkpoint, "model.decoder.layers.\(i)", bart: config.decoderSizes))
        }
        let encoderFinalNorm = try norm("model.encoder.layer_norm", when: family.hasFinalNorms)
        let decoderFinalNorm = try norm("model.decoder.layer_norm", when: family.hasFinalNorms)
        try checkpoint.checkAllUsed()

        super.init(
            encoder: EncoderStack(
                embedding: encoderEmbedTokens, positions: encoderPositions, embeddingNorm: encoderEmbeddingNorm,
                layers: encoderLayers, finalNorm: encoderFinalNorm),
            decoder: DecoderStack(
                embedding: decoderEmbedTokens, positions: decoderPositions, embeddingNorm: decoderEmbeddingNorm,
                layers: decoderLayers, finalNorm: decoderFinalNorm, outputProjection: lmHead),
            settings: EncoderDecoderSettings(
                normPlacement: family.normPlacement, embedScale: config.scaleEmbedding ? Float(Double(d).squareRoot()) : 1,
                outputScale: 1, sourceVocabularySize: config.vocabSize, maxSourceLength: config.maxPositionEmbeddings,
                maxTargetLength: config.maxPositionEmbeddings,
                vocabulary: ModelVocabulary(
                    decoderStartTokenId: config.decoderStartTokenId, eosTokenIds: config.eosTokenIds,
                    padTokenId: config.padTokenId, targetSize: lmHead.outFeatures,
                    forcedEOSTokenIds: config.forcedEOSTokenIds)))
    }
}
