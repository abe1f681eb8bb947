import Foundation
import Testing
import XlateDecode
import XlateModel

/// Item 8 of issue 17: every generation setting has bounds, checked before anything runs, and the error names the
/// setting by its `generation_config.json` key.
@Suite("Generation setting bounds")
struct GenerationBoundsTests {
    let model: any Seq2SeqModel

    init() throws {
        model = try Fixture(fixtureNames.first!).model
    }

    /// The key and message of the error `change` causes, nil when the options are valid.
    func failure(_ change: (inout DecodingOptions) -> Void) -> (setting: String?, message: String)? {
        var options = DecodingOptions()
        options.maxLength = model.maxTargetLength
        change(&options)
        do { try options.validate(for: model) } catch { return (error.setting, error.message) }
        return nil
    }

    @Test func eachSettingOutOfItsBoundsIsNamed() {
        let cases: [(change: (inout DecodingOptions) -> Void, setting: String, message: String)] = [
            ({ (o: inout DecodingOptions) in o.numBeams = 100_000 }, "num_beams", "the beam size must be <= 256, got 100000"),
            ({ (o: inout DecodingOptions) in o.numBeams = 300; o.numReturnSequences = 300 }, "num_beams", "must be <= 256"),
            ({ (o: inout DecodingOptions) in o.minLength = 1_000_000 }, "min_length", "the minimum length 1000000 exceeds the maximum length 64"),
            ({ (o: inout DecodingOptions) in o.maxNewTokens = .max }, "max_new_tokens", "exceeds the model's 64 target positions"),
            ({ (o: inout DecodingOptions) in o.maxNewTokens = 64 }, "max_new_tokens", "exceeds the model's 64 target positions"),
            ({ (o: inout DecodingOptions) in o.maxLength = 65 }, "max_length", "exceeds the model's 64 target positions"),
            ({ (o: inout DecodingOptions) in o.noRepeatNgramSize = 1_000_000 }, "no_repeat_ngram_size", "exceeds the maximum length 64"),
            ({ (o: inout DecodingOptions) in o.lengthPenalty = .infinity }, "length_penalty", "must be finite"),
            ({ (o: inout DecodingOptions) in o.lengthPenalty = .nan }, "length_penalty", "must be finite"),
            ({ (o: inout DecodingOptions) in o.repetitionPenalty = .nan }, "repetition_penalty", "must be > 0 and finite"),
            ({ (o: inout DecodingOptions) in o.badWordsIds = [Array(repeating: 5, count: 65)] }, "bad_words_ids", "longer than the maximum length"),
            ({ (o: inout DecodingOptions) in o.forcedEOSTokenIds = [-1] }, "forced_eos_token_id", "outside the vocabulary"),
            ({ (o: inout DecodingOptions) in o.numReturnSequences = 0 }, "num_return_sequences", "must be >= 1"),
        ]
        for (change, setting, message) in cases {
            let got = failure(change)
            #expect(got?.setting == setting, "\(String(describing: got))")
            #expect(got?.message.contains(message) == true, "\(message): \(String(describing: got))")
        }
    }

    @Test func theBoundsThemselvesAreValid() {
        #expect(failure { $0.numBeams = DecodingOptions.maximumBeams; $0.numReturnSequences = DecodingOptions.maximumBeams } == nil)
        #expect(failure { $0.minLength = 64; $0.noRepeatNgramSize = 64; $0.maxNewTokens = 63 } == nil)
        #expect(failure { $0.lengthPenalty = -0.5; $0.repetitionPenalty = 1.2 } == nil)
    }

    @Test func anOutOfRangeSettingReadsAsBefore() {
        let error = DecodingError.outOfRange(setting: "num_beams", message: "the beam size must be >= 1, got 0")
        #expect(error.localizedDescription == "Invalid decoding option: the beam size must be >= 1, got 0.")
    }
}
