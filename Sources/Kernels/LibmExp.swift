// glibc's `expf` as x86-64 runs it on a CPU with FMA (`__expf_fma`, the algorithm of Arm's
// optimized-routines, glibc 2.27 onwards), written so that LLVM vectorises it. ggml's flash
// attention calls the C library's `expf` once per position and query; computing the same
// operations eight lanes at a time keeps the attention results bit for bit those of llama.cpp on
// the same system while taking the call out of the loop. Elsewhere (musl, Darwin, CPUs without
// FMA, where the C library computes differently) the attention calls `expf` itself.

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether `exponentials(_:count:)` uses the replica (`glibcExpFMA`) rather than calling `expf`:
/// in glibc builds for CPUs with FMA, where the replica is what `expf` computes.
#if canImport(Glibc) && HEARTH_AVX2
public let exponentialsUseGlibcReplica = true
#else
public let exponentialsUseGlibcReplica = false
#endif

/// e^x for each of `count` floats in place, as the C library's `expf` gives it.
public func exponentials(_ values: UnsafeMutablePointer<Float>, count: Int) {
    #if canImport(Glibc) && HEARTH_AVX2
    glibcExpTable.withUnsafeBufferPointer { table in
        let table = table.baseAddress!
        var i = 0
        #if HEARTH_AVX512_VNNI
        while i &+ 8 <= count {
            glibcExpFMA8(values + i, table: table)
            i &+= 8
        }
        #endif
        while i < count {
            values[i] = glibcExpFMA(values[i], table: table)
            i &+= 1
        }
    }
    #else
    for i in 0..<count { values[i] = expf(values[i]) }
    #endif
}

/// 2^(i/32) as binary64 bits, less i << 47 (`__exp2f_data.tab`).
public let glibcExpTable: [UInt64] = [
    0x3ff0_0000_0000_0000, 0x3fef_d9b0_d315_8574, 0x3fef_b558_6cf9_890f, 0x3fef_9301_d012_5b51,
    0x3fef_72b8_3c7d_517b, 0x3fef_5487_3168_b9aa, 0x3fef_387a_6e75_6238, 0x3fef_1e9d_f51f_dee1,
    0x3fef_06fe_0a31_b715, 0x3fee_f1a7_373a_a9cb, 0x3fee_dea6_4c12_3422, 0x3fee_ce08_6061_892d,
    0x3fee_bfda_d536_2a27, 0x3fee_b42b_569d_4f82, 0x3fee_ab07_dd48_5429, 0x3fee_a47e_b03a_5585,
    0x3fee_a09e_667f_3bcd, 0x3fee_9f75_e8ec_5f74, 0x3fee_a114_73eb_0187, 0x3fee_a589_994c_ce13,
    0x3fee_ace5_422a_a0db, 0x3fee_b737_b0cd_c5e5, 0x3fee_c491_82a3_f090, 0x3fee_d503_b23e_255d,
    0x3fee_e89f_995a_d3ad, 0x3fee_ff76_f2fb_5e47, 0x3fef_199b_dd85_529c, 0x3fef_3720_dcef_9069,
    0x3fef_5818_dcfb_a487, 0x3fef_7c97_337b_9b5f, 0x3fef_a4af_a2a4_90da, 0x3fef_d076_5b6e_4540,
]

/// One `expf` of glibc's FMA variant: x·32/ln 2 = k + r (k rounded by the 1.5·2^52 shift),
/// 2^(k/32) from the table and the exponent field, 2^(r/32) by a cubic; each step the same
/// binary64 operation (fused where glibc's is), then one rounding to float. Outside ±88: 0 for
/// −∞ and below −103.97, the smallest subnormal down to −103.28 (glibc's `__math_may_uflowf`),
/// +∞ above 88.72, and NaN stays NaN. `table` is `glibcExpTable`.
@inline(__always)
public func glibcExpFMA(_ x: Float, table: UnsafePointer<UInt64>) -> Float {
    let invLn2N = Double(bitPattern: 0x4047_1547_652b_82fe)  // 32 / ln 2
    let shift = Double(bitPattern: 0x4338_0000_0000_0000)  // 1.5 · 2^52
    let c0 = Double(bitPattern: 0x3ebc_6af8_4b91_2394), c1 = Double(bitPattern: 0x3f2e_bfce_50fa_c4f3)
    let c2 = Double(bitPattern: 0x3f96_2e42_ff0c_52d6)
    let xd = Double(x)
    let shifted = shift.addingProduct(invLn2N, xd)
    let k = shifted.bitPattern
    let kd = shifted - shift
    let r = (-kd).addingProduct(invLn2N, xd)
    let scale = Double(bitPattern: table[Int(truncatingIfNeeded: k & 31)] &+ (k &<< 47))
    let z = c1.addingProduct(r, c0)
    let r2 = r * r
    let y = Double(1).addingProduct(r, c2).addingProduct(z, r2) * scale
    // glibc branches to its special cases when |x| ≥ 85.3; these conditions hold only there, and as
    // selects they keep the loop vectorisable.
    var result = Float(y)
    result = x < Float(bitPattern: 0xc2ce_8ecf) ? .leastNonzeroMagnitude : result
    result = x < Float(bitPattern: 0xc2cf_f1b4) ? 0 : result
    result = x > Float(bitPattern: 0x42b1_7217) ? .infinity : result
    return x.isNaN ? x + x : result
}

#if HEARTH_AVX512_VNNI
/// `glibcExpFMA` for eight floats in place, each lane the same binary64 operations; the table
/// entry is picked by two two-register permutes (entries 0–15 and 16–31) and bit 4 of k.
@inline(__always)
func glibcExpFMA8(_ values: UnsafeMutablePointer<Float>, table: UnsafePointer<UInt64>) {
    let invLn2N = _mm512_set1_pd(Double(bitPattern: 0x4047_1547_652b_82fe))
    let shift = _mm512_set1_pd(Double(bitPattern: 0x4338_0000_0000_0000))
    let c0 = _mm512_set1_pd(Double(bitPattern: 0x3ebc_6af8_4b91_2394)), c1 = _mm512_set1_pd(Double(bitPattern: 0x3f2e_bfce_50fa_c4f3))
    let c2 = _mm512_set1_pd(Double(bitPattern: 0x3f96_2e42_ff0c_52d6)), one = _mm512_set1_pd(1)
    @inline(__always) func entries(_ offset: Int) -> __m512i { UnsafeRawPointer(table + offset).loadUnaligned(as: __m512i.self) }
    let x = UnsafeRawPointer(values).loadUnaligned(as: __m256.self)
    let xd = _mm512_cvtps_pd(x)
    let shifted = _mm512_fmadd_pd(invLn2N, xd, shift)
    let k = _mm512_castpd_si512(shifted)
    let kd = _mm512_sub_pd(shifted, shift)
    let r = _mm512_fmsub_pd(invLn2N, xd, kd)
    let low = _mm512_permutex2var_epi64(entries(0), k, entries(8)), high = _mm512_permutex2var_epi64(entries(16), k, entries(24))
    let entry = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(k, _mm512_set1_epi64(16)), low, high)
    let scale = _mm512_castsi512_pd(_mm512_add_epi64(entry, _mm512_slli_epi64(k, 47)))
    let z = _mm512_fmadd_pd(r, c0, c1)
    let r2 = _mm512_mul_pd(r, r)
    let y = _mm512_mul_pd(_mm512_fmadd_pd(z, r2, _mm512_fmadd_pd(r, c2, one)), scale)
    let lanes = unsafeBitCast(x, to: SIMD8<Float>.self)
    var result = unsafeBitCast(_mm512_cvtpd_ps(y), to: SIMD8<Float>.self)
    result.replace(with: .leastNonzeroMagnitude, where: lanes .< Float(bitPattern: 0xc2ce_8ecf))
    result.replace(with: 0, where: lanes .< Float(bitPattern: 0xc2cf_f1b4))
    result.replace(with: .infinity, where: lanes .> Float(bitPattern: 0x42b1_7217))
    result.replace(with: lanes + lanes, where: lanes .!= lanes)
    UnsafeMutableRawPointer(values).storeBytes(of: result, as: SIMD8<Float>.self)
}
#endif
