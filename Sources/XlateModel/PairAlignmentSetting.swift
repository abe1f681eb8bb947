import Foundation

/// The `xlate_pair_alignment` object of `generation_config.json`: `{"layer": 1, "heads": [0, 5], "shifted": false,
/// "skips_punctuation": true}`. `heads` left out: all heads of the layer, averaged; `shifted` and
/// `skips_punctuation` left out: false. `xlate align-eval --write` writes the setting it learns on a gold set's dev
/// half. Whether `layer` and `heads` exist in the model is checked where the model is known.
///
/// Read apart from ``GenerationDefaults``, only when given pairs are aligned: a broken setting fails that, not
/// loading the model.
public struct PairAlignmentSetting: Sendable, Equatable {
    /// The key in `generation_config.json`.
    public static let key = "xlate_pair_alignment"
    /// The decoder layer (from 0) whose cross-attention aligns.
    public var layer: Int
    /// The heads averaged; nil: all of them.
    public var heads: [Int]?
    /// Read each target piece's attention at the step after the one that emits it (shift-att).
    public var shifted: Bool
    /// Target words that are not punctuation link to source words that are not.
    public var skipsPunctuation: Bool
    /// The file the setting was read from; nil when made in code.
    public var path: String?

    /// A setting made in code.
    public init(layer: Int, heads: [Int]?, shifted: Bool = false, skipsPunctuation: Bool = false) {
        self.layer = layer
        self.heads = heads
        self.shifted = shifted
        self.skipsPunctuation = skipsPunctuation
    }

    /// The setting in `modelDirectory`'s `generation_config.json` (else `config.json`, as ``GenerationDefaults``
    /// reads); nil when the file has none.
    public static func read(modelDirectory: URL) throws(ModelError) -> PairAlignmentSetting? {
        let generation = modelDirectory.appendingPathComponent("generation_config.json")
        let json = try JSONFile(
            path: ModelFile.exists(generation.path)
                ? generation.path : modelDirectory.appendingPathComponent("config.json").path)
        guard json.has(key), let value = json.object[key] else { return nil }
        return try PairAlignmentSetting(value, path: json.path)
    }

    /// Reads the object; `path` names the file in errors.
    init(_ value: JSONValue, path: String) throws(ModelError) {
        func invalid(_ reason: String) -> ModelError {
            .invalidConfig(path: path, reason: "\"\(Self.key)\" \(reason)")
        }
        self.path = path
        let keys: Set<String> = ["layer", "heads", "shifted", "skips_punctuation"]
        guard let object = value.objectValue else {
            throw invalid("must be an object such as {\"layer\": 1, \"heads\": [0, 5], \"skips_punctuation\": true}, got \(value)")
        }
        if let unknown = object.keys.filter({ !keys.contains($0) }).sorted().first {
            throw invalid("has an unknown key \"\(unknown)\" (known: \(keys.sorted().joined(separator: ", ")))")
        }
        guard let layer = object["layer"]?.intValue else { throw invalid("needs \"layer\", an integer") }
        self.layer = layer
        switch object["heads"] {
        case nil, .null?: heads = nil
        case let value?:
            guard let heads = value.intArray, !heads.isEmpty else {
                throw invalid("\"heads\" must be a non-empty list of head numbers, got \(value)")
            }
            self.heads = heads
        }
        func flag(_ name: String) throws(ModelError) -> Bool {
            guard let value = object[name], value != .null else { return false }
            guard let flag = value.boolValue else { throw invalid("\"\(name)\" must be true or false, got \(value)") }
            return flag
        }
        shifted = try flag("shifted")
        skipsPunctuation = try flag("skips_punctuation")
    }
}
