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
