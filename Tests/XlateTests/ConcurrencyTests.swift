import Foundation
import Testing
import Xlate

@Suite("A Translator shared between tasks")
struct ConcurrencyTests {
    @Test func eightConcurrentTasksGetTheSequentialResults() async throws {
        let translator = try Bundled.translator("en-de")
        let texts = ["The cat sat on the mat.", "I like tea.", "Where is the station?", "", "He writes a letter to his mother."]
        var options = translator.defaultOptions
        options.decoding.numBeams = 2
        options.decoding.numReturnSequences = 2
        let shared = options
        let expected = try await translator.translate(texts, options: shared)
        let results = try await withThrowingTaskGroup(of: [Translation].self) { group in
            for _ in 0..<8 {
                group.addTask { try await translator.translate(texts, options: shared) }
            }
            var all: [[Translation]] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 8)
        for result in results { #expect(result == expected) }
    }
}
