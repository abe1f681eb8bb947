import Foundation

extension Translator {
    /// Loads a model folder from async code, as `init(modelAt:computeType:)` does, on a thread outside the
    /// cooperative thread pool: loading reads and checks hundreds of megabytes (and quantises them with `.int8`),
    /// which would hold one of the pool's few threads — one per core — for the whole time.
    ///
    /// ```swift
    /// // In a server's startup, or an app's `.task { }`:
    /// let translator = try await Translator.load(modelAt: URL(fileURLWithPath: "Models/xlate-en-de"))
    /// let german = try await translator.translate("Good morning.")
    /// ```
    ///
    /// A task cancelled before the load starts throws `CancellationError`; a load that has started runs to the end
    /// (it cannot stop half-way), and its result is returned.
    public static func load(modelAt directory: URL, computeType: ComputeType = .float32) async throws -> Translator {
        try await offCooperativePool { try Translator(modelAt: directory, computeType: computeType) }
    }

    /// Loads the first model that translates `source` → `target` (see `ModelResolver`) from async code, as
    /// `load(modelAt:computeType:)` does.
    public static func load(
        source: String, target: String, resolver: ModelResolver = ModelResolver(), computeType: ComputeType = .float32
    ) async throws -> Translator {
        try await offCooperativePool { try Translator(source: source, target: target, resolver: resolver, computeType: computeType) }
    }

    /// The result of the blocking `work`, run on a Dispatch worker thread while the calling task waits without
    /// holding a thread of the cooperative pool; throws `CancellationError` instead if the task is already cancelled.
    static func offCooperativePool<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(with: Result { try work() }) }
        }
    }
}
