import Foundation
import XlateCore

/// The architectures xlate runs, chosen by `config.json`'s `model_type`.
public enum ModelArchitecture: String, Sendable, CaseIterable {
    /// `marian`: OPUS-MT models (`MarianModel`, `MarianTokenizer`).
    case marian
    /// `t5` and `mt5`: T5, Flan-T5, mT5 (`T5Model`, `T5Tokenizer`).
    case t5
    /// `m2m_100`: M2M100 and NLLB-200 (`BartModel`, `MultilingualTokenizer` in the M2M100 or NLLB style, told apart
    /// by tokenizer_config.json's `tokenizer_class`, else by the presence of `vocab.json`).
    case m2m100 = "m2m_100"
    /// `bart`: BART (`BartModel`, `ByteLevelBPETokenizer`: `vocab.json` + `merges.txt`).
    case bart
    /// `mbart`: mBART-50 (`BartModel`, `MultilingualTokenizer` in the mBART-50 style: `en_XX` codes).
    case mbart

    /// The architecture of a model folder, from its `config.json`.
    public init(directory: URL) throws(ModelError) {
        let path = directory.appendingPathComponent("config.json").path
        let type = try JSONFile(path: path).string("model_type") ?? "(none)"
        switch type {
        case "marian": self = .marian
        case "t5", "mt5": self = .t5
        case "m2m_100": self = .m2m100
        case "mbart": self = .mbart
        case "bart": self = .bart
        default: throw .unsupportedModelType(type, path: path)
        }
    }

    /// Whether one model serves many language pairs (its source and target languages are tokens).
    public var isMultilingual: Bool { self == .m2m100 || self == .mbart }

    /// The languages of a multilingual model folder, from its tokenizer files (the weights are not read); nil for
    /// a model of one language pair.
    public func languages(directory: URL) throws(ModelError) -> LanguageCodes? {
        guard isMultilingual else { return nil }
        let config = try BartConfig(contentsOf: directory.appendingPathComponent("config.json"))
        return try MultilingualTokenizer(
            directory: directory, style: try tokenizerStyle(directory), vocabularySize: config.vocabSize
        ).languageTable
    }

    /// Loads the model and tokenizer of a model folder of this architecture, its weight matrices computing in
    /// `computeType`. The tokenizer loads on another thread while the weights are read and packed.
    public func load(
        directory: URL, computeType: ComputeType = .float32
    ) throws(ModelError) -> (model: any Seq2SeqModel, tokenizer: any Tokenizer) {
        let configURL = directory.appendingPathComponent("config.json")
        let tokenizer: OnAnotherThread<any Tokenizer>
        let model: Result<any Seq2SeqModel, ModelError>
        switch self {
        case .marian:
            let config = try MarianConfig(contentsOf: configURL)
            tokenizer = OnAnotherThread { () throws(ModelError) in try MarianTokenizer(directory: directory, config: config) }
            model = Result { () throws(ModelError) in
                try MarianModel(config: config, checkpoint: try Self.checkpoint(directory, computeType))
            }
        case .t5:
            let config = try T5Config(contentsOf: configURL)
            tokenizer = OnAnotherThread { () throws(ModelError) in try T5Tokenizer(directory: directory, config: config) }
            model = Result { () throws(ModelError) in
                try T5Model(config: config, checkpoint: try Self.checkpoint(directory, computeType))
            }
        case .bart:
            let config = try BartConfig(contentsOf: configURL)
            tokenizer = OnAnotherThread { () throws(ModelError) in
                try ByteLevelBPETokenizer(directory: directory, vocabularySize: config.vocabSize)
            }
            model = Result { () throws(ModelError) in
                try BartModel(config: config, checkpoint: try Self.checkpoint(directory, computeType))
            }
        case .m2m100, .mbart:
            let config = try BartConfig(contentsOf: configURL)
            let style = try tokenizerStyle(directory)
            tokenizer = OnAnotherThread { () throws(ModelError) in
                try MultilingualTokenizer(directory: directory, style: style, vocabularySize: config.vocabSize)
            }
            model = Result { () throws(ModelError) in
                try BartModel(config: config, checkpoint: try Self.checkpoint(directory, computeType))
            }
        }
        // The tokenizer's error first when both fail, as when they loaded one after the other.
        let loadedTokenizer = try tokenizer.value()
        return (try model.get(), loadedTokenizer)
    }

    /// The tokenizer of a multilingual folder. `m2m_100`: NLLB-200 or M2M100, by `tokenizer_class` in
    /// tokenizer_config.json, else by whether the folder has `vocab.json` (M2M100's). `mbart`: mBART-50 (mBART-25's
    /// `MBartTokenizer`, which puts the language code after `</s>`, is refused).
    private func tokenizerStyle(_ directory: URL) throws(ModelError) -> LanguageCodes.Style {
        let config = directory.appendingPathComponent("tokenizer_config.json").path
        let name = ModelFile.exists(config) ? try JSONFile(path: config).string("tokenizer_class") : nil
        if self == .mbart {
            if let name, name.hasPrefix("MBartTokenizer") {
                throw .tokenizer(
                    path: config,
                    reason: "\(name) (mBART-25's layout: tokens </s> [language]) is not supported; xlate runs mBART-50 models (MBart50Tokenizer)")
            }
            return .mbart50
        }
        if let name, name.hasPrefix("Nllb") { return .nllb }
        if let name, name.hasPrefix("M2M100") { return .m2m100 }
        return ModelFile.exists(directory.appendingPathComponent("vocab.json").path) ? .m2m100 : .nllb
    }

    private static func checkpoint(_ directory: URL, _ computeType: ComputeType) throws(ModelError) -> Checkpoint {
        let checkpoint = try Checkpoint(directory: directory)
        checkpoint.computeType = computeType
        return checkpoint
    }
}

/// Work run on a thread of its own, started at once; `value()` waits for its result.
final class OnAnotherThread<Value>: @unchecked Sendable {
    private var result: Result<Value, ModelError>?
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () throws(ModelError) -> Value) {
        let thread = Thread {
            self.result = Result(catching: work)
            self.done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    func value() throws(ModelError) -> Value {
        done.wait()
        return try result!.get()
    }
}
