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

    /// Attention's query · key dot: the AVX-512 path and its scalar twin agree bit for bit (head
    /// dimensions 64, 128 and 256, and 100: a remainder past the 64-value steps), and both stay
    /// within float rounding of a double-precision dot.
    @Test(arguments: [64, 100, 128, 256])
    func halfDotMatchesItsTwin(count: Int) {
        let q = randomFloats(count, seed: 41).map { halfToFloat(floatToHalf($0)) }
        let k = randomFloats(count, seed: 42).map { floatToHalf($0) }
        let fast = halfDot(q, k, count: count), reference = halfDotReference(q, k, count: count)
        #expect(fast.bitPattern == reference.bitPattern, "\(fast) vs \(reference)")
        let exact = zip(q, k).reduce(0.0) { $0 + Double($1.0) * Double(halfToFloat($1.1)) }
        let magnitude = zip(q, k).reduce(0.0) { $0 + abs(Double($1.0) * Double(halfToFloat($1.1))) }
        #expect(abs(Double(fast) - exact) <= 1e-6 * magnitude)
    }

    /// The value update: the exact accumulator + value * weight, rounded to binary16.
    @Test func halfMultiplyAddRoundsOnce() {
        var accumulator = randomFloats(40, seed: 43).map { halfToFloat(floatToHalf($0)) }
        let v = randomFloats(40, seed: 44).map { floatToHalf($0) }
        let weight: Float = 0.3183
        let expected = zip(accumulator, v).map { halfToFloat(floatToHalf(Float(Double($0.0) + Double(halfToFloat($0.1)) * Double(weight)))) }
        accumulator.withUnsafeMutableBufferPointer { halfMultiplyAdd($0.baseAddress!, v, weight: weight, count: 40) }
        // One rounding to float, then to binary16, equals rounding the exact value unless the
        // exact value lies within 2^-24 (relative) of a binary16 tie: not so for these values.
        #expect(accumulator == expected)
    }
}
