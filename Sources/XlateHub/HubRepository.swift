/// A model repository on the Hugging Face Hub, e.g. `Helsinki-NLP/opus-mt-fr-en`.
public struct HubRepository: Sendable, Hashable, CustomStringConvertible {
    /// `owner/name`, or `name` for the hub's few legacy repositories without an owner (`t5-small`).
    public let id: String

    /// Checks `id` as huggingface_hub's `validate_repo_id` does: one or two parts of letters, digits, `-`, `_`, `.`
    /// (at most 96 each), no `--` or `..`, none starting or ending with `-` or `.`.
    public init(_ id: String) throws(HubError) {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        let valid = (1...2).contains(parts.count) && parts.allSatisfy { part in
            (1...96).contains(part.count)
                && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
                && !part.contains("--") && !part.contains("..")
                && !part.hasPrefix("-") && !part.hasPrefix(".") && !part.hasSuffix("-") && !part.hasSuffix(".")
        }
        guard valid else { throw .invalidRepositoryID(id) }
        self.id = id
    }

    /// The repository where the University of Helsinki publishes its OPUS-MT model for a language pair
    /// (`Helsinki-NLP/opus-mt-SRC-TGT`); not every pair has one.
    public static func opusMTID(source: String, target: String) -> String {
        "Helsinki-NLP/opus-mt-\(source)-\(target)"
    }

    /// The name of its folder in the cache: `owner--name` (ids cannot contain `--`, so no two repositories share
    /// one). A name ending in `-SRC-TGT` lets `ModelResolver` find it by language pair.
    public var folderName: String { id.replacingOccurrences(of: "/", with: "--") }

    public var description: String { id }
}
