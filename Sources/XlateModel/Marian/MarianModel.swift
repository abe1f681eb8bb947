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
        let (encoderEmbedTokens, decoderEmbedTokens, lmHead) = try MarianModel.embeddingsAndOutput(config, checkpoint)
        let sinusoidal = FloatBuffer(Positions.sinusoidal(count: config.maxPositionEmbeddings, dim: d))
        func positions(_ name: String) throws(ModelError) -> Positions {
            .table(checkpoint.contains(name) ? try checkpoint.buffer(name, shape: [config.maxPositionEmbeddings, d]) : sinusoidal)
        }
        let encoderPositions = try positions("model.encoder.embed_positions.weight")
        let decoderPositions = try positions("model.decoder.embed_positions.weight")

        var encoderLayers: [EncoderLayer] = []
        for i in 0..<config.encoderLayers {
            encoderLayers.append(try EncoderLayer(checkpoint, "model.encoder.layers.\(i)", marian: config))
        }
        var decoderLayers: [DecoderLayer] = []
        for i in 0..<config.decoderLayers {
            decoderLayers.append(try DecoderLayer(checkpoint, "model.decoder.layers.\(i)", marian: config))
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
}
