import XlateCore

/// The token embeddings of a checkpoint in BART's layout (Marian, BART, mBART, M2M100): `EmbeddingTable`s, one
/// shared table when `shared`, and the output projection (the tied decoder embedding when `tied`, else `lm_head`,
/// with `final_logits_bias` `[1, decoderVocab]` when the family has one). A tied projection is the decoder's table
/// too (`EmbeddingTable(rowsOf:)`; int8: dequantised rows): the vocabulary is the largest matrix of these models
/// (58k × 512 for opus-mt-en-de, 256k × 1024 for NLLB-200), stored once. Float copies read for packing are freed on return, before
/// the layers load, which keeps the load's peak memory down.
func bartEmbeddingsAndOutput(
    _ checkpoint: Checkpoint, vocab: Int, decoderVocab: Int, dim d: Int, shared: Bool, tied: Bool, hasFinalLogitsBias: Bool
) throws(ModelError) -> (encoder: EmbeddingTable, decoder: EmbeddingTable, output: Linear) {
    let decoderVocab = shared ? vocab : decoderVocab
    let computeType = checkpoint.computeType
    func firstPresent(_ names: [String]) -> String? { names.first(where: checkpoint.contains) }
    // A table from its halves when the checkpoint stores float16 (no float copy), else from floats.
    func table(_ name: String, rows: Int) throws(ModelError) -> EmbeddingTable {
        var table: EmbeddingTable?
        if try checkpoint.withHalves([name], shape: [rows, d], { table = EmbeddingTable(halves: $0[0], rows: rows, width: d) }) {
            return table!
        }
        let floats = try checkpoint.buffer(name, shape: [rows, d])
        return EmbeddingTable(floats.pointer, rows: rows, width: d)
    }
    let bias = hasFinalLogitsBias ? try checkpoint.buffer("final_logits_bias", shape: [1, decoderVocab]) : nil
    // The projection of the tensor `name` `[decoderVocab, d]`, packed from its halves when float16.
    func projection(_ name: String) throws(ModelError) -> Linear {
        var halvesHead: Linear?
        _ = try checkpoint.withHalves([name], shape: [decoderVocab, d]) { (parts) throws(ModelError) in
            halvesHead = try Linear(halves: parts, rowsPerPart: decoderVocab, bias: bias, inFeatures: d, computeType: computeType)
        }
        if let halvesHead { return halvesHead }
        let weight = try checkpoint.buffer(name, shape: [decoderVocab, d])
        return try Linear(weight: weight.pointer, bias: bias, inFeatures: d, outFeatures: decoderVocab, computeType: computeType)
    }
    // Embeddings: either only `model.shared.weight`, or that plus copies under the embed_tokens keys, or
    // (separate vocabularies) one table per side.
    let sharedNames = ["model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"]
    let decoderName: String
    if shared {
        guard let name = firstPresent(sharedNames) else { throw .missingTensor(name: sharedNames[0], path: checkpoint.path) }
        decoderName = name
        for copy in sharedNames where copy != name && checkpoint.contains(copy) {
            try checkpoint.checkUnused(copy, shape: [vocab, d])
        }
    } else {
        decoderName = "model.decoder.embed_tokens.weight"
        if checkpoint.contains("model.shared.weight") {
            try checkpoint.checkUnused("model.shared.weight", shape: [vocab, d])
        }
    }
    let head: Linear
    let decoderTable: EmbeddingTable
    if tied {
        if checkpoint.contains("lm_head.weight") { try checkpoint.checkUnused("lm_head.weight", shape: [decoderVocab, d]) }
        head = try projection(decoderName)
        decoderTable = EmbeddingTable(rowsOf: head.weight)
    } else {
        head = try projection("lm_head.weight")
        decoderTable = try table(decoderName, rows: decoderVocab)
    }
    let encoderTable = shared ? decoderTable : try table("model.encoder.embed_tokens.weight", rows: vocab)
    return (encoderTable, decoderTable, head)
}
