import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT / SIGTERM while translating: no new batch of sentences starts, the batches running finish, the complete
/// lines (in input order) are written, and xlate exits with status 128 + signal, saying how many lines were written.
/// While xlate waits for input, the signal ends the wait at once. A second signal exits at once.
final class Interrupt: @unchecked Sendable {
    private let lock = NSLock()
    private var received: Int32?
    private var sources: [DispatchSourceSignal] = []
    /// Deleted before a second signal ends xlate at once: an output file's unfinished temporary file.
    private var temporaryFile: String?
    /// Becomes readable when a signal arrives (one byte written to `wakeupWriter`, never read): a reader waiting on a
    /// terminal or pipe waits for it as well as for input. -1 if no pipe could be made (waits then end with input).
    let wakeup: Int32
    private let wakeupWriter: Int32

    private init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) != 0 { ends = [-1, -1] }
        (wakeup, wakeupWriter) = (ends[0], ends[1])
    }

    /// Starts catching SIGINT and SIGTERM for the rest of the process.
    static func install() -> Interrupt {
        let interrupt = Interrupt()
        for number in [SIGINT, SIGTERM] {
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { interrupt.receive(number) }
            source.resume()
            interrupt.sources.append(source)
        }
        return interrupt
    }

    private func receive(_ number: Int32) {
        lock.withLock {
            if received != nil {
                if let temporaryFile { unlink(temporaryFile) }
                _exit(128 + number)
            }
            received = number
            if wakeupWriter >= 0 {
                var byte: UInt8 = 1
                _ = Glibc.write(wakeupWriter, &byte, 1)  // the pipe is empty: one byte always fits
            }
        }
    }

    /// The signal received, if any.
    var signal: Int32? { lock.withLock { received } }

    /// Deletes `path` (an unfinished temporary file) if a second signal ends xlate at once.
    func deleteOnForcedExit(_ path: String?) {
        lock.withLock { temporaryFile = path }
    }
}
