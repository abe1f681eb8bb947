import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT / SIGTERM while translating: the chunk in progress finishes, its complete lines are written, and xlate
/// exits with status 128 + signal, saying how many lines were written. A second signal exits at once.
final class Interrupt: @unchecked Sendable {
    private let lock = NSLock()
    private var received: Int32?
    private var sources: [DispatchSourceSignal] = []

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
            if received != nil { _exit(128 + number) }
            received = number
        }
    }

    /// The signal received, if any.
    var signal: Int32? { lock.withLock { received } }
}
