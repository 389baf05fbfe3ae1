import Foundation
import Kernels
import Testing

/// The encoder kernels (LayerNorm with bias, table GELU) against their twins and known values.
@Suite struct LayerNormTests {
    @Test func layerNormMatchesReference() {
        for count in [1, 7, 64, 384, 1537] {
            let x = randomFloats(count, seed: UInt64(count)).map { $0 * 3 + 0.5 }
            let weight = randomFloats(count, seed: 7), bias = randomFloats(count, seed: 8)
            var fast = [Float](repeating: 0, count: count), reference = fast
            x.withUnsafeBufferPointer { input in
                weight.withUnsafeBufferPointer { w in
                    bias.withUnsafeBufferPointer { b in
                        fast.withUnsafeMutableBufferPointer { layerNorm(input, weight: w, bias: b, epsilon: 1e-12, into: $0) }
                        reference.withUnsafeMutableBufferPointer {
                            layerNormReference(input, weight: w, bias: b, epsilon: 1e-12, into: $0)
                        }
                    }
                }
            }
            let worst = zip(fast, reference).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5, "count \(count): worst difference \(worst)")
        }
    }

    static func normed(_ x: [Float], weight: [Float], bias: [Float], epsilon: Float) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { input in
            weight.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { b in
                    y.withUnsafeMutableBufferPointer { layerNorm(input, weight: w, bias: b, epsilon: epsilon, into: $0) }
                }
            }
        }
        return y
    }

    /// With unit weight and zero bias the output has mean 0 and variance 1; a constant row is all bias.
    @Test func layerNormNormalises() {
        let y = Self.normed([1, 2, 3, 4, 5, 6, 7, 8], weight: .init(repeating: 1, count: 8),
                            bias: .init(repeating: 0, count: 8), epsilon: 0)
        let mean = y.reduce(0, +) / 8
        let variance = y.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 8
        #expect(abs(mean) < 1e-6 && abs(variance - 1) < 1e-5)
        #expect(abs(y[0] + 1.5275252) < 1e-5)
        let shift: [Float] = [0.5, -1, 3, 0]
        #expect(Self.normed([2, 2, 2, 2], weight: [1, 1, 1, 1], bias: shift, epsilon: 1e-12) == shift)
    }

    @Test func geluTableMatchesReferenceAndTanhGelu() {
        var x = (0..<4000).map { Float($0 - 2000) * 0.00731 }
        x += [-10, 10, -11, 25, 0, -0.0]
        var fast = x, reference = x
        fast.withUnsafeMutableBufferPointer { GeluHalfTable.gelu($0) }
        reference.withUnsafeMutableBufferPointer { GeluHalfTable.geluReference($0) }
        #expect(fast == reference)
        for (input, output) in zip(x, fast) {
            let exact = 0.5 * input * (1 + tanh(0.7978845608 * input * (1 + 0.044715 * input * input)))
            #expect(abs(output - exact) <= 0.002 * max(1, abs(exact)), "gelu(\(input)) = \(output), expected about \(exact)")
        }
        #expect(fast[4000] == 0 && fast[4001] == 10 && fast[4002] == 0 && fast[4003] == 25)
    }
}
