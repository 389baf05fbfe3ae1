// Batched products on AVX2 with the weight quants kept as unsigned bytes (the unpacked rows of
// UnpackedDots.swift, in another layout) for Q4_K, Q6_K, Q5_0 and Q4_1. `vpmaddubsw` multiplies
// 32 weight quants by 32 signed activation quants into 16 pair sums, and one `vpmaddwd` (by the
// K-quant sub-block's scale, or by ones) widens them to 32 bits: two instructions per 32
// products where the 16-bit layout needs four, and the activations are read as the bytes they
// are, not widened to twice their size. Offsets (Q6_K's −32, Q5_0's −16) come out once per block
// from the activations' sums (Q8_K's, or Q5_0's own computed once per activation row). The
// integer sums are the same exact sums, so every result is bit for bit what the formats' `dot`
// gives (BatchedProductTests).

#if HEARTH_AVX2
import _Builtin_intrinsics.intel

/// Bytes of metadata per super-block in an unpacked Q4_K row: d and dmin (Floats), then
/// sixteen Int16 scale pairs (sub-block s at 2s and 2s + 1), then sixteen Int16 minimums (each
/// sub-block's minimum twice, one per 16-value group, to dot with Q8_K's partial sums).
private let q4KMetaBytes = 72

/// Bytes of metadata per super-block in an unpacked Q6_K row: d (a Float), then the sixteen
/// group scales as Int16 (sub-block s's two groups at 2s and 2s + 1).
private let q6KMetaBytes = 36

extension Q4_K: UnpackedDotKernel {
    #if HEARTH_AVX512_VNNI
    /// Never: the batched VNNI dots (VNNIKQuantDots.swift) are faster at every batch.
    static var unpackingPaysFromBatch: Int { .max }
    #else
    static var unpackingPaysFromBatch: Int { 5 }
    #endif
    static var activationQuantsOffset: Int { Q8_K.quantsOffset }
    /// Nothing: the tiles read the Q8_K bytes as they are.
    static func prepareActivation(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Int16>) {}
    // Layout: the quants as bytes in element order [count], then `q4KMetaBytes` per super-block.
    static func unpackedByteCount(columns: Int) -> Int { roundUp64(columns &+ (columns / 256) &* q4KMetaBytes) }

    static func unpack(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer) {
        let mask = _mm256_set1_epi8(0x0F)
        for block in 0..<count / 256 {
            let w = row + block &* 144, y = output + block &* 256
            for chunk in 0..<4 {
                // Byte l of chunk c: element 64c + l in the low nibble, 64c + 32 + l in the high one.
                let bits = _mm256_loadu_si256((w + (16 &+ 32 &* chunk)).assumingMemoryBound(to: __m256i.self))
                store32(y + 64 &* chunk, _mm256_and_si256(bits, mask))
                store32(y + (64 &* chunk &+ 32), _mm256_and_si256(_mm256_srli_epi16(bits, 4), mask))
            }
            let meta = output + (count &+ block &* q4KMetaBytes)
            meta.storeBytes(of: w.half(at: 0), as: Float.self)
            meta.storeBytes(of: w.half(at: 2), toByteOffset: 4, as: Float.self)
            let unpacked = kQuantScalesAndMins(w + 4)
            let pairs = (meta + 8).assumingMemoryBound(to: Int16.self)
            for subBlock in 0..<8 {
                let shift = UInt32(8 &* (subBlock & 3))
                let scale = Int16(truncatingIfNeeded: (unpacked[subBlock >> 2] >> shift) & 0xFF)
                let minimum = Int16(truncatingIfNeeded: (unpacked[2 &+ subBlock >> 2] >> shift) & 0xFF)
                pairs[2 &* subBlock] = scale; pairs[2 &* subBlock &+ 1] = scale
                pairs[16 &+ 2 &* subBlock] = minimum; pairs[17 &+ 2 &* subBlock] = minimum
            }
        }
    }

    static func dotUnpacked(
        _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int
    ) -> Float {
        var total: Float = 0
        for block in 0..<count / 256 {
            let a = activations + block &* 292, meta = unpacked + (count &+ block &* q4KMetaBytes)
            let pairs = (meta + 8).assumingMemoryBound(to: Int16.self)
            let sum = scaledByteSum(unpacked + block &* 256, scalePairs: pairs, a + Q8_K.quantsOffset)
            let minimumSum = groupDot(pairs + 16, (a + Q8_K.sumsOffset).assumingMemoryBound(to: Int16.self))
            let scale = a.q8KScale
            let d = meta.load(as: Float.self), dmin = meta.load(fromByteOffset: 4, as: Float.self)
            total += (d * scale) * Float(sum) - (dmin * scale) * Float(minimumSum)
        }
        return total
    }

    static var tileShape: (rows: Int, activations: Int) { (2, 4) }

    /// The eight pairs' float operations run side by side, each lane exactly those of
    /// `dotUnpacked` for its pair.
    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let unpacked1 = unpacked + unpackedStride
        var total = SIMD8<Float>()
        for block in 0..<count / 256 {
            let m0 = unpacked + (count &+ block &* q4KMetaBytes), m1 = unpacked1 + (count &+ block &* q4KMetaBytes)
            let pairs0 = (m0 + 8).assumingMemoryBound(to: Int16.self), pairs1 = (m1 + 8).assumingMemoryBound(to: Int16.self)
            let a = activations + block &* 292
            let sums = avx2Floats(scaledByteDots2x4(
                unpacked + block &* 256, unpacked1 + block &* 256, scalePairs: pairs0, pairs1,
                a + Q8_K.quantsOffset, stride: activationStride))
            let minimumSums = avx2Floats(avx2Int16Dots2x4(
                pairs0 + 16, pairs1 + 16, (a + Q8_K.sumsOffset).assumingMemoryBound(to: Int16.self),
                stride: activationStride / 2, count: 16))
            let scales = q8KScales4(a, stride: activationStride)
            let d0 = m0.load(as: Float.self), dmin0 = m0.load(fromByteOffset: 4, as: Float.self)
            let d1 = m1.load(as: Float.self), dmin1 = m1.load(fromByteOffset: 4, as: Float.self)
            let ds = SIMD8<Float>(lowHalf: d0 * scales, highHalf: d1 * scales)
            let dmins = SIMD8<Float>(lowHalf: dmin0 * scales, highHalf: dmin1 * scales)
            total += ds * sums - dmins * minimumSums
        }
        storeTile32(total, output: output, outputStride: outputStride)
    }
}

extension Q6_K: UnpackedDotKernel {
    #if HEARTH_AVX512_VNNI
    /// Never: the batched VNNI dots (VNNIKQuantDots.swift) are faster at every batch.
    static var unpackingPaysFromBatch: Int { .max }
    #else
    static var unpackingPaysFromBatch: Int { 7 }
    #endif
    static var activationQuantsOffset: Int { Q8_K.quantsOffset }
    /// Nothing: the tiles read the Q8_K bytes as they are.
    static func prepareActivation(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Int16>) {}
    // Layout: the unsigned 6-bit quants (quant + 32) as bytes in element order [count], then
    // `q6KMetaBytes` per super-block. The −32 is taken out once per super-block: 32 · Σ_g
    // scale_g · (sum of group g's activation quants), from Q8_K's partial sums.
    static func unpackedByteCount(columns: Int) -> Int { roundUp64(columns &+ (columns / 256) &* q6KMetaBytes) }

    static func unpack(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer) {
        let nibbleMask = _mm256_set1_epi8(0x0F), twoBits = _mm256_set1_epi8(3)
        for block in 0..<count / 256 {
            let w = row + block &* 210, y = output + block &* 256
            for half in 0..<2 {
                // Element 128h + 32k + l: nibble k / 2 of ql[32 * (k % 2) + l], bits 2k of qh[l].
                let ql = w + 64 &* half
                let highBits = _mm256_loadu_si256((w + (128 &+ 32 &* half)).assumingMemoryBound(to: __m256i.self))
                let lowBytes = (_mm256_loadu_si256(ql.assumingMemoryBound(to: __m256i.self)),
                                _mm256_loadu_si256((ql + 32).assumingMemoryBound(to: __m256i.self)))
                for k in 0..<4 {
                    let bytes = k & 1 == 0 ? lowBytes.0 : lowBytes.1
                    let nibbles = _mm256_and_si256(k < 2 ? bytes : _mm256_srli_epi16(bytes, 4), nibbleMask)
                    let high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(highBits, Int32(2 &* k)), twoBits), 4)
                    store32(y + (128 &* half &+ 32 &* k), _mm256_or_si256(nibbles, high))
                }
            }
            let meta = output + (count &+ block &* q6KMetaBytes)
            meta.storeBytes(of: w.half(at: 208), as: Float.self)
            let scales = (meta + 4).assumingMemoryBound(to: Int16.self)
            for group in 0..<16 { scales[group] = Int16(w.load(fromByteOffset: 192 &+ group, as: Int8.self)) }
        }
    }

    static func dotUnpacked(
        _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int
    ) -> Float {
        var total: Float = 0
        for block in 0..<count / 256 {
            let a = activations + block &* 292, meta = unpacked + (count &+ block &* q6KMetaBytes)
            let scales = (meta + 4).assumingMemoryBound(to: Int16.self)
            let sum = scaledByteSum(unpacked + block &* 256, scalePairs: scales, a + Q8_K.quantsOffset)
                &- 32 &* groupDot(scales, (a + Q8_K.sumsOffset).assumingMemoryBound(to: Int16.self))
            total += (meta.load(as: Float.self) * a.q8KScale) * Float(sum)
        }
        return total
    }

    static var tileShape: (rows: Int, activations: Int) { (2, 4) }

    /// Each lane does the float operations of `dotUnpacked` for its pair.
    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let unpacked1 = unpacked + unpackedStride
        var total = SIMD8<Float>()
        for block in 0..<count / 256 {
            let m0 = unpacked + (count &+ block &* q6KMetaBytes), m1 = unpacked1 + (count &+ block &* q6KMetaBytes)
            let scales0 = (m0 + 4).assumingMemoryBound(to: Int16.self), scales1 = (m1 + 4).assumingMemoryBound(to: Int16.self)
            let a = activations + block &* 292
            let products = scaledByteDots2x4(
                unpacked + block &* 256, unpacked1 + block &* 256, scalePairs: scales0, scales1,
                a + Q8_K.quantsOffset, stride: activationStride)
            let offsets = avx2Int16Dots2x4(
                scales0, scales1, (a + Q8_K.sumsOffset).assumingMemoryBound(to: Int16.self),
                stride: activationStride / 2, count: 16)
            let sums = avx2Floats(products &- 32 &* offsets)
            let scales = q8KScales4(a, stride: activationStride)
            let ds = SIMD8<Float>(lowHalf: m0.load(as: Float.self) * scales, highHalf: m1.load(as: Float.self) * scales)
            total += ds * sums
        }
        storeTile32(total, output: output, outputStride: outputStride)
    }
}

extension Q5_0: UnpackedDotKernel {
    #if HEARTH_AVX512_VNNI
    /// Never: the VNNI dots (VNNIDots.swift) are faster at every batch, and a row's result must
    /// not depend on its batch.
    static var unpackingPaysFromBatch: Int { .max }
    #else
    static var unpackingPaysFromBatch: Int { 2 }
    #endif
    static var activationQuantsOffset: Int { 2 }

    /// Per 32-value block: d as a Float and 16 · Σ a_j (the quants' offset times their sum) as
    /// an Int32, once per activation row instead of once per tile.
    static func prepareActivation(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Int16>) {
        let prepared = UnsafeMutableRawPointer(output)
        for block in 0..<count / 32 {
            let a = row + block &* 34
            prepared.storeBytes(of: a.half(at: 0), toByteOffset: 8 &* block, as: Float.self)
            prepared.storeBytes(of: 16 &* activationSum(a + 2), toByteOffset: 8 &* block &+ 4, as: Int32.self)
        }
    }

    // Layout: the unsigned 5-bit quants (quant + 16) as bytes [count], then d: Float per block.
    static func unpackedByteCount(columns: Int) -> Int { roundUp64(columns &+ (columns / 32) &* 4) }

    static func unpack(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer) {
        let scales = (output + count).assumingMemoryBound(to: Float.self)
        for block in 0..<count / 32 {
            let w = row + block &* 22
            scales[block] = w.half(at: 0)
            let quants = avx2FiveBitQuants(qh: w.uint32(at: 2), qs: w + 6)
            store32(output + block &* 32, _mm256_add_epi8(quants, _mm256_set1_epi8(16)))
        }
    }

    static func dotUnpacked(
        _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int
    ) -> Float {
        let scales = (unpacked + count).assumingMemoryBound(to: Float.self)
        return sumBlockValues(count / 32) { block in
            let a = activations + block &* 34
            let sum = byteBlockSum(unpacked + block &* 32, a + 2) &- 16 &* activationSum(a + 2)
            return Float(sum) * (scales[block] * a.half(at: 0))
        }
    }

    static var tileShape: (rows: Int, activations: Int) { (2, 4) }

    /// Each lane does the float operations of `dotUnpacked` for its pair.
    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let unpacked1 = unpacked + unpackedStride
        let scales0 = (unpacked + count).assumingMemoryBound(to: Float.self)
        let scales1 = (unpacked1 + count).assumingMemoryBound(to: Float.self)
        let prepared = UnsafeRawPointer(widened), preparedStride = 2 &* widenedStride
        @inline(__always) func blockDots(_ block: Int) -> SIMD8<Float> {
            let p = prepared + 8 &* block
            let (d0, o0) = (p.loadUnaligned(as: Float.self), p.loadUnaligned(fromByteOffset: 4, as: Int32.self))
            let (d1, o1) = ((p + preparedStride).loadUnaligned(as: Float.self), (p + preparedStride).loadUnaligned(fromByteOffset: 4, as: Int32.self))
            let p2 = p + 2 &* preparedStride, p3 = p + 3 &* preparedStride
            let (d2, o2) = (p2.loadUnaligned(as: Float.self), p2.loadUnaligned(fromByteOffset: 4, as: Int32.self))
            let (d3, o3) = (p3.loadUnaligned(as: Float.self), p3.loadUnaligned(fromByteOffset: 4, as: Int32.self))
            let offsets = SIMD4<Int32>(o0, o1, o2, o3)
            let sums = avx2Floats(byteBlockDots2x4(
                unpacked + block &* 32, unpacked1 + block &* 32, activations + (block &* 34 &+ 2), stride: activationStride)
                &- SIMD8<Int32>(lowHalf: offsets, highHalf: offsets))
            let x0 = scales0[block], x1 = scales1[block]
            return sums * SIMD8<Float>(x0 * d0, x0 * d1, x0 * d2, x0 * d3, x1 * d0, x1 * d1, x1 * d2, x1 * d3)
        }
        storeTile32(sumTileBlocks(count / 32, blockDots), output: output, outputStride: outputStride)
    }
}

extension Q4_1: UnpackedDotKernel {
    #if HEARTH_AVX512_VNNI
    /// Never: the VNNI dots (VNNIDots.swift) are faster at every batch, and a row's result must
    /// not depend on its batch.
    static var unpackingPaysFromBatch: Int { .max }
    #else
    static var unpackingPaysFromBatch: Int { 4 }
    #endif
    static var activationQuantsOffset: Int { 4 }

    /// Per 32-value block: Q8_1's d and s as Floats, once per activation row instead of once per
    /// tile.
    static func prepareActivation(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Int16>) {
        let prepared = UnsafeMutableRawPointer(output)
        for block in 0..<count / 32 {
            let a = row + block &* 36
            prepared.storeBytes(of: a.half(at: 0), toByteOffset: 8 &* block, as: Float.self)
            prepared.storeBytes(of: a.half(at: 2), toByteOffset: 8 &* block &+ 4, as: Float.self)
        }
    }

    // Layout: the nibbles as bytes [count], then per block d: Float, m: Float.
    static func unpackedByteCount(columns: Int) -> Int { roundUp64(columns &+ (columns / 32) &* 8) }

    static func unpack(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer) {
        let scales = (output + count).assumingMemoryBound(to: Float.self)
        let mask = _mm_set1_epi8(0x0F)
        for block in 0..<count / 32 {
            let w = row + block &* 20
            scales[2 &* block] = w.half(at: 0)
            scales[2 &* block &+ 1] = w.half(at: 2)
            let packed = _mm_loadu_si128((w + 4).assumingMemoryBound(to: __m128i.self))
            // Elements 0-15 are the low nibbles, 16-31 the high ones.
            store32(output + block &* 32, _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), mask), _mm_and_si128(packed, mask)))
        }
    }

    /// As `dot`: d_w d_a sum(q_w q_a) + m_w s_a per block, with Q8_1's s_a = d_a sum(q_a).
    static func dotUnpacked(
        _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int
    ) -> Float {
        let scales = (unpacked + count).assumingMemoryBound(to: Float.self)
        return sumBlockValues(count / 32) { block in
            let a = activations + block &* 36
            let sum = byteBlockSum(unpacked + block &* 32, a + 4)
            return Float(sum) * (scales[2 &* block] * a.half(at: 0)) + scales[2 &* block &+ 1] * a.half(at: 2)
        }
    }

    static var tileShape: (rows: Int, activations: Int) { (2, 4) }

    /// Each lane does the float operations of `dotUnpacked` for its pair.
    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let unpacked1 = unpacked + unpackedStride
        let scales0 = (unpacked + count).assumingMemoryBound(to: Float.self)
        let scales1 = (unpacked1 + count).assumingMemoryBound(to: Float.self)
        let prepared = UnsafeRawPointer(widened), preparedStride = 2 &* widenedStride
        @inline(__always) func blockDots(_ block: Int) -> SIMD8<Float> {
            let p0 = prepared + 8 &* block, p1 = p0 + preparedStride
            let p2 = p0 + 2 &* preparedStride, p3 = p0 + 3 &* preparedStride
            let sums = avx2Floats(byteBlockDots2x4(
                unpacked + block &* 32, unpacked1 + block &* 32, activations + (block &* 36 &+ 4), stride: activationStride))
            let d0 = p0.loadUnaligned(as: Float.self), d1 = p1.loadUnaligned(as: Float.self)
            let d2 = p2.loadUnaligned(as: Float.self), d3 = p3.loadUnaligned(as: Float.self)
            let s0 = p0.loadUnaligned(fromByteOffset: 4, as: Float.self), s1 = p1.loadUnaligned(fromByteOffset: 4, as: Float.self)
            let s2 = p2.loadUnaligned(fromByteOffset: 4, as: Float.self), s3 = p3.loadUnaligned(fromByteOffset: 4, as: Float.self)
            let x0 = scales0[2 &* block], x1 = scales1[2 &* block]
            let m0 = scales0[2 &* block &+ 1], m1 = scales1[2 &* block &+ 1]
            let products = SIMD8<Float>(x0 * d0, x0 * d1, x0 * d2, x0 * d3, x1 * d0, x1 * d1, x1 * d2, x1 * d3)
            let minimums = SIMD8<Float>(m0 * s0, m0 * s1, m0 * s2, m0 * s3, m1 * s0, m1 * s1, m1 * s2, m1 * s3)
            return sums * products + minimums
        }
        storeTile32(sumTileBlocks(count / 32, blockDots), output: output, outputStride: outputStride)
    }
}

/// Σ q_j · a_j over one 32-value block: unsigned byte quants (at most 31) times signed
/// activation quants.
@inline(__always)
private func byteBlockSum(_ quants: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
    let pairs = _mm256_maddubs_epi16(load32(quants), load32(activations))
    return unsafeBitCast(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)), to: SIMD8<Int32>.self).wrappedSum()
}

/// Σ a_j over the 32 activation quants of a block.
@inline(__always)
private func activationSum(_ activations: UnsafeRawPointer) -> Int32 {
    let pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), load32(activations))
    return unsafeBitCast(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)), to: SIMD8<Int32>.self).wrappedSum()
}

/// The eight block sums Σ q_j · a_j of two unpacked rows' blocks with four activation rows'
/// blocks (`stride` bytes apart), in the order of `avx2Int16Dots2x4`. The quants are unsigned (at
/// most 31: a `vpmaddubsw` pair is within 2 · 31 · 128).
@inline(__always)
private func byteBlockDots2x4(_ w0: UnsafeRawPointer, _ w1: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int) -> SIMD8<Int32> {
    let ones = _mm256_set1_epi16(1)
    let x0 = load32(w0), x1 = load32(w1)
    let y0 = load32(a), y1 = load32(a + stride), y2 = load32(a + 2 &* stride), y3 = load32(a + 3 &* stride)
    @inline(__always) func lanes(_ x: __m256i, _ y: __m256i) -> __m256i { _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), ones) }
    let first = _mm256_hadd_epi32(_mm256_hadd_epi32(lanes(x0, y0), lanes(x0, y1)), _mm256_hadd_epi32(lanes(x0, y2), lanes(x0, y3)))
    let second = _mm256_hadd_epi32(_mm256_hadd_epi32(lanes(x1, y0), lanes(x1, y1)), _mm256_hadd_epi32(lanes(x1, y2), lanes(x1, y3)))
    let r0 = unsafeBitCast(first, to: SIMD8<Int32>.self), r1 = unsafeBitCast(second, to: SIMD8<Int32>.self)
    return SIMD8<Int32>(lowHalf: r0.lowHalf &+ r0.highHalf, highHalf: r1.lowHalf &+ r1.highHalf)
}

@inline(__always)
private func store32(_ pointer: UnsafeMutableRawPointer, _ value: __m256i) {
    _mm256_storeu_si256(pointer.assumingMemoryBound(to: __m256i.self), value)
}

@inline(__always)
private func load32(_ pointer: UnsafeRawPointer) -> __m256i {
    _mm256_loadu_si256(pointer.assumingMemoryBound(to: __m256i.self))
}

/// The 16-bit scales of a 32-value sub-block as `vpmaddwd` takes them: `pair[0]` for the pair
/// sums of the first 16 values (the low 128 bits), `pair[1]` for the last 16.
@inline(__always)
private func scaleVector(_ pair: UnsafePointer<Int16>) -> __m256i {
    let both = _mm256_set1_epi32(UnsafeRawPointer(pair).loadUnaligned(as: Int32.self))
    return _mm256_shuffle_epi8(both, _mm256_set_epi64x(
        0x0302_0302_0302_0302, 0x0302_0302_0302_0302, 0x0100_0100_0100_0100, 0x0100_0100_0100_0100))
}

/// Σ_s Σ_j scale · quant_j · a_j over a super-block's eight 32-value sub-blocks: unsigned byte
/// quants (at most 63, so a `vpmaddubsw` pair is at most 2 · 63 · 128, inside 16 bits) times
/// the signed activation quants, each sub-block's pair sums times its scale pair.
@inline(__always)
private func scaledByteSum(_ quants: UnsafeRawPointer, scalePairs: UnsafePointer<Int16>, _ activations: UnsafeRawPointer) -> Int32 {
    var total = _mm256_setzero_si256()
    for subBlock in 0..<8 {
        let pairs = _mm256_maddubs_epi16(load32(quants + 32 &* subBlock), load32(activations + 32 &* subBlock))
        total = _mm256_add_epi32(total, _mm256_madd_epi16(pairs, scaleVector(scalePairs + 2 &* subBlock)))
    }
    return unsafeBitCast(total, to: SIMD8<Int32>.self).wrappedSum()
}

/// Σ x_g · y_g over sixteen Int16 values (the per-group minimums or scales with Q8_K's partial sums).
@inline(__always)
private func groupDot(_ x: UnsafePointer<Int16>, _ y: UnsafePointer<Int16>) -> Int32 {
    let products = _mm256_madd_epi16(load32(UnsafeRawPointer(x)), load32(UnsafeRawPointer(y)))
    return unsafeBitCast(products, to: SIMD8<Int32>.self).wrappedSum()
}

/// ``scaledByteSum`` for two unpacked rows and four activation rows (`stride` bytes apart), in
/// the order (r0 b0 … r0 b3, r1 b0 … r1 b3) of `avx2Int16Dots2x4`: each loaded weight vector
/// serves four activation rows, each activation vector two weight rows, and the eight
/// accumulators are reduced together by a `vphaddd` tree.
@inline(__always)
private func scaledByteDots2x4(
    _ w0: UnsafeRawPointer, _ w1: UnsafeRawPointer, scalePairs pairs0: UnsafePointer<Int16>, _ pairs1: UnsafePointer<Int16>,
    _ a: UnsafeRawPointer, stride: Int
) -> SIMD8<Int32> {
    var p00 = _mm256_setzero_si256(), p01 = p00, p02 = p00, p03 = p00, p10 = p00, p11 = p00, p12 = p00, p13 = p00
    for subBlock in 0..<8 {
        let o = 32 &* subBlock
        let x0 = load32(w0 + o), x1 = load32(w1 + o)
        let c0 = scaleVector(pairs0 + 2 &* subBlock), c1 = scaleVector(pairs1 + 2 &* subBlock)
        var y = load32(a + o)
        p00 = _mm256_add_epi32(p00, _mm256_madd_epi16(_mm256_maddubs_epi16(x0, y), c0))
        p10 = _mm256_add_epi32(p10, _mm256_madd_epi16(_mm256_maddubs_epi16(x1, y), c1))
        y = load32(a + (stride &+ o))
        p01 = _mm256_add_epi32(p01, _mm256_madd_epi16(_mm256_maddubs_epi16(x0, y), c0))
        p11 = _mm256_add_epi32(p11, _mm256_madd_epi16(_mm256_maddubs_epi16(x1, y), c1))
        y = load32(a + (2 &* stride &+ o))
        p02 = _mm256_add_epi32(p02, _mm256_madd_epi16(_mm256_maddubs_epi16(x0, y), c0))
        p12 = _mm256_add_epi32(p12, _mm256_madd_epi16(_mm256_maddubs_epi16(x1, y), c1))
        y = load32(a + (3 &* stride &+ o))
        p03 = _mm256_add_epi32(p03, _mm256_madd_epi16(_mm256_maddubs_epi16(x0, y), c0))
        p13 = _mm256_add_epi32(p13, _mm256_madd_epi16(_mm256_maddubs_epi16(x1, y), c1))
    }
    let first = _mm256_hadd_epi32(_mm256_hadd_epi32(p00, p01), _mm256_hadd_epi32(p02, p03))
    let second = _mm256_hadd_epi32(_mm256_hadd_epi32(p10, p11), _mm256_hadd_epi32(p12, p13))
    let r0 = unsafeBitCast(first, to: SIMD8<Int32>.self), r1 = unsafeBitCast(second, to: SIMD8<Int32>.self)
    return SIMD8<Int32>(lowHalf: r0.lowHalf &+ r0.highHalf, highHalf: r1.lowHalf &+ r1.highHalf)
}
#endif
