// Batched K-quant dots on AVX-512 VNNI: one weight row with four activation rows, each weight
// super-block's quants and scales decoded once for the four. The integer super-block sums are
// exact and the float operations are the single-row `dot`'s (llama.cpp's), so every result is
// bit for bit the single-row `dot`.

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel

/// The eight lanes of `Σ minimum[s] * (bsums[2s] + bsums[2s + 1])` for one Q8_K block, given the
/// minimums each repeated for their two 16-value groups (16 Int16): one `vpmaddwd`.
@inline(__always)
func minimumProducts(_ minimums: __m256i, _ activationBlock: UnsafeRawPointer) -> __m256i {
    _mm256_madd_epi16(minimums, load32Bytes(activationBlock + Q8_K.sumsOffset))
}

extension Q4_K {
    public static func dot(
        _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
        activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let blocks = count / 256
        var first = 0
        while first &+ 4 <= activationCount {
            let rows = activations + first &* activationStride
            var products = SIMD4<Float>(repeating: 0), minimumTotals = SIMD4<Float>(repeating: 0)
            for block in 0..<blocks {
                let w = weights + block &* 144
                let packed = w.bytes(at: 4), qs = w + 16
                var scaleVectors = (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                    _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256())
                var minimums = SIMD16<Int16>()
                withUnsafeMutableBytes(of: &scaleVectors) { raw in
                    let vectors = raw.baseAddress!.assumingMemoryBound(to: __m256i.self)
                    for subBlock in 0..<8 {
                        let (scale, minimum) = kQuantScaleAndMin(packed, subBlock)
                        vectors[subBlock] = _mm256_set1_epi16(Int16(truncatingIfNeeded: scale))
                        minimums[2 &* subBlock] = Int16(truncatingIfNeeded: minimum)
                        minimums[2 &* subBlock &+ 1] = Int16(truncatingIfNeeded: minimum)
                    }
                }
                let mask = _mm256_set1_epi8(0x0F)
                let q0 = load32Bytes(qs), q1 = load32Bytes(qs + 32), q2 = load32Bytes(qs + 64), q3 = load32Bytes(qs + 96)
                let l0 = _mm256_and_si256(q0, mask), h0 = _mm256_and_si256(_mm256_srli_epi16(q0, 4), mask)
                let l1 = _mm256_and_si256(q1, mask), h1 = _mm256_and_si256(_mm256_srli_epi16(q1, 4), mask)
                let l2 = _mm256_and_si256(q2, mask), h2 = _mm256_and_si256(_mm256_srli_epi16(q2, 4), mask)
                let l3 = _mm256_and_si256(q3, mask), h3 = _mm256_and_si256(_mm256_srli_epi16(q3, 4), mask)
                let minimumVector = unsafeBitCast(minimums, to: __m256i.self)
                let d = w.half(at: 0), dmin = w.half(at: 2)
                for j in 0..<4 {
                    let a = rows + (j &* activationStride &+ block &* 292)
                    let aq = a + Q8_K.quantsOffset
                    var acc = addScaledProducts(_mm256_setzero_si256(), l0, aq, scaleVectors.0)
                    acc = addScaledProducts(acc, h0, aq + 32, scaleVectors.1)
                    acc = addScaledProducts(acc, l1, aq + 64, scaleVectors.2)
                    acc = addScaledProducts(acc, h1, aq + 96, scaleVectors.3)
                    acc = addScaledProducts(acc, l2, aq + 128, scaleVectors.4)
                    acc = addScaledProducts(acc, h2, aq + 160, scaleVectors.5)
                    acc = addScaledProducts(acc, l3, aq + 192, scaleVectors.6)
                    acc = addScaledProducts(acc, h3, aq + 224, scaleVectors.7)
                    let sum = horizontalSum(acc), minSum = horizontalSum(minimumProducts(minimumVector, a))
                    let scale = a.q8KScale
                    products[j] = products[j].addingProduct(Float(sum), d * scale)
                    minimumTotals[j] = minimumTotals[j].addingProduct(Float(minSum), dmin * scale)
                }
            }
            let totals = products - minimumTotals
            let out = output + first &* outputStride
            out[0] = totals[0]; out[outputStride] = totals[1]
            out[2 &* outputStride] = totals[2]; out[3 &* outputStride] = totals[3]
            first &+= 4
        }
        while first < activationCount {
            output[first &* outputStride] = dot(weights, activations + first &* activationStride, count: count)
            first &+= 1
        }
    }
}

extension Q6_K {
    public static func dot(
        _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
        activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let blocks = count / 256
        var first = 0
        while first &+ 4 <= activationCount {
            let rows = activations + first &* activationStride
            var totals = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps())
            for block in 0..<blocks {
                let w = weights + block &* 210
                let scales = w.signedBytes(at: 192)
                // The 256 unsigned 6-bit quants (eight groups of 32) and the scale of each 16 values.
                var quantVectors = (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                    _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256())
                var scaleVectors = quantVectors
                let mask = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3)
                withUnsafeMutableBytes(of: &quantVectors) { quantRaw in
                    withUnsafeMutableBytes(of: &scaleVectors) { scaleRaw in
                        let quants = quantRaw.baseAddress!.assumingMemoryBound(to: __m256i.self)
                        let groupScales = scaleRaw.baseAddress!.assumingMemoryBound(to: __m256i.self)
                        for half in 0..<2 {
                            let ql0 = load32Bytes(w + 64 &* half), ql1 = load32Bytes(w + (64 &* half &+ 32))
                            let qh = load32Bytes(w + (128 &+ 32 &* half))
                            let halfScales = q6KHalfScales(w, half)
                            for k in 0..<4 {
                                let lowSource = k & 1 == 0 ? ql0 : ql1
                                let low = k < 2 ? _mm256_and_si256(lowSource, mask) : _mm256_and_si256(_mm256_srli_epi16(lowSource, 4), mask)
                                let highBits = _mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 &* k)), three)
                                quants[4 &* half &+ k] = _mm256_or_si256(low, _mm256_slli_epi16(highBits, 4))
                                groupScales[4 &* half &+ k] = q6KGroupScales(halfScales, k)
                            }
                        }
                    }
                }
                var scales16 = SIMD16<Int16>()
                for group in 0..<16 { scales16[group] = Int16(scales[group]) }
                let scaleVector = unsafeBitCast(scales16, to: __m256i.self)
                let d = w.half(at: 208)
                @inline(__always)
                func lanes(_ j: Int) -> (scale: __m256, lanes: __m256) {
                    let a = rows + (j &* activationStride &+ block &* 292)
                    let aq = a + Q8_K.quantsOffset
                    var acc = addScaledProducts(_mm256_setzero_si256(), quantVectors.0, aq, scaleVectors.0)
                    acc = addScaledProducts(acc, quantVectors.1, aq + 32, scaleVectors.1)
                    acc = addScaledProducts(acc, quantVectors.2, aq + 64, scaleVectors.2)
                    acc = addScaledProducts(acc, quantVectors.3, aq + 96, scaleVectors.3)
                    acc = addScaledProducts(acc, quantVectors.4, aq + 128, scaleVectors.4)
                    acc = addScaledProducts(acc, quantVectors.5, aq + 160, scaleVectors.5)
                    acc = addScaledProducts(acc, quantVectors.6, aq + 192, scaleVectors.6)
                    acc = addScaledProducts(acc, quantVectors.7, aq + 224, scaleVectors.7)
                    let offset = _mm256_slli_epi32(minimumProducts(scaleVector, a), 5)
                    return (_mm256_set1_ps(a.q8KScale * d), _mm256_cvtepi32_ps(_mm256_sub_epi32(acc, offset)))
                }
                var l = lanes(0); totals.0 = _mm256_fmadd_ps(l.scale, l.lanes, totals.0)
                l = lanes(1); totals.1 = _mm256_fmadd_ps(l.scale, l.lanes, totals.1)
                l = lanes(2); totals.2 = _mm256_fmadd_ps(l.scale, l.lanes, totals.2)
                l = lanes(3); totals.3 = _mm256_fmadd_ps(l.scale, l.lanes, totals.3)
            }
            let out = output + first &* outputStride
            out[0] = horizontalSum(totals.0); out[outputStride] = horizontalSum(totals.1)
            out[2 &* outputStride] = horizontalSum(totals.2); out[3 &* outputStride] = horizontalSum(totals.3)
            first &+= 4
        }
        while first < activationCount {
            output[first &* outputStride] = dot(weights, activations + first &* activationStride, count: count)
            first &+= 1
        }
    }
}
#endif
