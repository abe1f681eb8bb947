import Foundation

/// Failures of the numeric layer.
public enum XlateCoreError: Error, LocalizedError, Equatable {
    /// OpenBLAS could not be loaded.
    case blasUnavailable(String)
    /// The kernel refused to reserve `bytes` of address space (`reason`: its error): a limit such as `ulimit -v`.
    case cannotReserve(bytes: Int, reason: String)

    public var errorDescription: String? {
        switch self {
        case .blasUnavailable(let detail):
            "OpenBLAS could not be loaded (\(detail)). Install it: apt-get install libopenblas0 (or libopenblas-dev)."
        case .cannotReserve(let bytes, let reason):
            "cannot reserve \(bytes >> 20) MiB of address space for the decoder's cache (\(reason)). Use a smaller "
                + "beam or fewer threads, or raise the process's memory limit (ulimit -v)."
        }
    }
}
