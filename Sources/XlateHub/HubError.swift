import Foundation

/// Why a download from the Hugging Face Hub failed. Each message says what happened and what to do.
public enum HubError: Error, LocalizedError, Equatable, Sendable {
    /// `HF_ENDPOINT` is not an http(s) URL, or there is no cache folder (neither `XLATE_CACHE` nor `HOME` is set).
    case configuration(String)
    /// Not a repository id of the form `owner/name` (or `name`).
    case invalidRepositoryID(String)
    /// The hub has no such repository, or it is private and the request carried no token that can see it.
    case repositoryNotFound(repository: String, tokenSent: Bool)
    /// The repository exists but has no such branch, tag or commit.
    case revisionNotFound(repository: String, revision: String)
    /// The hub listed a file that it then would not serve.
    case fileNotFound(repository: String, file: String)
    /// 401 or 403: the token is missing, invalid, or lacks access; `gated` when the model's conditions must be
    /// accepted on its page first.
    case accessDenied(repository: String, status: Int, gated: Bool, tokenSent: Bool)
    /// Any other HTTP error status.
    case httpStatus(url: String, status: Int, message: String)
    /// No response: the host cannot be resolved or reached, or the connection failed before the transfer began.
    case network(url: String, reason: String)
    /// A transfer broke off; the bytes received are kept and the next download resumes from them.
    case interrupted(file: String, received: Int, expected: Int?, reason: String)
    /// The hub answered with something that is not what its API returns (e.g. truncated JSON).
    case invalidResponse(url: String, reason: String)
    /// The repository has no files xlate can load (no `config.json`, or no safetensors / pytorch_model.bin weights).
    case noModelFiles(repository: String, revision: String, reason: String)
    /// A downloaded file's SHA-256 differs from the hub's; the file was deleted.
    case checksumMismatch(file: String, expected: String, actual: String)
    /// A downloaded file's size differs from the hub's; the file was deleted.
    case sizeMismatch(file: String, expected: Int, actual: Int)
    /// `HF_HUB_OFFLINE` is set and the cache has no complete copy of the model (at that revision).
    case offline(repository: String, reason: String)
    /// Another xlate process is downloading the same repository.
    case busy(repository: String, lockFile: String)
    /// The cache folder could not be written.
    case fileSystem(path: String, reason: String)

    public var errorDescription: String? {
        let rerun = "The file was deleted; a new download fetches it again"
        switch self {
        case .configuration(let reason):
            return reason
        case .invalidRepositoryID(let id):
            return "'\(id)' is not a Hugging Face repository id; write it as owner/name, e.g. Helsinki-NLP/opus-mt-fr-en"
        case .repositoryNotFound(let repository, let tokenSent):
            return "the hub has no repository \(repository): check the name (owner/name, as in the model page's URL)"
                + (tokenSent
                    ? "; if it is private, check that HF_TOKEN can read it"
                    : "; if it is private, set HF_TOKEN to an access token that can read it")
        case .revisionNotFound(let repository, let revision):
            return "\(repository) has no revision '\(revision)': give a branch, tag or commit that exists (default: main)"
        case .fileNotFound(let repository, let file):
            return "the hub lists \(file) in \(repository) but does not serve it; try again later"
        case .accessDenied(let repository, let status, let gated, let tokenSent):
            if gated {
                return "\(repository) is gated: accept its conditions on https://huggingface.co/\(repository) "
                    + "and set HF_TOKEN to a token of that account" + (tokenSent ? "" : " (no HF_TOKEN is set)")
            }
            return "access to \(repository) denied (HTTP \(status)): "
                + (tokenSent
                    ? "HF_TOKEN is invalid or cannot read this repository; create a read token at https://huggingface.co/settings/tokens"
                    : "set HF_TOKEN to an access token (https://huggingface.co/settings/tokens)")
        case .httpStatus(let url, let status, let message):
            return "\(url): HTTP \(status)" + (message.isEmpty ? "" : " (\(message))")
                + (status >= 500 || status == 429 ? "; try again later" : "")
        case .network(let url, let reason):
            return "cannot reach \(url): \(reason). Check the network connection (and HF_ENDPOINT, if set); "
                + "HF_HUB_OFFLINE=1 uses only the cache"
        case .interrupted(let file, let received, let expected, let reason):
            return "download of \(file) interrupted after \(received)" + (expected.map { " of \($0)" } ?? "")
                + " bytes (\(reason)); download again to resume"
        case .invalidResponse(let url, let reason):
            return "unexpected answer from \(url): \(reason). Check HF_ENDPOINT, or try again later"
        case .noModelFiles(let repository, let revision, let reason):
            return "\(repository) (\(revision)) is not a model xlate can load: \(reason)"
        case .checksumMismatch(let file, let expected, let actual):
            return "\(file) is corrupt: its SHA-256 is \(actual), the hub says \(expected). \(rerun)"
        case .sizeMismatch(let file, let expected, let actual):
            return "\(file) has \(actual) bytes, the hub says \(expected). \(rerun)"
        case .offline(let repository, let reason):
            return "HF_HUB_OFFLINE is set and \(reason); unset HF_HUB_OFFLINE to download \(repository), "
                + "or copy the model folder here from a machine that has it"
        case .busy(let repository, let lockFile):
            return "another xlate is downloading \(repository) (it holds \(lockFile)); "
                + "wait for it to finish and download again"
        case .fileSystem(let path, let reason):
            return "cannot write \(path): \(reason). Check the free space and permissions, or point XLATE_CACHE elsewhere"
        }
    }
}
