import Foundation
import Testing
import XlateCore
import XlateDecode
@testable import XlateModel

let t5FixturesDirectory = fixturesDirectory.deletingLastPathComponent().appendingPathComponent("t5")

/// Every tiny T5 / mT5 checkpoint in Fixtures/t5, as `Fixture` names (relative to Fixtures/marian).
let t5FixtureNames: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: t5FixturesDirectory.path)) ?? [])
    .filter { FileManager.default.fileExists(atPath: t5FixturesDirectory.appendingPathComponent("\($0)/config.json").path) }
    .sorted().map { "../t5/\($0)" }

/// The bucket of each relative position, recorded from `T5Attention._relative_position_bucket`.
struct RecordedBuckets: Decodable {
    struct Table: Decodable {
        let first_position: Int
        let encoder: [Int]
        let decoder: [Int]
    }

    let relative_buckets: Table
}

/// The T5 fixtures run through the same checks as the Marian ones (`MarianParityTests`): the search code does not
/// know which architecture it drives, and neither do these checks.
@Suite("T5 / mT5 parity with transformers (tiny random checkpoints)")
struct T5ParityTests {
    @Test func fixturesExist() {
        #expect(t5FixtureNames.count >= 2, "run `python Fixtures/generate_t5.py` to create Fixtures/t5")
        #expect(t5FixtureNames.contains("../t5/relu-tied") && t5FixtureNames.contains("../t5/gated-gelu-untied"))
    }

    @Test(arguments: t5FixtureNames)
    func encoderOutputAndFirstStepLogits(_ name: String) throws {
        try MarianParityTests().encoderOutputAndFirstStepLogits(name)
    }

    @Test(arguments: t5FixtureNames)
    func generationsMatchTokenForToken(_ name: String) throws {
        try MarianParityTests().generationsMatchTokenForToken(name)
    }

    @Test(arguments: t5FixtureNames)
    func batchedDecodingEqualsRecordedBatch(_ name: String) throws {
        try MarianParityTests().batchedDecodingEqualsRecordedBatch(name)
    }

    @Test(arguments: t5FixtureNames)
    func relativePositionBucketsMatchTransformers(_ name: String) throws {
        let directory = fixturesDirectory.appendingPathComponent(name)
        let config = try T5Config(contentsOf: directory.appendingPathComponent("config.json"))
        let data = try Data(contentsOf: directory.appendingPathComponent("reference.json"))
        let table = try JSONDecoder().decode(RecordedBuckets.self, from: data).relative_buckets
        #expect(table.encoder.count > 500)
        for (offset, (encoder, decoder)) in zip(table.encoder, table.decoder).enumerated() {
            let position = table.first_position + offset
            func bucket(_ bidirectional: Bool) -> Int {
                RelativePositionBias.bucket(
                    relativePosition: position, bidirectional: bidirectional, numBuckets: config.relativeAttentionNumBuckets,
                    maxDistance: config.relativeAttentionMaxDistance)
            }
            #expect(bucket(true) == encoder, "\(name) encoder position \(position)")
            #expect(bucket(false) == decoder, "\(name) decoder position \(position)")
        }
    }

    /// The fixtures differ where T5 implementations break.
    @Test func fixturesCoverTheVariants() throws {
        func config(_ name: String) throws -> T5Config {
            try T5Config(contentsOf: t5FixturesDirectory.appendingPathComponent("\(name)/config.json"))
        }
        let reluTied = try config("relu-tied")
        #expect(reluTied.activation == .relu && !reluTied.isGatedFeedForward && reluTied.scaleDecoderOutputs)
        #expect(reluTied.decoderLayers > reluTied.encoderLayers)
        let gated = try config("gated-gelu-untied")
        #expect(gated.activation == .geluTanh && gated.isGatedFeedForward && !gated.scaleDecoderOutputs)
        #expect(gated.innerDim != gated.dModel && gated.encoderLayers != gated.decoderLayers)
        #expect(try T5Model(directory: t5FixturesDirectory.appendingPathComponent("gated-gelu-untied")).outputScale == 1)
        let tied = try T5Model(directory: t5FixturesDirectory.appendingPathComponent("relu-tied"))
        #expect(tied.outputScale == Float(pow(Double(reluTied.dModel), -0.5)))
    }

    /// Per-head cross-attention averages to the all-heads average, for every layer: head selection works on T5.
    @Test(arguments: t5FixtureNames)
    func crossAttentionHeadsAverageToAllHeads(_ name: String) throws {
        let fixture = try Fixture(name)
        let model = fixture.model
        let testCase = try #require(fixture.reference.cases.last)
        let encoded = model.encode([testCase.input_ids])
        let start = model.vocabulary.decoderStartTokenId
        for layer in 0..<model.decoderLayerCount {
            var all = try model.makeDecoderState(for: encoded, rowSentences: [0])
            model.decodeStep([start], state: &all, crossAttention: CrossAttentionRequest(layer: layer))
            let average = all.crossAttention ?? []
            #expect(!average.isEmpty)
            var sum = [Float](repeating: 0, count: average.count)
            for head in 0..<model.decoderHeadCount {
                var one = try model.makeDecoderState(for: encoded, rowSentences: [0])
                model.decodeStep([start], state: &one, crossAttention: CrossAttentionRequest(layer: layer, heads: [head]))
                let probabilities = one.crossAttention ?? []
                #expect(probabilities.count == average.count)
                #expect(abs(probabilities.reduce(0, +) - 1) < 1e-5)
                for i in sum.indices where i < probabilities.count { sum[i] += probabilities[i] / Float(model.decoderHeadCount) }
            }
            #expect(maxDifference(sum, average) < 1e-6, "\(name) layer \(layer)")
        }
    }
}
