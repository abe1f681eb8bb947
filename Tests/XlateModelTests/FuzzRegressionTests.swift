import Foundation
import Testing
@testable import XlateModel

/// What the fuzzers in `Fuzz/` found, kept as tests, and the fuzzers' seed corpus (`Fuzz/corpus/`), checked to mean
/// what its file names say: each seed parses, or fails with the typed error that names its file.
@Suite("Fuzzing: findings and seeds")
struct FuzzRegressionTests {
    static let corpus = repositoryRoot.appendingPathComponent("Fuzz/corpus")

    static func seeds(_ target: String) -> [URL] {
        let folder = corpus.appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().map { folder.appendingPathComponent($0) }
    }

    static let tokenizer: MarianTokenizer = {
        let config = try! MarianConfig(contentsOf: bundledEnDe.appendingPathComponent("config.json"))
        return try! MarianTokenizer(directory: bundledEnDe, config: config)
    }()

    // MARK: Findings

    /// FuzzTokenizer, first run: SentencePiece keeps a NUL byte of the text inside a piece, and the C shim returned
    /// pieces NUL-separated, so "nul\0byte" came back with two empty pieces (two `<unk>` where transformers has one).
    /// The shim now returns each piece's length. Expected ids recorded from transformers 5.23.0's MarianTokenizer.
    @Test(arguments: [
        NulCase(text: "nul\u{0}byte", pieces: ["▁nu", "l", "\u{0}", "by", "te"], ids: [8100, 155, 1, 1962, 136, 0]),
        NulCase(text: "a\u{0}\u{0}b", pieces: ["▁a", "\u{0}\u{0}", "b"], ids: [6, 1, 147, 0]),
        NulCase(text: "\u{0}", pieces: ["▁", "\u{0}"], ids: [18, 1, 0]),
    ])
    func nulBytesStayInsideTheirPiece(_ nul: NulCase) {
        let encoded = Self.tokenizer.encode(nul.text)
        #expect(encoded.pieces == nul.pieces)
        #expect(encoded.ids == nul.ids)
    }

    /// Shown escaped in the test log (a NUL would end the line there).
    struct NulCase: Sendable, CustomTestStringConvertible {
        let text: String
        let pieces: [String]
        let ids: [Int]
        var testDescription: String { text.debugDescription }
    }

    /// FuzzConfig invariant "at least one eos id": `"eos_token_id": []` was accepted, leaving decoding without an end
    /// (every translation ran to max_length) and `MarianTokenizer` indexing `eosTokenIds[0]` when vocab.json has
    /// no `</s>`. Both configs now refuse it.
    @Test func anEmptyEOSListIsRefused() throws {
        let directory = try temporaryDirectory()
        let marian = directory.appendingPathComponent("config.json")
        let text = try String(contentsOf: bundledEnDe.appendingPathComponent("config.json"), encoding: .utf8)
        try text.replacingOccurrences(of: "\"eos_token_id\": 0", with: "\"eos_token_id\": []").write(to: marian, atomically: true, encoding: .utf8)
        #expect(throws: ModelError.invalidConfig(path: marian.path, reason: "\"eos_token_id\" is an empty list; decoding needs an end-of-sequence id")) {
            try MarianConfig(contentsOf: marian)
        }
        let t5 = directory.appendingPathComponent("t5-config.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.corpus.appendingPathComponent("config/t5-config.json"))) as? [String: Any])
        object["eos_token_id"] = [Int]()
        try JSONSerialization.data(withJSONObject: object).write(to: t5)
        #expect(throws: ModelError.invalidConfig(path: t5.path, reason: "\"eos_token_id\" is an empty list; decoding needs an end-of-sequence id")) {
            try T5Config(contentsOf: t5)
        }
    }

    /// FuzzPyTorch's allocation limit: `torch.save({"model.shared.weight": torch.zeros(1).expand(10**13)})` writes
    /// 1,683 bytes (one float of storage, stride 0), and xlate allocated its 40 TB view to materialise it (a
    /// fatal error; 1.6 GB, silently, for `expand(4 * 10**8)`). A view that reads more elements than its storage
    /// holds is now refused.
    @Test func anExpandedViewIsRefusedNotMaterialised() throws {
        let path = repositoryRoot.appendingPathComponent("Fuzz/regressions/pytorch-expanded-view.bin").path
        #expect(throws: ModelError.pytorchCheckpoint(
            path: path,
            reason: "tensor 'model.shared.weight' (shape [10000000000000], strides [0]) reads 10000000000000 elements from a "
                + "storage of 1 (an expanded view); save it with .contiguous() tensors")
        ) { try PyTorchCheckpoint(path: path) }
    }

    /// Not a finding, but the input a recursive parser dies on: JSON nested 100,000 deep is refused, not a stack overflow.
    @Test func deeplyNestedJSONIsATypedError() throws {
        let url = try temporaryDirectory().appendingPathComponent("config.json")
        try Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8).write(to: url)
        #expect(throws: ModelError.invalidConfig(path: url.path, reason: "not a JSON object")) { try MarianConfig(contentsOf: url) }
    }

    // MARK: Seeds

    @Test func safetensorsSeedsOpenAndReadAsTheirNamesSay() throws {
        let seeds = Self.seeds("safetensors")
        #expect(seeds.map(\.lastPathComponent) == [
            "dtypes.safetensors", "empty.safetensors", "marian-keys.safetensors", "non-finite.safetensors", "other-dtypes.safetensors",
        ])
        for seed in seeds {
            let file = try SafeTensorsFile(path: seed.path)
            for (name, entry) in file.entries.sorted(by: { $0.key < $1.key }) {
                let expected: ModelError? =
                    switch seed.lastPathComponent {
                    case "other-dtypes.safetensors" where entry.dtype != "F32": .unsupportedDType(tensor: name, dtype: entry.dtype, path: seed.path)
                    case "non-finite.safetensors": .nonFiniteWeights(tensor: name, path: seed.path)
                    default: nil
                    }
                do throws(ModelError) {
                    let tensor = try file.read(name, expectedShape: entry.shape)
                    #expect(expected == nil && tensor.data.count == entry.shape.reduce(1, *), "\(seed.lastPathComponent): '\(name)' read")
                } catch {
                    #expect(error == expected, "\(seed.lastPathComponent): '\(name)'")
                }
            }
            #expect(file.entries.isEmpty == (seed.lastPathComponent == "empty.safetensors"))
        }
    }

    @Test func configSeedsParseAsTheirArchitecture() throws {
        let seeds = Self.seeds("config")
        #expect(seeds.count == 7)
        for seed in seeds {
            let name = seed.lastPathComponent
            let folder = try temporaryDirectory()
            let isGeneration = name.hasSuffix("generation_config.json")
            let copy = folder.appendingPathComponent(isGeneration ? "generation_config.json" : "config.json")
            try FileManager.default.copyItem(at: seed, to: copy)
            if isGeneration {
                let defaults = try GenerationDefaults(modelDirectory: folder)
                #expect(defaults.eosTokenIds?.isEmpty == false, "\(name)")
            } else if name.hasPrefix("marian") {
                #expect(try ModelArchitecture(directory: folder) == .marian)
                _ = try MarianConfig(contentsOf: copy)
            } else {
                #expect(try ModelArchitecture(directory: folder) == .t5, "\(name)")
                _ = try T5Config(contentsOf: copy)
            }
        }
    }

    /// Fixtures/pytorch's small files: the two view layouts open, the damaged ones and the pickles that ask for code
    /// are refused, each naming the file.
    @Test func pytorchSeedsOpenOrAreRefusedAsTheirNamesSay() throws {
        let seeds = Self.seeds("pytorch")
        #expect(seeds.count == 11)
        for seed in seeds {
            let name = seed.lastPathComponent
            do throws(ModelError) {
                let checkpoint = try PyTorchCheckpoint(path: seed.path)
                #expect(name.hasPrefix("views") && !checkpoint.tensors.isEmpty, "\(name) opened")
            } catch {
                switch error {
                case .pytorchCheckpoint(let path, _) where path == seed.path: #expect(name.hasPrefix("corrupt-"), "\(name): \(error)")
                case .unsafePickle(let path, _) where path == seed.path: #expect(name.hasPrefix("malicious-"), "\(name): \(error)")
                default: Issue.record("\(name): \(error)")
                }
            }
        }
    }

    /// The tokenizer fuzzer's invariants on its seeds: one id per piece plus `</s>`, no empty piece, every id the
    /// vocabulary's id of its piece (or `<unk>`), and decoding the ids does not trap.
    @Test func tokenizerSeedsKeepTheFuzzerInvariants() throws {
        let tokenizer = Self.tokenizer
        let seeds = Self.seeds("tokenizer")
        #expect(seeds.count == 6)
        for seed in seeds {
            let text = String(decoding: try Data(contentsOf: seed), as: UTF8.self)
            let encoded = tokenizer.encode(text)
            #expect(encoded.ids.count == encoded.pieces.count + 1 && encoded.ids.last == tokenizer.eosId, "\(seed.lastPathComponent)")
            #expect(encoded.pieces.allSatisfy { !$0.isEmpty }, "\(seed.lastPathComponent): \(encoded.pieces)")
            for (piece, id) in zip(encoded.pieces, encoded.ids) {
                #expect(id == tokenizer.sourceVocabulary[piece] ?? tokenizer.unkId, "\(seed.lastPathComponent): \(piece.debugDescription)")
            }
            _ = tokenizer.decode(encoded.ids)
        }
    }
}
