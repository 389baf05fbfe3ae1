import Foundation
import Kernels
import Testing

@Suite struct HalfTests {
    /// Same value, treating every NaN as equal.
    static func same(_ a: Float, _ b: Float) -> Bool {
        a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern
    }

    @Test func everyHalfDecodesLikeTheReference() {
        var mismatches = 0
        for bits in 0...UInt16.max where !Self.same(halfToFloat(bits), halfToFloatReference(bits)) {
            mismatches += 1
        }
        #expect(mismatches == 0)
        #expect(halfToFloatReference(0x3C00) == 1)
        #expect(halfToFloatReference(0xC000) == -2)
        #expect(halfToFloatReference(0x0001) == 0x1p-24)
        #expect(halfToFloatReference(0x7BFF) == 65504)
        #expect(halfToFloatReference(0x7C00) == .infinity)
        #expect(halfToFloatReference(0x7E00).isNaN)
        #expect(halfToFloatReference(0x8000).bitPattern == (-0.0 as Float).bitPattern)
    }

    @Test func everyHalfRoundTrips() {
        for bits in 0...UInt16.max {
            let value = halfToFloat(bits)
            if value.isNaN {
                #expect(halfToFloat(floatToHalf(value)).isNaN)
                #expect(halfToFloat(floatToHalfReference(value)).isNaN)
            } else {
                #expect(floatToHalf(value) == bits)
                #expect(floatToHalfReference(value) == bits)
            }
        }
    }

    @Test func floatToHalfRoundsLikeTheReference() {
        var rng = SeededGenerator(seed: 1)
        var edges: [Float] = [0, -0, 65504, 65519.996, 65520, -65520, 1e-8, 0x1p-25, 0x1.8p-25, 0x1p-24, 0x1.8p-24,
                              0x1p-14, 0x1.ffcp-15, 1 + 0x1p-11, 1 + 0x1.8p-11, 1 + 0x1p-10 + 0x1p-11,
                              .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        // Every float whose 13 dropped bits are a tie, just below or just above, across exponents.
        for exponent in -26...16 {
            let base = Float(sign: .plus, exponent: exponent, significand: 1).bitPattern
            for low: UInt32 in [0x0FFF, 0x1000, 0x1001, 0x2FFF, 0x3000, 0x3001] { edges.append(Float(bitPattern: base | low)) }
        }
        for value in edges + (0..<200_000).map({ _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)) }) {
            let fast = floatToHalf(value), reference = floatToHalfReference(value)
            if value.isNaN {
                #expect(halfToFloat(fast).isNaN && halfToFloat(reference).isNaN)
            } else {
                #expect(fast == reference, "\(value): \(fast) vs \(reference)")
            }
        }
        #expect(floatToHalfReference(65520) == 0x7C00)  // rounds up to infinity
        #expect(floatToHalfReference(0x1p-25) == 0)  // tie to even (zero)
        #expect(floatToHalfReference(0x1.8p-25) == 1)
    }

    @Test func bulkConversionsMatchScalar() {
        let halves: [UInt16] = (0..<1000).map { UInt16(truncatingIfNeeded: $0 &* 65) }
        var fast = [Float](repeating: 0, count: 1000), reference = fast
        halves.withUnsafeBufferPointer { h in
            fast.withUnsafeMutableBufferPointer { convertHalfToFloat(h.baseAddress!, into: $0.baseAddress!, count: 1000) }
            reference.withUnsafeMutableBufferPointer { convertHalfToFloatReference(h.baseAddress!, into: $0.baseAddress!, count: 1000) }
        }
        #expect(zip(fast, reference).allSatisfy { Self.same($0, $1) })
        let floats = randomFloats(1000, seed: 2)
        var toHalf = [UInt16](repeating: 0, count: 1000), toHalfReference = toHalf
        floats.withUnsafeBufferPointer { f in
            toHalf.withUnsafeMutableBufferPointer { convertFloatToHalf(f.baseAddress!, into: $0.baseAddress!, count: 1000) }
            toHalfReference.withUnsafeMutableBufferPointer { convertFloatToHalfReference(f.baseAddress!, into: $0.baseAddress!, count: 1000) }
        }
        #expect(toHalf == toHalfReference)
    }

    @Test func bfloat16() {
        #expect(bfloat16ToFloat(0x3F80) == 1)
        #expect(bfloat16ToFloat(0xC040) == -3)
        #expect(floatToBFloat16(1) == 0x3F80)
        #expect(floatToBFloat16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie to even (down)
        #expect(floatToBFloat16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie to even (up)
        #expect(floatToBFloat16(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(bfloat16ToFloat(floatToBFloat16(.nan)).isNaN)
        #expect(floatToBFloat16(.infinity) == 0x7F80)
        let values = randomFloats(100, seed: 5)
        var bf = [UInt16](repeating: 0, count: 100), back = [Float](repeating: 0, count: 100)
        values.withUnsafeBufferPointer { v in
            bf.withUnsafeMutableBufferPointer { convertFloatToBFloat16(v.baseAddress!, into: $0.baseAddress!, count: 100) }
        }
        bf.withUnsafeBufferPointer { b in
            back.withUnsafeMutableBufferPointer { convertBFloat16ToFloat(b.baseAddress!, into: $0.baseAddress!, count: 100) }
        }
        for (original, rounded) in zip(values, back) { #expect(abs(original - rounded) <= abs(original) * 0x1p-8) }
    }

    /// Attention's query · key dot on keys decoded to floats: the AVX-512 path and its scalar twin
    /// on the binary16 keys agree bit for bit (head dimensions 64, 128 and 256, and 100: a
    /// remainder past the 64-value steps), and both stay within float rounding of a
    /// double-precision dot.
    @Test(arguments: [64, 100, 128, 256])
    func halfDotMatchesItsTwin(count: Int) {
        let q = randomFloats(count, seed: 41).map { halfToFloat(floatToHalf($0)) }
        let k = randomFloats(count, seed: 42).map { floatToHalf($0) }
        var decoded = [Float](repeating: 0, count: count)
        k.withUnsafeBufferPointer { k in
            decoded.withUnsafeMutableBufferPointer { decodeHalfRows(k.baseAddress!, stride: count, count: 1, dimension: count, into: $0.baseAddress!) }
        }
        let fast = halfDot(q, decoded: decoded, count: count), reference = halfDotReference(q, k, count: count)
        #expect(fast.bitPattern == reference.bitPattern, "\(fast) vs \(reference)")
        let exact = zip(q, k).reduce(0.0) { $0 + Double($1.0) * Double(halfToFloat($1.1)) }
        let magnitude = zip(q, k).reduce(0.0) { $0 + abs(Double($1.0) * Double(halfToFloat($1.1))) }
        #expect(abs(Double(fast) - exact) <= 1e-6 * magnitude)
    }

    /// A query's attention block by block over decoded keys and values equals its twin stepping
    /// position by position on the binary16 cache, bit for bit: every head dimension path (64 and
    /// 128 in registers, 80 and 256 in the plain loops), blocks of uneven lengths, a soft cap,
    /// and scores that raise the maximum part way through.
    @Test(arguments: [64, 80, 128, 256], [false, true])
    func attentionBlocksMatchTheirTwin(dimension: Int, capped: Bool) {
        let positions = 150, stride = dimension + 16
        let keys = randomFloats(positions * stride, seed: 51).map { floatToHalf($0 * 0.2) }
        let values = randomFloats(positions * stride, seed: 52).map { floatToHalf($0) }
        let query = randomFloats(dimension, seed: 53).map { halfToFloat(floatToHalf($0 * 0.3)) }
        let scale = 1 / Float(dimension).squareRoot(), softCap: Float? = capped ? 5 : nil
        var fast = [Float](repeating: 0, count: dimension), reference = fast
        var fastState = HalfAttentionState(), referenceState = HalfAttentionState()
        var decodedKeys = [Float](repeating: 0, count: halfAttentionBlock * dimension), decodedValues = decodedKeys
        var start = 0, blockLengths = [1, 64, 13, 64, 8]
        while start < positions {
            let count = min(blockLengths.removeFirst(), positions - start)
            keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in
                decodedKeys.withUnsafeMutableBufferPointer {
                    decodeHalfRows(k.baseAddress! + start * stride, stride: stride, count: count, dimension: dimension, into: $0.baseAddress!)
                }
                decodedValues.withUnsafeMutableBufferPointer {
                    decodeHalfRows(v.baseAddress! + start * stride, stride: stride, count: count, dimension: dimension, into: $0.baseAddress!)
                }
                fast.withUnsafeMutableBufferPointer {
                    attendHalfBlock(query: query, keys: decodedKeys, values: decodedValues, count: count, dimension: dimension,
                                    scale: scale, softCap: softCap, accumulator: $0.baseAddress!, state: &fastState)
                }
                reference.withUnsafeMutableBufferPointer {
                    attendHalfBlockReference(query: query, keys: k.baseAddress! + start * stride, values: v.baseAddress! + start * stride,
                                             stride: stride, count: count, dimension: dimension, scale: scale, softCap: softCap,
                                             accumulator: $0.baseAddress!, state: &referenceState)
                }
            }}
            start += count
        }
        #expect(fastState.maximum.bitPattern == referenceState.maximum.bitPattern)
        #expect(fastState.sum.bitPattern == referenceState.sum.bitPattern)
        #expect(fast.map(\.bitPattern) == reference.map(\.bitPattern))
        #expect(fastState.sum > 1 && fast.contains { $0 != 0 })
    }

    /// The vectorisable `expf` is the C library's bit for bit where the attention uses it: every
    /// 1237th float bit pattern (both signs, subnormals, the under- and overflow edges, infinities
    /// and NaNs), and the edges themselves.
    @Test(.enabled(if: exponentialsUseGlibcReplica, "the replica is used on glibc with FMA only"))
    func exponentialsAreTheCLibrarys() {
        var inputs: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .nan, -103.972076, -103.97208, -103.27892, -103.278915,
                               88.72283, 88.722839, -87.33655, .leastNonzeroMagnitude, -.leastNonzeroMagnitude]
        var bits: UInt32 = 0
        while bits < UInt32.max - 1237 {
            inputs.append(Float(bitPattern: bits))
            bits += 1237
        }
        var results = inputs
        results.withUnsafeMutableBufferPointer { exponentials($0.baseAddress!, count: $0.count) }
        let mismatches = zip(inputs, results).filter { !Self.same(expf($0.0), $0.1) }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }
}
