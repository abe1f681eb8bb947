import ArgumentParser
import Foundation
import Xlate

/// `xlate --version` text: the version, the matrix-product path, the OpenBLAS kernel and how it was chosen, the
/// default thread count.
func versionText() -> String {
    let blas = (try? BLAS.info()).map { "\($0.description); \($0.config)" } ?? "not available"
    let use = GEMMPath.current == .openBLAS ? "all matrix products" : "not used: the packed kernel serves this CPU"
    return """
        xlate 0.1.0
        GEMM: \(GEMMPath.current.rawValue) (float32), \(ComputeType.int8Kernel) (int8)
        OpenBLAS kernel: \(blas) [\(use)]
        threads: \(ProcessInfo.processInfo.activeProcessorCount)
        """
}

/// Loads the model that `--model DIR` or `--src/--tgt` chose.
func loadTranslator(
    model: String?, source: String?, target: String?, computeType: ComputeType = .float32
) throws -> Translator {
    // Checked here, not in validate(): validate() also runs before subcommands such as `xlate models`.
    if model == nil, (source == nil) != (target == nil) {
        throw ValidationError("--src and --tgt go together")
    }
    if model == nil, source == nil {
        throw ValidationError("choose a model: --src LANG --tgt LANG, or --model DIR (see 'xlate models')")
    }
    if let model { return try Translator(modelAt: URL(fileURLWithPath: model), computeType: computeType) }
    return try Translator(source: source!, target: target!, computeType: computeType)
}

/// With `--model DIR`, `--src/--tgt` name the languages of the input (the sentence splitter's rules; a T5 model's
/// translation prefix). Where the folder's name says which languages its model translates (`opus-mt-en-de`), they
/// must agree: a usage error otherwise. Codes that are not plain language codes (`opus-mt-en-ROMANCE`) are not checked.
func checkLanguages(_ translator: Translator, source: String?, target: String?) throws {
    if let languages = translator.languages {
        // A multilingual model: each code must name one of its languages.
        for (option, given) in [("--src", source), ("--tgt", target)] {
            if let given, languages.code(for: given) == nil {
                throw ValidationError(
                    "\(option) \(given) is not one of the \(languages.codes.count) languages of the model at \(translator.directory.path) (see 'xlate models')")
            }
        }
        return
    }
    guard translator.architecture != .t5,
        let pair = ModelResolver.languagePair(folderName: translator.directory.standardizedFileURL.lastPathComponent)
    else { return }
    func isLanguageCode(_ code: String) -> Bool { (2...3).contains(code.count) && code.allSatisfy { $0.isLowercase && $0.isASCII } }
    for (option, given, modelCode) in [("--src", source, pair.source), ("--tgt", target, pair.target)] {
        if let given, isLanguageCode(modelCode), given.lowercased() != modelCode {
            throw ValidationError(
                "\(option) \(given) does not match the model at \(translator.directory.path), which translates \(pair.source) → \(pair.target) (from its folder name)")
        }
    }
}

extension ComputeType: ExpressibleByArgument {}

/// Writes a message to standard error.
func printError(_ message: String) {
    writeToStandardError("xlate: \(message)\n")
}

/// Writes `text` to standard error. A failure to write it is ignored: there is nowhere left to report it, and it
/// must not stop xlate (FileHandle.write would trap).
func writeToStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
        let count = bytes[written...].withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        if count > 0 { written += count } else if count < 0, errno == EINTR { continue } else { return }
    }
}

struct ListModels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the models xlate finds, and where it looks.")

    func run() throws {
        let resolver = ModelResolver()
        let entries = resolver.available()
        let multilingual = resolver.multilingualModels()
        print("Looked in: " + resolver.searchPaths.map(\.path).joined(separator: ", "))
        if entries.isEmpty && multilingual.isEmpty { print("No models found.") }
        func size(_ directory: URL) -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.reduce(0) { total, name in
                let attributes = try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
                return total + ((attributes?[.size] as? NSNumber)?.intValue ?? 0)
            } ?? 0
        }
        for entry in entries {
            let architecture = (try? ModelArchitecture(directory: entry.directory)).map(\.rawValue) ?? "unsupported model_type"
            print("\(entry.source)-\(entry.target)\t\(architecture)\t\(size(entry.directory) / 1_000_000) MB\t\(entry.directory.path)")
        }
        // A multilingual model serves every pair of its languages: listed once, with its languages.
        for directory in multilingual {
            let architecture = try ModelArchitecture(directory: directory)
            let languages = try architecture.languages(directory: directory)!
            let (iso, others) = languages.isoCodes
            print("any-any\t\(architecture.rawValue)\t\(size(directory) / 1_000_000) MB\t\(directory.path)")
            print("  \(languages.codes.count) languages, every pair (--src/--tgt): \(iso.joined(separator: " "))"
                + (others.isEmpty ? "" : "; by the model's codes only: \(others.joined(separator: " "))"))
        }
    }
}
