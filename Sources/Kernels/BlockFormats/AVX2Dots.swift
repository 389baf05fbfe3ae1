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
