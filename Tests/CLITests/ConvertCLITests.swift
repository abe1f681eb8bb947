import Foundation
import Testing

/// The tensors of a safetensors file, parsed here from the format (https://github.com/huggingface/safetensors#format).
struct SafetensorsContents: Equatable {
    struct Tensor: Equatable {
        let dtype: String
        let shape: [Int]
        let bytes: Data
    }

    let metadata: [String: String]
    let tensors: [String: Tensor]

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try #require(try JSONSerialization.jsonObject(with: data[8..<8 + length]) as? [String: Any])
        metadata = header["__metadata__"] as? [String: String] ?? [:]
        var tensors: [String: Tensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            let entry = try #require(value as? [String: Any])
            let offsets = try #require(entry["data_offsets"] as? [Int])
            tensors[name] = Tensor(
                dtype: try #require(entry["dtype"] as? String), shape: try #require(entry["shape"] as? [Int]),
                bytes: data[8 + length + offsets[0]..<8 + length + offsets[1]])
        }
        self.tensors = tensors
    }
}

extension CLITests {
    /// `xlate convert DIR` and model folders that have only pytorch_model.bin.
    @Suite struct Convert {
        static let fixtures = CLI.repoRoot.appendingPathComponent("Fixtures")

        /// Copies `files` (paths under Fixtures/) into `directory`, each under its own name or the one given.
        func copy(_ files: [(String, String?)], into directory: URL) throws {
            for (file, name) in files {
                let source = Self.fixtures.appendingPathComponent(file)
                try FileManager.default.copyItem(at: source, to: directory.appendingPathComponent(name ?? source.lastPathComponent))
            }
        }

        /// A T5 model folder with only pytorch_model.bin: Fixtures/pytorch/t5-relu-tied plus the fixture's spiece.model.
        func copyT5(into directory: URL, bin: String = "pytorch/t5-relu-tied/pytorch_model.bin") throws {
            try copy(
                [("pytorch/t5-relu-tied/config.json", nil), ("pytorch/t5-relu-tied/generation_config.json", nil),
                 ("t5/relu-tied/spiece.model", nil), (bin, "pytorch_model.bin")],
                into: directory)
        }

        func files(in directory: URL) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        }

        @Test func writesTheModelsSafetensorsOnceAndReplacesItOnlyWithForce() throws {
            try withTemporaryDirectory { directory in
                try copy(
                    [("pytorch/marian-tiny/config.json", nil), ("pytorch/marian-tiny/generation_config.json", nil),
                     ("pytorch/marian-tiny/pytorch_model.bin", nil)],
                    into: directory)
                let output = directory.appendingPathComponent("model.safetensors").path
                let result = try CLI.run(["convert", directory.path])
                #expect(result.status == 0, "stderr: \(result.stderr)")
                #expect(result.lines.first?.hasPrefix("wrote \(output): 112 tensors (F32), 0.2 MB") == true, "\(result.output)")
                #expect(result.output.contains(
                    "tied: model.encoder.embed_tokens.weight, model.decoder.embed_tokens.weight, lm_head.weight = model.shared.weight"))
                // The fixture the .bin was made from stores the tied embedding once too: the same file, tensor for tensor.
                let written = try SafetensorsContents(path: output)
                let original = try SafetensorsContents(path: Self.fixtures.appendingPathComponent("marian/tied-swish/model.safetensors").path)
                #expect(written.tensors.count == 112)
                #expect(written == original)
                let bytes = try Data(contentsOf: URL(fileURLWithPath: output))

                let again = try CLI.run(["convert", directory.path])
                #expect(again.status == 64)
                #expect(again.stderr.contains("\(output): already exists; nothing was written. Use --force"), "\(again.stderr)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == bytes)

                let forced = try CLI.run(["convert", "--force", directory.path])
                #expect(forced.status == 0, "stderr: \(forced.stderr)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == bytes)
                #expect(try files(in: directory) == ["config.json", "generation_config.json", "model.safetensors", "pytorch_model.bin"])
            }
        }

        @Test(arguments: [1, 4])
        func translatesFromTheBinAndFromItsConversionLikeTransformers(beams: Int) throws {
            let cases = T5EndToEnd.recorded.end_to_end.filter { $0.prefix == T5EndToEnd.translation }
            try #require(cases.count >= 6)
            let input = cases.map { $0.text + "\n" }.joined()
            let expected = cases.map { beams == 1 ? $0.greedy : $0.beam4 }
            try withTemporaryDirectory { directory in
                try copyT5(into: directory)
                let arguments = ["--model", directory.path, "-s", "en", "-t", "de", "--beam", "\(beams)"]
                let direct = try CLI.run(arguments, input: input)
                #expect(direct.status == 0, "stderr: \(direct.stderr)")
                #expect(direct.lines == expected)

                #expect(try CLI.run(["convert", directory.path]).status == 0)
                let converted = try CLI.run(arguments, input: input)
                #expect(converted.status == 0, "stderr: \(converted.stderr)")
                #expect(converted.lines == expected)
            }
        }

        @Test(arguments: [("os-system", "posix.system"), ("builtins-eval", "__builtin__.eval"), ("nested-global", "posix.system")])
        func refusesAMaliciousCheckpointAndWritesNothing(file: String, offending: String) throws {
            try withTemporaryDirectory { directory in
                try copyT5(into: directory, bin: "pytorch/malicious/\(file).bin")
                let bin = directory.appendingPathComponent("pytorch_model.bin").path
                let before = try files(in: directory)
                let result = try CLI.run(["convert", directory.path])
                #expect(result.status == 3)
                #expect(result.stderr.contains("\(bin): refused: global '\(offending)'"), "\(result.stderr)")
                #expect(result.stderr.contains("may be malicious"))
                #expect(try files(in: directory) == before)

                let translation = try CLI.run(["--model", directory.path, "-s", "en", "-t", "de"], input: "Hello.\n")
                #expect(translation.status == 3)
                #expect(translation.stderr.contains("global '\(offending)'"), "\(translation.stderr)")
                #expect(translation.stdout.isEmpty)
            }
        }

        @Test func reportsADamagedCheckpointAndAFolderWithoutOne() throws {
            try withTemporaryDirectory { directory in
                let bin = directory.appendingPathComponent("pytorch_model.bin").path
                let missing = try CLI.run(["convert", directory.path])
                #expect(missing.status == 2)
                #expect(missing.stderr.contains("\(bin): file not found"), "\(missing.stderr)")

                try copy([("pytorch/corrupt/view-past-storage.bin", "pytorch_model.bin")], into: directory)
                let damaged = try CLI.run(["convert", directory.path])
                #expect(damaged.status == 3)
                #expect(damaged.stderr.contains("\(bin): cannot read this PyTorch checkpoint: tensor 'w'"), "\(damaged.stderr)")
                #expect(try files(in: directory) == ["pytorch_model.bin"])
            }
        }
    }
}
