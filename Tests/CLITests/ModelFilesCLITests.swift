import Foundation
import Testing

/// A model folder in `directory` that links every file of the bundled model except those in `replaced`, which
/// `make(path)` creates in their place. Returns the folder's path.
func linkedModel(in directory: URL, replacing replaced: [String], _ make: (String) throws -> Void) throws -> String {
    let folder = directory.appendingPathComponent("model")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let bundled = CLI.repoRoot.appendingPathComponent(CLI.enDe)
    for name in try FileManager.default.contentsOfDirectory(atPath: bundled.path) {
        let path = folder.appendingPathComponent(name).path
        if replaced.contains(name) {
            try make(path)
        } else {
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: bundled.appendingPathComponent(name).path)
        }
    }
    return folder.path
}

/// Creates a FIFO at `path`.
func makeFIFO(_ path: String) throws {
    guard mkfifo(path, 0o600) == 0 else { throw CLIError(description: "mkfifo \(path): \(String(cString: strerror(errno)))") }
}

extension CLITests {
    /// Special files, oversized files and wrong paths in a model folder: each is a one-line error naming the file and
    /// what is wrong with it (never Foundation's or the C++ library's words), with the documented exit status, at
    /// once (nothing blocks on a FIFO or reads a device).
    @Suite struct ModelFiles {
        func expectRefused(
            _ name: String, _ make: (String) throws -> Void, saying fragment: String, status: Int32 = 3,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            try withTemporaryDirectory { directory in
                let model = try linkedModel(in: directory, replacing: [name], make)
                let started = Date()
                let result = try CLI.run(["--model", model], input: "The cat sleeps.\n", timeout: 30)
                #expect(result.status == status, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
                #expect(result.stderr.contains("\(model)/\(name): \(fragment)"), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
                #expect(!result.stderr.contains("NSCocoaErrorDomain") && !result.stderr.contains("could not be completed"),
                        sourceLocation: sourceLocation)
                #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
                #expect(Date().timeIntervalSince(started) < 20, sourceLocation: sourceLocation)
            }
        }

        /// Item 5: the SentencePiece library threw a C++ exception for a folder, which aborted the process.
        @Test(arguments: ["source.spm", "target.spm"])
        func aFolderInPlaceOfASentencePieceModelIsAnError(name: String) throws {
            try expectRefused(name, { try FileManager.default.createDirectory(atPath: $0, withIntermediateDirectories: false) },
                              saying: "is a folder, not a regular file")
        }

        /// Item 7: opening a FIFO blocked forever; /dev/zero was read without end.
        @Test func fifosAndDevicesAreRefusedWithoutReadingThem() throws {
            try expectRefused("model.safetensors", makeFIFO, saying: "is a named pipe (FIFO), not a regular file")
            try expectRefused("source.spm", makeFIFO, saying: "is a named pipe (FIFO), not a regular file")
            try expectRefused("source.spm", { try FileManager.default.createSymbolicLink(atPath: $0, withDestinationPath: "/dev/zero") },
                              saying: "is a character device, not a regular file")
        }

        /// Item 7: a 2 GB config.json was read whole before being rejected. A sparse file: it takes no disk.
        @Test(arguments: [("config.json", 4 << 20), ("vocab.json", 64 << 20)])
        func anOversizedJSONFileIsRefusedBeforeItIsRead(name: String, limit: Int) throws {
            try expectRefused(name, { path in
                guard FileManager.default.createFile(atPath: path, contents: nil), truncate(path, off_t(2) << 30) == 0 else {
                    throw CLIError(description: "cannot make \(path)")
                }
            }, saying: "is 2147483648 bytes, more than the \(limit) bytes")
        }

        /// Item 15: a folder as config.json printed "NSCocoaErrorDomain error 256".
        @Test func aFolderAsConfigJSONIsNamed() throws {
            try expectRefused("config.json", { try FileManager.default.createDirectory(atPath: $0, withIntermediateDirectories: false) },
                              saying: "is a folder, not a regular file")
        }

        /// Item 15: a symbolic link loop inside the folder said "file not found".
        @Test func aSymbolicLinkLoopIsNamedAsOne() throws {
            try expectRefused("vocab.json", { try FileManager.default.createSymbolicLink(atPath: $0, withDestinationPath: $0) },
                              saying: "cannot read the file (it is a symbolic link that leads back to itself (a loop))")
            try expectRefused("tokenizer_config.json", { try FileManager.default.createSymbolicLink(atPath: $0, withDestinationPath: "nowhere") },
                              saying: "cannot read the file (it is a symbolic link to 'nowhere', which does not exist)")
        }

        /// Item 15: `--model FILE` and a looping `--model` link said "file not found". Both are "no model there": 2.
        @Test func aModelPathThatIsNotAFolderSaysWhatItIs() throws {
            try withTemporaryDirectory { directory in
                let loop = directory.appendingPathComponent("loop").path
                try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
                let file = CLI.repoRoot.appendingPathComponent(CLI.enDe + "/config.json").path
                for (model, fragment) in [
                    (file, "\(file): is a regular file, not a model folder."),
                    (loop, "\(loop): is a symbolic link that leads back to itself (a loop), not a model folder."),
                    (directory.appendingPathComponent("absent").path, "absent: no such folder."),
                ] {
                    let result = try CLI.run(["--model", model], input: "Hello.\n")
                    #expect(result.status == 2, "stderr: \(result.stderr)")
                    #expect(result.stderr.contains(fragment), "stderr: \(result.stderr)")
                    #expect(!result.stderr.contains("file not found"), "stderr: \(result.stderr)")
                }
            }
        }

        /// Item 8: settings out of range in generation_config.json are the model's fault (3), naming file and key.
        @Test(arguments: [
            (#""num_beams": 10000"#, #""num_beams" is out of range: the beam size must be <= 256, got 10000"#),
            (#""min_length": 1000000"#, #""min_length" is out of range: the minimum length 1000000 exceeds the maximum length 256"#),
            (#""no_repeat_ngram_size": 100000"#, #""no_repeat_ngram_size" is out of range"#),
            (#""repetition_penalty": -1"#, #""repetition_penalty" is out of range"#),
            (#""max_new_tokens": 9223372036854775807"#, #""max_new_tokens" is out of range"#),
        ])
        func absurdGenerationSettingsAreABadModel(setting: String, message: String) throws {
            let bundled = CLI.repoRoot.appendingPathComponent(CLI.enDe + "/generation_config.json")
            let original = try String(contentsOf: bundled, encoding: .utf8)
            try expectRefused("generation_config.json", { path in
                try original.replacingOccurrences(of: "{", with: "{\n  \(setting),", options: .anchored)
                    .write(toFile: path, atomically: false, encoding: .utf8)
            }, saying: message)
        }

        /// Item 8: `--beam 100000` ran for minutes at 15 GB; now a usage error before anything is translated.
        @Test func anAbsurdBeamIsAUsageError() throws {
            let started = Date()
            let result = try CLI.run(["--model", CLI.enDe, "--beam", "100000"], input: "The cat sleeps.\n", timeout: 30)
            #expect(result.status == 64, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("xlate: --beam: the beam size must be <= 256, got 100000."), "stderr: \(result.stderr)")
            #expect(result.stdout.isEmpty)
            #expect(Date().timeIntervalSince(started) < 20)
        }

        /// Item 15: `xlate convert FILE` said "FILE/pytorch_model.bin: file not found".
        @Test func convertOfAFileSaysItIsNotAFolder() throws {
            let file = CLI.repoRoot.appendingPathComponent(CLI.enDe + "/config.json").path
            let result = try CLI.run(["convert", file])
            #expect(result.status == 2, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("\(file): is a regular file, not a model folder."), "stderr: \(result.stderr)")
        }

        /// Item 16: a pickle holding an empty state dict was converted to an empty model.safetensors (exit 0).
        @Test func convertRefusesAStateDictWithoutTensors() throws {
            try withTemporaryDirectory { directory in
                // PROTO 2, EMPTY_DICT, BINPUT 0, STOP: torch.save({}) without its storages.
                let pickle: [UInt8] = [0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E]
                try Data(storedZip([("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))]))
                    .write(to: directory.appendingPathComponent("pytorch_model.bin"))
                let result = try CLI.run(["convert", directory.path])
                #expect(result.status == 3, "stderr: \(result.stderr)")
                #expect(result.stderr.contains("pytorch_model.bin: cannot read this PyTorch checkpoint: its state dict holds no tensors"),
                        "stderr: \(result.stderr)")
                #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("model.safetensors").path))
            }
        }

        /// Item 6: under an address-space limit, a batch whose beams' caches do not fit crashed ("cannot reserve ...
        /// bytes of address space"). 64 sentences × 8 beams reserve 7 × 201 MB at once, more than 1 GB: the batch is
        /// now searched in parts, with the same output as without the limit.
        @Test(.enabled(if: !CLI.underAddressSanitizer, "AddressSanitizer maps terabytes of shadow memory: no ulimit -v fits it"))
        func aBatchThatDoesNotFitTheAddressSpaceLimitIsTranslatedInParts() throws {
            let sentences = ["The cat sleeps.", "Good morning.", "I like tea.", "The house is big.", "Where is the station?"]
            let lines = (0..<64).map { sentences[$0 % sentences.count] + "\n" }.joined()
            let arguments = ["--model", CLI.enDe, "--beam", "8", "--threads", "1", "--batch-size", "64"]
            let limited = try underAddressSpaceLimit(kilobytes: 1 << 20, arguments, input: lines)
            #expect(limited.status == 0, "stderr: \(limited.stderr)")
            #expect(limited.lines.count == 64)
            let free = try CLI.run(arguments, input: lines)
            #expect(limited.output == free.output)
        }

        /// Item 6 / 17: when not even one sentence's beams fit (256 beams: 7 × 96 MiB, over a 600 MB limit), a
        /// one-line error and exit 71 (EX_OSERR), no crash.
        @Test(.enabled(if: !CLI.underAddressSanitizer, "AddressSanitizer maps terabytes of shadow memory: no ulimit -v fits it"))
        func aLimitTooSmallForOneSentenceIsAnError() throws {
            let result = try underAddressSpaceLimit(
                kilobytes: 600_000, ["--model", CLI.enDe, "--beam", "256", "--threads", "1"], input: "The cat sleeps.\n")
            #expect(result.status == 71, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("cannot reserve"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("ulimit -v"), "stderr: \(result.stderr)")
        }

        /// Runs xlate through `sh` with `ulimit -v kilobytes` (an address-space limit for it alone).
        func underAddressSpaceLimit(kilobytes: Int, _ arguments: [String], input: String) throws -> CLIResult {
            guard let xlate = CLI.binary else { throw CLIError(description: "xlate not built") }
            return try CLI.run(
                ["-c", "ulimit -v \(kilobytes) && exec \"$0\" \"$@\"", xlate.path] + arguments, stdin: Data(input.utf8),
                executable: URL(fileURLWithPath: "/bin/sh"))
        }
    }
}

/// A zip archive of `entries` stored uncompressed (CRC-32 left 0, as `torch.save` may write it).
func storedZip(_ entries: [(name: String, bytes: [UInt8])]) -> [UInt8] {
    func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    func u32(_ v: Int) -> [UInt8] { u16(v & 0xFFFF) + u16(v >> 16) }
    var archive: [UInt8] = []
    var central: [UInt8] = []
    for (name, bytes) in entries {
        let offset = archive.count
        let fields = u16(20) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0) + u32(bytes.count) + u32(bytes.count)
            + u16(name.utf8.count) + u16(0)
        archive += u32(0x0403_4B50) + fields + Array(name.utf8) + bytes
        central += u32(0x0201_4B50) + u16(20) + fields + u16(0) + u16(0) + u16(0) + u32(0) + u32(offset) + Array(name.utf8)
    }
    let centralOffset = archive.count
    archive += central
    archive += u32(0x0605_4B50) + u16(0) + u16(0) + u16(entries.count) + u16(entries.count) + u32(central.count)
        + u32(centralOffset) + u16(0)
    return archive
}
