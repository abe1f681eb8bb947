import Foundation
import Testing
@testable import XlateCore

@Suite("Embedding tables")
struct EmbeddingTableTests {
    /// Values that are exactly halves (a float16 checkpoint) are stored as halves and come back bit for bit.
    @Test func halvesAreKeptAsHalvesAndReadBackExactly() {
        let (rows, width) = (5, 7)
        let values: [Float] = (0..<(rows * width)).map { Float(Float16(Float($0) * 0.37 - 6.1)) }
        let table = values.withUnsafeBufferPointer { EmbeddingTable($0.baseAddress!, rows: rows, width: width) }
        #expect(table.isHalf)
        #expect(table.byteCount == rows * width * 2)
        var row = [Float](repeating: .nan, count: width)
        for r in 0..<rows {
            row.withUnsafeMutableBufferPointer { table.copyRow(r, to: $0.baseAddress!) }
            #expect(row == Array(values[(r * width)..<((r + 1) * width)]), "row \(r)")
        }
    }

    /// One value that is not a half (a float32 checkpoint) keeps the whole table in floats, unchanged.
    @Test func otherFloatsAreKeptAsFloats() {
        var values: [Float] = (0..<12).map { Float($0) }
        values[7] = 0.1  // not a half
        let table = values.withUnsafeBufferPointer { EmbeddingTable($0.baseAddress!, rows: 3, width: 4) }
        #expect(!table.isHalf)
        var row = [Float](repeating: 0, count: 4)
        row.withUnsafeMutableBufferPointer { table.copyRow(1, to: $0.baseAddress!) }
        #expect(row == [4, 5, 6, 0.1])
    }
}
