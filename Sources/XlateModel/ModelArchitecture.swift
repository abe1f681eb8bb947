import Foundation
import XlateCore

/// The architectures xlate runs, chosen by `config.json`'s `model_type`.
public enum ModelArchitecture: String, Sendable, CaseIterable {
    /// `marian`: OPUS-MT models (`MarianModel`, `MarianTokenizer`).
    case marian
    /// `t5` and `mt5`: T5, Flan-T5, mT5 (`T5Model`, `T5Tokenizer`).
    case t5

    /// The architecture of a model folder, from its `config.json`.
    public init(directory: URL) throws(ModelError) {
        let path = directory.appendingPathComponent("config.json").path
        let type = try JSONFile(path: path).string("model_type") ?? "(none)"
        switch type {
        case "marian": self = .marian
        case "t5", "mt5": self = .t5
        default: throw .unsupportedModelType(type, path: path)
        }
    }

    /// Loads the model and tokenizer of a model folder of this architecture, its weight matrices computing in
    /// `computeType`.
    public func load(
        directory: URL, computeType: ComputeType = .float32
    ) throws(ModelError) -> (model: any Seq2SeqModel, tokenizer: any Tokenizer) {
        let configURL = directory.appendingPathComponent("config.json")
        let checkpoint = try Checkpoint(directory: directory)
        checkpoint.computeType = computeType
        switch self {
        case .marian:
            let config = try MarianConfig(contentsOf: configURL)
            let tokenizer = try MarianTokenizer(directory: directory, config: config)
            return (try MarianModel(config: config, checkpoint: checkpoint), tokenizer)
        case .t5:
            let config = try T5Config(contentsOf: configURL)
            let tokenizer = try T5Tokenizer(directory: directory, config: config)
            return (try T5Model(config: config, checkpoint: checkpoint), tokenizer)
        }
    }
}
