import ArgumentParser
import Foundation
import Xlate

/// Exit statuses, documented in `--help` and the README.
enum Exit {
    static let modelNotFound: Int32 = 2
    static let badModel: Int32 = 3
    static let badInput: Int32 = 4
    static let usage: Int32 = 64  // swift-argument-parser's status for usage errors (EX_USAGE)
}

/// `xlate --version` text: the version, the OpenBLAS kernel and how it was chosen, the default thread count.
func versionText() -> String {
    let blas = (try? BLAS.info()).map { "\($0.description); \($0.config)" } ?? "not loaded"
    return "xlate 0.1.0\nOpenBLAS kernel: \(blas)\nthreads: \(ProcessInfo.processInfo.activeProcessorCount)"
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
            print("\(entry.source)-\(entry.target)\tmarian\t\(size / 1_000_000) MB\t\(entry.directory.path)")
        }
    }
}
