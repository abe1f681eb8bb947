import ArgumentParser
import Foundation
import Xlate

/// Exit statuses, documented in `--help` and the README.
enum Exit {
    static let modelNotFound: Int32 = 2
    static let badModel: Int32 = 3
    static let badInput: Int32 = 4
    static let usage: Int32 = 64  // swift-argument-parser's status for usage errors (EX_USAGE)
    /// The decoder's cache could not be reserved even for one sentence (an address-space limit): EX_OSERR, the
    /// system refused a resource; neither the model nor the input is at fault.
    static let outOfMemory: Int32 = 71
}

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

/// Loads the model that `--model DIR` or `--src/--tgt` chose, or exits with the documented status.
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
    do {
        if let model { return try Translator(modelAt: URL(fileURLWithPath: model), computeType: computeType) }
        return try Translator(source: source!, target: target!, computeType: computeType)
    } catch let error as ModelNotFound {
        printError(error.localizedDescription)
        throw ExitCode(Exit.modelNotFound)
    } catch let error as ModelError {
        printError(error.localizedDescription)
        switch error {
        case .missingFolder, .notAFolder: throw ExitCode(Exit.modelNotFound)
        default: throw ExitCode(Exit.badModel)
        }
    }
}

extension ComputeType: ExpressibleByArgument {}

/// The option that sets each `generation_config.json` key, to name it in usage errors.
private let optionForSetting = [
    "num_beams": "--beam", "num_return_sequences": "--nbest", "max_length": "--max-length",
    "length_penalty": "--length-penalty", "no_repeat_ngram_size": "--no-repeat-ngram",
    "repetition_penalty": "--repetition-penalty",
]

/// An options error in the words of the command line: "--beam: the beam size must be <= 256, got 100000." when the
/// setting at fault is one an option sets, else the error's own message.
func usageMessage(_ error: any Error) -> String {
    guard let error = error as? DecodingError, let option = error.setting.flatMap({ optionForSetting[$0] }) else {
        return error.localizedDescription
    }
    return "\(option): \(error.message)."
}

/// Writes a message to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("xlate: \(message)\n".utf8))
}

struct ListModels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the models xlate finds, and where it looks.")

    func run() throws {
        let resolver = ModelResolver()
        let entries = resolver.available()
        print("Looked in: " + resolver.searchPaths.map(\.path).joined(separator: ", "))
        if entries.isEmpty { print("No models found.") }
        for entry in entries {
            let size = (try? FileManager.default.contentsOfDirectory(atPath: entry.directory.path))?.reduce(0) { total, name in
                let attributes = try? FileManager.default.attributesOfItem(atPath: entry.directory.appendingPathComponent(name).path)
                return total + ((attributes?[.size] as? NSNumber)?.intValue ?? 0)
            } ?? 0
            let architecture = (try? ModelArchitecture(directory: entry.directory)).map(\.rawValue) ?? "unsupported model_type"
            print("\(entry.source)-\(entry.target)\t\(architecture)\t\(size / 1_000_000) MB\t\(entry.directory.path)")
        }
    }
}
