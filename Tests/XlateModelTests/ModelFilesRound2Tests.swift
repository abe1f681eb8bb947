import Foundation
import Testing
import XlateCore
@testable import XlateModel

/// Robustness round 2 (issue 17) at the library level: files of a model folder are read only when regular and of a
/// sane size; safetensors headers are read as strictly as the reference parser; public paths throw, never trap.
@Suite("Model files, round 2")
struct ModelFilesRound2Tests {
    let directory: URL

    init() throws { directory = try temporaryDirectory() }

    func safetensorsError(_ header: String) -> String? {
        do {
            _ = try SafeTensorsFile(path: try writeFile(safetensorsBytes(header: header, data: floatBytes([1, 2])), "m.safetensors", in: directory))
        } catch let error as ModelError {
            guard case .invalidSafetensors(_, let reason) = error else { return "unexpected \(error)" }
            return reason
        } catch {
            return "unexpected \(error)"
        }
        return nil
    }

    /// Item 16: the reference parser (serde_json) refuses both; Foundation's parser kept one of the values.
    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
         "the header has the key 'a' twice"),
        (#"{"a":{"dtype":"F32","shape":[2],"dtype":"F16","data_offsets":[0,8]}}"#, "the header has the key 'dtype' twice"),
        (#"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, "tensor 'a' has no shape of integers (got [2.0])"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8e0]}}"#, "tensor 'a' has no data_offsets of two integers (got [0, 8.0])"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} x"#, "the header is not valid JSON"),
    ])
    func safetensorsHeadersAreReadStrictly(header: String, reason: String) {
        let got = safetensorsError(header)
        #expect(got?.contains(reason) == true, "\(got ?? "loaded")")
    }

    @Test func aStrictHeaderStillLoads() throws {
        #expect(safetensorsError(#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#) == nil)
    }

    @Test func strictJSONReadsEveryKindOfValueAndRefusesDeepNesting() throws {
        let text = #"{"s":"a\"\u00e9\ud83d\ude00","i":-12,"d":0.5,"e":1E3,"b":[true,false,null],"o":{}}"#
        let expected: JSONValue = .object([
            "s": .string("a\"é😀"), "i": .int(-12), "d": .double(0.5), "e": .double(1000),
            "b": .array([.bool(true), .bool(false), .null]), "o": .object([:]),
        ])
        #expect(try StrictJSON.parse(Data(text.utf8)).get() == expected)
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        guard case .failure(.malformed) = StrictJSON.parse(Data(deep.utf8)) else {
            Issue.record("deep nesting was accepted")
            return
        }
        for bad in ["01", "1.", "-", "[1,]", "{\"a\" 1}", "tru", "\"\u{01}\""] {
            guard case .failure = StrictJSON.parse(Data(bad.utf8)) else {
                Issue.record("accepted \(bad)")
                continue
            }
        }
    }

    /// Item 7: a FIFO no longer blocks the load, a device is never read, a huge JSON file is refused unread.
    @Test func onlyRegularFilesOfASaneSizeAreRead() throws {
        let fifo = directory.appendingPathComponent("config.json").path
        try #require(mkfifo(fifo, 0o600) == 0)
        #expect(throws: ModelError.notAFile(path: fifo, kind: "a named pipe (FIFO)")) { try JSONFile(path: fifo) }
        #expect(throws: ModelError.notAFile(path: fifo, kind: "a named pipe (FIFO)")) { try SafeTensorsFile(path: fifo) }

        let zero = directory.appendingPathComponent("spiece.model").path
        try FileManager.default.createSymbolicLink(atPath: zero, withDestinationPath: "/dev/zero")
        #expect(throws: ModelError.notAFile(path: zero, kind: "a character device")) { try SentencePiece(path: zero) }

        let huge = directory.appendingPathComponent("vocab.json").path
        try #require(FileManager.default.createFile(atPath: huge, contents: nil) && truncate(huge, off_t(ModelFile.Limit.vocabulary + 1)) == 0)
        #expect(throws: ModelError.fileTooLarge(path: huge, size: ModelFile.Limit.vocabulary + 1, limit: ModelFile.Limit.vocabulary)) {
            try ModelFile.read(huge, limit: ModelFile.Limit.vocabulary, hint: "")
        }
    }

    /// Item 15: the messages say what is wrong in xlate's words.
    @Test func pathProblemsAreNamedPrecisely() throws {
        let folderAsFile = directory.appendingPathComponent("generation_config.json").path
        try FileManager.default.createDirectory(atPath: folderAsFile, withIntermediateDirectories: false)
        #expect(throws: ModelError.notAFile(path: folderAsFile, kind: "a folder")) { try JSONFile(path: folderAsFile) }

        let loop = directory.appendingPathComponent("source.spm").path
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        #expect(throws: ModelError.unreadableFile(path: loop, reason: "it is a symbolic link that leads back to itself (a loop)")) {
            try SentencePiece(path: loop)
        }
        #expect(ModelFile.exists(loop))

        let file = bundledEnDe.appendingPathComponent("config.json")
        #expect(throws: ModelError.notAFolder(path: file.path, kind: "a regular file")) { try ModelFolder.check(file) }
        let absent = directory.appendingPathComponent("absent")
        #expect(throws: ModelError.missingFolder(path: absent.path, hint: "Pass the folder that holds config.json and the weights.")) {
            try ModelFolder.check(absent)
        }
        #expect(ModelError.notAFile(path: "m/x", kind: "a folder").localizedDescription
            == "m/x: is a folder, not a regular file; xlate reads only regular files (or symbolic links to them) from a model folder.")
    }

    /// Item 5: bytes that are not a SentencePiece model are an error, not an exception through the shim.
    @Test func aDamagedSentencePieceModelIsATypedError() throws {
        let path = try writeFile(Data(repeating: 0xFF, count: 64), "target.spm", in: directory)
        #expect {
            try SentencePiece(path: path)
        } throws: { error in
            guard case .tokenizer(let named, let reason) = error as? ModelError else { return false }
            return named == path && reason.hasPrefix("not a valid SentencePiece model")
        }
    }

    /// Item 17: reserving more address space than exists throws; it used to stop the process (`fatalError`).
    @Test func anImpossibleReservationThrows() {
        #expect {
            try ReservedFloats(count: 1 << 60)
        } throws: { error in
            guard case .cannotReserve = error as? XlateCoreError else { return false }
            return true
        }
        #expect(throws: XlateCoreError.self) { try ReservedFloats(count: .max) }
    }

    /// Item 6: a batch whose decoder state cannot be reserved is decoded in halves, down to single sentences, with
    /// the results in sentence order; a single sentence that does not fit throws.
    @Test func aBatchThatCannotBeReservedIsDecodedInParts() throws {
        let width = 2
        let lengths = [3, 1, 2, 3, 2]
        let data = (0..<(lengths.count * 3 * width)).map(Float.init)
        let encoded = EncoderOutput(hiddenStates: Tensor(shape: [lengths.count, 3, width], data: data), lengths: lengths)
        var calls: [Range<Int>] = []
        let firstValues = try encoded.inParts { part, sentences throws(XlateCoreError) -> [Float] in
            calls.append(sentences)
            guard sentences.count <= 2 else { throw .cannotReserve(bytes: 1 << 30, reason: "test") }
            #expect(part.lengths == Array(lengths[sentences]))
            return (0..<part.batchSize).map { part.hiddenStates.data[$0 * 3 * width] }
        }
        #expect(firstValues == [0, 6, 12, 18, 24])
        #expect(calls == [0..<5, 0..<2, 2..<5, 2..<3, 3..<5])
        #expect(throws: XlateCoreError.cannotReserve(bytes: 1, reason: "test")) {
            _ = try encoded.inParts { _, _ throws(XlateCoreError) -> [Int] in throw .cannotReserve(bytes: 1, reason: "test") }
        }
    }
}
