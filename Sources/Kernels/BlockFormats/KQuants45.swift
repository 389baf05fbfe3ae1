// Q4_K and Q5_K: 256-value super-blocks of eight 32-value sub-blocks, each with a 6-bit scale and
// a 6-bit minimum (packed into 12 bytes), scaled by the super-block's f16 `d` and `dmin`:
// value = d * scale[s] * quant - dmin * min[s]. Dotted with Q8_K, whose 16-value partial sums
// turn the minimum term into eight multiplies per super-block.

/// The 6-bit scale and minimum of sub-block `index` (0..<8) from the 12 packed bytes at `packed`:
/// sub-blocks 0-3 use the low 6 bits of bytes 0-3 (scales) and 4-7 (minimums); sub-blocks 4-7 take
/// their low 4 bits from bytes 8-11 and their top 2 bits from the spare top bits of bytes 0-7.
@inline(__always)
func kQuantScaleAndMin(_ packed: UnsafePointer<UInt8>, _ index: Int) -> (scale: Int32, min: Int32) {
    if index < 4 {
        return (Int32(packed[index] & 63), Int32(packed[index &+ 4] & 63))
    }
    let scale = (packed[index &+ 4] & 0x0F) | ((packed[index &- 4] >> 6) << 4)
    let min = (packed[index &+ 4] >> 4) | ((packed[index] >> 6) << 4)
    return (Int32(scale), Int32(min))
}

/// All eight scales (bytes 0-7 of the result) and minimums (bytes 8-15) of `kQuantScaleAndMin`,
/// unpacked a 32-bit word at a time: the scales of sub-blocks 0-3 are the low 6 bits of word 0,
/// their minimums those of word 1; sub-blocks 4-7 take the nibbles of word 2 and, as their top
/// two bits, the top two bits of each byte of words 0 (scales) and 1 (minimums).
@inline(__always)
func kQuantScalesAndMins(_ packed: UnsafeRawPointer) -> SIMD4<UInt32> {
    let word0 = packed.uint32(at: 0), word1 = packed.uint32(at: 4), word2 = packed.uint32(at: 8)
    let low6: UInt32 = 0x3F3F_3F3F, low4: UInt32 = 0x0F0F_0F0F, low2: UInt32 = 0x0303_0303
    return SIMD4(
        word0 & low6, (word2 & low4) | (((word0 >> 6) & low2) << 4),
        word1 & low6, ((word2 >> 4) & low4) | (((word1 >> 6) & low2) << 4))
}

/// The eight 6-bit sub-block scales of `kQuantScalesAndMins` as 16-bit integers, for loops that
/// multiply each quant by its scale in 16 bits.
@inline(__always)
func kQuantSubBlockScales(_ packed: UnsafeRawPointer) -> (Int16, Int16, Int16, Int16, Int16, Int16, Int16, Int16) {
    let unpacked = kQuantScalesAndMins(packed)
    @inline(__always) func scale(_ subBlock: Int) -> Int16 {
        Int16(truncatingIfNeeded: (unpacked[subBlock >> 2] >> UInt32(8 &* (subBlock & 3))) & 0xFF)
    }
    return (scale(0), scale(1), scale(2), scale(3), scale(4), scale(5), scale(6), scale(7))
}

/// Sum over the eight sub-blocks of minimum * (sum of the sub-block's activation quants), from
/// the Q8_K partial sums (two 16-value sums per 32-value sub-block).
@inline(__always)
func kQuantMinimumSum(_ packed: UnsafePointer<UInt8>, _ activations: UnsafeRawPointer) -> Int32 {
    let unpacked = kQuantScalesAndMins(UnsafeRawPointer(packed))
    var sum: Int32 = 0
    for subBlock in 0..<8 {
        let min = Int32((unpacked[2 &+ subBlock >> 2] >> UInt32(8 &* (subBlock & 3))) & 0xFF)
        sum &+= min &* (activations.q8KBlockSum(2 &* subBlock) &+ activations.q8KBlockSum(2 &* subBlock &+ 1))
    }
    return sum
}

/// Q4_K (ggml type 12): `d: f16, dmin: f16, scales: [UInt8; 12], qs: [UInt8; 128]`. 144 bytes.
/// Sub-block pairs (2c, 2c+1) share qs[32c ..< 32c+32]: low nibbles, then high nibbles.
public enum Q4_K: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_K
    public static var name: String { "Q4_K" }
    public static var ggmlType: UInt32 { 12 }
    public static var blockSize: Int { 256 }
    public static var bytesPerBlock: Int { 144 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 256 {
            let b = row + block &* 144
            let d = b.half(at: 0), dmin = b.half(at: 2)
            let packed = b.bytes(at: 4), qs = b.bytes(at: 16)
            let y = output + block &* 256
            for chunk in 0..<4 {
                let (s0, m0) = kQuantScaleAndMin(packed, 2 * chunk)
                let (s1, m1) = kQuantScaleAndMin(packed, 2 * chunk + 1)
                let d0 = d * Float(s0), min0 = dmin * Float(m0)
                let d1 = d * Float(s1), min1 = dmin * Float(m1)
                for l in 0..<32 {
                    y[64 * chunk + l] = d0 * Float(qs[32 * chunk + l] & 0x0F) - min0
                    y[64 * chunk + 32 + l] = d1 * Float(qs[32 * chunk + l] >> 4) - min1
                }
            }
        }
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        #if HEARTH_AVX512_VNNI
        // llama.cpp's x86 build repacks Q4_K weights and multiplies one activation row with
        // `ggml_gemv_q4_K_8x8_q8_K`: per super-block, the exact integer sums times d_w * d_a and
        // dmin_w * d_a go into two accumulators with one fused multiply-add each; the minimums'
        // accumulator is subtracted at the end. The same operations here round as it rounds.
        var products: Float = 0, minimums: Float = 0
        for block in 0..<count / 256 {
            let w = weights + block &* 144, a = activations + block &* 292
            let (sum, minSum) = vnniSums(w.bytes(at: 4), w.bytes(at: 16), a)
            let scale = a.q8KScale
            products = products.addingProduct(Float(sum), w.half(at: 0) * scale)
            minimums = minimums.addingProduct(Float(minSum), w.half(at: 2) * scale)
        }
        return products - minimums
        #else
        sumSuperBlocks(Self.self, weights, activations, blocks: count / 256)
        #endif
    }

    public static func dotTwoRows(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
    ) -> (Float, Float) {
        #if HEARTH_AVX512_VNNI
        // `dot`'s operations for each row, lane by lane: products and minimums of the first row,
        // then of the second.
        var totals = SIMD4<Float>()
        for block in 0..<count / 256 {
            let w0 = first + block &* 144, w1 = second + block &* 144, a = activations + block &* 292
            let lanes0 = vnniLanes(w0.bytes(at: 4), w0.bytes(at: 16), a)
            let lanes1 = vnniLanes(w1.bytes(at: 4), w1.bytes(at: 16), a)
            let sums = horizontalSums(lanes0.scaled, lanes0.minimums, lanes1.scaled, lanes1.minimums)
            let factors = SIMD4(w0.half(at: 0), w0.half(at: 2), w1.half(at: 0), w1.half(at: 2)) * a.q8KScale
            totals = totals.addingProduct(SIMD4<Float>(sums), factors)
        }
        return (totals[0] - totals[1], totals[2] - totals[3])
        #else
        sumSuperBlocksTwoRows(Self.self, first, second, activations, blocks: count / 256)
        #endif
    }

    @inline(__always)
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int) -> Float {
        let w = weights + block &* 144, a = activations + block &* 292
        let packed = w.bytes(at: 4)
        #if HEARTH_AVX512_VNNI
        let (sum, minSum) = vnniSums(packed, w.bytes(at: 16), a)
        #elseif HEARTH_AVX2
        let (sum, minSum) = avx2Q4KSums(w, a)
        #else
        let sum = scaledSum(w, a)
        let minSum = kQuantMinimumSum(packed, a)
        #endif
        let scale = a.q8KScale
        return (w.half(at: 0) * scale) * Float(sum) - (w.half(at: 2) * scale) * Float(minSum)
    }

    /// Σ scale_s · quant_j · a_j over the super-block at `weights` and the Q8_K block at
    /// `activations` (the minimums apart): the exact integer sum each super-block rounds once.
    /// AVX2 builds compute it with `vpmaddubsw`/`vpmaddwd` (`avx2Q4KScaledSum`), others with
    /// `scaledSumReference`'s plain loop.
    @inline(__always)
    public static func scaledSum(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        #if HEARTH_AVX2
        avx2Q4KSums(weights, activations).sum
        #else
        scaledSumReference(weights, activations)
        #endif
    }

    /// Σ minimum_s · (sum of sub-block s's activation quants) over the super-block: the exact
    /// integer the minimums' term rounds. AVX2 builds take it from `avx2Q4KSums`.
    @inline(__always)
    public static func minimumSum(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        #if HEARTH_AVX2
        avx2Q4KSums(weights, activations).minimumSum
        #else
        minimumSumReference(weights, activations)
        #endif
    }

    /// The plain-loop twin of ``minimumSum(_:_:)``.
    @inline(__always)
    public static func minimumSumReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        kQuantMinimumSum(weights.bytes(at: 4), activations)
    }

    /// The plain-loop twin of ``scaledSum(_:_:)``.
    @inline(__always)
    public static func scaledSumReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        let (s0, s1, s2, s3, s4, s5, s6, s7) = kQuantSubBlockScales(weights + 4)
        let qs = weights.bytes(at: 16), aq = activations.signedBytes(at: Q8_K.quantsOffset)
        // Byte l of chunk c holds elements 64c + l (low nibble, sub-block 2c) and 64c + 32 + l
        // (high nibble, sub-block 2c + 1). Each quant is multiplied by its scale in 16 bits (at
        // most 15 * 63) and then by its activation: widening multiply-adds (`vpmaddwd`/`vpdpwssd`
        // on x86, `smlal` on ARM) into one accumulator, reduced once per super-block. Summing
        // each sub-block first and scaling the sums cost a reduction per sub-block, about twice
        // the time.
        var total: Int32 = 0
        for l in 0..<32 {
            let b0 = qs[l], b1 = qs[32 &+ l], b2 = qs[64 &+ l], b3 = qs[96 &+ l]
            var t = Int32(Int16(b0 & 0x0F) &* s0) &* Int32(aq[l])
            t &+= Int32(Int16(b0 >> 4) &* s1) &* Int32(aq[32 &+ l])
            t &+= Int32(Int16(b1 & 0x0F) &* s2) &* Int32(aq[64 &+ l])
            t &+= Int32(Int16(b1 >> 4) &* s3) &* Int32(aq[96 &+ l])
            t &+= Int32(Int16(b2 & 0x0F) &* s4) &* Int32(aq[128 &+ l])
            t &+= Int32(Int16(b2 >> 4) &* s5) &* Int32(aq[160 &+ l])
            t &+= Int32(Int16(b3 & 0x0F) &* s6) &* Int32(aq[192 &+ l])
            t &+= Int32(Int16(b3 >> 4) &* s7) &* Int32(aq[224 &+ l])
            total &+= t
        }
        return total
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 256 {
            let w = weights + block * 144, a = activations + block * 292
            total += referenceScaleMinDot(w, a) { element in
                let byte = w.load(fromByteOffset: 16 + 32 * (element / 64) + element % 32, as: UInt8.self)
                return Int32(element % 64 < 32 ? byte & 0x0F : byte >> 4)
            }
        }
        return total
    }
}

/// Q5_K (ggml type 13): `d: f16, dmin: f16, scales: [UInt8; 12], qh: [UInt8; 32], qs: [UInt8; 128]`.
/// 176 bytes. As Q4_K, plus a fifth bit: bit 2c of qh[l] for the low nibble of qs[32c + l],
/// bit 2c+1 for its high nibble.
public enum Q5_K: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_K
    public static var name: String { "Q5_K" }
    public static var ggmlType: UInt32 { 13 }
    public static var blockSize: Int { 256 }
    public static var bytesPerBlock: Int { 176 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 256 {
            let b = row + block &* 176
            let d = b.half(at: 0), dmin = b.half(at: 2)
            let packed = b.bytes(at: 4), qh = b.bytes(at: 16), qs = b.bytes(at: 48)
            let y = output + block &* 256
            for chunk in 0..<4 {
                let (s0, m0) = kQuantScaleAndMin(packed, 2 * chunk)
                let (s1, m1) = kQuantScaleAndMin(packed, 2 * chunk + 1)
                let d0 = d * Float(s0), min0 = dmin * Float(m0)
                let d1 = d * Float(s1), min1 = dmin * Float(m1)
                for l in 0..<32 {
                    let low = Int32(qs[32 * chunk + l] & 0x0F) + Int32((qh[l] >> (2 * chunk)) & 1) * 16
                    let high = Int32(qs[32 * chunk + l] >> 4) + Int32((qh[l] >> (2 * chunk + 1)) & 1) * 16
                    y[64 * chunk + l] = d0 * Float(low) - min0
                    y[64 * chunk + 32 + l] = d1 * Float(high) - min1
                }
            }
        }
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        sumSuperBlocks(Self.self, weights, activations, blocks: count / 256)
    }

    public static func dotTwoRows(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
    ) -> (Float, Float) {
        sumSuperBlocksTwoRows(Self.self, first, second, activations, blocks: count / 256)
    }

    @inline(__always)
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int) -> Float {
        let w = weights + block &* 176, a = activations + block &* 292
        let packed = w.bytes(at: 4)
        let sum = scaledSum(w, a)
        let minSum = kQuantMinimumSum(packed, a)
        let scale = a.q8KScale
        return (w.half(at: 0) * scale) * Float(sum) - (w.half(at: 2) * scale) * Float(minSum)
    }

    /// Σ scale_s · quant_j · a_j over the super-block at `weights` and the Q8_K block at
    /// `activations` (the minimums apart): the exact integer sum each super-block rounds once.
    /// Byte l of chunk c holds elements 64c + l (low nibble, fifth bit 2c of qh[l]) and
    /// 64c + 32 + l (high nibble, fifth bit 2c + 1). As Q4_K's: each 5-bit quant times its scale
    /// in 16 bits (at most 31 * 63), then times its activation, one accumulator for the
    /// super-block (1.7 times as fast as a 32-bit multiply per product into 32 lanes).
    @inline(__always)
    public static func scaledSum(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        let (s0, s1, s2, s3, s4, s5, s6, s7) = kQuantSubBlockScales(weights + 4)
        let qh = weights.bytes(at: 16), qs = weights.bytes(at: 48), aq = activations.signedBytes(at: Q8_K.quantsOffset)
        var total: Int32 = 0
        for l in 0..<32 {
            let h = Int16(qh[l])
            let b0 = Int16(qs[l]), b1 = Int16(qs[32 &+ l]), b2 = Int16(qs[64 &+ l]), b3 = Int16(qs[96 &+ l])
            var t = Int32(((b0 & 15) | ((h & 1) << 4)) &* s0) &* Int32(aq[l])
            t &+= Int32(((b0 >> 4) | ((h & 2) << 3)) &* s1) &* Int32(aq[32 &+ l])
            t &+= Int32(((b1 & 15) | ((h & 4) << 2)) &* s2) &* Int32(aq[64 &+ l])
            t &+= Int32(((b1 >> 4) | ((h & 8) << 1)) &* s3) &* Int32(aq[96 &+ l])
            t &+= Int32(((b2 & 15) | (h & 16)) &* s4) &* Int32(aq[128 &+ l])
            t &+= Int32(((b2 >> 4) | ((h & 32) >> 1)) &* s5) &* Int32(aq[160 &+ l])
            t &+= Int32(((b3 & 15) | ((h & 64) >> 2)) &* s6) &* Int32(aq[192 &+ l])
            t &+= Int32(((b3 >> 4) | ((h & 128) >> 3)) &* s7) &* Int32(aq[224 &+ l])
            total &+= t
        }
        return total
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 256 {
            let w = weights + block * 176, a = activations + block * 292
            total += referenceScaleMinDot(w, a) { element in
                let chunk = element / 64, l = element % 32, isHigh = element % 64 >= 32
                let byte = w.load(fromByteOffset: 48 + 32 * chunk + l, as: UInt8.self)
                let nibble = isHigh ? byte >> 4 : byte & 0x0F
                let bits = w.load(fromByteOffset: 16 + l, as: UInt8.self)
                let fifth = (bits >> (2 * chunk + (isHigh ? 1 : 0))) & 1
                return Int32(nibble) + 16 * Int32(fifth)
            }
        }
        return total
    }
}

/// Reference dot of one Q4_K/Q5_K super-block (d and dmin at bytes 0 and 2, packed scales at 4)
/// with one Q8_K block, given the unsigned quant of each element: the value formula applied
/// element by element, with the activation sums computed from the quants rather than `bsums`.
func referenceScaleMinDot(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, quant: (Int) -> Int32) -> Float {
    let packed = w.assumingMemoryBound(to: UInt8.self) + 4
    var scaled: Int32 = 0, minimums: Int32 = 0
    for subBlock in 0..<8 {
        let (scale, min) = kQuantScaleAndMin(packed, subBlock)
        var products: Int32 = 0, activationSum: Int32 = 0
        for element in 32 * subBlock..<32 * subBlock + 32 {
            let x = Int32(a.load(fromByteOffset: 4 + element, as: Int8.self))
            products += quant(element) * x
            activationSum += x
        }
        scaled += scale * products
        minimums += min * activationSum
    }
    let activationScale = a.loadUnaligned(as: Float.self)
    return referenceHalf(w, 0) * activationScale * Float(scaled) - referenceHalf(w, 2) * activationScale * Float(minimums)
}
