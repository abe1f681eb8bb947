import Foundation

/// A model folder that `HubClient.download` fetched or found complete in the cache.
public struct HubDownload: Sendable, Equatable {
    /// The model folder: `CACHE/models/OWNER--NAME`. Load it with `Translator(modelAt:)`.
    public let directory: URL
    /// The repository id, e.g. `Helsinki-NLP/opus-mt-fr-en`.
    public let repository: String
    /// The revision asked for (branch, tag or commit).
    public let revision: String
    /// The commit the files come from.
    public let commit: String
    /// The files of the folder, in the order they were fetched.
    public let files: [String]
    /// Bytes transferred by this call (resumed bytes from an earlier call not included).
    public let bytesDownloaded: Int
    /// True when the cache already held this commit (or, offline, the revision) and nothing was fetched.
    public let fromCache: Bool
}

/// How far a download is; reported as bytes arrive.
public struct HubDownloadProgress: Sendable, Equatable {
    /// The file being fetched.
    public let file: String
    /// Bytes of the download on disk so far, including bytes kept from an interrupted earlier call.
    public let bytes: Int
    /// Bytes of all files known so far (it grows once more when a sharded checkpoint's index has been read).
    public let totalBytes: Int
}

/// `.xlate-download.json` in a model folder: which repository, revision and commit its files come from. Written
/// into the staging folder when a download starts (it marks which commit the partial files belong to) and again,
/// with the files, just before the folder is moved into place.
struct DownloadRecord: Codable, Equatable {
    static let fileName = ".xlate-download.json"

    struct File: Codable, Equatable {
        let name: String
        let size: Int
        /// The hub's SHA-256 of an LFS file, which the download was checked against.
        let sha256: String?
    }

    var repository: String
    var revision: String
    var commit: String
    var endpoint: String
    var files: [File]

    /// The record in `directory`; nil when there is none, or it cannot be read (then the folder counts as not
    /// downloaded by xlate, and a download starts afresh).
    static func read(from directory: URL) -> DownloadRecord? {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(fileName).path) else { return nil }
        return try? JSONDecoder().decode(DownloadRecord.self, from: data)
    }

    func write(to directory: URL) throws(HubError) {
        let url = directory.appendingPathComponent(Self.fileName)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(self).write(to: url, options: .atomic)
        } catch {
            throw .fileSystem(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Every file listed is there with its size.
    func isComplete(in directory: URL) -> Bool {
        !files.isEmpty && files.allSatisfy { fileSize(directory.appendingPathComponent($0.name)) == $0.size }
    }

    /// The result of a call that found this download complete in `directory`.
    func download(at directory: URL, revision asked: String) -> HubDownload {
        HubDownload(
            directory: directory, repository: repository, revision: asked, commit: commit, files: files.map(\.name),
            bytesDownloaded: 0, fromCache: true)
    }

    /// `revision` names this download: its revision, or its commit (7 digits or more).
    func matches(revision asked: String) -> Bool {
        asked == revision || (asked.count >= 7 && commit.hasPrefix(asked.lowercased()))
    }
}

/// A regular file's size; nil when there is no such file.
func fileSize(_ url: URL) -> Int? {
    var info = stat()
    guard stat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int(info.st_size)
}
