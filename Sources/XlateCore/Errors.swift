import Foundation

/// Failures of the numeric layer.
public enum XlateCoreError: Error, LocalizedError, Equatable {
    /// OpenBLAS could not be loaded.
    case blasUnavailable(String)

    public var errorDescription: String? {
        switch self {
        case .blasUnavailable(let detail):
            "OpenBLAS could not be loaded (\(detail)). Install it: apt-get install libopenblas0 (or libopenblas-dev)."
        }
    }
}
