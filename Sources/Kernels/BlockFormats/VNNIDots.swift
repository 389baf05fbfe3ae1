// Dot products on AVX-512 VNNI (`vpdpbusd`: 32 unsigned x signed byte products summed into eight
// 32-bit lanes in one instruction), for release builds on CPUs that have it (Package.swift
// defines HEARTH_AVX512_VNNI). LLVM does not form `vpdpbusd` from plain loops, so these call the
// instruction through Clang's intrinsics module; everything around it stays plain Swift. (The
// 256-bit VNNI intrinsics are C macros, which Swift cannot import; their masked forms are
// functions, and an all-ones mask compiles to the plain instruction.)
//
// 32-value formats follow ggml's x86 kernels: a block's integer products land in eight lanes that
// are converted to floats and added with one fused multiply-add per block into an 8-lane float
// accumulator; the eight lanes are summed once per row. (The plain-loop kernels sum each block to
// one integer first: a horizontal sum per block, most of their time.) Signed weights use ggml's
// trick for the unsigned x signed instruction: |w| times (a with w's sign).
//
// K-quants keep their exact integer super-block sums (the same floats as the plain-loop and
// unpacked kernels, bit for bit): `vpmaddubsw` pairs then `vpdpwssd` with the sub-block scales.
//
// The batched forms dot one weight row with four activation rows, loading and decoding each
// weight block once; every lane does exactly the single-row operations, so a row's result does
// not depend on its batch.

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
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool)
}

/// Activation quants start after `d` (Q8_0) or after `d` and `s` (Q8_1).
@inline(__always)
func activationQuantsOffset<F: VNNIBlock32>(_ format: F.Type) -> Int {
    F.quantsAreSigned ? 2 : 4
}

/// Integer products of one weight block's quants (`wx`, plus `wabs` = |wx| when signed) with one
/// activation block's quants, in eight lanes.
@inline(__always)
func blockProducts<F: VNNIBlock32>(_ format: F.Type, _ wx: __m256i, _ wabs: __m256i, _ ay: __m256i) -> __m256
{
    let zero = _mm256_setzero_si256()
    let sums = F.quantsAreSigned
        ? _mm256_mask_dpbusd_epi32(zero, 0xFF, wabs, _mm256_sign_epi8(ay, wx))
        : _mm256_mask_dpbusd_epi32(zero, 0xFF, wx, ay)
    return _mm256_cvtepi32_ps(sums)
}

/// The f16 at byte 0 of each of eight consecutive blocks `blockBytes` apart, as floats (one
/// conversion for eight: a conversion per block was most of the time of the loop).
@inline(__always)
func eightScales(_ base: UnsafeRawPointer, blockBytes: Int) -> __m256 {
    let halves = SIMD8<UInt16>(
        base.load(as: UInt16.self), (base + blockBytes).loadUnaligned(as: UInt16.self),
        (base + 2 &* blockBytes).loadUnaligned(as: UInt16.self), (base + 3 &* blockBytes).loadUnaligned(as: UInt16.self),
        (base + 4 &* blockBytes).loadUnaligned(as: UInt16.self), (base + 5 &* blockBytes).loadUnaligned(as: UInt16.self),
        (base + 6 &* blockBytes).loadUnaligned(as: UInt16.self), (base + 7 &* blockBytes).loadUnaligned(as: UInt16.self))
    return _mm256_cvtph_ps(unsafeBitCast(halves, to: __m128i.self))
}

/// Sum over the blocks of a row of the weight block's minimum `m` times the activation block's
/// `s` (bytes 2 of both): the Q4_1 / Q5_1 term outside the integer products, eight blocks per
/// vector. The single-row and batched dots both take it from here, so they agree bit for bit.
@inline(__always)
func minimumTerm<F: VNNIBlock32>(
    _ format: F.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, blocks: Int,
    activationSums: UnsafePointer<Float>? = nil
) -> Float {
    let wBytes = F.bytesPerBlock, aBytes = F.Activation.bytesPerBlock
    var acc = _mm256_setzero_ps()
    var block = 0
    while block &+ 8 <= blocks {
        let s = activationSums.map { UnsafeRawPointer($0 + block).loadUnaligned(as: __m256.self) }
            ?? eightScales(activations + (block &* aBytes &+ 2), blockBytes: aBytes)
        acc = _mm256_add_ps(acc, _mm256_mul_ps(eightScales(weights + (block &* wBytes &+ 2), blockBytes: wBytes), s))
        block &+= 8
    }
    var rest: Float = 0
    while block < blocks {
        let s = activationSums.map { $0[block] } ?? (activations + block &* aBytes).half(at: 2)
        rest += (weights + block &* wBytes).half(at: 2) * s
        block &+= 1
    }
    return horizontalSum(acc) + rest
}

/// Lane `lane` of `v` in all eight lanes.
@inline(__always)
func broadcastLane(_ v: __m256, _ lane: Int32) -> __m256 {
    _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(lane))
}

/// Adds block `block` of a weight row dotted with the same block of an activation row to `acc`,
/// `scale` being the product of the two blocks' `d` in all lanes.
@inline(__always)
func accumulateBlock<F: VNNIBlock32>(
    _ format: F.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int, scale: __m256,
    _ acc: inout __m256
) {
    let w = weights + block &* F.bytesPerBlock, a = activations + block &* F.Activation.bytesPerBlock
    let wx = F.quants(w)
    let wabs = F.quantsAreSigned ? _mm256_sign_epi8(wx, wx) : wx
    acc = _mm256_fmadd_ps(scale, blockProducts(F.self, wx, wabs, load32Bytes(a + activationQuantsOffset(F.self))), acc)
}

/// One weight row with one activation row. Even and odd blocks go to two accumulators, so two
/// multiply-add chains run side by side; the scales of eight blocks are converted together.
@inline(__always)
func vnniDot32<F: VNNIBlock32>(
    _ format: F.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int,
    activationScales: UnsafePointer<Float>? = nil, activationSums: UnsafePointer<Float>? = nil
) -> Float {
    var acc0 = _mm256_setzero_ps(), acc1 = acc0
    let blocks = count / 32, wBytes = F.bytesPerBlock, aBytes = F.Activation.bytesPerBlock
    var block = 0
    while block &+ 8 <= blocks {
        let activationEight = activationScales.map { UnsafeRawPointer($0 + block).loadUnaligned(as: __m256.self) }
            ?? eightScales(activations + block &* aBytes, blockBytes: aBytes)
        let scales = _mm256_mul_ps(eightScales(weights + block &* wBytes, blockBytes: wBytes), activationEight)
        for k in 0..<4 {
            let even = block &+ 2 &* k
            accumulateBlock(F.self, weights, activations, block: even, scale: broadcastLane(scales, Int32(2 &* k)), &acc0)
            accumulateBlock(F.self, weights, activations, block: even &+ 1, scale: broadcastLane(scales, Int32(2 &* k &+ 1)), &acc1)
        }
        block &+= 8
    }
    while block < blocks {
        let da = activationScales.map { $0[block] } ?? (activations + block &* aBytes).half(at: 0)
        let scale = _mm256_set1_ps((weights + block &* wBytes).half(at: 0) * da)
        if block & 1 == 0 {
            accumulateBlock(F.self, weights, activations, block: block, scale: scale, &acc0)
        } else {
            accumulateBlock(F.self, weights, activations, block: block, scale: scale, &acc1)
        }
        block &+= 1
    }
    let products = horizontalSum(_mm256_add_ps(acc0, acc1))
    return F.quantsAreSigned
        ? products : products + minimumTerm(F.self, weights, activations, blocks: blocks, activationSums: activationSums)
}

/// Block `block` of a weight row (decoded once) dotted with four activation rows: `vnniDot32`'s
/// operations for each of them, `weightScale` being the weight block's `d`.
@inline(__always)
func accumulateBlock4<F: VNNIBlock32>(
    _ format: F.Type, _ weights: UnsafeRawPointer, _ a0: UnsafeRawPointer, _ a1: UnsafeRawPointer,
    _ a2: UnsafeRawPointer, _ a3: UnsafeRawPointer, block: Int, weightScale d: Float,
    _ scales: ActivationScales4,
    _ acc0: inout __m256, _ acc1: inout __m256, _ acc2: inout __m256, _ acc3: inout __m256
) {
    let w = weights + block &* F.bytesPerBlock, offset = block &* F.Activation.bytesPerBlock
    let quants = offset &+ activationQuantsOffset(F.self)
    let wx = F.quants(w)
    let wabs = F.quantsAreSigned ? _mm256_sign_epi8(wx, wx) : wx
    let dw = _mm256_set1_ps(d)
    acc0 = _mm256_fmadd_ps(_mm256_mul_ps(dw, scales.scale(0, block, a0, offset)), blockProducts(F.self, wx, wabs, load32Bytes(a0 + quants)), acc0)
    acc1 = _mm256_fmadd_ps(_mm256_mul_ps(dw, scales.scale(1, block, a1, offset)), blockProducts(F.self, wx, wabs, load32Bytes(a1 + quants)), acc1)
    acc2 = _mm256_fmadd_ps(_mm256_mul_ps(dw, scales.scale(2, block, a2, offset)), blockProducts(F.self, wx, wabs, load32Bytes(a2 + quants)), acc2)
    acc3 = _mm256_fmadd_ps(_mm256_mul_ps(dw, scales.scale(3, block, a3, offset)), blockProducts(F.self, wx, wabs, load32Bytes(a3 + quants)), acc3)
}

/// The `d` of the blocks of four activation rows: converted once per product (`floats`, `blocks`
/// per row) or read from the rows' f16 as needed.
struct ActivationScales4 {
    let floats: UnsafePointer<Float>?
    let blocks: Int

    /// Activation row `row`'s `d` for block `block` (whose bytes start at `rowStart + offset`), in
    /// all lanes.
    @inline(__always)
    func scale(_ row: Int, _ block: Int, _ rowStart: UnsafeRawPointer, _ offset: Int) -> __m256 {
        if let floats { return _mm256_set1_ps(floats[row &* blocks &+ block]) }
        return _mm256_set1_ps((rowStart + offset).half(at: 0))
    }
}

/// Y = X W^T over a 32-value format for a batch of activation rows: threads split the weight rows,
/// walked in tiles of `weightRowTile` rows; each tile meets every activation row, whose `d` are
/// converted to floats once for the whole product.
@inline(__always)
func multiplyVNNI32<F: VNNIBlock32>(
    _ format: F.Type, weights w: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations a: UnsafeRawPointer, activationBytes: Int, batch: Int,
    output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
) {
    // Panels (VNNIPanels32.swift) from the batch where they win, measured with 2 threads on
    // 32768 x 1024 weights (at 64 rows: Q8_0 192 vs 109 GMAC/s, Q5_0 153 vs 101, Q4_1 196 vs 88).
    if batch >= (F.quantsAreSigned ? 10 : 8) {
        multiplyPanels32(
            F.self, weights: w, rows: rows, rowBytes: rowBytes, columns: columns, activations: a,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel)
        return
    }
    let blocks = columns / 32, aBytes = F.Activation.bytesPerBlock
    let scales = UnsafeMutablePointer<Float>.allocate(capacity: batch &* blocks)
    defer { scales.deallocate() }
    for b in 0..<batch {
        for block in 0..<blocks { scales[b &* blocks &+ block] = (a + (b &* activationBytes &+ block &* aBytes)).half(at: 0) }
    }
    let scalePointer = UnsafePointer(scales)
    if batch == 1 {
        // One activation row (decode): its scales (and Q8_1 sums) converted once for all rows.
        let sums: UnsafeMutablePointer<Float>? = F.quantsAreSigned ? nil : .allocate(capacity: blocks)
        defer { sums?.deallocate() }
        if let sums { for block in 0..<blocks { sums[block] = (a + block &* aBytes).half(at: 2) } }
        let sumPointer = sums.map { UnsafePointer($0) }
        let work = { (range: Range<Int>) in
            for r in range {
                output[r] = vnniDot32(
                    F.self, w + r &* rowBytes, a, count: columns, activationScales: scalePointer, activationSums: sumPointer)
            }
        }
        if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
        return
    }
    // Signed weights: the activation quants offset to unsigned bytes (q + 128) once for the product.
    let unsignedActivations: UnsafeMutablePointer<UInt8>? = F.quantsAreSigned ? .allocate(capacity: batch &* columns) : nil
    defer { unsignedActivations?.deallocate() }
    if let unsignedActivations {
        for b in 0..<batch {
            for block in 0..<blocks {
                let q = (a + (b &* activationBytes &+ block &* aBytes &+ 2)).assumingMemoryBound(to: UInt8.self)
                let out = unsignedActivations + (b &* columns &+ block &* 32)
                for i in 0..<32 { out[i] = q[i] ^ 0x80 }
            }
        }
    }
    let offsetPointer = unsignedActivations.map { UnsafePointer($0) }
    let work = { (range: Range<Int>) in
        for r in range {
            if let offsetPointer {
                signedDot32Batch(
                    F.self, w + r &* rowBytes, activations: a, activationStride: activationBytes, unsignedQuants: offsetPointer,
                    activationCount: batch, count: columns, into: output + r, outputStride: rows, activationScales: scalePointer)
            } else {
                vnniDot32Batch(
                    F.self, w + r &* rowBytes, activations: a, activationStride: activationBytes, activationCount: batch,
                    count: columns, into: output + r, outputStride: rows, activationScales: scalePointer)
            }
        }
    }
    if parallel, let pool { pool.parallelFor(rows, grain: weightRowTile, work) } else { work(0..<rows) }
}

/// `vnniDot32Batch` for a signed format, with the activation quants given as unsigned bytes
/// (`unsignedQuants`, q + 128, `count` per row) and their scales as floats: `vpdpbusd` then takes
/// them as they are, starting from -128 * (the weight block's lane sums) so that each lane comes
/// out as exactly the signed sum — one instruction per pair of blocks instead of two.
@inline(__always)
func signedDot32Batch<F: VNNIBlock32>(
    _ format: F.Type, _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
    unsignedQuants: UnsafePointer<UInt8>, activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>,
    outputStride: Int, activationScales: UnsafePointer<Float>
) {
    let blocks = count / 32
    var first = 0
    // Eight activation rows per decoded weight block, then four, then one at a time.
    while first &+ 8 <= activationCount {
        var sums = SignedBlockSums4(), more = SignedBlockSums4()
        for block in 0..<blocks {
            let (wx, start, dw) = decodedSignedBlock(F.self, weights, block: block)
            sums.add(block: block, wx, start, dw, unsignedQuants + first &* count, activationScales + first &* blocks, count, blocks)
            more.add(block: block, wx, start, dw, unsignedQuants + (first &+ 4) &* count,
                     activationScales + (first &+ 4) &* blocks, count, blocks)
        }
        sums.store(output + first &* outputStride, outputStride)
        more.store(output + (first &+ 4) &* outputStride, outputStride)
        first &+= 8
    }
    while first &+ 4 <= activationCount {
        var sums = SignedBlockSums4()
        for block in 0..<blocks {
            let (wx, start, dw) = decodedSignedBlock(F.self, weights, block: block)
            sums.add(block: block, wx, start, dw, unsignedQuants + first &* count, activationScales + first &* blocks, count, blocks)
        }
        sums.store(output + first &* outputStride, outputStride)
        first &+= 4
    }
    while first < activationCount {
        output[first &* outputStride] = vnniDot32(F.self, weights, activations + first &* activationStride, count: count)
        first &+= 1
    }
}

/// A signed weight block's quants, the lane start values -128 * (sum of each lane's four quants),
/// and its `d` in all lanes.
@inline(__always)
func decodedSignedBlock<F: VNNIBlock32>(_ format: F.Type, _ weights: UnsafeRawPointer, block: Int) -> (__m256i, __m256i, __m256) {
    let w = weights + block &* F.bytesPerBlock
    let wx = F.quants(w), zero = _mm256_setzero_si256()
    let laneSums = _mm256_mask_dpbusd_epi32(zero, 0xFF, _mm256_set1_epi8(1), wx)
    return (wx, _mm256_sub_epi32(zero, _mm256_slli_epi32(laneSums, 7)), _mm256_set1_ps(w.half(at: 0)))
}

/// The accumulators of four activation rows in `signedDot32Batch`: even blocks and odd blocks
/// apart, as `vnniDot32` adds them.
struct SignedBlockSums4 {
    var even0 = _mm256_setzero_ps(), even1 = _mm256_setzero_ps(), even2 = _mm256_setzero_ps(), even3 = _mm256_setzero_ps()
    var odd0 = _mm256_setzero_ps(), odd1 = _mm256_setzero_ps(), odd2 = _mm256_setzero_ps(), odd3 = _mm256_setzero_ps()

    /// Adds block `block` of four rows (unsigned quants from `quants`, `columns` apart; float
    /// scales from `scales`, `blocks` apart).
    @inline(__always)
    mutating func add(
        block: Int, _ wx: __m256i, _ start: __m256i, _ dw: __m256, _ quants: UnsafePointer<UInt8>,
        _ scales: UnsafePointer<Float>, _ columns: Int, _ blocks: Int
    ) {
        let u = UnsafeRawPointer(quants) + block &* 32, s = scales + block
        let p0 = product(wx, start, dw, u, s[0])
        let p1 = product(wx, start, dw, u + columns, s[blocks])
        let p2 = product(wx, start, dw, u + 2 &* columns, s[2 &* blocks])
        let p3 = product(wx, start, dw, u + 3 &* columns, s[3 &* blocks])
        if block & 1 == 0 {
            even0 = _mm256_fmadd_ps(p0.scale, p0.sums, even0); even1 = _mm256_fmadd_ps(p1.scale, p1.sums, even1)
            even2 = _mm256_fmadd_ps(p2.scale, p2.sums, even2); even3 = _mm256_fmadd_ps(p3.scale, p3.sums, even3)
        } else {
            odd0 = _mm256_fmadd_ps(p0.scale, p0.sums, odd0); odd1 = _mm256_fmadd_ps(p1.scale, p1.sums, odd1)
            odd2 = _mm256_fmadd_ps(p2.scale, p2.sums, odd2); odd3 = _mm256_fmadd_ps(p3.scale, p3.sums, odd3)
        }
    }

    @inline(__always)
    func product(_ wx: __m256i, _ start: __m256i, _ dw: __m256, _ u: UnsafeRawPointer, _ da: Float) -> (scale: __m256, sums: __m256) {
        (_mm256_mul_ps(dw, _mm256_set1_ps(da)), _mm256_cvtepi32_ps(_mm256_mask_dpbusd_epi32(start, 0xFF, load32Bytes(u), wx)))
    }

    @inline(__always)
    func store(_ out: UnsafeMutablePointer<Float>, _ stride: Int) {
        out[0] = horizontalSum(_mm256_add_ps(even0, odd0)); out[stride] = horizontalSum(_mm256_add_ps(even1, odd1))
        out[2 &* stride] = horizontalSum(_mm256_add_ps(even2, odd2)); out[3 &* stride] = horizontalSum(_mm256_add_ps(even3, odd3))
    }
}

/// One weight row with `activationCount` activation rows: groups of four share each decoded weight
/// block; the results equal `vnniDot32`'s bit for bit (the same products, the same accumulators).
@inline(__always)
func vnniDot32Batch<F: VNNIBlock32>(
    _ format: F.Type, _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
    activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int,
    activationScales: UnsafePointer<Float>? = nil
) {
    let blocks = count / 32
    var first = 0
    while first &+ 4 <= activationCount {
        let a0 = activations + first &* activationStride, a1 = a0 + activationStride
        let a2 = a1 + activationStride, a3 = a2 + activationStride
        let scales = ActivationScales4(floats: activationScales.map { $0 + first &* blocks }, blocks: blocks)
        var even0 = _mm256_setzero_ps(), even1 = even0, even2 = even0, even3 = even0
        var odd0 = even0, odd1 = even0, odd2 = even0, odd3 = even0
        var block = 0
        while block &+ 2 <= blocks {
            accumulateBlock4(F.self, weights, a0, a1, a2, a3, block: block, weightScale: (weights + block &* F.bytesPerBlock).half(at: 0), scales,
                             &even0, &even1, &even2, &even3)
            accumulateBlock4(F.self, weights, a0, a1, a2, a3, block: block &+ 1,
                             weightScale: (weights + (block &+ 1) &* F.bytesPerBlock).half(at: 0), scales,
                             &odd0, &odd1, &odd2, &odd3)
            block &+= 2
        }
        if block < blocks {
            accumulateBlock4(F.self, weights, a0, a1, a2, a3, block: block, weightScale: (weights + block &* F.bytesPerBlock).half(at: 0), scales,
                             &even0, &even1, &even2, &even3)
        }
        var results = SIMD4(
            horizontalSum(_mm256_add_ps(even0, odd0)), horizontalSum(_mm256_add_ps(even1, odd1)),
            horizontalSum(_mm256_add_ps(even2, odd2)), horizontalSum(_mm256_add_ps(even3, odd3)))
        if !F.quantsAreSigned {
            results += SIMD4(
                minimumTerm(F.self, weights, a0, blocks: blocks), minimumTerm(F.self, weights, a1, blocks: blocks),
                minimumTerm(F.self, weights, a2, blocks: blocks), minimumTerm(F.self, weights, a3, blocks: blocks))
        }
        let out = output + first &* outputStride
        out[0] = results[0]; out[outputStride] = results[1]
        out[2 &* outputStride] = results[2]; out[3 &* outputStride] = results[3]
        first &+= 4
    }
    while first < activationCount {
        output[first &* outputStride] = vnniDot32(F.self, weights, activations + first &* activationStride, count: count)
        first &+= 1
    }
}

extension Q4_0: VNNIBlock32 {
    static func multiplyBatch(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyVNNI32(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel)
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
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyVNNI32(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel)
    }
    static var quantsAreSigned: Bool { false }
    @inline(__always)
    static func quants(_ block: UnsafeRawPointer) -> __m256i { nibblesAsBytes(block + 4) }
}

extension Q5_0: VNNIBlock32 {
    static func multiplyBatch(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyVNNI32(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel)
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
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyVNNI32(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel)
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
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyVNNI32(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel)
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
    /// activation (`blockDot`'s two sums), scales and minimums unpacked once for both.
    @inline(__always)
    static func vnniSums(_ packed: UnsafePointer<UInt8>, _ qs: UnsafePointer<UInt8>, _ a: UnsafeRawPointer) -> (scaled: Int32, minimums: Int32) {
        var acc = _mm256_setzero_si256()
        var minimums = SIMD16<Int16>()
        let mask = _mm256_set1_epi8(0x0F)
        let aq = a + Q8_K.quantsOffset
        for chunk in 0..<4 {
            let (s0, m0) = kQuantScaleAndMin(packed, 2 &* chunk)
            let (s1, m1) = kQuantScaleAndMin(packed, 2 &* chunk &+ 1)
            minimums[4 &* chunk] = Int16(truncatingIfNeeded: m0); minimums[4 &* chunk &+ 1] = Int16(truncatingIfNeeded: m0)
            minimums[4 &* chunk &+ 2] = Int16(truncatingIfNeeded: m1); minimums[4 &* chunk &+ 3] = Int16(truncatingIfNeeded: m1)
            let q = load32Bytes(UnsafeRawPointer(qs + 32 &* chunk))
            let low = _mm256_and_si256(q, mask), high = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask)
            acc = addScaledProducts(acc, low, aq + 64 &* chunk, _mm256_set1_epi16(Int16(truncatingIfNeeded: s0)))
            acc = addScaledProducts(acc, high, aq + (64 &* chunk &+ 32), _mm256_set1_epi16(Int16(truncatingIfNeeded: s1)))
        }
        let minimumSum = horizontalSum(_mm256_madd_epi16(unsafeBitCast(minimums, to: __m256i.self), load32Bytes(a + Q8_K.sumsOffset)))
        return (horizontalSum(acc), minimumSum)
    }
}

extension Q6_K {
    /// The exact integer sum of scale * (quant - 32) * activation over one super-block: the
    /// unsigned 6-bit quants are dotted as they are, and 32 * scale * (sum of the 16 activations
    /// of each scale group) — Q8_K's `bsums` — is taken off at the end.
    @inline(__always)
    static func vnniScaledSum(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Int32 {
        let scales = w.signedBytes(at: 192), aq = a + Q8_K.quantsOffset
        var acc = _mm256_setzero_si256()
        let mask = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3)
        for half in 0..<2 {
            let ql0 = load32Bytes(w + 64 &* half), ql1 = load32Bytes(w + (64 &* half &+ 32))
            let qh = load32Bytes(w + (128 &+ 32 &* half))
            let sc = scales + 8 &* half
            for k in 0..<4 {
                let lowSource = k & 1 == 0 ? ql0 : ql1
                let low = k < 2 ? _mm256_and_si256(lowSource, mask) : _mm256_and_si256(_mm256_srli_epi16(lowSource, 4), mask)
                let highBits = _mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 &* k)), three)
                let quants = _mm256_or_si256(low, _mm256_slli_epi16(highBits, 4))
                // Elements 0..<16 of the group take scale 2k, elements 16..<32 scale 2k + 1.
                let groupScales = _mm256_set_m128i(
                    _mm_set1_epi16(Int16(sc[2 &* k &+ 1])), _mm_set1_epi16(Int16(sc[2 &* k])))
                acc = addScaledProducts(acc, quants, aq + (128 &* half &+ 32 &* k), groupScales)
            }
        }
        var offset: Int32 = 0
        for group in 0..<16 { offset &+= Int32(scales[group]) &* a.q8KBlockSum(group) }
        return horizontalSum(acc) &- 32 &* offset
    }
}
#endif

#if HEARTH_AVX512_VNNI
// The batched forms of the 32-value formats (the `QuantFormat` requirement's default dots one
// activation row at a time).
extension Q4_0 {
    public static func dot(
        _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
        activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        vnniDot32Batch(Self.self, weights, activations: activations, activationStride: activationStride,
                       activationCount: activationCount, count: count, into: output, outputStride: outputStride)
    }
}

extension Q4_1 {
    public static func dot(
        _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
        activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        vnniDot32Batch(Self.self, weights, activations: activations, activationStride: activationStride,
                       activationCount: activationCount, count: count, into: output, outputStride: outputStride)
    }
}

extension Q5_0 {
    public static func dot(
        _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
        activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        vnniDot32Batch(Self.self, weights, activations: activations, activationStride: activationStride,
                       activationCount: activationCount, count: count, into: output, outputStride: outputStride)
    }
}

extension Q5_1 {
    public static func dot(
        _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
        activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        vnniDot32Batch(Self.self, weights, activations: activations, activationStride: activationStride,
                       activationCount: activationCount, count: count, into: output, outputStride: outputStride)
    }
}

extension Q8_0 {
    public static func dot(
        _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
        activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        vnniDot32Batch(Self.self, weights, activations: activations, activationStride: activationStride,
                       activationCount: activationCount, count: count, into: output, outputStride: outputStride)
    }
}
#endif
