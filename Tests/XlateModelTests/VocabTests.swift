import Foundation
import Testing

/// `Vocab/` holds the one SentencePiece model and vocabulary the bundled models share; each `Models/` folder keeps
/// its own copy (a complete Hugging Face folder). The copies must not drift from it.
@Suite("Vocab/: the bundled models' shared vocabulary")
struct VocabTests {
    static let vocab = repositoryRoot.appendingPathComponent("Vocab")

    @Test(arguments: ["xlate-en-de", "xlate-de-en"])
    func bundledModelsCarryTheSharedFiles(_ model: String) throws {
        let folder = repositoryRoot.appendingPathComponent("Models/\(model)")
        for (name, shared) in [("source.spm", "joint.spm"), ("target.spm", "joint.spm"), ("vocab.json", "vocab.json")] {
            let copy = try Data(contentsOf: folder.appendingPathComponent(name))
            #expect(copy == (try Data(contentsOf: Self.vocab.appendingPathComponent(shared))), "\(model)/\(name) differs from Vocab/\(shared)")
        }
    }
}
