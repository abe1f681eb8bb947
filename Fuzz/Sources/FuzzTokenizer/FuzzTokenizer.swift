import Foundation
import FuzzSupport
@testable import XlateModel

/// Any bytes as text through the bundled en-de `MarianTokenizer` (and the T5 fixture's `T5Tokenizer`), and as a
/// sequence of ids through their decoders. Nothing may crash; encoding yields one id per piece plus the closing
/// `</s>`, every id inside the model's vocabulary and equal to the vocabulary's id of its piece (or `<unk>`).
///
/// The model folders come from the repository (found from this file's path) unless `XLATE_FUZZ_MARIAN` /
/// `XLATE_FUZZ_T5` name others.
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

func folder(_ variable: String, _ default: String) -> URL {
    URL(fileURLWithPath: ProcessInfo.processInfo.environment[variable] ?? repository.appendingPathComponent(`default`).path)
}

let marian: (tokenizer: MarianTokenizer, vocabularySize: Int) = {
    let directory = folder("XLATE_FUZZ_MARIAN", "Models/xlate-en-de")
    do {
        let config = try MarianConfig(contentsOf: directory.appendingPathComponent("config.json"))
        return (try MarianTokenizer(directory: directory, config: config), config.vocabSize)
    } catch {
        fatalError("cannot load the Marian tokenizer: \(error.localizedDescription)")
    }
}()

let t5: (tokenizer: T5Tokenizer, vocabularySize: Int) = {
    let directory = folder("XLATE_FUZZ_T5", "Fixtures/t5/relu-tied")
    do {
        let config = try T5Config(contentsOf: directory.appendingPathComponent("config.json"))
        return (try T5Tokenizer(directory: directory, config: config), config.vocabSize)
    } catch {
        fatalError("cannot load the T5 tokenizer: \(error.localizedDescription)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInput(data, size) { bytes in
        // Invalid UTF-8 never reaches the tokenizer (the CLI rejects it, `String` repairs it): repair it here too.
        let text = String(decoding: bytes, as: UTF8.self)

        for (side, encoded) in [("source", marian.tokenizer.encode(text)), ("target", marian.tokenizer.encodeTarget(text))] {
            let vocabulary = side == "source" ? marian.tokenizer.sourceVocabulary : marian.tokenizer.targetVocabulary
            checkEncoding(encoded, of: text, vocabularySize: marian.vocabularySize, eos: marian.tokenizer.eosId) { piece in
                vocabulary[piece] ?? marian.tokenizer.unkId
            }
            _ = marian.tokenizer.decode(encoded.ids)
            invariant(marian.tokenizer.targetPieces(encoded.ids).count == encoded.ids.count, "one piece per id")
        }
        let t5Encoded = t5.tokenizer.encode(text)
        checkEncoding(t5Encoded, of: text, vocabularySize: t5.vocabularySize, eos: t5.tokenizer.eosId, idOfPiece: nil)
        _ = t5.tokenizer.decode(t5Encoded.ids)

        // The bytes as ids: pairs of bytes, mostly inside the vocabulary, a few just outside it on either side.
        for (vocabularySize, decode) in [
            (marian.vocabularySize, { (ids: [Int]) in marian.tokenizer.decode(ids) + marian.tokenizer.targetPieces(ids).joined() }),
            (t5.vocabularySize, { (ids: [Int]) in t5.tokenizer.decode(ids) + t5.tokenizer.targetPieces(ids).joined() }),
        ] {
            var ids: [Int] = []
            ids.reserveCapacity(bytes.count / 2)
            var i = 0
            while i + 1 < bytes.count {
                ids.append(Int(UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8) % (vocabularySize + 8) - 4)
                i += 2
            }
            _ = decode(ids)
        }
    }
    return 0
}

/// One id per piece, then `</s>`; ids inside the vocabulary; (Marian) each id the vocabulary's id of its piece.
func checkEncoding(_ encoded: TokenizedText, of text: String, vocabularySize: Int, eos: Int, idOfPiece: ((String) -> Int)?) {
    invariant(encoded.ids.count == encoded.pieces.count + 1, "\(encoded.pieces.count) pieces, \(encoded.ids.count) ids for \(text.debugDescription)")
    invariant(encoded.ids.last == eos, "no closing </s> for \(text.debugDescription)")
    invariant(encoded.ids.allSatisfy { (0..<vocabularySize).contains($0) }, "id outside the vocabulary for \(text.debugDescription): \(encoded.ids)")
    invariant(encoded.pieces.allSatisfy { !$0.isEmpty }, "empty piece for \(text.debugDescription): \(encoded.pieces)")
    if let idOfPiece {
        for (piece, id) in zip(encoded.pieces, encoded.ids) {
            invariant(id == idOfPiece(piece), "piece \(piece.debugDescription) has id \(id) for \(text.debugDescription)")
        }
    }
}
