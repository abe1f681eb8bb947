import Foundation
import Testing
@testable import XlateCore
import CKernels

@Suite("Weight matrices: packed kernel and OpenBLAS")
struct GEMMTests {
    /// `y = x · Wᵀ + b` in double precision, the plain way.
    func naive(_ x: [Float], rows: Int, weight: [Float], out: Int, in k: Int, bias: [Float]?) -> [Float] {
        var y = [Float](repeating: 0, count: rows * out)
        for r in 0..<rows {
            for o in 0..<out {
                var sum = 0.0
                for i in 0..<k { sum += Double(x[r * k + i]) * Double(weight[o * k + i]) }
                y[r * out + o] = Float(sum + Double(bias?[o] ?? 0))
            }
        }
        return y
    }

    func random(_ count: Int, seed: inout UInt64) -> [Float] {
        (0..<count).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(seed >> 40) % 2001 - 1000) / 1000
        }
    }

    /// Shapes with every tail: rows not a multiple of the 12-row tile, outputs not a multiple of the 32-column panel.
    @Test(arguments: [(1, 1, 1), (5, 7, 3), (12, 32, 16), (13, 33, 17), (29, 100, 64), (3, 384, 40)])
    func packedKernelMatchesTheDefinition(rows: Int, out: Int, in k: Int) throws {
        var seed: UInt64 = UInt64(rows * 1000 + out * 10 + k)
        let x = random(rows * k, seed: &seed)
        let weight = random(out * k, seed: &seed)
        let bias = random(out, seed: &seed)
        for path in [GEMMPath.current, .openBLAS] {
            let matrix = try WeightMatrix(weight, outFeatures: out, inFeatures: k, path: path)
            for withBias in [true, false] {
                var y = [Float](repeating: .nan, count: rows * out)
                bias.withUnsafeBufferPointer { b in
                    matrix.multiply(x, rows: rows, bias: withBias ? b.baseAddress : nil, into: &y)
                }
                let expected = naive(x, rows: rows, weight: weight, out: out, in: k, bias: withBias ? bias : nil)
                let difference = zip(y, expected).map { abs($0 - $1) }.max()!
                #expect(difference < 1e-4, "\(path) \(rows)×\(k) · \(k)×\(out), bias \(withBias): \(difference)")
            }
        }
    }

    @Test func halfRepresentableWeightsArePackedAsHalvesWithIdenticalResults() throws {
        guard GEMMPath.current != .openBLAS else { return }
        var seed: UInt64 = 7
        let (rows, out, k) = (13, 70, 48)
        let x = random(rows * k, seed: &seed)
        let halves = random(out * k, seed: &seed).map { Float(Float16($0)) }
        let half = try WeightMatrix(halves, outFeatures: out, inFeatures: k)
        #expect(half.isHalf)
        #expect(half.byteCount < out * k * 4)
        let notHalves = halves.enumerated().map { $0.offset == 5 ? $0.element + 1e-6 : $0.element }
        #expect(!(try WeightMatrix(notHalves, outFeatures: out, inFeatures: k)).isHalf)
        // The same product from half panels and from OpenBLAS over floats.
        let floats = try WeightMatrix(halves, outFeatures: out, inFeatures: k, path: .openBLAS)
        var fromHalves = [Float](repeating: 0, count: rows * out)
        var fromFloats = [Float](repeating: 0, count: rows * out)
        half.multiply(x, rows: rows, bias: nil, into: &fromHalves)
        floats.multiply(x, rows: rows, bias: nil, into: &fromFloats)
        #expect(zip(fromHalves, fromFloats).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    /// Matrices packed straight from halves — one part, or parts of whole panels stacked like q, k and v — are the
    /// matrices packed from the same values as floats: identical products on every path and compute type.
    @Test(arguments: [(1, 70), (3, 64)])
    func halvesPackLikeTheirFloats(parts: Int, rowsPerPart: Int) throws {
        var seed: UInt64 = 11
        let (rows, k) = (13, 48)
        let out = parts * rowsPerPart
        let x = random(rows * k, seed: &seed)
        let values = random(out * k, seed: &seed).map { Float16($0) }
        let floats = values.map(Float.init)
        let unaligned = UnsafeMutableRawPointer.allocate(byteCount: out * k * 2 + 1, alignment: 16)
        defer { unaligned.deallocate() }
        values.withUnsafeBytes { (unaligned + 1).copyMemory(from: $0.baseAddress!, byteCount: out * k * 2) }
        let pointers = (0..<parts).map { UnsafeRawPointer(unaligned + 1 + $0 * rowsPerPart * k * 2) }
        let paths: [GEMMPath] = GEMMPath.current == .openBLAS ? [.openBLAS] : [.current, .openBLAS]
        for (path, type) in paths.flatMap({ path in ComputeType.allCases.map { (path, $0) } }) {
            let fromHalves = try WeightMatrix(halves: pointers, rowsPerPart: rowsPerPart, inFeatures: k, path: path, computeType: type)
            let fromFloats = try WeightMatrix(floats, outFeatures: out, inFeatures: k, path: path, computeType: type)
            #expect(fromHalves.outFeatures == out && fromHalves.isHalf == fromFloats.isHalf)
            var a = [Float](repeating: .nan, count: rows * out)
            var b = [Float](repeating: .nan, count: rows * out)
            fromHalves.multiply(x, rows: rows, bias: nil, into: &a)
            fromFloats.multiply(x, rows: rows, bias: nil, into: &b)
            #expect(a == b, "\(path) \(type)")
        }
    }

    @Test func pathReflectsTheCPU() {
        if CPUFeatures.current.hasAVX512, ProcessInfo.processInfo.environment["XLATE_GEMM"] == nil {
            #expect(GEMMPath.current == .packedAVX512)
        }
    }
}

@Suite("Weight matrices: int8")
struct Int8GEMMTests {
    // Tails of every kind; 500 rows span three of the kernel's 240-row blocks.
    let shapes = [(1, 1, 1), (5, 7, 3), (12, 32, 16), (13, 33, 17), (29, 100, 64), (3, 384, 40), (25, 70, 385), (500, 33, 24)]

    func random(_ count: Int, seed: inout UInt64) -> [Float] {
        (0..<count).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(seed >> 40) % 2001 - 1000) / 1000
        }
    }

    func product(_ matrix: WeightMatrix, _ x: [Float], rows: Int, bias: [Float]?) -> [Float] {
        var y = [Float](repeating: .nan, count: rows * matrix.outFeatures)
        if let bias {
            bias.withUnsafeBufferPointer { matrix.multiply(x, rows: rows, bias: $0.baseAddress, into: &y) }
        } else {
            matrix.multiply(x, rows: rows, bias: nil, into: &y)
        }
        return y
    }

    /// Both quantisations round to the nearest of 255 levels per row, so each product term is off by at most
    /// `|x|·Δw/2 + |w|·Δx/2 + Δx·Δw/4`; summed over k with Δ = 2·max/254.
    @Test func int8ProductIsWithinTheQuantisationBound() throws {
        for (rows, out, k) in shapes {
            var seed = UInt64(rows * 7919 + out * 31 + k)
            let x = random(rows * k, seed: &seed)
            let weight = random(out * k, seed: &seed)
            let bias = random(out, seed: &seed)
            let matrix = try WeightMatrix(weight, outFeatures: out, inFeatures: k, computeType: .int8)
            #expect(matrix.byteCount < out * k * 2 + 8 * 64 + 64 * k, "int8 panels take about a byte per weight")
            expectWithinTheQuantisationBound(product(matrix, x, rows: rows, bias: bias), x, weight, bias, rows, out, k)
        }
    }

    /// A row's scale comes from its largest magnitude wherever it lies: in the 16-wide lanes or in the tail after
    /// them (k = 37), positive or negative. A scale from a smaller value would clip that entry far past the bound.
    @Test func theRowsLargestValueSetsItsScaleWhereverItLies() throws {
        let (rows, out, k) = (37, 5, 37)
        var seed: UInt64 = 37
        var x = random(rows * k, seed: &seed)
        for r in 0..<rows { x[r * k + r] = r % 2 == 0 ? 40 : -40 }
        let weight = random(out * k, seed: &seed)
        let bias = random(out, seed: &seed)
        let matrix = try WeightMatrix(weight, outFeatures: out, inFeatures: k, computeType: .int8)
        expectWithinTheQuantisationBound(product(matrix, x, rows: rows, bias: bias), x, weight, bias, rows, out, k)
    }

    func expectWithinTheQuantisationBound(
        _ y: [Float], _ x: [Float], _ weight: [Float], _ bias: [Float], _ rows: Int, _ out: Int, _ k: Int
    ) {
        for r in 0..<rows {
            let xRow = x[(r * k)..<((r + 1) * k)]
            let xMax = xRow.map(abs).max()!
            for o in 0..<out {
                let wRow = weight[(o * k)..<((o + 1) * k)]
                let wMax = wRow.map(abs).max()!
                let (dx, dw) = (Double(xMax) / 127, Double(wMax) / 127)
                var exact = Double(bias[o])
                var bound = 1e-5 * Double(k)
                for (a, b) in zip(xRow, wRow) {
                    exact += Double(a) * Double(b)
                    bound += abs(Double(a)) * dw / 2 + abs(Double(b)) * dx / 2 + dx * dw / 4
                }
                let error = abs(Double(y[r * out + o]) - exact)
                #expect(error <= bound, "\(rows)×\(k) · \(k)×\(out) [\(r), \(o)]: error \(error) > bound \(bound)")
            }
        }
    }

    @Test func vnniAndPortableKernelsAgreeBitForBit() throws {
        guard xk_int8_level() >= 1 else { return }  // nothing to compare on a CPU without AVX-512 VNNI
        for (rows, out, k) in shapes {
            var seed = UInt64(rows * 104729 + out * 17 + k)
            let x = random(rows * k, seed: &seed)
            let weight = random(out * k, seed: &seed)
            let bias = random(out, seed: &seed)
            let vnni = try WeightMatrix(weight, outFeatures: out, inFeatures: k, computeType: .int8, int8Level: 1)
            let portable = try WeightMatrix(weight, outFeatures: out, inFeatures: k, computeType: .int8, int8Level: 0)
            for withBias in [true, false] {
                let a = product(vnni, x, rows: rows, bias: withBias ? bias : nil)
                let b = product(portable, x, rows: rows, bias: withBias ? bias : nil)
                #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(rows)×\(k) · \(k)×\(out), bias \(withBias)")
            }
        }
    }

    @Test func zeroRowsAndColumnsGiveTheBias() throws {
        let (rows, out, k) = (3, 5, 8)
        var weight = [Float](repeating: 0.5, count: out * k)
        for i in 0..<k { weight[2 * k + i] = 0 }  // output column 2 all zero
        var x = [Float](repeating: 1, count: rows * k)
        for i in 0..<k { x[1 * k + i] = 0 }  // input row 1 all zero
        let bias: [Float] = [1, 2, 3, 4, 5]
        let y = product(try WeightMatrix(weight, outFeatures: out, inFeatures: k, computeType: .int8), x, rows: rows, bias: bias)
        for r in 0..<rows {
            for o in 0..<out {
                let expected: Float = (r == 1 || o == 2) ? bias[o] : bias[o] + 4
                #expect(abs(y[r * out + o] - expected) < 1e-5, "[\(r), \(o)] = \(y[r * out + o]), expected \(expected)")
            }
        }
    }
    /// The packed kernel's k blocks (512), row blocks (240) and thread split keep the plain chain of fused
    /// multiply-adds in k order, then the bias: the result equals that loop bit for bit, for every thread count.
    @Test func kBlocksAndThreadsKeepTheFusedMultiplyAddChainBitForBit() throws {
        let (rows, out, k) = (250, 200, 1100)  // 2 row blocks, 3 k blocks, 7 panels (the last one partial)
        var seed: UInt64 = 19
        let x = random(rows * k, seed: &seed)
        let weight = random(out * k, seed: &seed)
        let bias = random(out, seed: &seed)
        var expected = [Float](repeating: 0, count: rows * out)
        for r in 0..<rows {
            for o in 0..<out {
                var sum: Float = 0
                for i in 0..<k { sum = sum.addingProduct(weight[o * k + i], x[r * k + i]) }
                expected[r * out + o] = sum + bias[o]
            }
        }
        // The packed storage whatever XLATE_GEMM says (the kernel runs on any CPU; without FMA, AVX2 or AVX-512 code
        // the products are not fused, so only the thread counts are compared there).
        let matrix = try WeightMatrix(weight, outFeatures: out, inFeatures: k, path: .packedAVX2)
        let int8 = try WeightMatrix(weight, outFeatures: out, inFeatures: k, computeType: .int8)
        let onOneThread = product(matrix, x, rows: rows, bias: bias)
        if xk_gemm_level() >= 3 { #expect(onOneThread.map(\.bitPattern) == expected.map(\.bitPattern)) }
        let int8OnOneThread = product(int8, x, rows: rows, bias: bias)
        for threads in [2, 3] {
            ProductThreads.with(threads) {
                #expect(ProductThreads.current == threads)
                let y = product(matrix, x, rows: rows, bias: bias)
                #expect(y.map(\.bitPattern) == onOneThread.map(\.bitPattern), "\(threads) threads")
                let y8 = product(int8, x, rows: rows, bias: bias)
                #expect(y8.map(\.bitPattern) == int8OnOneThread.map(\.bitPattern), "int8, \(threads) threads")
            }
        }
        #expect(ProductThreads.current == 1)
    }

    /// A tied embedding reads its rows from the product's storage: float weights exactly, int8 dequantised.
    @Test func rowsComeBackFromThePackedWeights() throws {
        let (out, k) = (70, 37)
        var seed: UInt64 = 23
        let weight = random(out * k, seed: &seed)
        var row = [Float](repeating: .nan, count: k)
        for path in [GEMMPath.current, .openBLAS] {
            let table = EmbeddingTable(rowsOf: try WeightMatrix(weight, outFeatures: out, inFeatures: k, path: path))
            #expect(table.byteCount == 0)
            for r in [0, 31, 32, 69] {
                table.copyRow(r, to: &row)
                #expect(row == Array(weight[(r * k)..<((r + 1) * k)]), "\(path) row \(r)")
            }
        }
        let int8 = EmbeddingTable(rowsOf: try WeightMatrix(weight, outFeatures: out, inFeatures: k, computeType: .int8))
        for r in [0, 33, 69] {
            int8.copyRow(r, to: &row)
            let original = weight[(r * k)..<((r + 1) * k)]
            let step = original.map(abs).max()! / 127  // one quantisation step of this row
            for (a, b) in zip(row, original) { #expect(abs(a - b) <= step / 2 + 1e-6, "int8 row \(r)") }
        }
    }
}
