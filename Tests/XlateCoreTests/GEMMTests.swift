import Foundation
import Testing
@testable import XlateCore

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

    @Test func pathReflectsTheCPU() {
        if CPUFeatures.current.hasAVX512, ProcessInfo.processInfo.environment["XLATE_GEMM"] == nil {
            #expect(GEMMPath.current == .packedAVX512)
        }
    }
}
