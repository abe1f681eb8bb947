import Foundation

/// Finds a model folder for a language pair.
///
/// Folders named `*-SRC-TGT` (e.g. `xlate-en-de`, `opus-mt-en-de`, `Helsinki-NLP--opus-mt-fr-en` as XlateHub's
/// downloads are named) are searched, in order, in: the directories of `XLATE_MODELS` (colon-separated), the `models`
/// folder of the cache (`$XLATE_CACHE/models`, else `~/.cache/xlate/models`), the models installed beside the
/// executable (`PREFIX/share/xlate/models`), and a `Models/` folder above the executable (a build inside the
/// repository).
public struct ModelResolver: Sendable {
    /// Where models are looked for, in order.
    public let searchPaths: [URL]

    /// A resolver that looks only in `searchPaths`, in order.
    public init(searchPaths: [URL]) { self.searchPaths = searchPaths }

    /// The standard search paths for this process.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, executable: URL? = Bundle.main.executableURL) {
        var paths: [URL] = []
        if let list = environment["XLATE_MODELS"] {
            paths += list.split(separator: ":").map { URL(fileURLWithPath: String($0)) }
        }
        if let cache = Self.cacheDirectory(environment: environment) {
            paths.append(cache.appendingPathComponent("models"))
        }
        if let executable = executable?.resolvingSymlinksInPath() {
            let bin = executable.deletingLastPathComponent()
            paths.append(bin.deletingLastPathComponent().appendingPathComponent("share/xlate/models"))
            var directory = bin
            for _ in 0..<5 {
                let candidate = directory.appendingPathComponent("Models")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent(".").path) {
                    paths.append(candidate)
                    break
                }
                directory = directory.deletingLastPathComponent()
            }
        }
        self.init(searchPaths: paths)
    }

    /// xlate's cache folder: `XLATE_CACHE`, else `~/.cache/xlate`; nil when neither that nor `HOME` is set.
    /// Downloads (XlateHub's `HubClient`) go to its `models` folder.
    public static func cacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let cache = environment["XLATE_CACHE"], !cache.isEmpty { return URL(fileURLWithPath: cache) }
        return environment["HOME"].map { URL(fileURLWithPath: $0).appendingPathComponent(".cache/xlate") }
    }

    /// A model found on disk.
    public struct Entry: Sendable, Equatable {
        /// The model folder.
        public let directory: URL
        /// The source language code, from the folder name.
        public let source: String
        /// The target language code, from the folder name.
        public let target: String
    }

    /// Every model folder in the search paths whose name ends in `-SRC-TGT` and that has a `config.json` (a
    /// multilingual model is not one pair, whatever its name: see `multilingualModels()`).
    public func available() -> [Entry] {
        modelFolders().compactMap { directory in
            guard let pair = Self.languagePair(folderName: directory.lastPathComponent),
                (try? ModelArchitecture(directory: directory))?.isMultilingual != true
            else { return nil }
            return Entry(directory: directory, source: pair.source, target: pair.target)
        }
    }

    /// Every folder in the search paths that holds a multilingual model (M2M100, NLLB-200: one model for many
    /// pairs; ``Translator/languages`` lists them), whatever its name.
    public func multilingualModels() -> [URL] {
        modelFolders().filter { (try? ModelArchitecture(directory: $0))?.isMultilingual == true }
    }

    /// The folders of the search paths that have a `config.json`, each once, in search order.
    private func modelFolders() -> [URL] {
        var folders: [URL] = []
        var seen = Set<String>()
        for path in searchPaths {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path.path)) ?? []
            for name in names.sorted() {
                let directory = path.appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("config.json").path),
                    seen.insert(directory.standardizedFileURL.path).inserted
                else { continue }
                folders.append(directory)
            }
        }
        return folders
    }

    /// The languages of a model folder named `*-SRC-TGT` (e.g. `opus-mt-en-de`); nil for other names.
    public static func languagePair(folderName name: String) -> (source: String, target: String)? {
        let parts = name.split(separator: "-")
        guard parts.count >= 3 else { return nil }
        return (String(parts[parts.count - 2]), String(parts[parts.count - 1]))
    }

    /// The first model translating `source` → `target`.
    public func resolve(source: String, target: String) throws(ModelNotFound) -> URL {
        let entries = available()
        if let entry = entries.first(where: { $0.source == source && $0.target == target }) {
            return entry.directory
        }
        throw ModelNotFound(source: source, target: target, searched: searchPaths, available: entries)
    }
}

/// No model serves the requested language pair.
public struct ModelNotFound: Error, LocalizedError, Equatable {
    /// The requested source language.
    public let source: String
    /// The requested target language.
    public let target: String
    /// The folders that were searched, in order.
    public let searched: [URL]
    /// The models that were found instead.
    public let available: [ModelResolver.Entry]

    /// What was asked, what exists, where xlate looked, and how to add a model.
    public var errorDescription: String? {
        let pairs = available.isEmpty ? "none" : Set(available.map { "\($0.source)-\($0.target)" }).sorted().joined(separator: ", ")
        return "no model for \(source) → \(target). Available pairs: \(pairs). Looked in: "
            + searched.map(\.path).joined(separator: ", ")
            + ". Put a model folder named like opus-mt-\(source)-\(target) in one of them."
    }
}
