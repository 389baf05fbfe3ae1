import Kernels
import Testing

/// Activation quantisers (Q8_0, Q8_1, Q8_K): round-trip error, block sums, special values.
@Suite struct QuantizeTests {
    static let formats: [any ActivationFormat.Type] = [Q8_0.self, Q8_1.self, Q8_K.self]

    @Test(arguments: formats.map { $0.name })
    func roundTripWithinHalfAStep(_ name: String) throws {
        let format = try #require(Self.formats.first { $0.name == name })
        let count = format.blockSize * 6
        let x = randomFloats(count, seed: 9)
        let values = dequantized(quantized(x, as: format), as: format, count: count)
        for block in 0..<count / format.blockSize {
            let range = block * format.blockSize..<(block + 1) * format.blockSize
            let amax = x[range].map { abs($0) }.max()!
            // Step d = amax / 127 (stored as binary16 for Q8_0/Q8_1: relative error 2^-11, times
            // up to 127 steps); half a step of rounding.
            let step = amax / 127
            let bound = step * (format.name == "Q8_K" ? 0.5001 : 0.5001 + 127 * 0x1p-11)
            for i in range {
                #expect(abs(values[i] - x[i]) <= bound, "\(name)[\(i)]: \(values[i]) vs \(x[i])")
            }
        }
    }

    @Test func q8_1StoresScaledSum() {
        let x = randomFloats(64, seed: 3)
        let bytes = quantized(x, as: Q8_1.self)
        for block in 0..<2 {
            let base = block * 36
            let d = halfToFloat(UInt16(bytes[base]) | UInt16(bytes[base + 1]) << 8)
            let s = halfToFloat(UInt16(bytes[base + 2]) | UInt16(bytes[base + 3]) << 8)
            let sum = (0..<32).reduce(0) { $0 + Int(Int8(bitPattern: bytes[base + 4 + $1])) }
            #expect(abs(s - d * Float(sum)) <= abs(d * Float(sum)) * 0x1p-10)
        }
    }

    @Test func q8_KBlockSumsAndScale() {
        let x = randomFloats(512, seed: 4)
        let bytes = quantized(x, as: Q8_K.self)
        for block in 0..<2 {
            let base = block * 292
            let quants = (0..<256).map { Int(Int8(bitPattern: bytes[base + 4 + $0])) }
            #expect(quants.allSatisfy { abs($0) <= 127 })
            #expect(quants.contains { abs($0) == 127 })  // the largest magnitude maps to 127
            for group in 0..<16 {
                let stored = Int16(bitPattern: UInt16(bytes[base + 260 + 2 * group]) | UInt16(bytes[base + 261 + 2 * group]) << 8)
                #expect(Int(stored) == quants[group * 16..<group * 16 + 16].reduce(0, +))
            }
        }
    }

    @Test(arguments: formats.map { $0.name })
    func zerosQuantiseToZero(_ name: String) throws {
        let format = try #require(Self.formats.first { $0.name == name })
        let values = dequantized(quantized([Float](repeating: 0, count: format.blockSize), as: format), as: format, count: format.blockSize)
        #expect(values.allSatisfy { $0 == 0 })
    }

    /// A non-finite activation must not be silently clipped: the block's scale becomes NaN.
    @Test(arguments: formats.map { $0.name })
    func nonFiniteInputPoisonsItsBlock(_ name: String) throws {
        let format = try #require(Self.formats.first { $0.name == name })
        var x = randomFloats(format.blockSize * 2, seed: 8)
        x[format.blockSize + 3] = .nan
        let values = dequantized(quantized(x, as: format), as: format, count: x.count)
        #expect(values[..<format.blockSize].allSatisfy { $0.isFinite })
        #expect(values[format.blockSize...].allSatisfy { $0.isNaN })
        x[format.blockSize + 3] = .infinity
        let infinite = dequantized(quantized(x, as: format), as: format, count: x.count)
        #expect(infinite[format.blockSize...].allSatisfy { $0.isNaN })
    }

    @Test func q8_0RoundsHalfToEvenLikeGGMLsSIMDQuantiser() {
        // amax 127 gives d = 1 exactly, so x * (127 / amax) = x and the ties are visible.
        var x = [Float](repeating: 0, count: 32)
        x[0] = 127
        x[1] = 2.5
        x[2] = -2.5
        x[3] = 0.5
        let bytes = quantized(x, as: Q8_0.self)
        #expect(Int8(bitPattern: bytes[3]) == 2)
        #expect(Int8(bitPattern: bytes[4]) == -2)
        #expect(Int8(bitPattern: bytes[5]) == 0)
    }
}
