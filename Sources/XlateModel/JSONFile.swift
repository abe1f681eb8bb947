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
