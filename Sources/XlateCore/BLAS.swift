import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Matrix multiplication through OpenBLAS, loaded at run time so that its kernel can be chosen first.
///
/// Debian's OpenBLAS 0.3.21 picks its kernel once, when the library loads, from the CPU model, and on newer CPUs
/// it can fall back to the generic `Prescott` (SSE3) kernels: 2–3× slower sgemm. `OPENBLAS_CORETYPE` overrides the
/// choice, but only if it is set before the library loads — too late for a linked library, whose constructor runs
/// before `main`. So xlate does not link OpenBLAS: the first BLAS call sets `OPENBLAS_CORETYPE` from the CPU's
/// features (unless the user set it), then `dlopen`s the library. `BLAS.info` reports what happened.
///
/// OpenBLAS runs single-threaded (`OPENBLAS_NUM_THREADS=1` unless set): measured on 2 cores, its threads spin-wait
/// on the engine's small GEMMs and beam search ran 2× slower with 2 threads than with 1. xlate parallelises over
/// batches of sentences instead (`TranslationOptions.threads`).
public enum BLAS {
    /// The kernel in use and how it was chosen.
    public struct Info: Sendable, CustomStringConvertible {
        /// `openblas_get_corename()`, e.g. `SkylakeX`, `Haswell`, `Prescott`.
        public let kernel: String
        /// `openblas_get_config()`, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64`.
        public let config: String
        /// How the kernel was chosen.
        public let choice: String
        /// True for the kernels without AVX that a misdetection falls back to.
        public var isGeneric: Bool { BLAS.genericKernels.contains(kernel.lowercased()) }

        public var description: String { "\(kernel) (\(choice))" }
    }

    /// Kernels that use at most SSE3: what OpenBLAS falls back to when it does not know the CPU.
    static let genericKernels: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine", "northwood",
        "banias", "athlon", "opteron", "opteron_sse3", "barcelona", "bobcat", "unknown", "generic",
    ]

    /// The `OPENBLAS_CORETYPE` xlate chooses for a CPU: the AVX-512 kernels where the CPU has AVX-512, the AVX2
    /// ones where it has AVX2 + FMA (OpenBLAS's own choice on the CPUs it recognises), none otherwise.
    public static func recommendedCoreType(for cpu: CPUFeatures) -> String? {
        if cpu.hasAVX512 { return "SkylakeX" }
        if cpu.hasAVX2 { return "Haswell" }
        return nil
    }

    /// Loads OpenBLAS if needed and returns the kernel in use.
    public static func info() throws(XlateCoreError) -> Info {
        try library.get().info
    }

    /// Sets the number of threads OpenBLAS uses for one call.
    public static func setThreads(_ count: Int) throws(XlateCoreError) {
        try library.get().setThreads(Int32(max(1, count)))
    }

    /// `C = alpha · op(A) · op(B) + beta · C`, row-major; `op(A)` is `m × k`, `op(B)` is `k × n`.
    @inline(__always)
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // Loading succeeded before any tensor work: `Translator` and the tests call `info()` first.
        let blas = try! library.get()
        blas.sgemm(
            rowMajor, transA ? trans : noTrans, transB ? trans : noTrans, Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    // MARK: - Loading

    private static let rowMajor: Int32 = 101
    private static let noTrans: Int32 = 111
    private static let trans: Int32 = 112

    typealias SgemmFunction = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
        Float, UnsafeMutablePointer<Float>?, Int32
    ) -> Void
    typealias StringFunction = @convention(c) () -> UnsafePointer<CChar>?
    typealias SetThreadsFunction = @convention(c) (Int32) -> Void

    struct Library: @unchecked Sendable {
        let sgemm: SgemmFunction
        let setThreads: SetThreadsFunction
        let info: Info
    }

    /// Library file names tried in order (Debian's libopenblas0 provides the first).
    static let candidates = ["libopenblas.so.0", "libopenblas.so"]

    private static let library: Result<Library, XlateCoreError> = load()

    private static func load() -> Result<Library, XlateCoreError> {
        let choice: String
        if let preset = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !preset.isEmpty {
            choice = "OPENBLAS_CORETYPE=\(preset) from the environment"
        } else if let coreType = recommendedCoreType(for: .current) {
            setenv("OPENBLAS_CORETYPE", coreType, 1)
            choice = "chosen by xlate from the CPU's \(coreType == "SkylakeX" ? "AVX-512" : "AVX2") support"
        } else {
            choice = "detected by OpenBLAS"
        }
        if ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil {
            setenv("OPENBLAS_NUM_THREADS", "1", 1)
        }
        var handle: UnsafeMutableRawPointer?
        var errors: [String] = []
        for name in candidates {
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
            if handle != nil { break }
            errors.append(String(cString: dlerror()))
        }
        guard let handle else {
            return .failure(.blasUnavailable(errors.joined(separator: "; ")))
        }
        func symbol<T>(_ name: String, as type: T.Type) throws(XlateCoreError) -> T {
            guard let pointer = dlsym(handle, name) else { throw .blasUnavailable("symbol \(name) not found") }
            return unsafeBitCast(pointer, to: type)
        }
        do {
            let corename = try symbol("openblas_get_corename", as: StringFunction.self)
            let config = try symbol("openblas_get_config", as: StringFunction.self)
            let info = Info(
                kernel: corename().map { String(cString: $0) } ?? "unknown",
                config: config().map { String(cString: $0) } ?? "",
                choice: choice)
            return .success(
                Library(
                    sgemm: try symbol("cblas_sgemm", as: SgemmFunction.self),
                    setThreads: try symbol("openblas_set_num_threads", as: SetThreadsFunction.self),
                    info: info))
        } catch {
            return .failure(error)
        }
    }
}
