import Foundation
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Failures

/// A read that failed: the input ("stdin" or its path) and the system's error number.
struct ReadFailure: Error {
    let input: String
    let code: Int32

    var message: String { "cannot read \(input): \(describe(code, standardStream: input == "stdin"))" }
}

/// A write that failed, or an output that cannot be opened: the output ("stdout" or its path) and why.
struct WriteFailure: Error {
    let output: String
    let code: Int32
    var reason: String

    init(output: String, code: Int32, reason: String? = nil) {
        self.output = output
        self.code = code
        self.reason = reason ?? describe(code, standardStream: output == "stdout")
    }

    var message: String { "cannot write \(output): \(reason)" }
}

/// The system's text for `code`, except for a standard stream the shell closed (`<&-`, `>&-`).
private func describe(_ code: Int32, standardStream: Bool) -> String {
    code == EBADF && standardStream ? "it is closed" : String(cString: strerror(code))
}

// MARK: - Standard streams

/// The standard streams xlate was started without (closed with `<&-`, `>&-`, `2>&-`). Each is then held open on
/// /dev/null, so that no file xlate opens later takes its number: reading stdin must not read a model file, and
/// writing stdout must not write into one. Reading a closed stdin or writing a closed stdout is an error all the same.
enum StandardStreams {
    static let closed: Set<Int32> = {
        let closed = Set([STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO].filter { fcntl($0, F_GETFD) == -1 && errno == EBADF })
        // open() takes the lowest free number: in increasing order, each closed stream gets its own back.
        for number in closed.sorted() where open("/dev/null", number == STDIN_FILENO ? O_RDONLY : O_WRONLY) != number {
            printError("warning: cannot hold the closed descriptor \(number) open on /dev/null")
        }
        return closed
    }()

    /// Call first in a command's run(), before anything opens a file. Also makes a reader that goes away (`| head -1`)
    /// an EPIPE write error, so that xlate ends on its own terms (see `Failure`) rather than by SIGPIPE.
    static func prepare() {
        _ = closed
        signal(SIGPIPE, SIG_IGN)
    }
}

// MARK: - Reading

/// Reads a file (or stdin for "-") line by line in blocks, so that input of any size streams through.
///
/// Lines are handed out as soon as they are complete: when more input would have to be waited for (typing at a
/// terminal, a slow pipe), the lines already read are returned first, so that none waits for later input. While it
/// waits, a byte on `wakeup` (see `Interrupt`) ends the wait with `Interrupted`.
final class LineReader {
    struct InvalidUTF8: Error {
        /// "stdin" or the path.
        let input: String
        let line: Int

        var message: String {
            "\(input), line \(line): invalid UTF-8; convert the input to UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        }
    }
    /// A signal arrived while waiting for input; every complete line was already returned.
    struct Interrupted: Error {
        /// Part of a line (no newline yet) had been read; it is not returned.
        let unfinishedLine: Bool
    }

    /// "stdin" or the path, for messages.
    let name: String
    private let descriptor: Int32
    /// Invalid UTF-8 stops the reader (`InvalidUTF8`) instead of being replaced by U+FFFD.
    private let strict: Bool
    private let wakeup: Int32
    private var buffer: [UInt8] = []
    /// The bytes before `start` are returned lines; no newline is in `start..<scanned`.
    private var start = 0
    private var scanned = 0
    private var atEnd = false
    /// An error met after some lines: reported by the next call, once those are handled.
    private var pendingError: Error?
    /// Lines returned so far.
    private(set) var lineNumber = 0
    /// The numbers of lines whose invalid UTF-8 was replaced, not yet taken by `takeRepairedLines()`.
    private var repaired: [Int] = []

    /// `strict`: see `InvalidUTF8`; `wakeup`: a descriptor that becomes readable when waiting should end (-1: none).
    init(path: String, strict: Bool = true, wakeup: Int32 = -1) throws(ReadFailure) {
        self.strict = strict
        self.wakeup = wakeup
        if path == "-" {
            name = "stdin"
            guard !StandardStreams.closed.contains(STDIN_FILENO) else { throw ReadFailure(input: name, code: EBADF) }
            descriptor = STDIN_FILENO
        } else {
            name = path
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw ReadFailure(input: path, code: errno) }
        }
    }

    deinit {
        if descriptor != STDIN_FILENO { close(descriptor) }
    }

    /// Up to `count` lines (without their line terminators); empty at the end of the input. Throws `ReadFailure`,
    /// `Interrupted`, or (strict) `InvalidUTF8` for a line that is not UTF-8 — after returning the lines before it.
    func nextLines(_ count: Int) throws -> [String] {
        if let pendingError { throw pendingError }
        var lines: [String] = []
        do {
            try read(count, into: &lines)
        } catch where !lines.isEmpty {
            pendingError = error
        }
        return lines
    }

    /// The numbers of the lines returned so far whose invalid UTF-8 was replaced by U+FFFD (not strict), each once.
    func takeRepairedLines() -> [Int] {
        defer { repaired.removeAll() }
        return repaired
    }

    private func read(_ count: Int, into lines: inout [String]) throws {
        while lines.count < count {
            if let newline = buffer[scanned...].firstIndex(of: 0x0A) {
                lines.append(try decode(buffer[start..<newline]))
                start = newline + 1
                scanned = start
                continue
            }
            scanned = buffer.count
            if atEnd {
                if start < buffer.count {
                    lines.append(try decode(buffer[start...]))
                    start = buffer.count
                }
                break
            }
            if !lines.isEmpty, !inputIsReady(waiting: false) { break }
            try fill()
        }
    }

    /// Reads the next block, waiting for it if need be.
    private func fill() throws {
        buffer.removeSubrange(0..<start)
        scanned -= start
        start = 0
        guard inputIsReady(waiting: true) else { throw Interrupted(unfinishedLine: !buffer.isEmpty) }
        let blockSize = 1 << 16
        let end = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: blockSize))
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + end, blockSize) }
            if count >= 0 {
                buffer.removeLast(blockSize - count)
                if count == 0 { atEnd = true }
                return
            }
            let code = errno
            if code == EINTR { continue }
            // A stdin left non-blocking by another program: wait for it as for any other.
            if code == EAGAIN, inputIsReady(waiting: true) { continue }
            buffer.removeLast(blockSize)
            throw code == EAGAIN ? Interrupted(unfinishedLine: !buffer.isEmpty) : ReadFailure(input: name, code: code)
        }
    }

    /// Whether a read would return at once (data, the end, or an error). `waiting`: waits until it would, and
    /// returns false only when `wakeup` ended the wait first.
    private func inputIsReady(waiting: Bool) -> Bool {
        var descriptors = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
        if waiting { descriptors.append(pollfd(fd: wakeup, events: Int16(POLLIN), revents: 0)) }  // poll skips -1
        while true {
            let ready = poll(&descriptors, nfds_t(descriptors.count), waiting ? -1 : 0)
            if ready >= 0 { break }
            // Let read() report whatever poll() could not wait for.
            if errno != EINTR { return true }
        }
        return descriptors[0].revents != 0 || (waiting && descriptors[1].revents == 0)
    }

    private func decode(_ bytes: ArraySlice<UInt8>) throws -> String {
        lineNumber += 1
        var bytes = bytes
        if bytes.last == 0x0D { bytes.removeLast() }
        if let line = String(validating: bytes, as: UTF8.self) { return line }
        if strict { throw InvalidUTF8(input: name, line: lineNumber) }
        repaired.append(lineNumber)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The warning for a line whose invalid UTF-8 was replaced; `line` names it ("line 3").
func invalidUTF8Warning(_ line: String) -> String {
    "warning: \(line): invalid UTF-8 replaced by U+FFFD; convert the input to UTF-8 (e.g. iconv -f latin1 -t utf-8), or stop at such lines with --strict-input"
}

/// Warnings of one kind about input lines: the first five are printed, the rest only counted (a small --max-length
/// or a file in another encoding would otherwise warn once per line).
struct LineWarnings {
    static let named = 5
    private(set) var count = 0

    /// Counts one more; prints `message` with `print` while fewer than `named` were printed.
    mutating func add(_ message: @autoclosure () -> String, print: (String) -> Void) {
        count += 1
        if count <= Self.named { print(message()) }
    }

    /// When more than `named` were met: "warning: N lines in all <what> (the first 5 are named above)".
    func summarize(_ what: String, print: (String) -> Void) {
        if count > Self.named { print("warning: \(count) lines in all \(what) (the first \(Self.named) are named above)") }
    }
}

// MARK: - Writing

/// Where output goes: stdout, or `-o PATH`. Written with write(2) in blocks of whole lines, so that a failed write
/// leaves complete lines only wherever it can (see `flush()`).
///
/// A regular file (new, existing, or the target of a symlink, which stays a link) is written to a temporary file
/// beside it that `commit()` renames over it: until then the old content stays whole, and the file keeps its
/// permission bits. Anything else — a device such as /dev/null, a FIFO, a symlink to one — is written to in place,
/// never replaced.
final class OutputSink {
    /// "stdout" or the path given, for messages.
    let name: String
    private let descriptor: Int32
    /// For a regular file: the temporary file being written, and the file it replaces.
    private var replacement: (temporary: String, target: String)?
    private var buffer: [UInt8] = []

    /// Opens stdout (`path` nil or "-") or `path`; throws what stops it, in xlate's words.
    init(path: String?) throws(WriteFailure) {
        guard let path, path != "-" else {
            name = "stdout"
            guard !StandardStreams.closed.contains(STDOUT_FILENO) else { throw WriteFailure(output: name, code: EBADF) }
            descriptor = STDOUT_FILENO
            return
        }
        name = path
        var info = stat()
        var link = stat()
        let found = stat(path, &info) == 0  // through symlinks
        let missing = !found && errno == ENOENT && lstat(path, &link) != 0
        if found, (info.st_mode & S_IFMT) == S_IFREG {
            // A read-only file is not replaced behind its owner's back, even where the folder would allow it.
            guard access(path, W_OK) == 0 else { throw WriteFailure(output: path, code: errno) }
            guard let resolved = realpath(path, nil) else { throw WriteFailure(output: path, code: errno) }
            let target = String(cString: resolved)
            free(resolved)
            descriptor = try Self.temporaryFile(
                for: path, beside: target, mode: info.st_mode & 0o7777, owner: (info.st_uid, info.st_gid), into: &replacement)
        } else if missing {
            // Nothing there: a new file, with the permissions the umask gives (what the shell's `>` would give it).
            let mask = umask(0)
            umask(mask)
            descriptor = try Self.temporaryFile(for: path, beside: path, mode: 0o666 & ~mask, owner: nil, into: &replacement)
        } else {
            // A device, FIFO or socket (or a symlink to one), or a dangling symlink, whose target is created through
            // it: written in place. A folder, or a path that cannot be reached, fails here.
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
            guard descriptor >= 0 else { throw WriteFailure(output: path, code: errno) }
        }
    }

    deinit {
        if replacement != nil { discard() }
        if descriptor != STDOUT_FILENO { close(descriptor) }
    }

    /// A new file beside `target` (the path given is `path`), with `mode` and, where it is not ours, the replaced
    /// file's `owner`; records the replacement.
    private static func temporaryFile(
        for path: String, beside target: String, mode: mode_t, owner: (uid_t, gid_t)?,
        into replacement: inout (temporary: String, target: String)?
    ) throws(WriteFailure) -> Int32 {
        let url = URL(fileURLWithPath: target)
        let folder = url.deletingLastPathComponent().path
        var template = Array(URL(fileURLWithPath: folder).appendingPathComponent(".\(url.lastPathComponent).xlate-XXXXXX").path.utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else {
            let code = errno
            throw WriteFailure(output: path, code: code, reason: code == ENOENT ? "no folder \(folder)" : nil)
        }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // mkstemp makes it 0600 and ours: give it the replaced file's owner where that is not us (root writing another
        // user's file; anyone else may not give a file away, and EPERM leaves it ours), then the mode (after: chown
        // clears set-id bits), before anything is in it.
        let ownerChanged = owner.map { $0 != (geteuid(), getegid()) } ?? false
        guard !ownerChanged || fchown(descriptor, owner!.0, owner!.1) == 0 || errno == EPERM, fchmod(descriptor, mode) == 0 else {
            let code = errno
            close(descriptor)
            unlink(temporary)
            throw WriteFailure(output: path, code: code)
        }
        replacement = (temporary, target)
        return descriptor
    }

    /// The temporary file being written, if any (to delete when xlate must exit at once).
    var temporaryPath: String? { replacement?.temporary }

    /// Whether the output is a regular file that stays as it was unless `commit()` succeeds.
    var replacesFile: Bool { replacement != nil }

    /// Adds complete lines; writes them out once a block has gathered.
    func write(_ lines: String) throws(WriteFailure) {
        buffer.append(contentsOf: lines.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    /// Writes out what has gathered. After a failure, a line written only in part is cut off again where the output
    /// can be cut (a regular file: stdout redirected to one); a device or pipe keeps what it got.
    func flush() throws(WriteFailure) {
        var written = 0
        defer { buffer.removeAll(keepingCapacity: true) }
        while written < buffer.count {
            let count = buffer[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                written += count
                continue
            }
            let code = count == 0 ? EIO : errno
            if code == EINTR { continue }
            if code == EAGAIN {
                // A stdout left non-blocking by another program: wait until it takes more.
                var output = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                if poll(&output, 1, -1) >= 0 || errno == EINTR { continue }
            }
            cutPartialLine(written: written)
            throw WriteFailure(output: name, code: code)
        }
    }

    private func cutPartialLine(written: Int) {
        guard written > 0, buffer[written - 1] != 0x0A else { return }
        let partial = written - (buffer[..<written].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0)
        var info = stat()
        let end = lseek(descriptor, 0, SEEK_CUR)
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, end >= partial else { return }
        // Best effort on the way to reporting the write error: if the cut fails too, that error is the one to report.
        _ = ftruncate(descriptor, end - off_t(partial))
    }

    /// Writes what has gathered and, for a regular file, puts the finished file in place.
    func commit() throws(WriteFailure) {
        try flush()
        guard let replacement else { return }
        // On disk before the rename, so that a crash leaves the old file or the new one, never an empty one.
        guard fsync(descriptor) == 0 else { throw failing(errno) }
        guard rename(replacement.temporary, replacement.target) == 0 else { throw failing(errno) }
        self.replacement = nil
    }

    /// Deletes a regular file's temporary file, leaving the file as it was (after a failure).
    func discard() {
        guard let replacement else { return }
        unlink(replacement.temporary)
        self.replacement = nil
    }

    private func failing(_ code: Int32) -> WriteFailure {
        discard()
        return WriteFailure(output: name, code: code)
    }
}

extension OutputSink {
    /// Gives the output up after `failure`: the temporary file goes, so that a regular file stays as it was, and the
    /// failure says so.
    func abandon(after failure: WriteFailure) -> WriteFailure {
        var failure = failure
        if replacesFile { failure.reason += "; \(failure.output) is left as it was" }
        discard()
        return failure
    }

    /// `commit()`, or `abandon(after:)` when it fails.
    func commitOrAbandon() throws(WriteFailure) {
        do { try commit() } catch { throw abandon(after: error) }
    }
}

/// A message when an input is the output file (same device and inode, however named: another path, a hard link,
/// a symlink, stdin or stdout redirected): writing would destroy it before it is read. Regular files only: reading
/// /dev/null and writing it is fine.
func inputIsOutputMessage(inputs: [String], output: String?) -> String? {
    func identity(_ path: String, standard descriptor: Int32) -> (dev_t, ino_t)? {
        var info = stat()
        let found = path == "-" ? fstat(descriptor, &info) == 0 : stat(path, &info) == 0
        return found && (info.st_mode & S_IFMT) == S_IFREG ? (info.st_dev, info.st_ino) : nil
    }
    let outputPath = output ?? "-"
    guard let written = identity(outputPath, standard: STDOUT_FILENO) else { return nil }
    for input in inputs {
        if let read = identity(input, standard: STDIN_FILENO), read == written {
            let inputName = input == "-" ? "stdin" : input
            let outputName = outputPath == "-" ? "stdout" : outputPath
            return "the input \(inputName) is the output \(outputName) (the same file): writing would destroy it before it is read; write the translation to another file"
        }
    }
    return nil
}
