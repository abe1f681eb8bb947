import Foundation
import Testing

@testable import Xlate

/// Issue 17 item 21: `Translator.load` loads a model from async code without blocking a thread of the cooperative
/// pool.
@Suite("Loading from async code")
struct AsyncLoadTests {
    static let model = repositoryRoot.appendingPathComponent("Models/xlate-en-de")

    @Test func loadsTheSameTranslatorAsTheBlockingInitialiser() async throws {
        let loaded = try await Translator.load(modelAt: Self.model)
        let blocking = try Bundled.translator("en-de")
        #expect(loaded.architecture == blocking.architecture)
        #expect(loaded.defaultOptions == blocking.defaultOptions)
        let sentence = "The cat sat on the mat."
        #expect(try await loaded.translate(sentence) == blocking.translate(sentence))
    }

    @Test func throwsTheBlockingInitialisersErrors() async throws {
        let missing = repositoryRoot.appendingPathComponent("Models/no-such-model")
        await #expect(throws: ModelError.self) { try await Translator.load(modelAt: missing) }
        await #expect(throws: ModelNotFound.self) {
            try await Translator.load(source: "xx", target: "yy", resolver: ModelResolver(searchPaths: []))
        }
    }

    @Test func aCancelledTaskDoesNotStartLoading() async throws {
        let task = Task {
            while !Task.isCancelled { await Task.yield() }
            return try await Translator.load(modelAt: Self.model)
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    /// More blocking jobs than the cooperative pool has threads (one per core) all wait for this task to release
    /// them: if they ran on the pool, it would be full and this task could not run until they timed out.
    @Test func blockingWorkLeavesTheCooperativePoolFree() async throws {
        let jobs = 2 * ProcessInfo.processInfo.activeProcessorCount + 2
        let gate = DispatchSemaphore(value: 0)
        let waits = (0..<jobs).map { _ in
            Task { try await Translator.offCooperativePool { gate.wait(timeout: .now() + 10) == .success } }
        }
        try await Task.sleep(for: .milliseconds(100))
        for _ in 0..<jobs { gate.signal() }
        for wait in waits { #expect(try await wait.value, "a job timed out: it held a thread this task needed") }
    }
}
