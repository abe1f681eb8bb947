import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where a model folder is expected.
public enum ModelFolder {
    /// Checks that `directory` is a folder (symbolic links followed): throws `missingFolder` when nothing is there,
    /// `notAFolder` for a file, a symbolic link loop or a path through a file, and `unreadableFile` otherwise.
    public static func check(_ directory: URL) throws(ModelError) {
        let path = directory.path
        var info = stat()
        guard stat(path, &info) == 0 else {
            switch errno {
            case ELOOP: throw .notAFolder(path: path, kind: "a symbolic link that leads back to itself (a loop)")
            case ENOTDIR: throw .notAFolder(path: path, kind: "a path through a file")
            case ENOENT:
                if ModelFile.exists(path) { throw .notAFolder(path: path, kind: "a symbolic link to nothing") }
                throw .missingFolder(path: path, hint: "Pass the folder that holds config.json and the weights.")
            case let code: throw .unreadableFile(path: path, reason: String(cString: strerror(code)))
            }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .notAFolder(path: path, kind: ModelFile.kind(info.st_mode)) }
    }
}

/// The one way xlate opens a file of a model folder. Only regular files are read (symbolic links to them are
/// followed): a folder, named pipe, device or socket in a file's place is refused by name before a byte is read, and
/// opening never blocks (a FIFO with no writer would otherwise hang the load). Files read whole are refused when
/// larger than their kind's limit, before they are read.
enum ModelFile {
    /// What a file read whole may weigh, in bytes, by kind. Each is far above any real model's file and far below
    /// what would strain memory, so a wrong or hostile file is refused at once instead of read.
    enum Limit {
        /// config.json, generation_config.json, tokenizer_config.json, special_tokens_map.json: a few KB in real
        /// models; the largest (label maps of classifiers) stay under 1 MB.
        static let config = 4 << 20
        /// model.safetensors.index.json: one line per tensor, about 100 KB for a model of thousands of tensors.
        static let index = 16 << 20
        /// vocab.json, target_vocab.json: 1–2 MB for OPUS-MT's 60,000 pieces, under 10 MB for 250,000-piece
        /// vocabularies (NLLB, mT5 sizes).
        static let vocabulary = 64 << 20
        /// source.spm, target.spm, spiece.model: 0.5–1 MB for OPUS-MT, 4.3 MB for mT5's 250,000 pieces.
        static let sentencePiece = 64 << 20
    }

    /// True when something is at `path` (a dangling or looping symbolic link counts): an optional file that is
    /// present but unreadable is then reported, not taken as absent.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Opens the regular file at `path` read-only, without blocking, and returns its descriptor (the caller closes
    /// it) and size. `hint` completes the message when the file does not exist.
    static func open(_ path: String, hint: String) throws(ModelError) -> (descriptor: Int32, size: Int) {
        // O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer. It changes nothing for regular files.
        let descriptor = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw openError(path, errno: errno, hint: hint) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let error = ModelError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
            close(descriptor)
            throw error
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw .notAFile(path: path, kind: kind(info.st_mode))
        }
        return (descriptor, Int(info.st_size))
    }

    /// The bytes of the regular file at `path`, refused unread when it is larger than `limit` bytes.
    static func read(_ path: String, limit: Int, hint: String) throws(ModelError) -> Data {
        let (descriptor, size) = try open(path, hint: hint)
        defer { close(descriptor) }
        guard size <= limit else { throw .fileTooLarge(path: path, size: size, limit: limit) }
        var data = Data(count: size)
        var filled = 0
        while filled < size {
            let count = data.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + filled, size - filled) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw .unreadableFile(path: path, reason: String(cString: strerror(errno))) }
            // The file shrank while being read: what was read is not the whole file.
            guard count > 0 else { throw .unreadableFile(path: path, reason: "it shrank to \(filled) bytes while being read") }
            filled += count
        }
        return data
    }

    /// The error for a failed `open` or `stat` of `path`.
    private static func openError(_ path: String, errno code: Int32, hint: String) -> ModelError {
        switch code {
        case ENOENT:
            var info = stat()
            if lstat(path, &info) == 0 {
                return .unreadableFile(path: path, reason: "it is a symbolic link to '\(linkTarget(path))', which does not exist")
            }
            return .missingFile(path: path, hint: hint)
        case ELOOP:
            return .unreadableFile(path: path, reason: "it is a symbolic link that leads back to itself (a loop)")
        case ENOTDIR:
            return .unreadableFile(path: path, reason: "a folder on its path is a file")
        case EACCES:
            return .unreadableFile(path: path, reason: "permission denied")
        default:
            return .unreadableFile(path: path, reason: String(cString: strerror(code)))
        }
    }

    /// Where the symbolic link at `path` points, as written in the link.
    private static func linkTarget(_ path: String) -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let count = buffer.withUnsafeMutableBufferPointer { readlink(path, $0.baseAddress!, $0.count) }
        return count < 0 ? "?" : String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    /// "a folder", "a named pipe (FIFO)", ... for a `st_mode`.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a folder"
        case S_IFIFO: "a named pipe (FIFO)"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFREG: "a regular file"
        default: "not a regular file"
        }
    }
}
