import ArgumentParser
import Foundation
import Xlate

/// `xlate convert DIR`: writes DIR/model.safetensors from DIR/pytorch_model.bin, once, so that later loads map it.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write model.safetensors for a model folder that has only pytorch_model.bin.",
        discussion: """
            Reads DIR/pytorch_model.bin (torch.save's format) without running anything from it: only the tensors of \
            a state dict are read, and a file that names anything else (a function, a class) is refused as possibly \
            malicious. Writes DIR/model.safetensors with the same tensors and element types; a tensor stored under \
            several names (tied weights, one storage) is written once, under its first name. The new file appears \
            whole or not at all.

            xlate also loads a folder that has only pytorch_model.bin, but reads it whole into memory on every load; \
            after converting, loads map model.safetensors instead. The .bin file can then be deleted.

            EXAMPLES
              xlate convert ~/models/opus-mt-en-ro
              xlate convert --force ~/models/opus-mt-en-ro    # replace model.safetensors

            EXIT STATUS
              0 written · 1 cannot write · 2 no such folder, or no pytorch_model.bin in it
              3 bad or refused .bin (also: one whose state dict holds no tensors)
              64 model.safetensors exists (use --force) or usage error
            """)

    @Argument(help: ArgumentHelp("Model folder holding pytorch_model.bin.", valueName: "dir"))
    var directory: String

    @Flag(help: "Replace an existing model.safetensors.")
    var force = false

    func run() throws {
        let folder = URL(fileURLWithPath: directory)
        let source = folder.appendingPathComponent("pytorch_model.bin").path
        let destination = folder.appendingPathComponent("model.safetensors").path
        try ModelFolder.check(folder)  // no such folder, or not a folder: 2 (see `Failure`)
        guard FileManager.default.fileExists(atPath: source) else {
            printError(ModelError.missingFile(path: source, hint: "xlate convert reads a folder's pytorch_model.bin.").localizedDescription)
            throw ExitCode(Exit.modelNotFound)
        }
        // Checked before reading what may be gigabytes; the writer checks again as it renames into place.
        if !force, FileManager.default.fileExists(atPath: destination) { throw ModelError.outputExists(path: destination) }
        let checkpoint = try PyTorchCheckpoint(path: source)
        try checkpoint.writeSafeTensors(to: destination, overwrite: force)
        print(summary(of: checkpoint, writtenTo: destination))
    }

    /// "wrote DIR/model.safetensors: 112 tensors (F32), 0.2 MB", and the tied names left out.
    private func summary(of checkpoint: PyTorchCheckpoint, writtenTo path: String) -> String {
        let dtypes = Set(checkpoint.tensors.map(\.dtype)).sorted().joined(separator: ", ")
        let megabytes = Double(checkpoint.tensors.reduce(0) { $0 + $1.byteCount }) / 1_000_000
        var lines = ["wrote \(path): \(checkpoint.tensors.count) tensors (\(dtypes)), \(String(format: "%.1f", megabytes)) MB"]
        var targets: [String] = []
        var names: [String: [String]] = [:]
        for alias in checkpoint.aliases {
            if names[alias.target] == nil { targets.append(alias.target) }
            names[alias.target, default: []].append(alias.name)
        }
        for target in targets {
            lines.append("tied: \(names[target]!.joined(separator: ", ")) = \(target) (stored once)")
        }
        return lines.joined(separator: "\n")
    }
}
