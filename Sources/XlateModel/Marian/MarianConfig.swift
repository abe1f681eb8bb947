import Foundation
import XlateCore

/// A JSON object read from a model folder, with typed accessors that report the file and key on error.
struct JSONFile {
    let path: String
    let object: [String: JSONValue]

    init(path: String) throws(ModelError) {
        self.path = path
        let data = try ModelFile.read(path, limit: ModelFile.Limit.config, hint: "Every model folder needs it (Hugging Face layout).")
        guard let object = JSONValue.parse(data)?.objectValue else {
            throw .invalidConfig(path: path, reason: "not a JSON object")
        }
        self.object = object
    }

    func has(_ key: String) -> Bool { object[key] != nil && object[key] != .null }

    private func value<T>(_ key: String, _ kind: String, _ get: (JSONValue) -> T?) throws(ModelError) -> T? {
        guard has(key), let value = object[key] else { return nil }
        guard let typed = get(value) else {
            throw .invalidConfig(path: path, reason: "\"\(key)\" must be \(kind), got \(value)")
        }
        return typed
    }

    func int(_ key: String) throws(ModelError) -> Int? { try value(key, "an integer", \.intValue) }

    func int(_ key: String, default fallback: Int) throws(ModelError) -> Int { try int(key) ?? fallback }

    func requiredInt(_ key: String) throws(ModelError) -> Int {
        guard let value = try int(key) else { throw .invalidConfig(path: path, reason: "\"\(key)\" is missing") }
        return value
    }

    func double(_ key: String) throws(ModelError) -> Double? { try value(key, "a number", \.doubleValue) }

    func bool(_ key: String) throws(ModelError) -> Bool? { try value(key, "true or false", \.boolValue) }

    func string(_ key: String) throws(ModelError) -> String? { try value(key, "a string", \.stringValue) }

    /// An id or a list of ids (as `eos_token_id` may be either).
    func ids(_ key: String) throws(ModelError) -> [Int]? {
        try value(key, "a token id or a list of token ids") { $0.intValue.map { [$0] } ?? $0.intArray }
    }

    /// A list of id sequences (`bad_words_ids`).
    func idLists(_ key: String) throws(ModelError) -> [[Int]]? {
        try value(key, "a list of lists of token ids") { value in
            guard let lists = value.arrayValue?.map(\.intArray), lists.allSatisfy({ $0 != nil }) else { return nil }
            return lists.map { $0! }
        }
    }
}

/// The hyperparameters of a Marian (OPUS-MT) model, from `config.json` (`MarianConfig` in transformers).
public struct MarianConfig: Sendable, Equatable {
    public var vocabSize: Int  // vocab_size
    public var decoderVocabSize: Int  // decoder_vocab_size
    public var dModel: Int  // d_model
    public var encoderLayers: Int  // encoder_layers
    public var decoderLayers: Int  // decoder_layers
    public var encoderAttentionHeads: Int  // encoder_attention_heads
    public var decoderAttentionHeads: Int  // decoder_attention_heads
    public var encoderFFNDim: Int  // encoder_ffn_dim
    public var decoderFFNDim: Int  // decoder_ffn_dim
    public var activation: Activation  // activation_function
    public var maxPositionEmbeddings: Int  // max_position_embeddings
    public var scaleEmbedding: Bool  // scale_embedding
    public var shareEncoderDecoderEmbeddings: Bool  // share_encoder_decoder_embeddings
    public var tieWordEmbeddings: Bool  // tie_word_embeddings
    public var padTokenId: Int  // pad_token_id
    public var eosTokenIds: [Int]  // eos_token_id
    public var decoderStartTokenId: Int  // decoder_start_token_id
    public var forcedEOSTokenIds: [Int]  // forced_eos_token_id

    /// Reads and validates `config.json`.
    public init(contentsOf url: URL) throws(ModelError) {
        let json = try JSONFile(path: url.path)
        let type = try json.string("model_type") ?? "(none)"
        guard type == "marian" else { throw .unsupportedModelType(type, path: url.path) }
        vocabSize = try json.requiredInt("vocab_size")
        decoderVocabSize = try json.int("decoder_vocab_size") ?? vocabSize
        dModel = try json.requiredInt("d_model")
        encoderLayers = try json.requiredInt("encoder_layers")
        decoderLayers = try json.requiredInt("decoder_layers")
        encoderAttentionHeads = try json.requiredInt("encoder_attention_heads")
        decoderAttentionHeads = try json.requiredInt("decoder_attention_heads")
        encoderFFNDim = try json.requiredInt("encoder_ffn_dim")
        decoderFFNDim = try json.requiredInt("decoder_ffn_dim")
        let activationName = try json.string("activation_function") ?? "gelu"
        guard let activation = Activation(configName: activationName) else {
            throw .invalidConfig(
                path: url.path,
                reason: "activation_function '\(activationName)' is not supported (relu, gelu, gelu_new, swish, silu)")
        }
        self.activation = activation
        maxPositionEmbeddings = try json.int("max_position_embeddings", default: 1024)
        scaleEmbedding = try json.bool("scale_embedding") ?? false
        shareEncoderDecoderEmbeddings = try json.bool("share_encoder_decoder_embeddings") ?? true
        tieWordEmbeddings = try json.bool("tie_word_embeddings") ?? true
        padTokenId = try json.int("pad_token_id", default: 58100)
        eosTokenIds = try json.ids("eos_token_id") ?? [0]
        decoderStartTokenId = try json.int("decoder_start_token_id") ?? padTokenId
        forcedEOSTokenIds = try json.ids("forced_eos_token_id") ?? []

        func check(_ condition: Bool, _ reason: @autoclosure () -> String) throws(ModelError) {
            if !condition { throw .invalidConfig(path: url.path, reason: reason()) }
        }
        for (name, value) in [
            ("vocab_size", vocabSize), ("decoder_vocab_size", decoderVocabSize), ("d_model", dModel),
            ("encoder_layers", encoderLayers), ("decoder_layers", decoderLayers),
            ("encoder_attention_heads", encoderAttentionHeads), ("decoder_attention_heads", decoderAttentionHeads),
            ("encoder_ffn_dim", encoderFFNDim), ("decoder_ffn_dim", decoderFFNDim),
            ("max_position_embeddings", maxPositionEmbeddings),
        ] {
            try check(value > 0, "\"\(name)\" must be positive, got \(value)")
            try check(value <= 1 << 24, "\"\(name)\" = \(value) is out of range")
        }
        try check(dModel % encoderAttentionHeads == 0, "d_model \(dModel) is not divisible by encoder_attention_heads \(encoderAttentionHeads)")
        try check(dModel % decoderAttentionHeads == 0, "d_model \(dModel) is not divisible by decoder_attention_heads \(decoderAttentionHeads)")
        try check(dModel % 2 == 0, "d_model \(dModel) must be even for sinusoidal positions")
        if shareEncoderDecoderEmbeddings {
            try check(decoderVocabSize == vocabSize, "decoder_vocab_size \(decoderVocabSize) differs from vocab_size \(vocabSize) although share_encoder_decoder_embeddings is true")
        }
        for (name, id) in [("pad_token_id", padTokenId), ("decoder_start_token_id", decoderStartTokenId)] {
            try check(id >= 0 && id < decoderVocabSize, "\"\(name)\" \(id) is outside the decoder vocabulary (\(decoderVocabSize))")
        }
        try check(!eosTokenIds.isEmpty, "\"eos_token_id\" is an empty list; decoding needs an end-of-sequence id")
        for id in eosTokenIds + forcedEOSTokenIds {
            try check(id >= 0 && id < decoderVocabSize, "eos id \(id) is outside the decoder vocabulary (\(decoderVocabSize))")
        }
    }
}

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
        eosTokenIds = try json.ids("eos_token_id")
        noRepeatNgramSize = try json.int("no_repeat_ngram_size")
        repetitionPenalty = try json.double("repetition_penalty")
        minLength = try json.int("min_length")
        alignmentHeads = try json.idLists("alignment_heads")
    }
}
