import Foundation
import FuzzSupport
@testable import XlateModel

/// Any bytes as a model folder's `config.json` and `generation_config.json`: every reader either fails with a
/// `ModelError` that names the file, or returns values inside the ranges its validation promises.
let scratch = ScratchFolder()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInput(data, size) { bytes in
        _ = JSONValue.parse(Data(bytes))
        let config = scratch.write(bytes, to: "config.json")
        let generation = scratch.write(bytes, to: "generation_config.json")

        func expectNamed(_ error: ModelError, _ path: String) {
            invariant(error.localizedDescription.contains(path), "error does not name \(path): \(error)")
        }
        do throws(ModelError) { _ = try ModelArchitecture(directory: scratch.url) } catch { expectNamed(error, config) }
        do throws(ModelError) { check(try MarianConfig(contentsOf: URL(fileURLWithPath: config))) } catch { expectNamed(error, config) }
        do throws(ModelError) { check(try T5Config(contentsOf: URL(fileURLWithPath: config))) } catch { expectNamed(error, config) }
        do throws(ModelError) { _ = try GenerationDefaults(modelDirectory: scratch.url) } catch { expectNamed(error, generation) }
    }
    return 0
}

/// What `MarianConfig`'s validation promises the model code (sizes it allocates by, ids it indexes with).
func check(_ c: MarianConfig) {
    let sizes = [c.vocabSize, c.decoderVocabSize, c.dModel, c.encoderLayers, c.decoderLayers, c.encoderAttentionHeads,
                 c.decoderAttentionHeads, c.encoderFFNDim, c.decoderFFNDim, c.maxPositionEmbeddings]
    invariant(sizes.allSatisfy { (1...(1 << 24)).contains($0) }, "Marian size out of range: \(sizes)")
    invariant(c.dModel % c.encoderAttentionHeads == 0 && c.dModel % c.decoderAttentionHeads == 0 && c.dModel % 2 == 0, "d_model \(c.dModel)")
    invariant(!c.shareEncoderDecoderEmbeddings || c.vocabSize == c.decoderVocabSize, "shared vocabularies differ")
    let ids = [c.padTokenId, c.decoderStartTokenId] + c.eosTokenIds + c.forcedEOSTokenIds
    invariant(ids.allSatisfy { (0..<c.decoderVocabSize).contains($0) }, "Marian id out of range: \(ids)")
    invariant(!c.eosTokenIds.isEmpty, "no eos id")
}

/// What `T5Config`'s validation promises.
func check(_ c: T5Config) {
    let sizes = [c.vocabSize, c.dModel, c.dKV, c.dFF, c.encoderLayers, c.decoderLayers, c.numHeads,
                 c.relativeAttentionNumBuckets, c.relativeAttentionMaxDistance, c.maxPositions]
    invariant(sizes.allSatisfy { (1...(1 << 24)).contains($0) }, "T5 size out of range: \(sizes)")
    invariant(c.relativeAttentionNumBuckets >= 4, "buckets \(c.relativeAttentionNumBuckets)")
    invariant(c.layerNormEpsilon.isFinite && c.layerNormEpsilon > 0, "epsilon \(c.layerNormEpsilon)")
    let ids = [c.padTokenId, c.decoderStartTokenId] + c.eosTokenIds + c.forcedEOSTokenIds
    invariant(ids.allSatisfy { (0..<c.vocabSize).contains($0) }, "T5 id out of range: \(ids)")
    invariant(!c.eosTokenIds.isEmpty, "no eos id")
}
