import Foundation

/// Which files of a hub repository make a model folder that xlate loads: configs, weights (safetensors, else
/// pytorch_model.bin) and tokenizer files. TensorFlow / Flax / Rust / ONNX weights, READMEs and the like are skipped.
enum ModelFiles {
    static let index = "model.safetensors.index.json"
    static let safetensors = "model.safetensors"
    static let pytorch = "pytorch_model.bin"
    /// Fetched when present: configs and the tokenizer files of Marian (`source.spm`, `target.spm`, `vocab.json`,
    /// `target_vocab.json` when the vocabularies are separate), T5 (`spiece.model`), M2M100, NLLB-200 and mBART-50
    /// (`sentencepiece.bpe.model`), and BART (`vocab.json` + `merges.txt`).
    static let optional = [
        "config.json", "generation_config.json", "source.spm", "target.spm", "vocab.json", "target_vocab.json",
        "tokenizer_config.json", "special_tokens_map.json", "spiece.model", "sentencepiece.bpe.model", "merges.txt",
    ]
    /// Fetched beside `sentencepiece.bpe.model` only: it lists NLLB's and mBART-50's language tokens (other
    /// families do not read it, and it can be large).
    static let tokenizerJSON = "tokenizer.json"

    /// The files to fetch from a repository holding `names`, the safetensors index (if any) first: the shards it
    /// names are added when it has been read (`shards(listedIn:available:)`).
    static func select(from names: Set<String>, repository: String, revision: String) throws(HubError) -> [String] {
        guard names.contains("config.json") else {
            throw .noModelFiles(repository: repository, revision: revision, reason: "it has no config.json")
        }
        let weights: String
        if names.contains(safetensors) {
            weights = safetensors
        } else if names.contains(index) {
            weights = index
        } else if names.contains(pytorch) {
            weights = pytorch
        } else {
            let found = names.filter { name in [".safetensors", ".bin", ".h5", ".msgpack"].contains { name.hasSuffix($0) } }
            throw .noModelFiles(
                repository: repository, revision: revision,
                reason: "it has no model.safetensors, model.safetensors.index.json or pytorch_model.bin"
                    + (found.isEmpty ? "" : " (weights found: \(found.sorted().joined(separator: ", ")))"))
        }
        let languageTokens = names.contains("sentencepiece.bpe.model") && names.contains(tokenizerJSON) ? [tokenizerJSON] : []
        return [weights] + optional.filter(names.contains) + languageTokens
    }

    /// The shard files named by a downloaded `model.safetensors.index.json`, each checked to be a plain file name
    /// that the repository holds (an index must not point outside the model folder).
    static func shards(listedIn indexFile: URL, available names: Set<String>, url: String) throws(HubError) -> [String] {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(contentsOf: indexFile)) } catch {
            throw .invalidResponse(url: url, reason: "\(index) is not valid JSON")
        }
        let map = (object as? [String: Any])?["weight_map"] as? [String: Any] ?? [:]
        let files = map.values.compactMap { $0 as? String }
        guard !files.isEmpty, files.count == map.count else {
            throw .invalidResponse(url: url, reason: "\(index) has no weight_map of tensor name → file")
        }
        let shards = Set(files).sorted()
        if let bad = shards.first(where: { $0.contains("/") || $0.hasPrefix(".") || !names.contains($0) }) {
            throw .invalidResponse(url: url, reason: "\(index) names '\(bad)', which is not a file of the repository")
        }
        return shards
    }
}
