// AVX2 forms of block sums whose plain loops LLVM compiles poorly, for release builds on CPUs
// with AVX2 (Package.swift defines HEARTH_AVX2). Each returns the same exact integer sum as its
// plain-loop twin, so every kernel built on it rounds as before, bit for bit.

/// True when this build's kernels use the AVX2 forms below.
#if HEARTH_AVX2
public let kernelsUseAVX2 = true
#else
public let kernelsUseAVX2 = false
#endif

#if HEARTH_AVX2
import _Builtin_intrinsics.intel

/// Q5_0's Σ (quant_j − 16) · a_j (`fiveBitBlockSum`) as llama.cpp's AVX2 path computes it. A
/// per-element variable shift of `qh` is what the plain loop vectorises into; here `qh`'s four
/// bytes are spread over 32 lanes with one shuffle, each lane's bit is isolated by OR-ing every
/// other bit on and comparing with all ones, and the nibbles become signed quants by subtracting
/// 16 where the fifth bit is clear. The products go through `vpmaddubsw` (unsigned × signed, so
/// |q| times a with q's sign; pairs stay within 16 bits: 2 · 16 · 127) and `vpmaddwd`. Activation
/// quants must be −127…127, as the Q8_0 quantiser makes them: `vpsignb` cannot negate −128.
@inline(__always)
func avx2FiveBitBlockSum(qh: UInt32, qs: UnsafeRawPointer, activations: UnsafeRawPointer) -> Int32 {
    laneSum(avx2FiveBitLanes(qh: qh, qs: qs, activations: activations))
}

/// ``avx2FiveBitBlockSum`` before its last step: eight lanes whose sum it is.
@inline(__always)
func avx2FiveBitLanes(qh: UInt32, qs: UnsafeRawPointer, activations: UnsafeRawPointer) -> __m256i {
    let quants = avx2FiveBitQuants(qh: qh, qs: qs)
    let a = _mm256_loadu_si256(activations.assumingMemoryBound(to: __m256i.self))
    let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(quants, quants), _mm256_sign_epi8(a, quants))
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1))
}

/// A Q5_0 block's 32 signed quants (5-bit quant − 16) as bytes in element order.
@inline(__always)
func avx2FiveBitQuants(qh: UInt32, qs: UnsafeRawPointer) -> __m256i {
    let packed = _mm_loadu_si128(qs.assumingMemoryBound(to: __m128i.self))
    let lowNibbles = _mm_and_si128(packed, _mm_set1_epi8(0x0F))
    let highNibbles = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F))
    // Elements 0-15 are the low nibbles, 16-31 the high ones: the same order as the activations.
    let nibbles = _mm256_set_m128i(highNibbles, lowNibbles)
    let byteOfElement = _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202, 0x0101_0101_0101_0101, 0)
    let spread = _mm256_shuffle_epi8(_mm256_set1_epi32(Int32(bitPattern: qh)), byteOfElement)
    let otherBits = _mm256_set1_epi64x(Int64(bitPattern: 0x7FBF_DFEF_F7FB_FDFE))
    let fifthBitSet = _mm256_cmpeq_epi8(_mm256_or_si256(spread, otherBits), _mm256_set1_epi64x(-1))
    return _mm256_sub_epi8(nibbles, _mm256_andnot_si256(fifthBitSet, _mm256_set1_epi8(16)))
}

/// The sum of the eight 32-bit lanes.
@inline(__always)
private func laneSum(_ lanes: __m256i) -> Int32 {
    unsafeBitCast(lanes, to: SIMD8<Int32>.self).wrappedSum()
}

@inline(__always)
private func load32(_ pointer: UnsafeRawPointer) -> __m256i {
    _mm256_loadu_si256(pointer.assumingMemoryBound(to: __m256i.self))
}

/// Σ w_j · a_j over 32 signed weight and activation bytes (Q8_0 × Q8_0): `vpmaddubsw` on |w| and
/// a with w's sign. Exact while the activations are −127…127 (the Q8_0 quantiser's range; a
/// weight of −128 is fine: its magnitude reads as the unsigned byte 128).
@inline(__always)
func avx2SignedByteSum(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
    laneSum(avx2SignedByteLanes(weights, activations))
}

/// ``avx2SignedByteSum`` before its last step: eight lanes whose sum it is.
@inline(__always)
func avx2SignedByteLanes(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> __m256i {
    let w = load32(weights), a = load32(activations)
    let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w))
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1))
}

/// Σ nibble_j · a_j over 16 packed bytes (elements 0-15 the low nibbles, 16-31 the high ones, as
/// Q4_0/Q4_1 store them) and 32 signed activation bytes. Nibbles are unsigned, so `vpmaddubsw`
/// takes them as they are; a pair is at most 2 · 15 · 128, well inside 16 bits.
@inline(__always)
func avx2NibbleSum(_ packed: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
    laneSum(avx2NibbleLanes(packed, activations))
}

/// ``avx2NibbleSum`` before its last step: eight lanes whose sum it is.
@inline(__always)
func avx2NibbleLanes(_ packed: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> __m256i {
    let bytes = _mm_loadu_si128(packed.assumingMemoryBound(to: __m128i.self))
    let mask = _mm_set1_epi8(0x0F)
    let nibbles = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), _mm_and_si128(bytes, mask))
    let pairs = _mm256_maddubs_epi16(nibbles, load32(activations))
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1))
}

/// Q4_K's two exact sums over a super-block, `Q4_K.scaledSum` and `Q4_K.minimumSum`, with the
/// scales and minimums unpacked once (`kQuantScalesAndMins`). The minimums' sum is one
/// `vpmaddwd` of the widened minimums with the Q8_K partial sums added in pairs (`vphaddw`; a
/// pair is at most 32 · 128, inside 16 bits).
@inline(__always)
func avx2Q4KSums(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> (sum: Int32, minimumSum: Int32) {
    let unpacked = kQuantScalesAndMins(weights + 4)
    let minimums = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, Int32(bitPattern: unpacked[3]), Int32(bitPattern: unpacked[2])))
    let partialSums = activations + Q8_K.sumsOffset
    let subBlockSums = _mm_hadd_epi16(
        _mm_loadu_si128(partialSums.assumingMemoryBound(to: __m128i.self)),
        _mm_loadu_si128((partialSums + 16).assumingMemoryBound(to: __m128i.self)))
    let minimumSum = unsafeBitCast(_mm_madd_epi16(minimums, subBlockSums), to: SIMD4<Int32>.self).wrappedSum()
    let sum = avx2Q4KScaledSum(scales: SIMD2(unpacked[0], unpacked[1]), qs: weights + 16, activations: activations + Q8_K.quantsOffset)
    return (sum, minimumSum)
}

/// Q4_K's Σ scale_s · quant_j · a_j over a super-block (`Q4_K.scaledSum`), the eight scales one
/// per byte of `scales`: per 64-value chunk, one 32-byte load gives the low nibbles (sub-block
/// 2c) and the high ones (2c + 1); each `vpmaddubsw` pair sum is multiplied by its sub-block's
/// scale in `vpmaddwd`.
@inline(__always)
private func avx2Q4KScaledSum(scales: SIMD2<UInt32>, qs: UnsafeRawPointer, activations: UnsafeRawPointer) -> Int32 {
    let mask = _mm256_set1_epi8(0x0F)
    var total = _mm256_setzero_si256()
    for chunk in 0..<4 {
        let word = scales[chunk >> 1], shift = UInt32(16 &* (chunk & 1))
        let bits = load32(qs + 32 &* chunk)
        let low = _mm256_maddubs_epi16(_mm256_and_si256(bits, mask), load32(activations + 64 &* chunk))
        let high = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(bits, 4), mask), load32(activations + (64 &* chunk &+ 32)))
        let lowScale = _mm256_set1_epi16(Int16(truncatingIfNeeded: (word >> shift) & 0xFF))
        let highScale = _mm256_set1_epi16(Int16(truncatingIfNeeded: (word >> (shift &+ 8)) & 0xFF))
        total = _mm256_add_epi32(total, _mm256_add_epi32(_mm256_madd_epi16(low, lowScale), _mm256_madd_epi16(high, highScale)))
    }
    return laneSum(total)
}

/// Q6_K's Σ scale_g · (quant_j − 32) · a_j over a super-block (`Q6_K.scaledSum`) and the Q8_K
/// block at `activations`. Each 32-value quarter is rebuilt as unsigned 6-bit quants (nibble |
/// two high bits << 4) for `vpmaddubsw` (pairs within 2 · 63 · 128), and `vpmaddwd` multiplies
/// the pairs by the quarter's two 16-value group scales (one byte shuffle picks them, one widening
/// makes them 16-bit). The −32 is taken out once per super-block: 32 · Σ_g scale_g · (sum of
/// group g's activation quants), from Q8_K's sixteen partial sums, which are Q6_K's groups.
@inline(__always)
func avx2Q6KScaledSum(_ weights: UnsafeRawPointer, activations: UnsafeRawPointer) -> Int32 {
    let nibbleMask = _mm256_set1_epi8(0x0F), twoBits = _mm256_set1_epi8(3)
    let scaleBytes = _mm_loadu_si128((weights + 192).assumingMemoryBound(to: __m128i.self))
    let quants = activations + Q8_K.quantsOffset
    var total = _mm256_setzero_si256()
    for half in 0..<2 {
        let ql = weights + 64 &* half, highBits = load32(weights + (128 &+ 32 &* half))
        let x = quants + 128 &* half
        let lowBytes = (load32(ql), load32(ql + 32))
        for k in 0..<4 {
            let bytes = k & 1 == 0 ? lowBytes.0 : lowBytes.1
            let nibbles = _mm256_and_si256(k < 2 ? bytes : _mm256_srli_epi16(bytes, 4), nibbleMask)
            let high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(highBits, Int32(2 &* k)), twoBits), 4)
            let pairs = _mm256_maddubs_epi16(_mm256_or_si256(nibbles, high), load32(x + 32 &* k))
            // Bytes 0-7 of the pattern pick group 8·half + 2k, bytes 8-15 the next group.
            let group = UInt64(8 &* half &+ 2 &* k)
            let pattern = _mm_set_epi64x(
                Int64(bitPattern: 0x0101_0101_0101_0101 &* (group &+ 1)), Int64(bitPattern: 0x0101_0101_0101_0101 &* group))
            let groupScales = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scaleBytes, pattern))
            total = _mm256_add_epi32(total, _mm256_madd_epi16(pairs, groupScales))
        }
    }
    let groupSums = load32(activations + Q8_K.sumsOffset)
    let offsets = _mm256_madd_epi16(_mm256_cvtepi8_epi16(scaleBytes), groupSums)
    return laneSum(total) &- 32 &* laneSum(offsets)
}
#endif

#if HEARTH_AVX2
/// The eight exact sums Σ w_r[i] · a_b[i] over `count` values (a multiple of 16), for two 16-bit
/// weight rows (r) and four 16-bit activation rows (b, `stride` apart), in the order (r0 b0 …
/// r0 b3, r1 b0 … r1 b3) of `int16Dot2x4`. One `vpmaddwd` per pair and 16 values (LLVM makes
/// `vpmovsxwd` + `vpmulld` of the plain loop), and the eight vectors reduced together by a
/// `vphaddd` tree.
@inline(__always)
func avx2Int16Dots2x4(
    _ w0: UnsafePointer<Int16>, _ w1: UnsafePointer<Int16>, _ a: UnsafePointer<Int16>, stride: Int, count: Int
) -> SIMD8<Int32> {
    let a1 = a + stride, a2 = a + 2 &* stride, a3 = a + 3 &* stride
    var p00 = _mm256_setzero_si256(), p01 = p00, p02 = p00, p03 = p00, p10 = p00, p11 = p00, p12 = p00, p13 = p00
    var i = 0
    while i < count {
        let x0 = load32(UnsafeRawPointer(w0 + i)), x1 = load32(UnsafeRawPointer(w1 + i))
        let y0 = load32(UnsafeRawPointer(a + i)), y1 = load32(UnsafeRawPointer(a1 + i))
        let y2 = load32(UnsafeRawPointer(a2 + i)), y3 = load32(UnsafeRawPointer(a3 + i))
        p00 = _mm256_add_epi32(p00, _mm256_madd_epi16(x0, y0)); p01 = _mm256_add_epi32(p01, _mm256_madd_epi16(x0, y1))
        p02 = _mm256_add_epi32(p02, _mm256_madd_epi16(x0, y2)); p03 = _mm256_add_epi32(p03, _mm256_madd_epi16(x0, y3))
        p10 = _mm256_add_epi32(p10, _mm256_madd_epi16(x1, y0)); p11 = _mm256_add_epi32(p11, _mm256_madd_epi16(x1, y1))
        p12 = _mm256_add_epi32(p12, _mm256_madd_epi16(x1, y2)); p13 = _mm256_add_epi32(p13, _mm256_madd_epi16(x1, y3))
        i &+= 16
    }
    // Within each 128-bit lane, hadd(hadd(b0, b1), hadd(b2, b3)) holds each pair's sum of its
    // four elements of that lane; adding the two lanes finishes the sums.
    let first = _mm256_hadd_epi32(_mm256_hadd_epi32(p00, p01), _mm256_hadd_epi32(p02, p03))
    let second = _mm256_hadd_epi32(_mm256_hadd_epi32(p10, p11), _mm256_hadd_epi32(p12, p13))
    let r0 = unsafeBitCast(first, to: SIMD8<Int32>.self), r1 = unsafeBitCast(second, to: SIMD8<Int32>.self)
    return SIMD8<Int32>(lowHalf: r0.lowHalf &+ r0.highHalf, highHalf: r1.lowHalf &+ r1.highHalf)
}

/// The lanes converted to Float, rounded to nearest as `Float(_: Int32)` (`vcvtdq2ps`).
@inline(__always)
func avx2Floats(_ lanes: SIMD8<Int32>) -> SIMD8<Float> {
    unsafeBitCast(_mm256_cvtepi32_ps(unsafeBitCast(lanes, to: __m256i.self)), to: SIMD8<Float>.self)
}
#endif

#if HEARTH_AVX2
/// A 32-value format whose exact block sum AVX2 builds compute as eight 32-bit lanes: a row's
/// dot then reduces four blocks' lanes together (`avx2SumBlocks`) rather than each block's alone.
protocol AVX2LaneBlocks: QuantFormat, BlockDotKernel {
    /// Eight lanes whose wrapped sum is the format's `blockSum` of the blocks at `w` and `a`.
    static func blockLanes(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> __m256i
    /// The block's product from its exact sum, as `blockDot` rounds it.
    static func roundBlock(sum: Int32, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float
    /// `roundBlock` of four consecutive blocks (weights from `w`, activations from `a`) in the
    /// lanes of one vector, each lane the same float operations as `roundBlock`.
    static func roundBlocks(sums: SIMD4<Int32>, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> SIMD4<Float>
}

/// The f16 field at the start of four blocks `stride` bytes apart (Q8_0's, Q5_0's d), converted:
/// each block's first four bytes in one 32-bit load, all eight halves by one `vcvtph2ps`, the
/// even ones kept (gathering 16-bit fields took a general-purpose load and insert each).
@inline(__always)
private func leadingHalves4(_ base: UnsafeRawPointer, stride: Int) -> SIMD4<Float> {
    halfPairs4(base, stride: stride).first
}

/// Both f16 fields of four blocks `stride` bytes apart whose first four bytes are two halves
/// (Q4_1's d and m, Q8_1's d and s): one 32-bit load per block, one `vcvtph2ps` for all eight.
@inline(__always)
private func halfPairs4(_ base: UnsafeRawPointer, stride: Int) -> (first: SIMD4<Float>, second: SIMD4<Float>) {
    let words = SIMD4<UInt32>(
        base.loadUnaligned(as: UInt32.self), base.loadUnaligned(fromByteOffset: stride, as: UInt32.self),
        base.loadUnaligned(fromByteOffset: 2 &* stride, as: UInt32.self),
        base.loadUnaligned(fromByteOffset: 3 &* stride, as: UInt32.self))
    let values = unsafeBitCast(_mm256_cvtph_ps(unsafeBitCast(words, to: __m128i.self)), to: SIMD8<Float>.self)
    return (values.evenHalf, values.oddHalf)
}

extension Q8_0: AVX2LaneBlocks {
    @inline(__always)
    static func blockLanes(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> __m256i { avx2SignedByteLanes(w + 2, a + 2) }

    @inline(__always)
    static func roundBlocks(sums: SIMD4<Int32>, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> SIMD4<Float> {
        SIMD4<Float>(sums) * (leadingHalves4(w, stride: bytesPerBlock) * leadingHalves4(a, stride: Activation.bytesPerBlock))
    }
}

extension Q4_1: AVX2LaneBlocks {
    @inline(__always)
    static func blockLanes(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> __m256i { avx2NibbleLanes(w + 4, a + 4) }

    @inline(__always)
    static func roundBlocks(sums: SIMD4<Int32>, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> SIMD4<Float> {
        let (d, m) = halfPairs4(w, stride: bytesPerBlock), (da, s) = halfPairs4(a, stride: Activation.bytesPerBlock)
        return SIMD4<Float>(sums) * (d * da) + m * s
    }
}

extension Q5_0: AVX2LaneBlocks {
    @inline(__always)
    static func blockLanes(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> __m256i {
        avx2FiveBitLanes(qh: w.uint32(at: 2), qs: w + 6, activations: a + 2)
    }

    @inline(__always)
    static func roundBlocks(sums: SIMD4<Int32>, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> SIMD4<Float> {
        SIMD4<Float>(sums) * (leadingHalves4(w, stride: bytesPerBlock) * leadingHalves4(a, stride: Activation.bytesPerBlock))
    }
}

/// The four blocks' sums from their lanes: a `vphaddd` tree sums each block's four lanes per
/// 128-bit half, and the two halves are added (the per-block reduction LLVM otherwise makes is
/// a transpose of some forty shuffles and extracts per four blocks).
@inline(__always)
func avx2Sum4(_ b0: __m256i, _ b1: __m256i, _ b2: __m256i, _ b3: __m256i) -> SIMD4<Int32> {
    let sums = unsafeBitCast(
        _mm256_hadd_epi32(_mm256_hadd_epi32(b0, b1), _mm256_hadd_epi32(b2, b3)), to: SIMD8<Int32>.self)
    return sums.lowHalf &+ sums.highHalf
}

/// `sumBlocks` for a format with block lanes: the same four accumulators (block i into
/// accumulator i mod 4) and the same float operations, so the result is bit for bit the same.
@inline(__always)
func avx2SumBlocks<K: AVX2LaneBlocks>(
    _ kernel: K.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, blocks: Int
) -> Float {
    let weightBytes = K.bytesPerBlock, activationBytes = K.Activation.bytesPerBlock
    // Lane k holds accumulator k: four blocks' products are rounded side by side.
    var totals = SIMD4<Float>()
    var block = 0
    while block &+ 4 <= blocks {
        let w0 = weights + block &* weightBytes, a0 = activations + block &* activationBytes
        let w1 = w0 + weightBytes, a1 = a0 + activationBytes
        let w2 = w1 + weightBytes, a2 = a1 + activationBytes
        let w3 = w2 + weightBytes, a3 = a2 + activationBytes
        let sums = avx2Sum4(K.blockLanes(w0, a0), K.blockLanes(w1, a1), K.blockLanes(w2, a2), K.blockLanes(w3, a3))
        totals += K.roundBlocks(sums: sums, w0, a0)
        block &+= 4
    }
    var s0 = totals[0]
    while block < blocks {
        s0 += K.blockDot(weights, activations, block: block)
        block &+= 1
    }
    return (s0 + totals[1]) + (totals[2] + totals[3])
}
#endif
