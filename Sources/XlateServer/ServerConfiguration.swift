import Foundation
import Xlate

/// What `xlate serve` serves and how it bounds its clients.
public struct ServerConfiguration: Sendable {
    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port to listen on; 0 picks a free one (the "listening on" log line names it).
    public var port = 5000
    /// Most characters (Unicode scalars, as LibreTranslate counts) in one text of a request; -1: no limit.
    public var charLimit = 5000
    /// Most bytes of a request body.
    public var maxBodyBytes = 1 << 20
    /// Most texts in one request (`q` as an array).
    public var maxTextsPerRequest = 128
    /// Most alternatives a LibreTranslate request may ask for (LibreTranslate's `--alternatives-limit` default).
    public var alternativesLimit = 3
    /// A request not answered within this time gets an error (its batch still runs for the others).
    public var timeout: Duration = .seconds(60)
    /// Threads that translate each batch.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Cross-request batching.
    public var batching = TranslationService.Configuration()
    /// Keys accepted in `api_key`; nil: no key needed.
    public var apiKeys: Set<String>?

    /// The defaults: loopback, port 5000, LibreTranslate's limits.
    public init() {}

    /// The keys of an API keys file: one per line; blank lines and lines starting with `#` are skipped.
    ///
    /// - Throws: `ServerError.apiKeys` when the file cannot be read or holds no key.
    public static func apiKeys(file path: String) throws -> Set<String> {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ServerError.apiKeys(path: path, reason: error.localizedDescription)
        }
        let keys = Set(text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") })
        if keys.isEmpty { throw ServerError.apiKeys(path: path, reason: "it holds no key (one key per line)") }
        return keys
    }
}

/// Why the server cannot start.
public enum ServerError: Error, LocalizedError, Equatable {
    /// The API keys file is unusable.
    case apiKeys(path: String, reason: String)
    /// A model folder's name does not say which languages it translates.
    case unknownLanguages(path: String)
    /// No model to serve.
    case noModels(searched: [String])
    /// Two models translate the same pair.
    case duplicatePair(String, first: String, second: String)

    public var errorDescription: String? {
        switch self {
        case .apiKeys(let path, let reason): "cannot use the API keys file \(path): \(reason)"
        case .unknownLanguages(let path):
            "cannot tell which languages the model at \(path) translates: name its folder like opus-mt-en-de (…-SRC-TGT)"
        case .noModels(let searched):
            "no model to serve: none found in " + (searched.isEmpty ? "(no search path)" : searched.joined(separator: ", "))
                + "; give model folders, or put one named like opus-mt-en-de there"
        case .duplicatePair(let pair, let first, let second):
            "two models translate \(pair): \(first) and \(second); serve one of them"
        }
    }
}

/// The loaded models, by language pair.
public struct ModelCatalog: Sendable {
    /// A served model and its languages.
    public struct Model: Sendable {
        public let source: String
        public let target: String
        public let translator: Translator
    }

    /// In the order given.
    public let models: [Model]

    /// Loads the model folders, with their languages from their names (`opus-mt-en-de`).
    ///
    /// - Throws: `ServerError` for a folder whose name gives no languages or a pair served twice; what
    ///   `Translator.load` throws for a model that does not load.
    public static func load(
        _ folders: [(directory: URL, source: String, target: String)], computeType: ComputeType = .float32
    ) async throws -> ModelCatalog {
        var models: [Model] = []
        for folder in folders {
            if let other = models.first(where: { $0.source == folder.source && $0.target == folder.target }) {
                throw ServerError.duplicatePair(
                    "\(folder.source)-\(folder.target)", first: other.translator.directory.path, second: folder.directory.path)
            }
            let translator = try await Translator.load(modelAt: folder.directory, computeType: computeType)
            models.append(Model(source: folder.source, target: folder.target, translator: translator))
        }
        return ModelCatalog(models: models)
    }

    /// The model for `source` → `target`.
    public func model(source: String, target: String) -> Model? {
        models.first { $0.source == source && $0.target == target }
    }

    /// Every language a model reads or writes, sorted by code.
    public var languages: [String] { Set(models.flatMap { [$0.source, $0.target] }).sorted() }

    /// The languages `source` is translated into.
    public func targets(of source: String) -> [String] { models.filter { $0.source == source }.map(\.target).sorted() }

    /// The English name of a language code ("de" → "German"), else the code.
    public static func name(of code: String) -> String {
        Locale(identifier: "en").localizedString(forLanguageCode: code) ?? code
    }
}
