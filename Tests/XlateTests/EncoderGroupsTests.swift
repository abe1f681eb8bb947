import Foundation
import Testing

@testable import Xlate
@testable import XlateModel

@Suite("Encoder groups")
struct EncoderGroupsTests {
    @Test func groupsCoverTheBatchInOrderWithinTheRowBudget() {
        let lengths = [300, 120, 100, 100, 90, 30, 30, 30, 12, 12, 5, 2]
        let groups = EncoderGroups(lengths: lengths, rowBudget: 256)
        // 300 alone (over the budget); 2 × 120; 2 × 100 (a third would make 300 rows); 7 × 30.
        #expect(groups.groups.map(\.sentences) == [0..<1, 1..<3, 3..<5, 5..<12])
        #expect(groups.groups.flatMap { Array($0.sentences) } == Array(lengths.indices))
        for (sentences, maxLength) in groups.groups {
            #expect(maxLength == lengths[sentences].max())
            // Only a sentence longer than the budget makes a group over it, alone.
            #expect(sentences.count * maxLength <= 256 || sentences.count == 1)
        }
        #expect(groups.maxRows == 300)
        #expect(EncoderGroups(lengths: []).groups.isEmpty)
    }

    /// A batch whose padded rows far exceed the budget runs as several groups; every sentence's encoder output must
    /// be bit for bit the one it gets encoded alone, and the padding rows zero.
    @Test func aBatchEncodesAsItsSentencesAlone() throws {
        let translator = try Bundled.translator("en-de")
        let lines = try String(contentsOf: repositoryRoot.appendingPathComponent("../shared/eval/newstest2014.en"), encoding: .utf8)
            .split(separator: "\n").prefix(40).map(String.init)
        let sources = lines.map { translator.encodeSource($0).tokens.ids }
        let rows = sources.count * sources.map(\.count).max()!
        #expect(rows > 4 * EncoderGroups.rowBudget, "\(rows) padded rows: not enough for several groups")
        let batch = translator.model.encode(sources)
        let (width, maxLength) = (batch.hiddenStates.shape[2], batch.maxLength)
        for (b, source) in sources.enumerated() {
            let alone = translator.model.encode([source]).hiddenStates.data
            let start = b * maxLength * width
            #expect(Array(batch.hiddenStates.data[start..<(start + source.count * width)]) == alone, "sentence \(b)")
            #expect(batch.hiddenStates.data[(start + source.count * width)..<(start + maxLength * width)].allSatisfy { $0 == 0 })
        }
    }
}
