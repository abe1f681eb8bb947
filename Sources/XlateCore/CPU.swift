import CKernels
import Foundation

/// What the processor can do, read from `/proc/cpuinfo` (Linux).
public struct CPUFeatures: Sendable, Equatable {
    public let flags: Set<String>

    public init(flags: Set<String>) { self.flags = flags }

    /// The features of the machine this process runs on (empty where `/proc/cpuinfo` is not readable).
    public static let current: CPUFeatures = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return CPUFeatures(flags: [])
        }
        return CPUFeatures(cpuinfo: text)
    }()

    public init(cpuinfo: String) {
        let line = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }
        let list = line?.split(separator: ":", maxSplits: 1).last ?? ""
        flags = Set(list.split(separator: " ").map(String.init))
    }

    public var hasAVX512: Bool {
        ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains)
    }

    public var hasAVX2: Bool { flags.contains("avx2") && flags.contains("fma") }
}

/// Threads within one matrix product. A thread that translates alone (one sentence, fewer batches than threads)
/// can lend its products the idle cores: each product of the packed kernels large enough to pay for it is split by
/// output columns among the thread and helper threads of its own. Every output is computed by one thread in the
/// same order, so results are identical whatever the count.
public enum ProductThreads {
    /// The count products on this thread use (1 unless inside `with`).
    public static var current: Int { Int(xk_threads()) }

    /// Runs `body` with this thread's products split among `threads` threads (this one and `threads - 1` helpers,
    /// started on first use and stopped when the thread exits).
    public static func with<R, E: Error>(_ threads: Int, _ body: () throws(E) -> R) throws(E) -> R {
        let previous = xk_threads()
        xk_set_threads(Int32(clamping: threads))
        defer { xk_set_threads(previous) }
        return try body()
    }
}
