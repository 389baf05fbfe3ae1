// Dot products on AVX-512 VNNI (`vpdpbusd`: 32 unsigned x signed byte products summed into eight
// 32-bit lanes in one instruction), for release builds on CPUs that have it (Package.swift
// defines HEARTH_AVX512_VNNI). LLVM does not form `vpdpbusd` from plain loops, so these call the
// instruction through Clang's intrinsics module; everything around it stays plain Swift. (The
// 256-bit VNNI intrinsics are C macros, which Swift cannot import; their masked forms are
// functions, and an all-ones mask compiles to the plain instruction.)
//
// 32-value formats: ggml's x86 order, rounding for rounding (`vnniDot32`): each block's products
// summed exactly in eight lanes of four, converted, and added into an eight-lane accumulator with
// one fused multiply-add by d_w * d_a. Signed weights use ggml's trick for the unsigned x signed
// instruction: |w| times (a with w's sign).
//
// K-quants keep their exact integer super-block sums (the same floats as the plain-loop and
// unpacked kernels, bit for bit): `vpmaddubsw` pairs then `vpdpwssd` with the sub-block scales.
//
// Every batched form (panels, the K-quants' four-row kernels) does exactly the single-row
// operations per activation row, so a row's result does not depend on its batch.

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel

/// Sum of the eight lanes, in ggml's order (`hsum_float_8`).
@inline(__always)
func horizontalSum(_ x: __m256) -> Float {
    var r = _mm_add_ps(x.highHalf, x.lowHalf)
    r = _mm_add_ps(r, _mm_movehl_ps(r, r))
    r = _mm_add_ss(r, _mm_movehdup_ps(r))
    return r[0]
}

/// 32 bytes at `p`.
@inline(__always)
func load32Bytes(_ p: UnsafeRawPointer) -> __m256i {
    p.loadUnaligned(as: __m256i.self)
}

/// The 32 nibbles of 16 bytes at `p` as bytes: low nibbles first, then high nibbles (the order of
/// the elements in every 32-value block).
@inline(__always)
func nibblesAsBytes(_ p: UnsafeRawPointer) -> __m256i {
    let packed = p.loadUnaligned(as: __m128i.self)
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0x0F))
}

/// Sum of the eight lanes of an integer vector.
@inline(__always)
func horizontalSum(_ x: __m256i) -> Int32 {
    let lanes = unsafeBitCast(x, to: SIMD8<Int32>.self)
    return (lanes.lowHalf &+ lanes.highHalf).wrappedSum()
}

/// The sums of the eight lanes of four integer vectors, in their order (exact: any order of
/// integer additions gives the same sums). Three `vphaddd` and one add for the four, where four
/// `horizontalSum`s take five operations each.
@inline(__always)
func horizontalSums(_ a: __m256i, _ b: __m256i, _ c: __m256i, _ d: __m256i) -> SIMD4<Int32> {
    // Per 128-bit half: a's, b's, c's and d's partial sums, then the halves added.
    let partial = unsafeBitCast(_mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d)), to: SIMD8<Int32>.self)
    return partial.lowHalf &+ partial.highHalf
}

/// The sums of the eight lanes of two integer vectors, in their order.
@inline(__always)
func horizontalSums(_ a: __m256i, _ b: __m256i) -> SIMD2<Int32> {
    let partial = unsafeBitCast(_mm256_hadd_epi32(a, b), to: SIMD8<Int32>.self)
    let quarters = partial.lowHalf &+ partial.highHalf  // a, a, b, b
    return SIMD2(quarters[0] &+ quarters[1], quarters[2] &+ quarters[3])
}

/// A 32-value block format decoded to 32 quant bytes for `vpdpbusd`.
protocol VNNIBlock32: QuantFormat {
    /// True when `quants` are signed (weights centred on zero); false for unsigned quants with a
    /// per-block minimum (`m` at byte 2, dotted with the activation block's `s` at byte 2).
    static var quantsAreSigned: Bool { get }
    /// The block's 32 quants, in element order.
    static func quants(_ block: UnsafeRawPointer) -> __m256i
    /// `multiplyVNNI32` for this format (a requirement so that the product, reached through an
    /// existential, runs code specialised for the format).
    static func multiplyBatch(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
        order: ProductOrder)
}

/// Activation quants start after `d` (Q8_0) or after `d` and `s` (Q8_1).
@inline(__always)
func activationQuantsOffset<F: VNNIBlock32>(_ format: F.Type) -> Int {
    F.quantsAreSigned ? 2 : 4
}

/// The exact integer products of one weight block's quants with one activation block's, summed
/// in eight lanes (lane i: values 4i ..< 4i + 4). Signed weights use ggml's trick for the
/// unsigned x signed instruction: |w| times (a with w's sign).
@inline(__always)
func blockLanes<F: VNNIBlock32>(_ format: F.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> __m256i {
    let wx = F.quants(weights), ay = load32Bytes(activations + activationQuantsOffset(F.self))
    let zero = _mm256_setzero_si256()
    return F.quantsAreSigned
        ? _mm256_mask_dpbusd_epi32(zero, 0xFF, _mm256_sign_epi8(wx, wx), _mm256_sign_epi8(ay, wx))
        : _mm256_mask_dpbusd_epi32(zero, 0xFF, wx, ay)
}

/// Sum over the blocks of a row of the weight block's minimum `m` times the activation block's
/// `s` (bytes 2 of both): the Q4_1 / Q5_1 term outside the integer products, one fused
/// multiply-add per block in block order (ggml's `summs += m * s`, which GCC contracts).
@inline(__always)
func minimumTerm<F: VNNIBlock32>(
    _ format: F.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, blocks: Int,
    activationSums: UnsafePointer<Float>? = nil
) -> Float {
    let wBytes = F.bytesPerBlock, aBytes = F.Activation.bytesPerBlock
    var sum: Float = 0
    for block in 0..<blocks {
        let s = activationSums.map { $0[block] } ?? (activations + block &* aBytes).half(at: 2)
        sum = sum.addingProduct((weights + block &* wBytes).half(at: 2), s)
    }
    return sum
}

/// One weight row with one activation row, in the float operations of ggml's x86 kernels
/// (`ggml_vec_dot_q8_0_q8_0` and its siblings, and llamafile's tinyBLAS tiles, which agree): each
/// block's products summed exactly in eight lanes of four (lane i: values 4i ..< 4i + 4), the
/// lanes converted and multiplied by the block's d_w * d_a into an eight-lane accumulator with one
/// fused multiply-add, the accumulator summed as `hsum_float_8`, then the minimum term added.
/// Computing what llama.cpp computes, rounding for rounding, keeps greedy decoding in step with it.
/// The panels (VNNIPanels32.swift) do exactly this per activation row, so a batched result is
/// this one bit for bit.
@inline(__always)
func vnniDot32<F: VNNIBlock32>(
    _ format: F.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int,
    activationScales: UnsafePointer<Float>? = nil, activationSums: UnsafePointer<Float>? = nil
) -> Float {
    var acc = _mm256_setzero_ps()
    let blocks = count / 32, wBytes = F.bytesPerBlock, aBytes = F.Activation.bytesPerBlock
    for block in 0..<blocks {
        let w = weights + block &* wBytes, a = activations + block &* aBytes
        let da = activationScales.map { $0[block] } ?? a.half(at: 0)
        let scale = _mm256_set1_ps(w.half(at: 0) * da)
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(blockLanes(F.self, w, a)), acc)
    }
    let products = horizontalSum(acc)
    return F.quantsAreSigned
        ? products : products + minimumTerm(F.self, weights, activations, blocks: blocks, activationSums: activationSums)
}

/// Y = X W^T over a 32-value format: one activation row (decode) by row dots, whose activation
/// scales (and Q8_1 sums) are converted once for all weight rows; from `panelsPayFromBatch` rows
/// through panels; in between, row dots for each activation row.
@inline(__always)
func multiplyVNNI32<F: VNNIBlock32>(
    _ format: F.Type, weights w: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations a: UnsafeRawPointer, activationBytes: Int, batch: Int,
    output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool, order: ProductOrder
) {
    let blockSums = order == .blockSums
    if batch >= panelsPayFromBatch32 {
        multiplyPanels32(
            F.self, weights: w, rows: rows, rowBytes: rowBytes, columns: columns, activations: a,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel,
            blockSums: blockSums)
        return
    }
    let blocks = columns / 32, aBytes = F.Activation.bytesPerBlock
    let scales = UnsafeMutablePointer<Float>.allocate(capacity: batch &* blocks)
    let sums = UnsafeMutablePointer<Float>.allocate(capacity: batch &* blocks)
    defer { scales.deallocate(); sums.deallocate() }
    for b in 0..<batch {
        for block in 0..<blocks {
            let activation = a + (b &* activationBytes &+ block &* aBytes)
            scales[b &* blocks &+ block] = activation.half(at: 0)
            sums[b &* blocks &+ block] = F.quantsAreSigned ? 0 : activation.half(at: 2)
        }
    }
    let work = { (range: Range<Int>) in
        for r in range {
            for b in 0..<batch {
                output[b &* rows &+ r] = blockSums
                    ? vnniDot32BlockSums(
                        F.self, w + r &* rowBytes, a + b &* activationBytes, count: columns,
                        activationScales: scales + b &* blocks, activationSums: sums + b &* blocks)
                    : vnniDot32(
                        F.self, w + r &* rowBytes, a + b &* activationBytes, count: columns,
                        activationScales: scales + b &* blocks, activationSums: sums + b &* blocks)
            }
        }
    }
    if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
}

extension Q4_0: VNNIBlock32 {
    static func multiplyBatch(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
        order: ProductOrder
    ) {
        multiplyVNNI32(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel, order: order)
    }
    static var quantsAreSigned: Bool { true }
    @inline(__always)
    static func quants(_ block: UnsafeRawPointer) -> __m256i {
        _mm256_sub_epi8(nibblesAsBytes(block + 2), _mm256_set1_epi8(8))
    }
}

extension Q4_1: VNNIBlock32 {
    static func multiplyBatch(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
        order: ProductOrder
    ) {
        multiplyVNNI32(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel, order: order)
    }
    static var quantsAreSigned: Bool { false }
    @inline(__always)
    static func quants(_ block: UnsafeRawPointer) -> __m256i { nibblesAsBytes(block + 4) }
}

extension Q5_0: VNNIBlock32 {
    static func multiplyBatch(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
        order: ProductOrder
    ) {
        multiplyVNNI32(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel, order: order)
    }
    static var quantsAreSigned: Bool { true }
    /// Nibble + 16 * fifth bit - 16: subtract 16 where the fifth bit is clear.
    @inline(__always)
    static func quants(_ block: UnsafeRawPointer) -> __m256i {
        let nibbles = nibblesAsBytes(block + 6)
        return _mm256_mask_sub_epi8(nibbles, ~block.uint32(at: 2), nibbles, _mm256_set1_epi8(16))
    }
}

extension Q5_1: VNNIBlock32 {
    static func multiplyBatch(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
        order: ProductOrder
    ) {
        multiplyVNNI32(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel, order: order)
    }
    static var quantsAreSigned: Bool { false }
    @inline(__always)
    static func quants(_ block: UnsafeRawPointer) -> __m256i {
        let nibbles = nibblesAsBytes(block + 8)
        return _mm256_mask_add_epi8(nibbles, block.uint32(at: 4), nibbles, _mm256_set1_epi8(16))
    }
}

extension Q8_0: VNNIBlock32 {
    static func multiplyBatch(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
        order: ProductOrder
    ) {
        multiplyVNNI32(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel, order: order)
    }
    static var quantsAreSigned: Bool { true }
    @inline(__always)
    static func quants(_ block: UnsafeRawPointer) -> __m256i { load32Bytes(block + 2) }
}

// MARK: - K-quants: exact integer super-block sums

/// Sum over 32 values of scale * weight quant (unsigned, < 64) * activation quant, added to `acc`
/// lane-wise: `vpmaddubsw` makes 16-bit pair sums (at most 2 * 63 * 128, no saturation) that
/// `vpdpwssd` multiplies by the 16-bit scales and accumulates.
@inline(__always)
func addScaledProducts(_ acc: __m256i, _ quants: __m256i, _ activations: UnsafeRawPointer, _ scales: __m256i) -> __m256i {
    _mm256_mask_dpwssd_epi32(acc, 0xFF, _mm256_maddubs_epi16(quants, load32Bytes(activations)), scales)
}

extension Q4_K {
    /// The exact integer sums over one super-block of scale * quant * activation and of minimum *
    /// activation (`blockDot`'s two sums).
    @inline(__always)
    static func vnniSums(_ packed: UnsafePointer<UInt8>, _ qs: UnsafePointer<UInt8>, _ a: UnsafeRawPointer) -> (scaled: Int32, minimums: Int32) {
        let lanes = vnniLanes(packed, qs, a)
        return (horizontalSum(lanes.scaled), horizontalSum(lanes.minimums))
    }

    /// `vnniSums` before the lanes are summed. The twelve packed bytes become eight scale bytes
    /// and eight minimum bytes in four 32-bit operations each (ggml's `utmp` masks), not
    /// sub-block by sub-block: unpacking them one at a time was about half of the instructions.
    @inline(__always)
    static func vnniLanes(_ packed: UnsafePointer<UInt8>, _ qs: UnsafePointer<UInt8>, _ a: UnsafeRawPointer) -> (scaled: __m256i, minimums: __m256i) {
        let p = UnsafeRawPointer(packed)
        let u0 = p.loadUnaligned(as: UInt32.self), u1 = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let u2 = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let six: UInt32 = 0x3F3F_3F3F, four: UInt32 = 0x0F0F_0F0F, two: UInt32 = 0x0303_0303
        // Byte j: scale j (minimum j) — `kQuantScaleAndMin(packed, j)`.
        let scaleBytes = UInt64(u0 & six) | UInt64((u2 & four) | (((u0 >> 6) & two) << 4)) << 32
        let minimumBytes = UInt64(u1 & six) | UInt64(((u2 >> 4) & four) | (((u1 >> 6) & two) << 4)) << 32
        // Each minimum twice, against Q8_K's two 16-value sums of its sub-block.
        let minimumPairs = _mm_cvtsi64_si128(Int64(bitPattern: minimumBytes))
        let minimums = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(minimumPairs, minimumPairs))
        let minimumLanes = _mm256_madd_epi16(minimums, load32Bytes(a + Q8_K.sumsOffset))
        // Scale j as a 16-bit value in every lane: a byte shuffle of the eight 16-bit scales.
        let scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(Int64(bitPattern: scaleBytes))))
        @inline(__always)
        func scale(_ j: Int) -> __m256i {
            let word = UInt16(truncatingIfNeeded: 2 &* j) | UInt16(truncatingIfNeeded: 2 &* j &+ 1) << 8
            return _mm256_shuffle_epi8(scales, unsafeBitCast(SIMD16<UInt16>(repeating: word), to: __m256i.self))
        }
        var acc = _mm256_setzero_si256()
        let mask = _mm256_set1_epi8(0x0F)
        let aq = a + Q8_K.quantsOffset
        for chunk in 0..<4 {
            let q = load32Bytes(UnsafeRawPointer(qs + 32 &* chunk))
            let low = _mm256_and_si256(q, mask), high = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask)
            acc = addScaledProducts(acc, low, aq + 64 &* chunk, scale(2 &* chunk))
            acc = addScaledProducts(acc, high, aq + (64 &* chunk &+ 32), scale(2 &* chunk &+ 1))
        }
        return (acc, minimumLanes)
    }
}

extension Q6_K {
    /// The eight 16-value scales of half `half` of the super-block at `w` (scales 8h ..< 8h + 8),
    /// as 16-bit values in both 128-bit lanes.
    @inline(__always)
    static func q6KHalfScales(_ w: UnsafeRawPointer, _ half: Int) -> __m256i {
        _mm256_cvtepi8_epi16(_mm_set1_epi64x(w.loadUnaligned(fromByteOffset: 192 &+ 8 &* half, as: Int64.self)))
    }

    /// The scales of group `k` (32 values) of a half: scale 2k in every 16-bit lane of the low
    /// 128 bits (the group's first 16 values), scale 2k + 1 in the high 128 bits. One byte
    /// shuffle of `q6KHalfScales`; setting the two halves from scalars took six operations.
    @inline(__always)
    static func q6KGroupScales(_ halfScales: __m256i, _ k: Int) -> __m256i {
        let first = UInt16(truncatingIfNeeded: 4 &* k) | UInt16(truncatingIfNeeded: 4 &* k &+ 1) << 8
        let second = UInt16(truncatingIfNeeded: 4 &* k &+ 2) | UInt16(truncatingIfNeeded: 4 &* k &+ 3) << 8
        let words = SIMD16<UInt16>(lowHalf: SIMD8(repeating: first), highHalf: SIMD8(repeating: second))
        return _mm256_shuffle_epi8(halfScales, unsafeBitCast(words, to: __m256i.self))
    }

    /// The exact integer sum of scale * (quant - 32) * activation over one super-block, in
    /// `ggml_vec_dot_q6_K_q8_K`'s eight lanes (lane i: values 4i ..< 4i + 4 of every 32, less
    /// 32 * (bsums[2i] * scale[2i] + bsums[2i + 1] * scale[2i + 1])): the unsigned 6-bit quants
    /// are dotted as they are, and 32 * scale * (sum of the 16 activations of each scale group) —
    /// Q8_K's `bsums` — is taken off at the end.
    @inline(__always)
    static func vnniScaledLanes(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> __m256i {
        let aq = a + Q8_K.quantsOffset
        var acc = _mm256_setzero_si256()
        let mask = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3)
        for half in 0..<2 {
            let ql0 = load32Bytes(w + 64 &* half), ql1 = load32Bytes(w + (64 &* half &+ 32))
            let qh = load32Bytes(w + (128 &+ 32 &* half))
            let halfScales = q6KHalfScales(w, half)
            for k in 0..<4 {
                let lowSource = k & 1 == 0 ? ql0 : ql1
                let low = k < 2 ? _mm256_and_si256(lowSource, mask) : _mm256_and_si256(_mm256_srli_epi16(lowSource, 4), mask)
                let highBits = _mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 &* k)), three)
                let quants = _mm256_or_si256(low, _mm256_slli_epi16(highBits, 4))
                acc = addScaledProducts(acc, quants, aq + (128 &* half &+ 32 &* k), q6KGroupScales(halfScales, k))
            }
        }
        // Sum over the sixteen groups of scale * (Q8_K's sum of the group's activations).
        let scales16 = _mm256_cvtepi8_epi16(w.loadUnaligned(fromByteOffset: 192, as: __m128i.self))
        let offset = _mm256_madd_epi16(scales16, load32Bytes(a + Q8_K.sumsOffset))
        return _mm256_sub_epi32(acc, _mm256_slli_epi32(offset, 5))
    }
}
#endif
