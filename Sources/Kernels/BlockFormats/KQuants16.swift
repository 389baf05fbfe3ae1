// Q2_K, Q3_K and Q6_K: 256-value super-blocks of sixteen 16-value groups, each group with its
// own scale (group = element / 16). Their low bits are laid out the same way: the super-block is
// two halves of 128 values; in half n, element 128n + 32j + l (j < 4, l < 32) takes bits
// 2j ..< 2j+2 of byte qs[32n + l] (Q2_K, Q3_K), or the nibble/2-bit pair described at Q6_K.
// All three are dotted with Q8_K.

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel
#endif

/// Q2_K (ggml type 10): `scales: [UInt8; 16], qs: [UInt8; 64], d: f16, dmin: f16`. 84 bytes.
/// Group g: value = d * (scales[g] & 15) * quant - dmin * (scales[g] >> 4), quant in 0...3.
public enum Q2_K: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_K
    public static var name: String { "Q2_K" }
    public static var ggmlType: UInt32 { 10 }
    public static var blockSize: Int { 256 }
    public static var bytesPerBlock: Int { 84 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 256 {
            let b = row + block &* 84
            let d = b.half(at: 80), dmin = b.half(at: 82)
            let scales = b.bytes(at: 0), qs = b.bytes(at: 16)
            let y = output + block &* 256
            for half in 0..<2 {
                for j in 0..<4 {
                    for l in 0..<32 {
                        let element = 128 * half + 32 * j + l
                        let scale = scales[element / 16]
                        let quant = (qs[32 * half + l] >> (2 * j)) & 3
                        y[element] = d * Float(scale & 0x0F) * Float(quant) - dmin * Float(scale >> 4)
                    }
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
        let w = weights + block &* 84, a = activations + block &* 292
        let scales = w.bytes(at: 0), aq = a.signedBytes(at: Q8_K.quantsOffset)
        let sum = laneSum(32) { lanes in
            for half in 0..<2 {
                let q = w.bytes(at: 16 &+ 32 &* half), x = aq + 128 &* half, sc = scales + 8 &* half
                // Byte l of q holds elements l, 32 + l, 64 + l, 96 + l of this half (2 bits each).
                // |scale * quant * x| <= 15 * 3 * 128: exact in Int16.
                for l in 0..<16 {
                    var lane: Int32 = 0
                    for j in 0..<4 {
                        let quant = Int16((q[l] >> UInt8(2 &* j)) & 3)
                        lane &+= Int32(Int16(sc[2 &* j] & 0x0F) &* quant &* Int16(x[32 &* j &+ l]))
                    }
                    lanes[l] &+= lane
                }
                for l in 16..<32 {
                    var lane: Int32 = 0
                    for j in 0..<4 {
                        let quant = Int16((q[l] >> UInt8(2 &* j)) & 3)
                        lane &+= Int32(Int16(sc[2 &* j &+ 1] & 0x0F) &* quant &* Int16(x[32 &* j &+ l]))
                    }
                    lanes[l] &+= lane
                }
            }
        }
        var minSum: Int32 = 0
        for group in 0..<16 { minSum &+= Int32(scales[group] >> 4) &* a.q8KBlockSum(group) }
        let scale = a.q8KScale
        return (w.half(at: 80) * scale) * Float(sum) - (w.half(at: 82) * scale) * Float(minSum)
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 256 {
            let w = weights + block * 84, a = activations + block * 292
            var scaled: Int32 = 0, minimums: Int32 = 0
            for element in 0..<256 {
                let scale = w.load(fromByteOffset: element / 16, as: UInt8.self)
                let x = Int32(a.load(fromByteOffset: 4 + element, as: Int8.self))
                scaled += Int32(scale & 0x0F) * referenceTwoBitQuant(w, qsOffset: 16, element: element) * x
                minimums += Int32(scale >> 4) * x
            }
            let activationScale = a.loadUnaligned(as: Float.self)
            total += referenceHalf(w, 80) * activationScale * Float(scaled)
                - referenceHalf(w, 82) * activationScale * Float(minimums)
        }
        return total
    }
}

/// Q3_K (ggml type 11): `hmask: [UInt8; 32], qs: [UInt8; 64], scales: [UInt8; 12], d: f16`.
/// 110 bytes. quant = 2 low bits + 4 * (bit 4n + j of hmask[l]) - 4, in -4...3; group scales are
/// 6-bit (minus 32): low 4 bits from the nibbles of bytes 0-7, top 2 bits from bytes 8-11.
public enum Q3_K: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_K
    public static var name: String { "Q3_K" }
    public static var ggmlType: UInt32 { 11 }
    public static var blockSize: Int { 256 }
    public static var bytesPerBlock: Int { 110 }

    /// Signed scale of `group` (0..<16) from the 12 packed bytes.
    @inline(__always)
    static func groupScale(_ packed: UnsafePointer<UInt8>, _ group: Int) -> Int32 {
        let low = group < 8 ? packed[group] & 0x0F : packed[group &- 8] >> 4
        let high = (packed[8 &+ (group & 3)] >> UInt8(2 &* (group >> 2))) & 3
        return Int32(low | (high << 4)) &- 32
    }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 256 {
            let b = row + block &* 110
            let d = b.half(at: 108)
            let hmask = b.bytes(at: 0), qs = b.bytes(at: 32), packed = b.bytes(at: 96)
            let y = output + block &* 256
            for half in 0..<2 {
                for j in 0..<4 {
                    for l in 0..<32 {
                        let element = 128 * half + 32 * j + l
                        let low = Int32((qs[32 * half + l] >> (2 * j)) & 3)
                        let high = hmask[l] & (1 << (4 * half + j)) != 0
                        let quant = low - (high ? 0 : 4)
                        y[element] = d * Float(groupScale(packed, element / 16)) * Float(quant)
                    }
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
        let w = weights + block &* 110, a = activations + block &* 292
        return (w.half(at: 108) * a.q8KScale) * Float(scaledSum(w, a))
    }

    /// Σ scale_g · quant_j · a_j over the super-block at `weights` and the Q8_K block at
    /// `activations`: the exact integer sum each super-block rounds once.
    @inline(__always)
    public static func scaledSum(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Int32 {
        let hmask = w.bytes(at: 0), packed = w.bytes(at: 96), aq = a.signedBytes(at: Q8_K.quantsOffset)
        return withUnsafeTemporaryAllocation(of: Int16.self, capacity: 16) { scaleBuffer in
            let scales = scaleBuffer.baseAddress!
            // Unpack the sixteen 6-bit scales once, without branches: group g < 8 takes the low
            // nibble of byte g, group g + 8 the high one; top bits from byte 8 + g % 4.
            for g in 0..<8 {
                let top = packed[8 &+ (g & 3)] >> UInt8(2 &* (g >> 2))
                scales[g] = Int16((packed[g] & 0x0F) | ((top & 3) << 4)) &- 32
                scales[g &+ 8] = Int16((packed[g] >> 4) | (((top >> 4) & 3) << 4)) &- 32
            }
            var total: Int32 = 0
            for half in 0..<2 {
                let q = w.bytes(at: 32 &+ 32 &* half), x = aq + 128 &* half, sc = scales + 8 &* half
                let shift = Int16(4 &* half)
                // Columns 0-15 take the even groups' scales, 16-31 the odd ones'.
                total &+= columnSums(q, hmask, x, 0..<16, shift, sc[0], sc[2], sc[4], sc[6])
                total &+= columnSums(q, hmask, x, 16..<32, shift, sc[1], sc[3], sc[5], sc[7])
            }
            return total
        }
    }

    /// Σ scale · quant · activation over byte columns `columns` of one half: byte l of `q` holds
    /// elements l, 32 + l, 64 + l, 96 + l (2 bits each), whose third bits are bits `shift` ...
    /// `shift + 3` of hmask[l]. Each quant (−4...3) times its scale in 16 bits, then times its
    /// activation: widening multiply-adds into one accumulator (1.6 times as fast as 16-bit
    /// products summed in 32 lanes).
    @inline(__always)
    static func columnSums(
        _ q: UnsafePointer<UInt8>, _ hmask: UnsafePointer<UInt8>, _ x: UnsafePointer<Int8>, _ columns: Range<Int>,
        _ shift: Int16, _ s0: Int16, _ s1: Int16, _ s2: Int16, _ s3: Int16
    ) -> Int32 {
        var total: Int32 = 0
        for l in columns {
            let bits = Int16(q[l]), high = Int16(hmask[l]) >> shift
            var t = Int32((((bits & 3) | ((high & 1) << 2)) &- 4) &* s0) &* Int32(x[l])
            t &+= Int32(((((bits >> 2) & 3) | ((high & 2) << 1)) &- 4) &* s1) &* Int32(x[32 &+ l])
            t &+= Int32(((((bits >> 4) & 3) | (high & 4)) &- 4) &* s2) &* Int32(x[64 &+ l])
            t &+= Int32((((bits >> 6) | ((high & 8) >> 1)) &- 4) &* s3) &* Int32(x[96 &+ l])
            total &+= t
        }
        return total
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 256 {
            let w = weights + block * 110, a = activations + block * 292
            var scaled: Int32 = 0
            for element in 0..<256 {
                let group = element / 16
                // Scale bits written out per group as in ggml's 12-byte packing.
                let lowByte = w.load(fromByteOffset: 96 + group % 8, as: UInt8.self)
                let low = group < 8 ? lowByte & 0x0F : lowByte >> 4
                let highByte = w.load(fromByteOffset: 96 + 8 + group % 4, as: UInt8.self)
                let scale = Int32(low) + 16 * Int32((highByte >> (2 * (group / 4))) & 3) - 32
                let hmask = w.load(fromByteOffset: element % 32, as: UInt8.self)
                let highBitSet = (hmask >> (4 * (element / 128) + (element % 128) / 32)) & 1 == 1
                let quant = referenceTwoBitQuant(w, qsOffset: 32, element: element) - (highBitSet ? 0 : 4)
                scaled += scale * quant * Int32(a.load(fromByteOffset: 4 + element, as: Int8.self))
            }
            total += referenceHalf(w, 108) * a.loadUnaligned(as: Float.self) * Float(scaled)
        }
        return total
    }
}

/// Q6_K (ggml type 14): `ql: [UInt8; 128], qh: [UInt8; 64], scales: [Int8; 16], d: f16`. 210 bytes.
/// value = d * scales[group] * (quant - 32), quant in 0...63. In half n (ql + 64n, qh + 32n),
/// quarter k (element 128n + 32k + l) takes the low or high nibble (k >= 2) of ql[32 * (k & 1) + l]
/// and bits 2k ..< 2k+2 of qh[l].
public enum Q6_K: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_K
    public static var name: String { "Q6_K" }
    public static var ggmlType: UInt32 { 14 }
    public static var blockSize: Int { 256 }
    public static var bytesPerBlock: Int { 210 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 256 {
            let b = row + block &* 210
            let d = b.half(at: 208)
            let scales = b.signedBytes(at: 192)
            let y = output + block &* 256
            for half in 0..<2 {
                let ql = b.bytes(at: 64 * half), qh = b.bytes(at: 128 + 32 * half)
                for quarter in 0..<4 {
                    let low = ql + 32 * (quarter & 1)
                    let nibbleShift = UInt8(4 * (quarter >> 1)), highShift = UInt8(2 * quarter)
                    for l in 0..<32 {
                        let element = 128 * half + 32 * quarter + l
                        let quant = Int32(((low[l] >> nibbleShift) & 0x0F) | (((qh[l] >> highShift) & 3) << 4)) - 32
                        y[element] = d * Float(scales[element / 16]) * Float(quant)
                    }
                }
            }
        }
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        #if HEARTH_AVX512_VNNI
        // `ggml_vec_dot_q6_K_q8_K`'s x86 operations: each super-block's exact integer sums in
        // eight lanes, converted and added into an eight-lane accumulator with one fused
        // multiply-add by d_a * d_w, the accumulator summed as `hsum_float_8`.
        var acc = _mm256_setzero_ps()
        for block in 0..<count / 256 {
            let w = weights + block &* 210, a = activations + block &* 292
            acc = _mm256_fmadd_ps(_mm256_set1_ps(a.q8KScale * w.half(at: 208)), _mm256_cvtepi32_ps(vnniScaledLanes(w, a)), acc)
        }
        return horizontalSum(acc)
        #else
        sumSuperBlocks(Self.self, weights, activations, blocks: count / 256)
        #endif
    }

    public static func dotTwoRows(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
    ) -> (Float, Float) {
        #if HEARTH_AVX512_VNNI
        var acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps()
        for block in 0..<count / 256 {
            let w0 = first + block &* 210, w1 = second + block &* 210, a = activations + block &* 292
            let scale = a.q8KScale
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(scale * w0.half(at: 208)), _mm256_cvtepi32_ps(vnniScaledLanes(w0, a)), acc0)
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(scale * w1.half(at: 208)), _mm256_cvtepi32_ps(vnniScaledLanes(w1, a)), acc1)
        }
        return (horizontalSum(acc0), horizontalSum(acc1))
        #else
        sumSuperBlocksTwoRows(Self.self, first, second, activations, blocks: count / 256)
        #endif
    }

    #if HEARTH_AVX512_VNNI
    /// `dot` in llama.cpp's tiled-kernel order (`RowOrder.inBatchOfEight`): each super-block's
    /// exact sum times d_w, fused with d_a into one accumulator. `ProductOrder.blockSums` uses it
    /// for every row: one rounding per super-block, and its panels need no per-lane work.
    static func dotTiledOrder(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 256 {
            let w = weights + block &* 210, a = activations + block &* 292
            let sum = horizontalSum(vnniScaledLanes(w, a))
            total = total.addingProduct(Float(sum) * w.half(at: 208), a.q8KScale)
        }
        return total
    }

    /// `dotTiledOrder` for two rows, block by block (each row's result bit for bit).
    static func dotTiledOrderTwoRows(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
    ) -> (Float, Float) {
        var totals = SIMD2<Float>()
        for block in 0..<count / 256 {
            let w0 = first + block &* 210, w1 = second + block &* 210, a = activations + block &* 292
            let sums = SIMD2<Float>(horizontalSums(vnniScaledLanes(w0, a), vnniScaledLanes(w1, a)))
            totals = totals.addingProduct(sums * SIMD2(w0.half(at: 208), w1.half(at: 208)), a.q8KScale)
        }
        return (totals[0], totals[1])
    }
    #endif

    @inline(__always)
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int) -> Float {
        let w = weights + block &* 210, a = activations + block &* 292
        #if HEARTH_AVX512_VNNI
        let sum = horizontalSum(vnniScaledLanes(w, a))
        #else
        let sum = scaledSum(w, a)
        #endif
        return (w.half(at: 208) * a.q8KScale) * Float(sum)
    }

    /// Σ scale_g · (quant_j − 32) · a_j over the super-block at `weights` and the Q8_K block at
    /// `activations`: the exact integer sum each super-block rounds once. AVX2 builds compute it
    /// with `vpmaddubsw`/`vpmaddwd` (`avx2Q6KScaledSum`), others with `scaledSumReference`'s
    /// plain loop.
    @inline(__always)
    public static func scaledSum(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        #if HEARTH_AVX2
        avx2Q6KScaledSum(weights, activations: activations)
        #else
        scaledSumReference(weights, activations)
        #endif
    }

    /// The plain-loop twin of ``scaledSum(_:_:)``.
    @inline(__always)
    public static func scaledSumReference(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Int32 {
        let scales = w.signedBytes(at: 192), aq = a.signedBytes(at: Q8_K.quantsOffset)
        let scale = { (group: Int) in Int16(scales[group]) }
        // Columns 0-15 use the even groups' scales, columns 16-31 the odd ones'.
        let total = q6KColumnSums(w, aq, 0..<16, scale(0), scale(2), scale(4), scale(6), scale(8), scale(10), scale(12), scale(14))
            &+ q6KColumnSums(w, aq, 16..<32, scale(1), scale(3), scale(5), scale(7), scale(9), scale(11), scale(13), scale(15))
        // The quants were taken unsigned (0...63): their -32 comes off once, from the activations'
        // group sums (32 * Σ scale_g * bsum_g), as llama.cpp does.
        var offset: Int32 = 0
        for group in 0..<16 { offset &+= Int32(scales[group]) &* a.q8KBlockSum(group) }
        return total &- 32 &* offset
    }

    /// Σ scale · quant · activation over byte columns `columns` of a Q6_K super-block, the eight
    /// elements of each column (two halves of four quarters) with the eight scales given. Element
    /// 128n + 32k + l takes nibble k / 2 of ql[64n + 32 * (k % 2) + l] and bits 2k of qh[32n + l].
    /// Every quant is built and multiplied by its scale in 16 bits (at most 63 * 128), then by its
    /// activation: widening multiply-adds into one accumulator, the 6-bit assembly in 16-bit lanes
    /// (x86 has no byte shifts). About 1.5 times as fast as eight-bit quarters with a 32-bit
    /// product each.
    @inline(__always)
    static func q6KColumnSums(
        _ w: UnsafeRawPointer, _ aq: UnsafePointer<Int8>, _ columns: Range<Int>,
        _ a0: Int16, _ a1: Int16, _ a2: Int16, _ a3: Int16, _ b0: Int16, _ b1: Int16, _ b2: Int16, _ b3: Int16
    ) -> Int32 {
        let ql = w.bytes(at: 0), qh = w.bytes(at: 128)
        var total: Int32 = 0
        for l in columns {
            let low0 = Int16(ql[l]), low1 = Int16(ql[32 &+ l]), high0 = Int16(qh[l])
            let low2 = Int16(ql[64 &+ l]), low3 = Int16(ql[96 &+ l]), high1 = Int16(qh[32 &+ l])
            var t = Int32(((low0 & 15) | ((high0 & 3) << 4)) &* a0) &* Int32(aq[l])
            t &+= Int32(((low1 & 15) | ((high0 & 12) << 2)) &* a1) &* Int32(aq[32 &+ l])
            t &+= Int32(((low0 >> 4) | (high0 & 48)) &* a2) &* Int32(aq[64 &+ l])
            t &+= Int32(((low1 >> 4) | ((high0 >> 2) & 48)) &* a3) &* Int32(aq[96 &+ l])
            t &+= Int32(((low2 & 15) | ((high1 & 3) << 4)) &* b0) &* Int32(aq[128 &+ l])
            t &+= Int32(((low3 & 15) | ((high1 & 12) << 2)) &* b1) &* Int32(aq[160 &+ l])
            t &+= Int32(((low2 >> 4) | (high1 & 48)) &* b2) &* Int32(aq[192 &+ l])
            t &+= Int32(((low3 >> 4) | ((high1 >> 2) & 48)) &* b3) &* Int32(aq[224 &+ l])
            total &+= t
        }
        return total
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 256 {
            let w = weights + block * 210, a = activations + block * 292
            var scaled: Int32 = 0
            for element in 0..<256 {
                let half = element / 128, quarter = (element % 128) / 32, l = element % 32
                let lowByte = w.load(fromByteOffset: 64 * half + 32 * (quarter % 2) + l, as: UInt8.self)
                let low = quarter < 2 ? lowByte & 0x0F : lowByte >> 4
                let highByte = w.load(fromByteOffset: 128 + 32 * half + l, as: UInt8.self)
                let high = (highByte >> (2 * quarter)) & 3
                let quant = Int32(low) + 16 * Int32(high) - 32
                let scale = Int32(w.load(fromByteOffset: 192 + element / 16, as: Int8.self))
                scaled += scale * quant * Int32(a.load(fromByteOffset: 4 + element, as: Int8.self))
            }
            total += referenceHalf(w, 208) * a.loadUnaligned(as: Float.self) * Float(scaled)
        }
        return total
    }
}

/// The 2-bit quant of `element` in a Q2_K/Q3_K super-block whose qs start at `qsOffset`.
func referenceTwoBitQuant(_ block: UnsafeRawPointer, qsOffset: Int, element: Int) -> Int32 {
    let byte = block.load(fromByteOffset: qsOffset + 32 * (element / 128) + element % 32, as: UInt8.self)
    return Int32((byte >> (2 * ((element % 128) / 32))) & 3)
}
