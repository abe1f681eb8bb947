import Foundation

/// Default decoding settings shipped with a model: `generation_config.json`, or the same keys in `config.json`
/// for older checkpoints (what transformers' `GenerationConfig.from_model_config` reads).
public struct GenerationDefaults: Sendable, Equatable {
    public var maxLength: Int?
    public var maxNewTokens: Int?
    public var numBeams: Int?
    public var lengthPenalty: Double?
    /// `true`, `false` or `"never"`.
    public var earlyStopping: String?
    public var numReturnSequences: Int?
    public var badWordsIds: [[Int]]?
    public var forcedEOSTokenIds: [Int]?
    /// `forced_bos_token_id`: the first generated token (BART's `<s>`; multilingual models set it per target language).
    public var forcedBOSTokenId: Int?
    public var eosTokenIds: [Int]?
    public var noRepeatNgramSize: Int?
    public var repetitionPenalty: Double?
    public var minLength: Int?
    /// `[[layer, head], ...]`: the cross-attention heads that align words best (Whisper's `alignment_heads`).
    public var alignmentHeads: [[Int]]?
    /// The file these settings were read from (`generation_config.json` or `config.json`); nil when made in code.
    public var path: String?

    public init() {}

    /// Reads `generation_config.json` when the folder has one, else the generation keys of `config.json`.
    public init(modelDirectory: URL) throws(ModelError) {
        let generation = modelDirectory.appendingPathComponent("generation_config.json")
        let json = try JSONFile(
            path: ModelFile.exists(generation.path)
                ? generation.path : modelDirectory.appendingPathComponent("config.json").path)
        path = json.path
        maxLength = try json.int("max_length")
        maxNewTokens = try json.int("max_new_tokens")
        numBeams = try json.int("num_beams")
        lengthPenalty = try json.double("length_penalty")
        if json.has("early_stopping") {
            if let flag = json.object["early_stopping"]?.boolValue {
                earlyStopping = flag ? "true" : "false"
            } else if json.object["early_stopping"]?.stringValue == "never" {
                earlyStopping = "never"
            } else {
                throw .invalidConfig(path: json.path, reason: "\"early_stopping\" must be true, false or \"never\"")
            }
        }
        numReturnSequences = try json.int("num_return_sequences")
        badWordsIds = try json.idLists("bad_words_ids")
        forcedEOSTokenIds = try json.ids("forced_eos_token_id")
        forcedBOSTokenId = try json.int("forced_bos_token_id")
        eosTokenIds = try json.ids("eos_token_id")
        noRepeatNgramSize = try json.int("no_repeat_ngram_size")
        repetitionPenalty = try json.double("repetition_penalty")
        minLength = try json.int("min_length")
        alignmentHeads = try json.idLists("alignment_heads")
    }
}
