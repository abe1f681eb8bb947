import Testing
import Xlate
@testable import XlateDocuments

@Suite("Span transfer with hand-made alignments")
struct SpanTransferTests {
    /// Source "A B C", target "X Y Z" with X←A, Y←C, Z←B (word order changed).
    static let swapped = Alignment(
        sourcePieces: ["▁A", "▁B", "▁C", "</s>"], targetPieces: ["▁X", "▁Y", "▁Z", "</s>"],
        matrix: [[0.9, 0.0, 0.0, 0.1], [0.0, 0.1, 0.8, 0.1], [0.0, 0.8, 0.1, 0.1], [0.0, 0.0, 0.0, 1.0]],
        request: CrossAttentionRequest(layer: 0))

    static func transfer(_ marked: MarkedText, alignment: Alignment, target: String) -> String {
        let input = ModelInput(marked)
        return input.restore(text: target, alignment: alignment).render(escape: { $0 })
    }

    @Test func spanFollowsItsWord() {
        var builder = MarkedText.Builder(protect: false, escape: { $0 })
        builder.appendText("A ")
        builder.open("<b>", close: "</b>")
        builder.appendText("B")
        builder.close()
        builder.appendText(" C")
        #expect(Self.transfer(builder.build(), alignment: Self.swapped, target: "X Y Z") == "X Y <b>Z</b>")
    }

    @Test func siblingsOutOfOrderKeepTheirSequence() {
        var builder = MarkedText.Builder(protect: false, escape: { $0 })
        builder.appendText("A ")
        builder.open("<b>", close: "</b>")
        builder.appendText("B")
        builder.close()
        builder.appendText(" ")
        builder.open("<i>", close: "</i>")
        builder.appendText("C")
        builder.close()
        // <i> would wrap Y, before <b>'s Z: the first keeps its word, the second comes after it, empty.
        #expect(Self.transfer(builder.build(), alignment: Self.swapped, target: "X Y Z") == "X Y <b>Z</b><i></i>")
    }

    /// The source has a space before the image and none after: so does the output.
    @Test func voidElementStaysAfterTheWordBeforeIt() {
        var builder = MarkedText.Builder(protect: false, escape: { $0 })
        builder.appendText("A ")
        builder.point("<img>")
        builder.appendText("B C")
        #expect(Self.transfer(builder.build(), alignment: Self.swapped, target: "X Y Z") == "X <img>Y Z")
    }

    @Test func droppedPlaceholderIsPutBackAfterTheWordThatAttendedToIt() {
        var builder = MarkedText.Builder(protect: false, escape: { $0 })
        builder.appendText("A ")
        builder.protected("<code>q</code>")
        builder.appendText(" C")
        // The model read "A ZQXA C" and wrote "X Y" without the token; Y attended to the token's word most.
        let alignment = Alignment(
            sourcePieces: ["▁A", "▁ZQXA", "▁C", "</s>"], targetPieces: ["▁X", "▁Y", "</s>"],
            matrix: [[0.9, 0.0, 0.0, 0.1], [0.0, 0.7, 0.2, 0.1], [0.0, 0.0, 0.0, 1.0]], request: CrossAttentionRequest(layer: 0))
        #expect(Self.transfer(builder.build(), alignment: alignment, target: "X Y") == "X Y <code>q</code>")
    }

    @Test func outerWhitespaceIsKept() {
        var builder = MarkedText.Builder(protect: false, escape: { $0 })
        builder.appendText("\n  A B\n   C  \n")
        let input = ModelInput(builder.build())
        #expect(String(String.UnicodeScalarView(input.source)) == "A B C")
        #expect(input.leading == "\n  " && input.trailing == "  \n")
    }
    @Test func strayPlaceholdersAreTakenOut() {
        var builder = MarkedText.Builder(protect: false, escape: { $0 })
        builder.appendText("A ")
        builder.protected("<x>")
        builder.appendText(" C")
        // The model repeated the token and made up another: only the first real one stays.
        let alignment = Alignment(
            sourcePieces: ["▁A", "▁ZQXA", "▁C", "</s>"], targetPieces: ["▁X", "▁ZQXA", "▁ZQXA", "▁ZQXB", "▁Y", "</s>"],
            matrix: [[0.9, 0, 0, 0.1], [0, 0.9, 0, 0.1], [0, 0.9, 0, 0.1], [0, 0.5, 0.4, 0.1], [0, 0, 0.9, 0.1], [0, 0, 0, 1]],
            request: CrossAttentionRequest(layer: 0))
        #expect(Self.transfer(builder.build(), alignment: alignment, target: "X ZQXA ZQXA ZQXB Y") == "X <x> Y")
    }

    @Test func markupInTheOuterWhitespaceStaysThere() {
        var builder = MarkedText.Builder(protect: false, escape: { $0 })
        builder.point("<img>")
        builder.appendText(" A B ")
        builder.point("<br>")
        let alignment = Alignment(
            sourcePieces: ["▁A", "▁B", "</s>"], targetPieces: ["▁X", "▁Y", "</s>"],
            matrix: [[0.9, 0, 0.1], [0, 0.9, 0.1], [0, 0, 1]], request: CrossAttentionRequest(layer: 0))
        #expect(Self.transfer(builder.build(), alignment: alignment, target: "X Y") == "<img> X Y <br>")
    }
}
