import Foundation
import XlateCore

/// A Marian / OPUS-MT translation model (`MarianMTModel` in transformers).
///
/// Post-norm Transformer with scaled embeddings, sinusoidal positions, `final_logits_bias` and an output
/// projection tied to the decoder embedding (or a separate `lm_head`).
public final class MarianModel: EncoderDecoderModel, @unchecked Sendable {
    public let config: MarianConfig

    /// Loads the weights of a model folder (config.json + safetensors), validating every tensor.
    public convenience init(directory: URL) throws(ModelError) {
        let config = try MarianConfig(contentsOf: directory.appendingPathComponent("config.json"))
        try self.init(config: config, checkpoint: try Checkpoint(directory: directory))
    }

    /// Maps the checkpoint onto the skeleton: `model.shared.weight` (or `model.{encoder,decoder}.embed_tokens.weight`)
    /// `[vocab, d]`, `model.{encoder,decoder}.embed_positions.weight` or sinusoidal `[maxPositions, d]`,
    /// `model.{encoder,decoder}.layers.N`, and `lm_head.weight` (or the tied decoder embedding) `[decoderVocab, d]`
    /// with `final_logits_bias`.
    public init(config: MarianConfig, checkpoint: Checkpoint) throws(ModelError) {
        self.config = config
        let d = config.dModel
        let (encoderEmbedTokens, decoderEmbedTokens, lmHead) = try bartEmbeddingsAndOutput(
            checkpoint, vocab: config.vocabSize, decoderVocab: config.decoderVocabSize, dim: d,
            shared: config.shareEncoderDecoderEmbeddings, tied: config.tieWordEmbeddings, hasFinalLogitsBias: true)
        let sinusoidal = FloatBuffer(Positions.sinusoidal(count: config.maxPositionEmbeddings, dim: d))
        func positions(_ name: String) throws(ModelError) -> Positions {
            .table(PositionTable(checkpoint.contains(name) ? try checkpoint.buffer(name, shape: [config.maxPositionEmbeddings, d]) : sinusoidal))
        }
        let encoderPositions = try positions("model.encoder.embed_positions.weight")
        let decoderPositions = try positions("model.decoder.embed_positions.weight")

        var encoderLayers: [EncoderLayer] = []
        for i in 0..<config.encoderLayers {
            encoderLayers.append(try EncoderLayer(checkpoint, "model.encoder.layers.\(i)", bart: config.encoderSizes))
        }
        var decoderLayers: [DecoderLayer] = []
        for i in 0..<config.decoderLayers {
            decoderLayers.append(try DecoderLayer(checkpoint, "model.decoder.layers.\(i)", bart: config.decoderSizes))
        }
        try checkpoint.checkAllUsed()

        super.init(
            encoder: EncoderStack(embedding: encoderEmbedTokens, positions: encoderPositions, layers: encoderLayers, finalNorm: nil),
            decoder: DecoderStack(
                embedding: decoderEmbedTokens, positions: decoderPositions, layers: decoderLayers, finalNorm: nil,
                outputProjection: lmHead),
            settings: EncoderDecoderSettings(
                normPlacement: .post, embedScale: config.scaleEmbedding ? Float(Double(d).squareRoot()) : 1, outputScale: 1,
                sourceVocabularySize: config.vocabSize, maxSourceLength: config.maxPositionEmbeddings,
                maxTargetLength: config.maxPositionEmbeddings,
                vocabulary: ModelVocabulary(
                    decoderStartTokenId: config.decoderStartTokenId, eosTokenIds: config.eosTokenIds,
                    padTokenId: config.padTokenId, targetSize: lmHead.outFeatures,
                    forcedEOSTokenIds: config.forcedEOSTokenIds)))
    }
}
