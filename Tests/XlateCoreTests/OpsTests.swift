import Foundation
import Testing
@testable import XlateCore

@Suite("Kernels against hand-computed values")
struct OpsTests {
    @Test func softmaxOfKnownRow() {
        var x: [Float] = [1, 2, 3]
        Ops.softmax(&x, count: 3)
        // e^1, e^2, e^3 over their sum 30.1928…
        let expected: [Float] = [0.09003057, 0.24472848, 0.66524094]
        for (a, b) in zip(x, expected) { #expect(abs(a - b) < 1e-6) }
    }

    @Test func logSoftmaxIsStableForLargeValues() {
        var x: [Float] = [1000, 1000]
        Ops.logSoftmax(&x, count: 2)
        #expect(abs(x[0] - -Float(log(2.0))) < 1e-6)
        #expect(abs(x[1] - -Float(log(2.0))) < 1e-6)
    }

    /// The maximum is found in the 16-wide lanes and in the tail after them: a missed maximum of 1000 would make
    /// the exponentials overflow, and every row must still sum to probability 1.
    @Test func logSoftmaxFindsTheMaximumWhereverItLies() {
        for count in [1, 15, 16, 17, 37] {
            for position in 0..<count {
                var x = (0..<count).map { Float($0 % 5) }
                x[position] = 1000
                Ops.logSoftmax(&x, count: count)
                #expect(abs(x[position]) < 1e-6, "\(count) values, maximum at \(position)")
                #expect(x.allSatisfy { $0.isFinite && $0 <= 0 }, "\(count) values, maximum at \(position)")
            }
        }
    }

    /// The output is the probability-weighted sum of the values, summed in order of position with one fused
    /// multiply-add per step, however the kernel keeps its sums: bit for bit against that
    /// loop, for head sizes done in registers (64, 128), with a tail (80) and below (8).
    @Test(arguments: [8, 64, 80, 128])
    func attentionSumsTheValuesInOrder(headDim: Int) {
        var seed: UInt64 = UInt64(headDim)
        func random() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(seed >> 40) % 2001 - 1000) / 1000
        }
        for count in [1, 2, 17, 37] {
            let stride = 3 * headDim  // keys and values interleaved with other heads' columns, as in the cache
            let query = (0..<headDim).map { _ in random() }
            let keys = (0..<(count * stride)).map { _ in random() }
            let values = (0..<(count * stride)).map { _ in random() }
            var scores = [Float](repeating: .nan, count: count)
            var output = [Float](repeating: .nan, count: headDim)
            let scaling = 1 / Float(headDim).squareRoot()
            Ops.attend(
                query: query, keys: keys, values: values, stride: stride, count: count, headDim: headDim,
                scaling: scaling, scores: &scores, output: &output)
            var logits = (0..<count).map { j in
                (0..<headDim).reduce(Float(0)) { $0 + query[$1] * keys[j * stride + $1] } * scaling
            }
            Ops.softmax(&logits, count: count)
            for j in 0..<count { #expect(abs(scores[j] - logits[j]) < 1e-5, "head \(headDim), \(count) keys, key \(j)") }
            var expected = [Float](repeating: 0, count: headDim)
            for j in 0..<count {
                for d in 0..<headDim { expected[d] = expected[d].addingProduct(scores[j], values[j * stride + d]) }
            }
            #expect(output.map(\.bitPattern) == expected.map(\.bitPattern), "head \(headDim), \(count) keys")
        }
    }

    @Test func layerNormMatchesFormula() {
        var x: [Float] = [1, 2, 3, 4, 10, 10, 10, 10]
        let weight: [Float] = [1, 2, 1, 1]
        let bias: [Float] = [0, 0, 1, 0]
        Ops.layerNorm(&x, rows: 2, columns: 4, weight: weight, bias: bias, eps: 1e-5)
        // Row 1: mean 2.5, biased variance 1.25.
        let s = 1 / Float((1.25 + 1e-5).squareRoot())
        let expected: [Float] = [-1.5 * s, -0.5 * s * 2, 0.5 * s + 1, 1.5 * s]
        for (a, b) in zip(x.prefix(4), expected) { #expect(abs(a - b) < 1e-5) }
        // Row 2 is constant: only the bias remains.
        #expect(Array(x.suffix(4)) == [0, 0, 1, 0])
    }

    @Test(arguments: [
        (Activation.relu, Float(-2), Float(0)), (.relu, 3, 3),
        (.silu, 1, 0.7310586), (.silu, -1, -0.26894143),
        (.gelu, 1, 0.8413447), (.gelu, -1, -0.15865526),
        (.geluTanh, 1, 0.8411920), (.geluTanh, -1, -0.158808),
    ])
    func activation(_ activation: Activation, input: Float, expected: Float) {
        var x = [input]
        Ops.activate(&x, count: 1, activation)
        #expect(abs(x[0] - expected) < 1e-5)
    }

    @Test func activationNamesFromConfigs() {
        #expect(Activation(configName: "swish") == .silu)
        #expect(Activation(configName: "gelu_new") == .geluTanh)
        #expect(Activation(configName: "mish") == nil)
    }

    @Test func linearMultipliesByTransposedWeightAndAddsBias() throws {
        _ = try BLAS.info()
        let x: [Float] = [1, 2, 3, 4, 5, 6]  // [2, 3]
        let weight: [Float] = [1, 0, 0, 0, 1, 1]  // [2 out, 3 in]
        let bias: [Float] = [10, 20]
        var y = [Float](repeating: 0, count: 4)
        Ops.linear(x, rows: 2, inFeatures: 3, weight: weight, bias: bias, outFeatures: 2, into: &y)
        #expect(y == [11, 25, 14, 31])
    }

    @Test func halfPrecisionConversions() {
        // 1, -2, 0x3555 (0.333…), 65504 (largest half), a subnormal; unaligned source on purpose.
        let halves: [UInt16] = [0, 0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001]
        var floats = [Float](repeating: 0, count: 5)
        halves.withUnsafeBufferPointer { HalfPrecision.convert(float16: $0.baseAddress! + 1, to: &floats, count: 5) }
        #expect(floats == [1, -2, Float(Float16(bitPattern: 0x3555)), 65504, Float(Float16(bitPattern: 1))])
        let brains: [UInt16] = [0x3F80, 0x4049, 0xC2F7]
        var wide = [Float](repeating: 0, count: 3)
        HalfPrecision.convert(bfloat16: brains, to: &wide, count: 3)
        #expect(wide == [1, 3.140625, -123.5])
        #expect(HalfPrecision.allFinite([1, -2, 3e38], count: 3))
        #expect(!HalfPrecision.allFinite([1, .nan], count: 2))
        #expect(!HalfPrecision.allFinite(Array(repeating: 0, count: 100) + [-.infinity], count: 101))
    }
}

@Suite("OpenBLAS kernel choice")
struct BLASTests {
    @Test func recommendsAVX512KernelsWhenTheCPUHasThem() {
        let flags = CPUFeatures(cpuinfo: "processor : 0\nflags\t\t: fpu sse3 avx2 fma avx512f avx512bw avx512vl avx512dq avx512cd\n")
        #expect(flags.hasAVX512)
        #expect(BLAS.recommendedCoreType(for: flags) == "SkylakeX")
    }

    @Test func recommendsAVX2KernelsWithoutAVX512() {
        let flags = CPUFeatures(cpuinfo: "flags : sse3 avx avx2 fma\n")
        #expect(BLAS.recommendedCoreType(for: flags) == "Haswell")
        #expect(BLAS.recommendedCoreType(for: CPUFeatures(cpuinfo: "flags : sse3\n")) == nil)
    }

    @Test func reportsAKernelThatIsNotTheGenericFallback() throws {
        let info = try BLAS.info()
        #expect(!info.kernel.isEmpty)
        if CPUFeatures.current.hasAVX2, ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil {
            #expect(!info.isGeneric, "OpenBLAS runs the generic \(info.kernel) kernel on a CPU with AVX2")
        }
        #expect(BLAS.Info(kernel: "Prescott", config: "", choice: "").isGeneric)
    }
}
