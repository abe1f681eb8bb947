import Foundation

/// Why a model folder could not be loaded. Each case names the file or tensor and says what to do.
public enum ModelError: Error, LocalizedError, Equatable {
    case missingFile(path: String, hint: String)
    /// A folder, FIFO, device or socket where a file was expected (`kind` says which: "a folder", ...).
    case notAFile(path: String, kind: String)
    /// A file larger than its kind can sensibly be; refused before it was read.
    case fileTooLarge(path: String, size: Int, limit: Int)
    /// The model folder itself does not exist.
    case missingFolder(path: String, hint: String)
    /// Something other than a folder (`kind`: "a regular file", ...) where the model folder was expected.
    case notAFolder(path: String, kind: String)
    case unreadableFile(path: String, reason: String)
    case invalidSafetensors(path: String, reason: String)
    case unsupportedDType(tensor: String, dtype: String, path: String)
    case missingTensor(name: String, path: String)
    case unexpectedTensors(names: [String], path: String)
    case wrongShape(tensor: String, got: [Int], expected: [Int], path: String)
    case nonFiniteWeights(tensor: String, path: String)
    case invalidConfig(path: String, reason: String)
    case unsupportedModelType(String, path: String)
    /// A `torch.save` checkpoint xlate cannot read (damaged, legacy format, compressed, sharded).
    case pytorchCheckpoint(path: String, reason: String)
    /// A pickle that asks for more than a state dict's tensors: a global or opcode that could run code.
    case unsafePickle(path: String, reason: String)
    case outputExists(path: String)
    case unwritableFile(path: String, reason: String)
    case tokenizer(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .missingFile(let path, let hint):
            "\(path): file not found. \(hint)"
        case .notAFile(let path, let kind):
            "\(path): is \(kind), not a regular file; xlate reads only regular files (or symbolic links to them) "
                + "from a model folder."
        case .fileTooLarge(let path, let size, let limit):
            "\(path): is \(size) bytes, more than the \(limit) bytes such a file can sensibly be; it was not read. "
                + "Check that it is the model's own file."
        case .missingFolder(let path, let hint):
            "\(path): no such folder. \(hint)"
        case .notAFolder(let path, let kind):
            "\(path): is \(kind), not a model folder. Pass the folder that holds config.json and the weights."
        case .unreadableFile(let path, let reason):
            "\(path): cannot read the file (\(reason))."
        case .invalidSafetensors(let path, let reason):
            "\(path): not a valid safetensors file: \(reason). Re-download or re-export the checkpoint."
        case .unsupportedDType(let tensor, let dtype, let path):
            "\(path): tensor '\(tensor)' has dtype \(dtype); xlate reads F32, F16 and BF16. Convert the checkpoint."
        case .missingTensor(let name, let path):
            "\(path): tensor '\(name)' is missing; the checkpoint does not match its config.json."
        case .unexpectedTensors(let names, let path):
            "\(path): unexpected tensors \(names.prefix(5).map { "'\($0)'" }.joined(separator: ", "))"
                + (names.count > 5 ? " and \(names.count - 5) more" : "")
                + "; this checkpoint is not of the architecture its config.json names."
        case .wrongShape(let tensor, let got, let expected, let path):
            "\(path): tensor '\(tensor)' has wrong shape: got \(got), expected \(expected) (from config.json)."
        case .nonFiniteWeights(let tensor, let path):
            "\(path): tensor '\(tensor)' contains NaN or infinite values; the checkpoint is corrupt."
        case .invalidConfig(let path, let reason):
            "\(path): \(reason)"
        case .unsupportedModelType(let type, let path):
            "\(path): model_type '\(type)' is not supported; xlate runs 'marian', 't5' and 'mt5' models."
        case .pytorchCheckpoint(let path, let reason):
            "\(path): cannot read this PyTorch checkpoint: \(reason). Re-download it; if PyTorch loads it, re-save it as "
                + "safetensors: python -c \"from transformers import AutoModelForSeq2SeqLM as M; "
                + "M.from_pretrained('DIR').save_pretrained('DIR')\""
        case .unsafePickle(let path, let reason):
            "\(path): refused: \(reason). xlate reads only the tensors of a state dict and never runs code from a "
                + "checkpoint; this file asks for more and may be malicious. Do not open it with torch.load(weights_only=False)."
        case .outputExists(let path):
            "\(path): already exists; nothing was written."
        case .unwritableFile(let path, let reason):
            "\(path): cannot write the file (\(reason))."
        case .tokenizer(let path, let reason):
            "\(path): \(reason)"
        }
    }
}
