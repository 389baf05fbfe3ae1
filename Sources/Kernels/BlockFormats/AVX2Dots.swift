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
    let packed = _mm_loadu_si128(qs.assumingMemoryBound(to: __m128i.self))
    let lowNibbles = _mm_and_si128(packed, _mm_set1_epi8(0x0F))
    let highNibbles = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F))
    // Elements 0-15 are the low nibbles, 16-31 the high ones: the same order as the activations.
    let nibbles = _mm256_set_m128i(highNibbles, lowNibbles)
    let byteOfElement = _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202, 0x0101_0101_0101_0101, 0)
    let spread = _mm256_shuffle_epi8(_mm256_set1_epi32(Int32(bitPattern: qh)), byteOfElement)
    let otherBits = _mm256_set1_epi64x(Int64(bitPattern: 0x7FBF_DFEF_F7FB_FDFE))
    let fifthBitSet = _mm256_cmpeq_epi8(_mm256_or_si256(spread, otherBits), _mm256_set1_epi64x(-1))
    let quants = _mm256_sub_epi8(nibbles, _mm256_andnot_si256(fifthBitSet, _mm256_set1_epi8(16)))
    let a = _mm256_loadu_si256(activations.assumingMemoryBound(to: __m256i.self))
    let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(quants, quants), _mm256_sign_epi8(a, quants))
    let lanes = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1))
    return unsafeBitCast(lanes, to: SIMD8<Int32>.self).wrappedSum()
}
#endif

#if HEARTH_AVX2
/// The sum of the eight 32-bit lanes.
@inline(__always)
private func horizontalSum(_ lanes: __m256i) -> Int32 {
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
    let w = load32(weights), a = load32(activations)
    let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w))
    return horizontalSum(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
}

/// Σ nibble_j · a_j over 16 packed bytes (elements 0-15 the low nibbles, 16-31 the high ones, as
/// Q4_0/Q4_1 store them) and 32 signed activation bytes. Nibbles are unsigned, so `vpmaddubsw`
/// takes them as they are; a pair is at most 2 · 15 · 128, well inside 16 bits.
@inline(__always)
func avx2NibbleSum(_ packed: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
    let bytes = _mm_loadu_si128(packed.assumingMemoryBound(to: __m128i.self))
    let mask = _mm_set1_epi8(0x0F)
    let nibbles = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), _mm_and_si128(bytes, mask))
    let pairs = _mm256_maddubs_epi16(nibbles, load32(activations))
    return horizontalSum(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
}

/// Q4_K's Σ scale_s · quant_j · a_j over a super-block (`Q4_K.scaledSum`): per 64-value chunk,
/// one 32-byte load gives the low nibbles (sub-block 2c) and the high ones (2c + 1); each
/// `vpmaddubsw` pair sum is multiplied by its sub-block's scale in `vpmaddwd`.
@inline(__always)
func avx2Q4KScaledSum(scales: UnsafePointer<Int32>, qs: UnsafeRawPointer, activations: UnsafeRawPointer) -> Int32 {
    let mask = _mm256_set1_epi8(0x0F)
    var total = _mm256_setzero_si256()
    for chunk in 0..<4 {
        let bits = load32(qs + 32 &* chunk)
        let low = _mm256_maddubs_epi16(_mm256_and_si256(bits, mask), load32(activations + 64 &* chunk))
        let high = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(bits, 4), mask), load32(activations + (64 &* chunk &+ 32)))
        let lowScale = _mm256_set1_epi16(Int16(truncatingIfNeeded: scales[2 &* chunk]))
        let highScale = _mm256_set1_epi16(Int16(truncatingIfNeeded: scales[2 &* chunk &+ 1]))
        total = _mm256_add_epi32(total, _mm256_add_epi32(_mm256_madd_epi16(low, lowScale), _mm256_madd_epi16(high, highScale)))
    }
    return horizontalSum(total)
}

/// Q6_K's Σ scale_g · (quant_j − 32) · a_j over a super-block (`Q6_K.scaledSum`). Each 32-value
/// quarter is rebuilt as unsigned 6-bit quants (nibble | two high bits << 4); `vpmaddubsw` of
/// the quants minus `vpmaddubsw` of 32 gives the pairs of (quant − 32) · a exactly (each within
/// ±2 · 32 · 128), and `vpmaddwd` multiplies them by the two 16-value groups' scales.
@inline(__always)
func avx2Q6KScaledSum(_ weights: UnsafeRawPointer, activations: UnsafeRawPointer) -> Int32 {
    let nibbleMask = _mm256_set1_epi8(0x0F), twoBits = _mm256_set1_epi8(3), thirtyTwo = _mm256_set1_epi8(32)
    let scales = weights.assumingMemoryBound(to: Int8.self) + 192
    var total = _mm256_setzero_si256()
    for half in 0..<2 {
        let ql = weights + 64 &* half, highBits = load32(weights + (128 &+ 32 &* half))
        let x = activations + 128 &* half, sc = scales + 8 &* half
        let lowBytes = (load32(ql), load32(ql + 32))
        for k in 0..<4 {
            let bytes = k & 1 == 0 ? lowBytes.0 : lowBytes.1
            let nibbles = _mm256_and_si256(k < 2 ? bytes : _mm256_srli_epi16(bytes, 4), nibbleMask)
            let high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(highBits, Int32(2 &* k)), twoBits), 4)
            let a = load32(x + 32 &* k)
            let pairs = _mm256_sub_epi16(
                _mm256_maddubs_epi16(_mm256_or_si256(nibbles, high), a), _mm256_maddubs_epi16(thirtyTwo, a))
            let groupScales = _mm256_set_m128i(
                _mm_set1_epi16(Int16(sc[2 &* k &+ 1])), _mm_set1_epi16(Int16(sc[2 &* k])))
            total = _mm256_add_epi32(total, _mm256_madd_epi16(pairs, groupScales))
        }
    }
    return horizontalSum(total)
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
