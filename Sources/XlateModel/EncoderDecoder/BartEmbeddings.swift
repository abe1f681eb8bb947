import XlateCore

/// The token embeddings of a checkpoint in BART's layout (Marian, BART, mBART, M2M100): `EmbeddingTable`s, one
/// shared table when `shared`, and the output projection (the tied decoder embedding when `tied`, else `lm_head`,
/// with `final_logits_bias` `[1, decoderVocab]` when the family has one). The float copies read for packing are
/// freed on return, before the layers load, which keeps the load's peak memory down.
func bartEmbeddingsAndOutput(
    _ checkpoint: Checkpoint, vocab: Int, decoderVocab: Int, dim d: Int, shared: Bool, tied: Bool, hasFinalLogitsBias: Bool
) throws(ModelError) -> (encoder: EmbeddingTable, decoder: EmbeddingTable, output: Linear) {
    let decoderVocab = shared ? vocab : decoderVocab
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
    if shared {
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
    let bias = hasFinalLogitsBias ? try checkpoint.buffer("final_logits_bias", shape: [1, decoderVocab]) : nil
    let computeType = checkpoint.computeType
    if tied {
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
