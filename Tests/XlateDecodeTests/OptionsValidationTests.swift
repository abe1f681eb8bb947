import Foundation
import Testing
import XlateDecode
import XlateModel

@Suite("DecodingOptions validation")
struct OptionsValidationTests {
    let model: any Seq2SeqModel

    init() throws {
        model = try Fixture(fixtureNames.first!).model
    }

    func message(_ change: (inout DecodingOptions) -> Void) -> String? {
        var options = DecodingOptions()
        change(&options)
        do { try options.validate(for: model) } catch { return error.localizedDescription }
        return nil
    }

    @Test func defaultsAreValid() { #expect(message { _ in } == nil) }

    @Test func rejectsEachInvalidOptionWithAPreciseMessage() {
        #expect(message { $0.numBeams = 0 } == "Invalid decoding option: the beam size must be >= 1, got 0.")
        #expect(message { $0.numReturnSequences = 3 }?.contains("cannot return 3 sequences from 1 beam(s)") == true)
        #expect(message { $0.maxLength = 1 }?.contains("must be >= 2") == true)
        #expect(message { $0.maxLength = 100_000 }?.contains("exceeds the model's 64 target positions") == true)
        #expect(message { $0.maxNewTokens = 0 }?.contains("max new tokens must be >= 1") == true)
        #expect(message { $0.repetitionPenalty = 0 }?.contains("repetition penalty must be > 0") == true)
        #expect(message { $0.badWordsIds = [[]] }?.contains("empty") == true)
        #expect(message { $0.badWordsIds = [[100_000]] }?.contains("outside the vocabulary") == true)
        #expect(message { $0.crossAttention = CrossAttentionRequest(layer: 99) }?.contains("attention layer 99 does not exist") == true)
        #expect(message { $0.crossAttention = CrossAttentionRequest(layer: 0, heads: [42]) }?.contains("attention heads must be in") == true)
    }
}
