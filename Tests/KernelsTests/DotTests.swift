import Kernels
import Testing

/// Integer dot products: fast kernels against their scalar twins, and both against the Double
/// dot of the dequantised operands.
@Suite struct DotTests {
    /// Columns per format: several blocks, and a count that is not a multiple of four blocks so
    /// the unrolled loops' remainder runs too.
    static func columns(for format: any QuantFormat.Type) -> Int {
        format.blockSize == 256 ? 256 * 7 : (format.blockSize == 32 ? 32 * 23 : 1000)
    }

    /// Sum of |w_i| |a_i| over the dequantised operands: the scale every bound is relative to.
    static func magnitude(_ w: [Float], _ a: [Float]) -> Double {
        zip(w, a).reduce(0) { $0 + abs(Double($1.0)) * abs(Double($1.1)) }
    }

    /// Bound on |quantised dot - exact dot of the dequantised values|, relative to `magnitude`:
    /// float rounding of per-block scale products (~1e-7), except that Q8_1 stores d * sum(q) as
    /// binary16 (relative error 2^-11 on the minimum term of Q4_1 / Q5_1).
    static func dequantisedBound(_ format: any QuantFormat.Type) -> Double {
        format.activationFormat.name == "Q8_1" ? 1e-3 : 1e-5
    }

    @Test(arguments: weightFormats.map { $0.name })
    func fastMatchesReferenceAndDequantisedDot(_ name: String) throws {
        let format = try #require(weightFormats.first { $0.name == name })
        let columns = Self.columns(for: format)
        for trial in 0..<6 {
            let seed = UInt64(trial) &* 7919 &+ UInt64(format.ggmlType)
            let weights = randomWeights(format, rows: 1, columns: columns, seed: seed)
            let x = randomFloats(columns, seed: seed &+ 1)
            let activations = quantized(x, as: format.activationFormat)

            let (fast, reference) = weights.withUnsafeBytes { w in
                activations.withUnsafeBytes { a in
                    (format.dot(w.baseAddress!, a.baseAddress!, count: columns),
                     format.dotReference(w.baseAddress!, a.baseAddress!, count: columns))
                }
            }
            let wValues = dequantized(weights, as: format, count: columns)
            let aValues = dequantized(activations, as: format.activationFormat, count: columns)
            let exact = zip(wValues, aValues).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let scale = Self.magnitude(wValues, aValues)
            #expect(scale > 0)
            // Both compute identical integer block sums; only float summation order differs.
            #expect(abs(Double(fast) - Double(reference)) <= 1e-5 * scale,
                    "\(name) trial \(trial): fast \(fast) reference \(reference)")
            #expect(abs(Double(fast) - exact) <= Self.dequantisedBound(format) * scale,
                    "\(name) trial \(trial): fast \(fast) exact \(exact)")
            #expect(abs(Double(reference) - exact) <= Self.dequantisedBound(format) * scale,
                    "\(name) trial \(trial): reference \(reference) exact \(exact)")
        }
    }

    /// The quantised dot is close to the float dot of the original activations too (activation
    /// quantisation error: at most half a step, d/2, per value).
    @Test(arguments: ["Q4_0", "Q4_K", "Q6_K", "Q8_0", "F16"])
    func dotApproximatesUnquantisedActivations(_ name: String) throws {
        let format = try #require(weightFormats.first { $0.name == name })
        let columns = Self.columns(for: format)
        let weights = randomWeights(format, rows: 1, columns: columns, seed: 42)
        let x = randomFloats(columns, seed: 43)
        let activations = quantized(x, as: format.activationFormat)
        let fast = weights.withUnsafeBytes { w in
            activations.withUnsafeBytes { format.dot(w.baseAddress!, $0.baseAddress!, count: columns) }
        }
        let wValues = dequantized(weights, as: format, count: columns)
        let exact = zip(wValues, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        // Q8 steps are amax / 127 per block: relative error well under 1% of sum |w||x|.
        #expect(abs(Double(fast) - exact) <= 0.01 * Self.magnitude(wValues, x), "\(name): \(fast) vs \(exact)")
    }

    /// The multi-activation entry point (used by the batched product) gives the single dots.
    @Test(arguments: weightFormats.map { $0.name })
    func dotWithSeveralActivationRows(_ name: String) throws {
        let format = try #require(weightFormats.first { $0.name == name })
        let columns = Self.columns(for: format)
        let weights = randomWeights(format, rows: 1, columns: columns, seed: 5)
        let rowBytes = format.activationFormat.rowByteCount(columns: columns)!
        let rows = (0..<5).map { quantized(randomFloats(columns, seed: 100 + UInt64($0)), as: format.activationFormat) }
        let packed = rows.flatMap { $0 }
        var output = [Float](repeating: .nan, count: 5 * 3)
        weights.withUnsafeBytes { w in
            packed.withUnsafeBytes { a in
                output.withUnsafeMutableBufferPointer { out in
                    format.dot(w.baseAddress!, activations: a.baseAddress!, activationStride: rowBytes,
                               activationCount: 5, count: columns, into: out.baseAddress!, outputStride: 3)
                }
            }
        }
        for (index, row) in rows.enumerated() {
            let single = weights.withUnsafeBytes { w in row.withUnsafeBytes { format.dot(w.baseAddress!, $0.baseAddress!, count: columns) } }
            #expect(output[index * 3] == single)
        }
    }

    /// A hand-computed Q4_0 block: catches a layout error that symmetric random tests could hide.
    @Test func q4_0HandComputedBlock() {
        var block = [UInt8](repeating: 0, count: 18)
        let d = floatToHalf(0.5)
        block[0] = UInt8(d & 0xFF)
        block[1] = UInt8(d >> 8)
        for j in 0..<16 { block[2 + j] = UInt8(j) | UInt8(15 - j) << 4 }  // element j: j, element 16+j: 15-j
        let values = dequantized(block, as: Q4_0.self, count: 32)
        for j in 0..<16 {
            #expect(values[j] == Float(j - 8) * 0.5)
            #expect(values[16 + j] == Float(7 - j) * 0.5)
        }
        var activation = [UInt8](repeating: 0, count: 34)
        let one = floatToHalf(1)
        activation[0] = UInt8(one & 0xFF)
        activation[1] = UInt8(one >> 8)
        activation[2 + 3] = 1  // picks element 3: (3 - 8) * 0.5
        activation[2 + 20] = UInt8(bitPattern: -2)  // element 20 = 16 + 4: (7 - 4) * 0.5, times -2
        let expected: Float = (3 - 8) * 0.5 + (7 - 4) * 0.5 * -2
        block.withUnsafeBytes { w in
            activation.withUnsafeBytes { a in
                #expect(Q4_0.dot(w.baseAddress!, a.baseAddress!, count: 32) == expected)
                #expect(Q4_0.dotReference(w.baseAddress!, a.baseAddress!, count: 32) == expected)
            }
        }
    }
}

/// The AVX2 form of Q5_0's block sum against its plain-loop twin, bit for bit (both are exact
/// integer sums): random blocks and the extremes of every quant and activation. Activation quants
/// are −127…127, as the Q8_0 quantiser makes them (−128 would overflow `vpsignb`, as in llama.cpp).
@Suite struct AVX2BlockSumTests {
    @Test(.enabled(if: kernelsUseAVX2, "the AVX2 forms are built only by release builds on AVX2 CPUs"))
    func q5_0BlockSumEqualsItsTwin() {
        var generator = SystemRandomNumberGenerator()
        let weights = UnsafeMutableRawPointer.allocate(byteCount: 22, alignment: 16)
        let activations = UnsafeMutableRawPointer.allocate(byteCount: 34, alignment: 16)
        defer { weights.deallocate(); activations.deallocate() }
        for trial in 0..<20_000 {
            for offset in 0..<22 { weights.storeBytes(of: UInt8.random(in: 0...255, using: &generator), toByteOffset: offset, as: UInt8.self) }
            for offset in 2..<34 { activations.storeBytes(of: Int8.random(in: -127...127, using: &generator), toByteOffset: offset, as: Int8.self) }
            switch trial {
            case 0, 1:
                // Every quant at its extreme (0 − 16 or 31 − 16) against −128 or 127.
                for offset in 2..<22 { weights.storeBytes(of: trial == 0 ? 0 : 0xFF, toByteOffset: offset, as: UInt8.self) }
                for offset in 2..<34 { activations.storeBytes(of: trial == 0 ? -127 : 127, toByteOffset: offset, as: Int8.self) }
            default: break
            }
            let fast = Q5_0.blockSum(weights, activations), plain = Q5_0.blockSumReference(weights, activations)
            if fast != plain {
                Issue.record("trial \(trial): AVX2 block sum \(fast), plain loop \(plain)")
                return
            }
        }
    }
}
