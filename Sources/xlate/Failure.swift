import ArgumentParser
import Foundation
import Xlate
import XlateDocuments
import XlateServer
import XlateHub

/// Exit statuses, documented in `--help` and the README ("Exit status").
enum Exit {
    static let cannotWrite: Int32 = 1
    static let modelNotFound: Int32 = 2
    static let badModel: Int32 = 3
    static let badInput: Int32 = 4
    static let downloadFailed: Int32 = 5
    static let usage: Int32 = 64  // swift-argument-parser's status for usage errors (EX_USAGE)
    /// The system refused a resource: the decoder's caches could not be reserved even for one sentence (an
    /// address-space limit), or OpenBLAS could not be loaded. EX_OSERR: neither the model nor the input is at fault.
    static let systemError: Int32 = 71
}

/// The one place where an error from the library or the CLI's own input and output becomes a message on stderr and
/// an exit status. Commands let such errors propagate; `Translate.main` reports them. Usage errors, `--help` and
/// `ExitCode` (statuses already reported, signals) stay swift-argument-parser's.
enum Failure {
    /// The exit status for `error`; nil for the errors swift-argument-parser reports itself.
    static func status(of error: any Error) -> Int32? {
        switch error {
        case is ModelNotFound:
            return Exit.modelNotFound
        case let error as ModelError:
            switch error {
            case .missingFolder, .notAFolder: return Exit.modelNotFound
            case .outputExists: return Exit.usage
            case .unwritableFile: return Exit.cannotWrite
            default: return Exit.badModel
            }
        case is DecodingError:
            return Exit.usage  // options out of range; the model's own (generation_config.json) are ModelErrors
        case let error as HubError:
            switch error {
            case .repositoryNotFound, .revisionNotFound: return Exit.modelNotFound
            case .invalidRepositoryID, .configuration: return Exit.usage
            default: return Exit.downloadFailed
            }
        case let error as WriteFailure:
            // The reader went away (`xlate ... | head -1`): end as a program killed by SIGPIPE does.
            return error.code == EPIPE ? 128 + SIGPIPE : Exit.cannotWrite
        case is ReadFailure, is LineReader.InvalidUTF8, is DocumentFailure:
            return Exit.badInput
        case is XlateCoreError:
            return Exit.systemError
        case let error as ServerError:
            switch error {
            case .noModels, .unknownLanguages: return Exit.modelNotFound
            case .apiKeys, .duplicatePair: return Exit.usage
            }
        default:
            return nil
        }
    }

    /// What stderr says for `error` (after "xlate: "); nil: nothing (a reader that went away wants no message).
    /// Library errors say what happened; where the command line has a way out (an option, a command), it is added here.
    static func message(of error: any Error) -> String? {
        switch error {
        case let error as WriteFailure: return error.code == EPIPE ? nil : error.message
        case let error as ReadFailure: return error.message
        case let error as LineReader.InvalidUTF8: return error.message
        case let error as DocumentFailure: return error.description
        case let error as DecodingError:
            // In the words of the command line where an option sets the value at fault.
            guard let option = error.setting.flatMap({ optionForSetting[$0] }) else { return error.localizedDescription }
            return "\(option): \(error.message)."
        case let error as ModelNotFound:
            return error.localizedDescription + " Or pass --model DIR. To fetch the OPUS-MT model for this pair from the "
                + "Hugging Face Hub: xlate download \(HubRepository.opusMTID(source: error.source, target: error.target))"
                + " (or add --download)."
        case ModelError.outputExists:  // only `xlate convert` writes model files
            return error.localizedDescription + " Use --force to replace it."
        default: return error.localizedDescription
        }
    }

    /// The option that sets each `generation_config.json` key, to name it in usage errors.
    private static let optionForSetting = [
        "num_beams": "--beam", "num_return_sequences": "--nbest", "max_length": "--max-length", "min_length": "--min-length",
        "length_penalty": "--length-penalty", "no_repeat_ngram_size": "--no-repeat-ngram",
        "repetition_penalty": "--repetition-penalty", "forced_bos_token_id": "--tgt",
    ]
}

extension Translate {
    /// Parses the command line and runs the command, reporting errors through `Failure`.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if let status = Failure.status(of: error) {
                if let message = Failure.message(of: error) { printError(message) }
                Foundation.exit(status)
            }
            exit(withError: error)
        }
    }
}
