// Batched K-quant products on AVX2 with the quants kept as bytes (the unpacked rows of
// UnpackedDots.swift, in another layout). `vpmaddubsw` multiplies 32 unsigned weight quants by
// 32 signed activation quants into 16 pair sums, and one `vpmaddwd` by the sub-block's scale
// widens them to 32 bits: two instructions per 32 products where the 16-bit layout needs four
// (two `vpmaddwd`, two adds), and the activations are read as the Q8_K bytes they are, not
// widened to twice their size. The integer sums are the same exact sums, so every result is bit
// for bit what `Q4_K.dot` / `Q6_K.dot` give (BatchedProductTests).

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
            let scales = SIMD4<Float>(a.q8KScale, (a + activationStride).q8KScale,
                                      (a + 2 &* activationStride).q8KScale, (a + 3 &* activationStride).q8KScale)
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
            let scales = SIMD4<Float>(a.q8KScale, (a + activationStride).q8KScale,
                                      (a + 2 &* activationStride).q8KScale, (a + 3 &* activationStride).q8KScale)
            let ds = SIMD8<Float>(lowHalf: m0.load(as: Float.self) * scales, highHalf: m1.load(as: Float.self) * scales)
            total += ds * sums
        }
        storeTile32(total, output: output, outputStride: outputStride)
    }
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
