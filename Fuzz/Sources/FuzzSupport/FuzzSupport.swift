import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file that each fuzz input is written to, for the parsers that take a path. On tmpfs (`/dev/shm`) when there is
/// one, so an iteration costs a write, not a disk round trip; named by process id, as libFuzzer's `-fork`/`-jobs`
/// run several processes.
public struct ScratchFolder: Sendable {
    public let url: URL

    public init() {
        let base = FileManager.default.isWritableFile(atPath: "/dev/shm")
            ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        url = base.appendingPathComponent("xlate-fuzz-\(getpid())")
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            fatalError("cannot create the scratch folder \(url.path): \(error)")
        }
    }

    /// Writes `bytes` to `name` in the folder and returns its path.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer, to name: String) -> String {
        let path = url.appendingPathComponent(name).path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { fatalError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
            guard n > 0 else { fatalError("cannot write \(path): \(String(cString: strerror(errno)))") }
            written += n
        }
        return path
    }
}

/// Stops the run with `message` when an invariant does not hold; libFuzzer saves the input as a crash.
public func invariant(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fatalError("invariant violated: \(message())", file: file, line: line) }
}

/// The fuzz input as a buffer (libFuzzer passes a null pointer for the empty input).
public func withInput<T>(_ data: UnsafePointer<UInt8>?, _ size: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T {
    body(UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size))
}
