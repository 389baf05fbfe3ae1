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

    /// Two rows dotted side by side (what decode runs) give each row's single dot, bit for bit.
    @Test(arguments: weightFormats.map { $0.name })
    func twoRowsGiveTheirSingleDots(_ name: String) throws {
        let format = try #require(weightFormats.first { $0.name == name })
        let columns = Self.columns(for: format)
        let rowBytes = format.rowByteCount(columns: columns)!
        for trial in 0..<4 {
            let seed = UInt64(trial) &* 104_729 &+ UInt64(format.ggmlType)
            let weights = randomWeights(format, rows: 2, columns: columns, seed: seed)
            let activations = quantized(randomFloats(columns, seed: seed &+ 1), as: format.activationFormat)
            weights.withUnsafeBytes { w in
                activations.withUnsafeBytes { a in
                    let first = w.baseAddress!, second = w.baseAddress! + rowBytes
                    let (pairFirst, pairSecond) = format.dotTwoRows(first, second, a.baseAddress!, count: columns)
                    let aloneFirst = format.dot(first, a.baseAddress!, count: columns)
                    let aloneSecond = format.dot(second, a.baseAddress!, count: columns)
                    #expect(pairFirst.bitPattern == aloneFirst.bitPattern, "\(name) trial \(trial): first row \(pairFirst) vs \(aloneFirst)")
                    #expect(pairSecond.bitPattern == aloneSecond.bitPattern, "\(name) trial \(trial): second row \(pairSecond) vs \(aloneSecond)")
                }
            }
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

/// The AVX2 forms of the exact integer block sums against their plain-loop twins, bit for bit:
/// random blocks and the extremes of every quant and activation. Activation quants span what
/// each activation quantiser makes: −127…127 for Q8_0 and Q8_1 (−128 would overflow `vpsignb`,
/// as in llama.cpp), −128…127 for Q8_K.
@Suite struct AVX2BlockSumTests {
    /// (weight bytes, activation bytes, first activation quant byte, lowest activation quant,
    /// fast sum, plain twin) per format.
    static func kernel(_ name: String) -> (
        weightBytes: Int, activationBytes: Int, quantsOffset: Int, lowest: Int8,
        fast: (UnsafeRawPointer, UnsafeRawPointer) -> Int32, plain: (UnsafeRawPointer, UnsafeRawPointer) -> Int32
    ) {
        switch name {
        case "Q5_0": (22, 34, 2, -127, Q5_0.blockSum, Q5_0.blockSumReference)
        case "Q8_0": (34, 34, 2, -127, Q8_0.blockSum, Q8_0.blockSumReference)
        case "Q4_1": (20, 36, 4, -127, Q4_1.blockSum, Q4_1.blockSumReference)
        case "Q4_K": (144, 292, 4, -128, Q4_K.scaledSum, Q4_K.scaledSumReference)
        case "Q4_K minimums": (144, 292, 4, -128, Q4_K.minimumSum, Q4_K.minimumSumReference)
        default: (210, 292, 4, -128, Q6_K.scaledSum, Q6_K.scaledSumReference)
        }
    }

    /// Off the llama.cpp x86 order, a 32-value format's row dot is four float accumulators (block
    /// k into accumulator k mod 4, the remainder into the first, summed as (s0 + s1) + (s2 + s3))
    /// of each block's exact sum times d_w · d_a (plus m_w · s_a for Q4_1): the AVX2 build rounds
    /// four blocks side by side in one vector, and must give these very bits.
    @Test(.enabled(if: !productsRoundAsLlamaCppX86, "VNNI builds round in llama.cpp's x86 order (LlamaCppOrderTests)"),
          arguments: ["Q8_0", "Q4_1", "Q5_0"], [1, 3, 4, 5, 7, 18, 35])
    func blockDotsRoundInFourAccumulators(_ name: String, blocks: Int) throws {
        let format = try #require(weightFormats.first { $0.name == name })
        let columns = 32 * blocks
        for trial in 0..<4 {
            let seed = UInt64(trial &* 131 &+ blocks)
            let weights = randomWeights(format, rows: 1, columns: columns, seed: seed)
            let activations = quantized(randomFloats(columns, seed: seed &+ 1), as: format.activationFormat)
            let (fast, expected) = weights.withUnsafeBytes { wBuffer in
                activations.withUnsafeBytes { aBuffer in
                    let w = wBuffer.baseAddress!, a = aBuffer.baseAddress!
                    func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
                        halfToFloat(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
                    }
                    func block(_ k: Int) -> Float {
                        let wb = w + k * format.bytesPerBlock, ab = a + k * format.activationFormat.bytesPerBlock
                        switch name {
                        case "Q8_0": return Float(Q8_0.blockSumReference(wb, ab)) * (half(wb, 0) * half(ab, 0))
                        case "Q5_0": return Float(Q5_0.blockSumReference(wb, ab)) * (half(wb, 0) * half(ab, 0))
                        default: return Float(Q4_1.blockSumReference(wb, ab)) * (half(wb, 0) * half(ab, 0)) + half(wb, 2) * half(ab, 2)
                        }
                    }
                    var totals: [Float] = [0, 0, 0, 0]
                    for k in 0..<(blocks / 4 * 4) { totals[k % 4] += block(k) }
                    for k in (blocks / 4 * 4)..<blocks { totals[0] += block(k) }
                    return (format.dot(w, a, count: columns), (totals[0] + totals[1]) + (totals[2] + totals[3]))
                }
            }
            #expect(fast.bitPattern == expected.bitPattern, "\(name), \(blocks) blocks, trial \(trial): \(fast) vs \(expected)")
        }
    }

    @Test(.enabled(if: kernelsUseAVX2, "the AVX2 forms are built only by release builds on AVX2 CPUs"),
          arguments: ["Q5_0", "Q8_0", "Q4_1", "Q4_K", "Q4_K minimums", "Q6_K"])
    func blockSumEqualsItsTwin(_ name: String) {
        let kernel = Self.kernel(name)
        var generator = SystemRandomNumberGenerator()
        let weights = UnsafeMutableRawPointer.allocate(byteCount: kernel.weightBytes, alignment: 16)
        let activations = UnsafeMutableRawPointer.allocate(byteCount: kernel.activationBytes, alignment: 16)
        defer { weights.deallocate(); activations.deallocate() }
        let quants = kernel.quantsOffset..<(kernel.activationBytes == 292 ? 260 : kernel.activationBytes)
        for trial in 0..<20_000 {
            for offset in 0..<kernel.weightBytes {
                weights.storeBytes(of: UInt8.random(in: 0...255, using: &generator), toByteOffset: offset, as: UInt8.self)
            }
            for offset in quants {
                activations.storeBytes(of: Int8.random(in: kernel.lowest...127, using: &generator), toByteOffset: offset, as: Int8.self)
            }
            if trial < 4 {
                // Every weight byte 0 or 0xFF (each quant and scale at an extreme) against the
                // lowest or highest activation.
                for offset in 0..<kernel.weightBytes {
                    weights.storeBytes(of: trial % 2 == 0 ? 0 : 0xFF, toByteOffset: offset, as: UInt8.self)
                }
                for offset in quants {
                    activations.storeBytes(of: trial < 2 ? kernel.lowest : 127, toByteOffset: offset, as: Int8.self)
                }
            }
            if kernel.activationBytes == 292 {
                // Q8_K's sixteen partial sums, as its quantiser writes them.
                for group in 0..<16 {
                    var sum: Int16 = 0
                    for j in 0..<16 { sum += Int16(activations.load(fromByteOffset: 4 + 16 * group + j, as: Int8.self)) }
                    activations.storeBytes(of: sum, toByteOffset: 260 + 2 * group, as: Int16.self)
                }
            }
            let fast = kernel.fast(weights, activations), plain = kernel.plain(weights, activations)
            if fast != plain {
                Issue.record("\(name) trial \(trial): AVX2 block sum \(fast), plain loop \(plain)")
                return
            }
        }
    }
}
