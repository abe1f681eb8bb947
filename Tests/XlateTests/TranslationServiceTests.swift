import Foundation
import Testing
import Xlate

@Suite("TranslationService")
struct TranslationServiceTests {
    /// Batch sizes a service reported.
    final class Reports: @unchecked Sendable {
        private let lock = NSLock()
        private var batches: [TranslationService.BatchReport] = []
        func add(_ report: TranslationService.BatchReport) { lock.withLock { batches.append(report) } }
        var all: [TranslationService.BatchReport] { lock.withLock { batches } }
    }

    /// 16 concurrent requests with different texts share batches, and each gets what `translate` gives it alone
    /// (beam search and n-best, where a batch's rows are most entangled).
    @Test func concurrentRequestsShareBatchesAndGetTheirOwnResults() async throws {
        let translator = try Bundled.translator("en-de")
        let lines = try String(contentsOf: repositoryRoot.appendingPathComponent("../shared/eval/newstest2014.en"), encoding: .utf8)
            .split(separator: "\n").prefix(32).map(String.init)
        var options = translator.defaultOptions
        options.splitSentences = true
        options.decoding.numBeams = 3
        options.decoding.numReturnSequences = 2
        let shared = options
        let alone = try (0..<16).map { try translator.translate([lines[2 * $0], lines[2 * $0 + 1]], options: shared) }
        let reports = Reports()
        let service = TranslationService(
            configuration: .init(maxBatchSize: 64, batchWindow: .milliseconds(100)), onBatch: reports.add)
        let results = try await withThrowingTaskGroup(of: (Int, [Translation]).self) { group in
            for client in 0..<16 {
                group.addTask {
                    (client, try await service.translate([lines[2 * client], lines[2 * client + 1]], with: translator, options: shared))
                }
            }
            var results = [[Translation]](repeating: [], count: 16)
            for try await (client, translations) in group { results[client] = translations }
            return results
        }
        #expect(results == alone)
        #expect(reports.all.reduce(0) { $0 + $1.texts } == 32)
        #expect(reports.all.count < 16, "\(reports.all.map(\.texts)) texts per batch")
    }

    /// A full queue refuses at once; a request that outlives its timeout is answered with `timedOut`; options out of
    /// range are refused before queueing.
    @Test func queueLimitTimeoutAndValidation() async throws {
        let translator = try Bundled.translator("en-de")
        // Room for two texts: the first request waits out the window instead of starting a full batch.
        let service = TranslationService(configuration: .init(maxBatchSize: 2, batchWindow: .seconds(2), queueLimit: 1))
        let options = translator.defaultOptions
        let waiting = Task { try await service.translate(["I like tea."], with: translator, options: options, timeout: .milliseconds(300)) }
        for _ in 0..<1000 where await service.queueDepth == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await service.queueDepth == 1)
        await #expect(throws: TranslationServiceError.self) {
            try await service.translate(["Hello."], with: translator, options: options)
        }
        await #expect(throws: TranslationServiceError.timedOut(after: .milliseconds(300))) { try await waiting.value }
        #expect(await service.queueDepth == 0)
        var bad = options
        bad.decoding.numBeams = 0
        await #expect(throws: DecodingError.self) { try await service.translate(["Hi."], with: translator, options: bad) }
    }
}
