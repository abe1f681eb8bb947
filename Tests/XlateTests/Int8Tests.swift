import Foundation
import Testing
import Xlate

/// `--compute-type int8` has no reference implementation to match token for token; these tests hold it to the
/// float32 translations it approximates, and to a few properties any correct quantisation keeps.
@Suite("int8 compute type")
struct Int8Tests {
    static let translators: [String: Translator] = {
        var translators: [String: Translator] = [:]
        for direction in ["en-de", "de-en"] {
            translators[direction] = try? Translator(
                modelAt: repositoryRoot.appendingPathComponent("Models/xlate-\(direction)"), computeType: .int8)
        }
        return translators
    }()

    /// Most of the recorded sentences come out word for word as in float32 (measured with beam 4: en-de 41/63,
    /// de-en 44/63 since the tied embedding is read dequantised from the int8 panels; 44 and 41 before, the rest differing in a word or two); on average the word sets overlap by far more than a broken
    /// kernel's output would.
    @Test(arguments: ["en-de", "de-en"])
    func translationsStayCloseToFloat32(_ direction: String) throws {
        let reference = try BundledReference.load(direction)
        let translator = try #require(Self.translators[direction], "Models/xlate-\(direction) did not load as int8")
        #expect(translator.computeType == .int8)
        var options = translator.defaultOptions
        options.decoding.numBeams = 4
        // A blank line translates to a blank line (transformers makes up a word; see ARCHITECTURE.md).
        let cases = reference.cases.filter { !$0.source.allSatisfy(\.isWhitespace) }
        let translations = try translator.translate(cases.map(\.source), options: options)
        let float32 = cases.map(\.beam4.text)
        let identical = zip(translations, float32).filter { $0.text == $1 }.count
        var overlaps: [Double] = []
        for (translation, expected) in zip(translations, float32) {
            let (a, b) = (Set(translation.text.split(separator: " ")), Set(expected.split(separator: " ")))
            overlaps.append(Double(a.intersection(b).count) / Double(max(a.union(b).count, 1)))
        }
        let meanOverlap = overlaps.reduce(0, +) / Double(overlaps.count)
        print("[int8] \(direction): \(identical)/\(cases.count) identical to float32 (beam 4), mean word overlap \(meanOverlap)")
        #expect(identical * 100 >= cases.count * 55, "only \(identical)/\(cases.count) identical to float32")
        #expect(meanOverlap >= 0.8)
    }

    /// The log-probability of the float32 translation under the int8 model stays close.
    @Test func scoresStayClose() throws {
        let translator = try #require(Self.translators["en-de"])
        let float32 = try Bundled.translator("en-de")
        let source = "The cat sat on the mat."
        let target = try float32.translate(source).text
        let int8Score = try translator.score(source: source, target: target)
        let float32Score = try float32.score(source: source, target: target)
        #expect(abs(int8Score.score - float32Score.score) < 0.1, "int8 \(int8Score.score) vs float32 \(float32Score.score)")
    }
}
