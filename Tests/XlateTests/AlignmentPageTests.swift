import Foundation
import Testing

@testable import Xlate

/// Issue 17 item 18: in the pieces view the mark of each row sits on its strongest cell, `</s>` column included.
@Suite("Alignment page: marks on the strongest cells")
struct AlignmentPageTests {
    /// "Hello." → "Hallo.": the `.` and `</s>` rows attend most to the source's `</s>`, as real models' rows do.
    static let alignment = Alignment(
        sourcePieces: ["▁Hello", ".", "</s>"], targetPieces: ["▁Hallo", ".", "</s>"],
        matrix: [
            [0.80, 0.15, 0.05],
            [0.049, 0.045, 0.906],
            [0.03, 0.02, 0.95],
        ],
        request: CrossAttentionRequest(layer: 0))

    /// For each body row of the page's `level` table, the column index of the marked cell (nil: none marked).
    private func markedColumns(_ html: String, level: AlignmentLevel) throws -> [Int?] {
        let start = try #require(html.range(of: "data-level=\"\(level.rawValue)\""))
        let table = html[start.upperBound...]
        let body = try #require(table.range(of: "<tbody>"))
        let end = try #require(table.range(of: "</tbody>"))
        return table[body.upperBound..<end.lowerBound].components(separatedBy: "</tr>").dropLast().map { row in
            row.components(separatedBy: "<td").dropFirst().firstIndex { $0.hasPrefix(" class=\"hard") }.map { $0 - 1 }
        }
    }

    @Test func piecesViewMarksEachRowsStrongestCellIncludingEndOfSentence() throws {
        let html = AlignmentRenderer.html([AlignmentMap(source: "Hello.", translation: "Hallo.", views: [
            .init(label: "layer 0", alignment: Self.alignment),
        ])])
        // Each row's argmax: ▁Hello, </s>, </s> (before: ▁Hello, ▁Hello, ▁Hello, since </s> was never marked).
        #expect(try markedColumns(html, level: .pieces) == [0, 2, 2])
        // The words view marks the hard links (words have no </s>): "Hallo." attends most to "Hello.".
        #expect(try markedColumns(html, level: .words) == [0])
        #expect(Self.alignment.hardLinks == [Alignment.Link(source: 0, target: 0)])
    }

    @Test func terminalAndSVGMarkTheSameCells() {
        let grid = Grid(Self.alignment, level: .pieces)
        #expect(grid.marks == [[0], [2], [2]])
        let svg = AlignmentRenderer.svg([AlignmentMap(source: "Hello.", translation: "Hallo.", views: [
            .init(label: "layer 0", alignment: Self.alignment),
        ])], level: .pieces)
        #expect(svg.components(separatedBy: "<circle").count - 1 == 3)
        let terminal = AlignmentRenderer.terminal(Self.alignment, level: .pieces, width: 80, color: .truecolor)
        let rows = terminal.split(separator: "\n").filter { $0.hasPrefix("</s>") || $0.hasPrefix(".") }
        #expect(rows.count == 2)
        // The dot is in the last of the three cells of both rows.
        for row in rows {
            let cells = row.components(separatedBy: "\u{1B}[0m").dropLast()
            #expect(cells.count == 3)
            #expect(cells.last?.contains("●") == true)
            #expect(cells.dropLast().allSatisfy { !$0.contains("●") })
        }
    }

    @Test func tiesMarkTheFirstStrongestCell() {
        let tie = Alignment(
            sourcePieces: ["▁a", "▁b", "</s>"], targetPieces: ["▁x"], matrix: [[0.4, 0.4, 0.2]],
            request: CrossAttentionRequest(layer: 0))
        #expect(Grid(tie, level: .pieces).marks == [[0]])
    }
}
