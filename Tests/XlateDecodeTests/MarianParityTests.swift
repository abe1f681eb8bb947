import Foundation
import Testing
import XlateCore
import XlateDecode
import XlateModel

/// Outputs recorded from transformers by `Fixtures/generate.py` for a tiny random Marian checkpoint.
struct Reference: Decodable {
    struct Options: Decodable {
        let num_beams: Int
        let length_penalty: Double
        let early_stopping: EarlyStoppingValue
        let max_length: Int
        let max_new_tokens: Int?
        let num_return_sequences: Int
    }

    /// `early_stopping` is `true`, `false` or `"never"`.
    struct EarlyStoppingValue: Decodable {
        let value: EarlyStopping
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                value = flag ? .enabled : .heuristic
            } else {
                value = EarlyStopping(rawValue: try container.decode(String.self))!
            }
        }
    }

    struct Generation: Decodable {
        let options: Options
        let sequences: [[Int]]
        let scores: [Float]?
        let cross_attentions: [[Float]]?
    }

    struct Case: Decodable {
        let input_ids: [Int]
        let encoder_output: [[Float]]
        let first_step_logits: [Float]
        let generations: [Generation]
    }

    struct Batch: Decodable {
        let input_ids: [[Int]]
        let greedy: [[Int]]
        let beam4: [[Int]]
    }

    let model: String
    let cases: [Case]
    let batch: Batch?
}

let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/marian")

/// Every tiny checkpoint in Fixtures/marian.
let fixtureNames: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: fixturesDirectory.path)) ?? []).sorted()

/// A loaded fixture: model, recorded outputs, the decoding defaults of its generation_config.json.
struct Fixture {
    let model: any Seq2SeqModel
    let reference: Reference
    let defaults: DecodingOptions

    /// The fixture in folder `name` of Fixtures/marian (other architectures: `../t5/NAME`, `../m2m100/NAME`); the model type comes
    /// from its config.json.
    init(_ name: String) throws {
        _ = try BLAS.info()
        let directory = fixturesDirectory.appendingPathComponent(name)
        model = switch try ModelArchitecture(directory: directory) {
        case .marian: try MarianModel(directory: directory)
        case .t5: try T5Model(directory: directory)
        case .m2m100, .mbart, .bart: try BartModel(directory: directory)
        }
        let data = try Data(contentsOf: directory.appendingPathComponent("reference.json"))
        reference = try JSONDecoder().decode(Reference.self, from: data)
        defaults = DecodingOptions(defaults: try GenerationDefaults(modelDirectory: directory))
    }

    func options(_ recorded: Reference.Options, crossAttention: Bool = false) -> DecodingOptions {
        var options = defaults
        options.numBeams = recorded.num_beams
        options.lengthPenalty = recorded.length_penalty
        options.earlyStopping = recorded.early_stopping.value
        options.maxLength = recorded.max_length
        options.maxNewTokens = recorded.max_new_tokens
        options.numReturnSequences = recorded.num_return_sequences
        if crossAttention { options.crossAttention = CrossAttentionRequest(layer: model.decoderLayerCount - 1) }
        return options
    }
}

func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "lengths differ: \(a.count) vs \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

@Suite("Marian parity with transformers (tiny random checkpoints)")
struct MarianParityTests {
    @Test func fixturesExist() {
        #expect(fixtureNames.count >= 4, "run `make fixtures` to create Fixtures/marian")
    }

    @Test(arguments: fixtureNames)
    func encoderOutputAndFirstStepLogits(_ name: String) throws {
        let fixture = try Fixture(name)
        for (index, testCase) in fixture.reference.cases.enumerated() {
            let encoded = fixture.model.encode([testCase.input_ids])
            #expect(maxDifference(encoded.hiddenStates.data, testCase.encoder_output.flatMap { $0 }) < 1e-4, "\(name) case \(index) encoder output")
            var state = try fixture.model.makeDecoderState(for: encoded, rowSentences: [0])
            fixture.model.decodeStep([fixture.model.vocabulary.decoderStartTokenId], state: &state, crossAttention: nil)
            let logits = Array(state.logits.prefix(state.vocabularySize))
            #expect(maxDifference(logits, testCase.first_step_logits) < 1e-4, "\(name) case \(index) first-step logits")
        }
    }

    @Test(arguments: fixtureNames)
    func generationsMatchTokenForToken(_ name: String) throws {
        let fixture = try Fixture(name)
        var compared = 0
        for (index, testCase) in fixture.reference.cases.enumerated() {
            let encoded = fixture.model.encode([testCase.input_ids])
            for generation in testCase.generations {
                let options = fixture.options(generation.options, crossAttention: generation.cross_attentions != nil)
                try options.validate(for: fixture.model)
                let hypotheses = try searchStrategy(for: options).search(model: fixture.model, encoded: encoded, options: options)[0]
                let label = "\(name) case \(index) \(generation.options)"
                #expect(hypotheses.map(\.tokens) == generation.sequences, "\(label)")
                if let scores = generation.scores {
                    // Sums of up to max_length float32 log-probabilities: compare relative to their size.
                    for (got, expected) in zip(hypotheses.compactMap(\.score), scores) {
                        #expect(abs(got - expected) <= 1e-4 * max(1, abs(expected)), "\(label) score \(got) vs \(expected)")
                    }
                }
                if let attention = generation.cross_attentions, let got = hypotheses.first?.crossAttention {
                    #expect(maxDifference(got.flatMap { $0 }, attention.flatMap { $0 }) < 1e-4, "\(label) cross-attention")
                }
                compared += 1
            }
        }
        #expect(compared >= 30)
    }

    @Test(arguments: fixtureNames)
    func batchedDecodingEqualsRecordedBatch(_ name: String) throws {
        let fixture = try Fixture(name)
        guard let batch = fixture.reference.batch else {
            Issue.record("\(name): no batch case recorded")
            return
        }
        let encoded = fixture.model.encode(batch.input_ids)
        var greedy = fixture.defaults
        greedy.numBeams = 1
        #expect(try GreedySearch().search(model: fixture.model, encoded: encoded, options: greedy).map { $0[0].tokens } == batch.greedy)
        var beam = fixture.defaults
        beam.numBeams = 4
        #expect(try BeamSearch().search(model: fixture.model, encoded: encoded, options: beam).map { $0[0].tokens } == batch.beam4)
    }
}
