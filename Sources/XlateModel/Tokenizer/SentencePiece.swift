import CSentencePiece
import Foundation

/// A loaded SentencePiece model (the C++ library behind the `CSentencePiece` shim).
public final class SentencePiece: @unchecked Sendable {
    // SentencePieceProcessor's encode/decode are const and safe to call from several threads.
    private let processor: OpaquePointer
    public let path: String

    /// Loads the SentencePiece model file at `path` (read through `ModelFile`: a regular file of at most
    /// `ModelFile.Limit.sentencePiece` bytes); `hint` completes the message when it does not exist.
    public init(
        path: String, hint: String = "Marian models need source.spm and target.spm (SentencePiece models)."
    ) throws(ModelError) {
        self.path = path
        // Read here rather than by the library, which would open a FIFO, device or folder as readily as a file.
        let data = try ModelFile.read(path, limit: ModelFile.Limit.sentencePiece, hint: hint)
        var error = [CChar](repeating: 0, count: 512)
        var loaded: OpaquePointer?
        let status = data.withUnsafeBytes { bytes in
            spm_load_serialized(bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count, &loaded, &error, error.count)
        }
        if status == Int32(SPM_OUT_OF_MEMORY) {
            throw .unreadableFile(path: path, reason: "out of memory while loading it; raise the process's memory limit")
        }
        guard status == Int32(SPM_LOADED), let processor = loaded else {
            throw .tokenizer(path: path, reason: "not a valid SentencePiece model (\(message(error)))")
        }
        self.processor = processor
    }

    deinit { spm_free(processor) }

    /// The pieces of `text`; NUL bytes and all other characters are passed through as UTF-8.
    public func encode(_ text: String) -> [String] {
        var utf8 = Array(text.utf8)
        var output: UnsafeMutablePointer<CChar>?
        var length = 0
        var count: Int32 = 0
        var error = [CChar](repeating: 0, count: 512)
        let status = utf8.withUnsafeMutableBufferPointer { bytes in
            bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(bytes.count, 1)) {
                spm_encode_pieces(processor, $0, bytes.count, &output, &length, &count, &error, error.count)
            }
        }
        // Encoding valid UTF-8 with a loaded model cannot fail; a failure here is a broken library.
        precondition(status == 0, "SentencePiece encode failed: \(message(error))")
        guard let output else { return [] }
        defer { spm_free_buffer(output) }
        // Each piece is its length, then its bytes: a piece may hold a NUL byte (text with NUL bytes).
        var pieces: [String] = []
        pieces.reserveCapacity(Int(count))
        var offset = 0
        for _ in 0..<Int(count) {
            let pieceLength = Int(UnsafeRawPointer(output + offset).loadUnaligned(as: UInt.self))
            offset += MemoryLayout<UInt>.size
            precondition(offset + pieceLength <= length, "SentencePiece shim wrote a malformed piece buffer")
            pieces.append(String(decoding: UnsafeRawBufferPointer(start: output + offset, count: pieceLength), as: UTF8.self))
            offset += pieceLength
        }
        return pieces
    }

    /// Every piece of the model, indexed by SentencePiece id.
    public var pieces: [String] {
        (0..<spm_piece_count(processor)).map { String(cString: spm_id_to_piece(processor, $0)) }
    }

    /// Joins pieces into text (SentencePiece's own detokenization).
    public func decode(_ pieces: [String]) -> String {
        guard !pieces.isEmpty else { return "" }
        var cStrings = pieces.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var output: UnsafeMutablePointer<CChar>?
        var error = [CChar](repeating: 0, count: 512)
        let status = cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                spm_decode_pieces(processor, $0, Int32(buffer.count), &output, &error, error.count)
            }
        }
        precondition(status == 0, "SentencePiece decode failed: \(message(error))")
        guard let output else { return "" }
        defer { spm_free_buffer(output) }
        return String(cString: output)
    }
}

/// The NUL-terminated message the shim wrote into `buffer`.
private func message(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
