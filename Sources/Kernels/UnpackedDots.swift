// Batched products (prompt processing) with each weight row unpacked once per tile.
//
// The per-pair `dot` unpacks a weight block (nibbles, fifth bits, 6-bit scales) again for every
// activation row. Here a thread unpacks a tile of weight rows once into signed 16-bit quants
// (K-quants: already multiplied by their integer sub-block scale, at most 15 * 63 or 32 * 128 in
// magnitude) plus a few floats per block, sign-extends each activation row's quants to 16 bits
// once, and dots every row of the tile with every row of the batch. The inner loop is then a
// plain Int16 x Int16 -> Int32 sum per block, which LLVM turns into `vpdpwssd` (VNNI). AVX2
// builds keep the Q4_K, Q6_K, Q5_0 and Q4_1 rows as bytes instead, for `vpmaddubsw`
// (AVX2ByteTiles.swift).
//
// Each result is bit for bit the one `dot` gives: the integer sums are exact, and the float
// scaling and the order of the float additions are those of `dot` (`sumSuperBlocks`,
// `sumBlocks`). So a row's output does not depend on the batch it is computed in, which
// continuous batching needs (BatchedProductTests checks it).

/// A weight format whose rows can be unpacked once and then dotted with many activation rows.
protocol UnpackedDotKernel: QuantFormat {
    /// Bytes of one unpacked row of `columns` values (a multiple of 64).
    static func unpackedByteCount(columns: Int) -> Int
    /// Unpacks `count` values (a multiple of `blockSize`) of a row into `output`
    /// (`unpackedByteCount(columns: count)` bytes, 64-byte aligned).
    static func unpack(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer)
    /// Byte offset of the quants inside an `Activation` block.
    static var activationQuantsOffset: Int { get }
    /// Prepares activation row `row` once for all weight rows: `count` Int16 slots at `output`,
    /// passed to the dots as `widened`. By default the quants sign-extended to 16 bits; kernels
    /// on byte quants keep per-block values there instead (or nothing).
    static func prepareActivation(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Int16>)
    /// Dot product of an unpacked row with an activation row in `Activation` whose quants are also
    /// given sign-extended to 16 bits (`widened`, `count` values).
    static func dotUnpacked(
        _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int) -> Float
    /// Smallest batch for which unpacking beats per-pair `dot`s (decode of a few sequences is
    /// faster without it). Measured with 2 threads on weights streamed from memory (32768 x 1024
    /// matrices; AMD EPYC, AVX-512 VNNI).
    static var unpackingPaysFromBatch: Int { get }
    /// Weight rows and activation rows of one register tile (`dotTile`).
    static var tileShape: (rows: Int, activations: Int) { get }
    /// `dotUnpacked` for a tile of `tileShape.rows` unpacked rows (`unpackedStride` bytes apart) and
    /// `tileShape.activations` activation rows: writes `output[b * outputStride + r]` for weight
    /// row r and activation row b, each bit for bit what `dotUnpacked` gives for that pair.
    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int)
}

extension UnpackedDotKernel {
    static func prepareActivation(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Int16>) {
        widenActivationQuants(row, count: count, blockSize: Activation.blockSize, blockBytes: Activation.bytesPerBlock,
                              quantsOffset: activationQuantsOffset, into: output)
    }

    static var tileShape: (rows: Int, activations: Int) { (1, 1) }
    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        output[0] = dotUnpacked(unpacked, activations, widened: widened, count: count)
    }
}

/// The eight exact sums of `count` products of two weight rows with four activation rows, in one
/// pass: each loaded weight vector serves four activation rows and each activation vector two
/// weight rows (half the loads per `vpdpwssd` of `int16Dot`).
///
/// The plain build writes it as eight `int16Dot`s: with `count` a constant (256 or 32 where the
/// tiles call it) each is a fully unrolled reduction, which LLVM turns into widening pairwise
/// multiply-adds (`vpmaddwd`/`vpdpwssd` on x86, `smull`/`smlal` on ARM). One loop carrying all
/// eight sums was vectorised instead as a 32-bit multiply per product (`vpmovsxwd` + `vpmulld`),
/// at under half the speed.
@inline(__always)
func int16Dot2x4(
    _ w0: UnsafePointer<Int16>, _ w1: UnsafePointer<Int16>, _ a: UnsafePointer<Int16>, stride: Int, _ count: Int
) -> (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) {
    #if HEARTH_AVX2
    let s = avx2Int16Dots2x4(w0, w1, a, stride: stride, count: count)
    return (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
    #else
    let a0 = a, a1 = a + stride, a2 = a + 2 &* stride, a3 = a + 3 &* stride
    return (int16Dot(w0, a0, count), int16Dot(w0, a1, count), int16Dot(w0, a2, count), int16Dot(w0, a3, count),
            int16Dot(w1, a0, count), int16Dot(w1, a1, count), int16Dot(w1, a2, count), int16Dot(w1, a3, count))
    #endif
}

@inline(__always)
func roundUp64(_ bytes: Int) -> Int { (bytes &+ 63) & ~63 }

/// Sum of `count` products of 16-bit weights and 16-bit activations (a plain loop: vectorised
/// to `vpdpwssd` with one operand from memory).
@inline(__always)
func int16Dot(_ w: UnsafePointer<Int16>, _ a: UnsafePointer<Int16>, _ count: Int) -> Int32 {
    var sum: Int32 = 0
    for i in 0..<count { sum &+= Int32(w[i]) &* Int32(a[i]) }
    return sum
}

/// Sign-extends the quants of activation row `row` (blocks of `blockSize` quants at
/// `quantsOffset` in blocks of `blockBytes`) to 16 bits.
@inline(__always)
func widenActivationQuants(
    _ row: UnsafeRawPointer, count: Int, blockSize: Int, blockBytes: Int, quantsOffset: Int,
    into output: UnsafeMutablePointer<Int16>
) {
    for block in 0..<count / blockSize {
        let q = row.signedBytes(at: block &* blockBytes &+ quantsOffset), y = output + block &* blockSize
        for i in 0..<blockSize { y[i] = Int16(q[i]) }
    }
}

// MARK: - K-quants (256-value super-blocks, Q8_K activations)

// AVX2 builds keep K-quant rows as bytes instead (AVX2ByteTiles.swift).
#if !HEARTH_AVX2

extension Q4_K: UnpackedDotKernel {
    static var unpackingPaysFromBatch: Int { 5 }
    static var activationQuantsOffset: Int { Q8_K.quantsOffset }
    // Layout: Int16 quant * scale [count], then per block: d: Float, dmin: Float,
    // min of each 16-value group: [Int16; 16] (40 bytes).
    static func unpackedByteCount(columns: Int) -> Int { roundUp64(columns &* 2 &+ (columns / 256) &* 40) }

    static func unpack(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer) {
        let quants = output.assumingMemoryBound(to: Int16.self)
        let meta = output + count &* 2
        for block in 0..<count / 256 {
            let w = row + block &* 144
            let packed = w.bytes(at: 4), qs = w.bytes(at: 16)
            let y = quants + block &* 256
            let m = meta + block &* 40
            m.storeBytes(of: w.half(at: 0), as: Float.self)
            m.storeBytes(of: w.half(at: 2), toByteOffset: 4, as: Float.self)
            let mins = (m + 8).assumingMemoryBound(to: Int16.self)
            for chunk in 0..<4 {
                let (s0, m0) = kQuantScaleAndMin(packed, 2 &* chunk)
                let (s1, m1) = kQuantScaleAndMin(packed, 2 &* chunk &+ 1)
                mins[4 &* chunk] = Int16(m0); mins[4 &* chunk &+ 1] = Int16(m0)
                mins[4 &* chunk &+ 2] = Int16(m1); mins[4 &* chunk &+ 3] = Int16(m1)
                let low = Int16(s0), high = Int16(s1)
                let q = qs + 32 &* chunk, out = y + 64 &* chunk
                for l in 0..<32 {
                    out[l] = Int16(q[l] & 0x0F) &* low
                    out[32 &+ l] = Int16(q[l] >> 4) &* high
                }
            }
        }
    }

    static func dotUnpacked(
        _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int
    ) -> Float {
        let quants = unpacked.assumingMemoryBound(to: Int16.self)
        let meta = unpacked + count &* 2
        var total: Float = 0
        for block in 0..<count / 256 {
            let a = activations + block &* 292
            let m = meta + block &* 40
            let sum = int16Dot(quants + block &* 256, widened + block &* 256, 256)
            let mins = (m + 8).assumingMemoryBound(to: Int16.self)
            let sums = (a + Q8_K.sumsOffset).assumingMemoryBound(to: Int16.self)
            var minSum: Int32 = 0
            for g in 0..<16 { minSum &+= Int32(mins[g]) &* Int32(sums[g]) }
            let scale = a.q8KScale
            let d = m.load(as: Float.self), dmin = m.load(fromByteOffset: 4, as: Float.self)
            total += (d * scale) * Float(sum) - (dmin * scale) * Float(minSum)
        }
        return total
    }

    static var tileShape: (rows: Int, activations: Int) { (2, 4) }

    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let unpacked1 = unpacked + unpackedStride
        let w0 = unpacked.assumingMemoryBound(to: Int16.self), w1 = unpacked1.assumingMemoryBound(to: Int16.self)
        var totals = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
        withUnsafeMutableBytes(of: &totals) { raw in
            let total = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            for block in 0..<count / 256 {
                var s = int16Dot2x4(w0 + block &* 256, w1 + block &* 256, widened + block &* 256, stride: widenedStride, 256)
                withUnsafeBytes(of: &s) { sumBytes in
                    let sums = sumBytes.baseAddress!.assumingMemoryBound(to: Int32.self)
                    for r in 0..<2 {
                        let m = (r == 0 ? unpacked : unpacked1) + (count &* 2 &+ block &* 40)
                        let mins = (m + 8).assumingMemoryBound(to: Int16.self)
                        let d = m.load(as: Float.self), dmin = m.load(fromByteOffset: 4, as: Float.self)
                        for b in 0..<4 {
                            let a = activations + (b &* activationStride &+ block &* 292)
                            let groupSums = (a + Q8_K.sumsOffset).assumingMemoryBound(to: Int16.self)
                            var minSum: Int32 = 0
                            for g in 0..<16 { minSum &+= Int32(mins[g]) &* Int32(groupSums[g]) }
                            let scale = a.q8KScale
                            total[4 &* r &+ b] += (d * scale) * Float(sums[4 &* r &+ b]) - (dmin * scale) * Float(minSum)
                        }
                    }
                }
            }
            for r in 0..<2 { for b in 0..<4 { output[b &* outputStride &+ r] = total[4 &* r &+ b] } }
        }
    }
}

extension Q6_K: UnpackedDotKernel {
    static var unpackingPaysFromBatch: Int { 7 }
    static var activationQuantsOffset: Int { Q8_K.quantsOffset }
    // Layout: Int16 (quant - 32) * scale [count], then d: Float per block.
    static func unpackedByteCount(columns: Int) -> Int { roundUp64(columns &* 2 &+ (columns / 256) &* 4) }

    static func unpack(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer) {
        let quants = output.assumingMemoryBound(to: Int16.self)
        let meta = (output + count &* 2).assumingMemoryBound(to: Float.self)
        for block in 0..<count / 256 {
            let w = row + block &* 210
            meta[block] = w.half(at: 208)
            let scales = w.signedBytes(at: 192)
            let y = quants + block &* 256
            for half in 0..<2 {
                let ql = w.bytes(at: 64 &* half), qh = w.bytes(at: 128 &+ 32 &* half)
                let sc = scales + 8 &* half, out = y + 128 &* half
                // Element 32k + l of this half: nibble k / 2 of ql[32 * (k % 2) + l], bits 2k of qh[l].
                for k in 0..<4 {
                    let lowBytes = ql + 32 &* (k & 1), nibbleShift = UInt8(4 &* (k >> 1)), highShift = UInt8(2 &* k)
                    let s0 = Int16(sc[2 &* k]), s1 = Int16(sc[2 &* k &+ 1])
                    for l in 0..<16 {
                        let quant = Int16(((lowBytes[l] >> nibbleShift) & 0x0F) | (((qh[l] >> highShift) & 3) << 4)) &- 32
                        out[32 &* k &+ l] = quant &* s0
                    }
                    for l in 16..<32 {
                        let quant = Int16(((lowBytes[l] >> nibbleShift) & 0x0F) | (((qh[l] >> highShift) & 3) << 4)) &- 32
                        out[32 &* k &+ l] = quant &* s1
                    }
                }
            }
        }
    }

    static func dotUnpacked(
        _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int
    ) -> Float {
        let quants = unpacked.assumingMemoryBound(to: Int16.self)
        let meta = (unpacked + count &* 2).assumingMemoryBound(to: Float.self)
        var total: Float = 0
        for block in 0..<count / 256 {
            let a = activations + block &* 292
            let sum = int16Dot(quants + block &* 256, widened + block &* 256, 256)
            total += (meta[block] * a.q8KScale) * Float(sum)
        }
        return total
    }

    static var tileShape: (rows: Int, activations: Int) { (2, 4) }

    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let unpacked1 = unpacked + unpackedStride
        let w0 = unpacked.assumingMemoryBound(to: Int16.self), w1 = unpacked1.assumingMemoryBound(to: Int16.self)
        let meta0 = (unpacked + count &* 2).assumingMemoryBound(to: Float.self)
        let meta1 = (unpacked1 + count &* 2).assumingMemoryBound(to: Float.self)
        var totals = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
        withUnsafeMutableBytes(of: &totals) { raw in
            let total = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            for block in 0..<count / 256 {
                let s = int16Dot2x4(w0 + block &* 256, w1 + block &* 256, widened + block &* 256, stride: widenedStride, 256)
                let scale0 = (activations + block &* 292).q8KScale
                let scale1 = (activations + (activationStride &+ block &* 292)).q8KScale
                let scale2 = (activations + (2 &* activationStride &+ block &* 292)).q8KScale
                let scale3 = (activations + (3 &* activationStride &+ block &* 292)).q8KScale
                let d0 = meta0[block], d1 = meta1[block]
                total[0] += (d0 * scale0) * Float(s.0); total[1] += (d0 * scale1) * Float(s.1)
                total[2] += (d0 * scale2) * Float(s.2); total[3] += (d0 * scale3) * Float(s.3)
                total[4] += (d1 * scale0) * Float(s.4); total[5] += (d1 * scale1) * Float(s.5)
                total[6] += (d1 * scale2) * Float(s.6); total[7] += (d1 * scale3) * Float(s.7)
            }
            for r in 0..<2 { for b in 0..<4 { output[b &* outputStride &+ r] = total[4 &* r &+ b] } }
        }
    }
}
#endif

// MARK: - 32-value formats (Q8_0 / Q8_1 activations)

/// Dot of an unpacked 32-value-block row (Int16 quants, then one Float scale per block) with Q8_0
/// activations, in the same four float accumulators as `sumBlocks`, so the result is bit for bit
/// that of `Q8_0.dot` / `Q5_0.dot`.
@inline(__always)
func dotUnpacked32(
    _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int
) -> Float {
    let quants = unpacked.assumingMemoryBound(to: Int16.self)
    let scales = (unpacked + count &* 2).assumingMemoryBound(to: Float.self)
    let blocks = count / 32
    @inline(__always) func blockDot(_ block: Int) -> Float {
        let sum = int16Dot(quants + block &* 32, widened + block &* 32, 32)
        return Float(sum) * (scales[block] * (activations + block &* 34).half(at: 0))
    }
    return sumBlockValues(blocks, blockDot)
}

/// `dotUnpacked32` for 2 unpacked rows x 4 activation rows at once: the eight block sums of a
/// block are reduced together and their floats kept side by side (one 8-wide vector per
/// accumulator), each lane doing exactly the float operations of `dotUnpacked32` for its pair.
@inline(__always)
func dotTile32(
    _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
    widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
) {
    let w0 = unpacked.assumingMemoryBound(to: Int16.self)
    let w1 = (unpacked + unpackedStride).assumingMemoryBound(to: Int16.self)
    let scales0 = (unpacked + count &* 2).assumingMemoryBound(to: Float.self)
    let scales1 = (unpacked + (unpackedStride &+ count &* 2)).assumingMemoryBound(to: Float.self)
    let blocks = count / 32
    @inline(__always) func blockDots(_ block: Int) -> SIMD8<Float> {
        let sums = tileBlockSums32(w0 + block &* 32, w1 + block &* 32, widened + block &* 32, stride: widenedStride)
        let b = block &* 34
        let d0 = (activations + b).half(at: 0), d1 = (activations + (activationStride &+ b)).half(at: 0)
        let d2 = (activations + (2 &* activationStride &+ b)).half(at: 0)
        let d3 = (activations + (3 &* activationStride &+ b)).half(at: 0)
        let x0 = scales0[block], x1 = scales1[block]
        let products = SIMD8<Float>(x0 * d0, x0 * d1, x0 * d2, x0 * d3, x1 * d0, x1 * d1, x1 * d2, x1 * d3)
        return sums * products
    }
    storeTile32(sumTileBlocks(blocks, blockDots), output: output, outputStride: outputStride)
}

/// The eight exact sums of one 32-value block of two unpacked rows with four widened activation
/// rows (`stride` apart), as floats in a tile's lane order (weight row r, activation row b at
/// lane 4r + b).
@inline(__always)
func tileBlockSums32(_ w0: UnsafePointer<Int16>, _ w1: UnsafePointer<Int16>, _ a: UnsafePointer<Int16>, stride: Int) -> SIMD8<Float> {
    #if HEARTH_AVX2
    avx2Floats(avx2Int16Dots2x4(w0, w1, a, stride: stride, count: 32))
    #else
    let s = int16Dot2x4(w0, w1, a, stride: stride, 32)
    return SIMD8<Float>(Float(s.0), Float(s.1), Float(s.2), Float(s.3), Float(s.4), Float(s.5), Float(s.6), Float(s.7))
    #endif
}

/// `sumBlocks`' four accumulators, lane by lane for the eight pairs of a 2 x 4 tile: block k goes
/// to accumulator k % 4 (the remainder to the first), summed as (s0 + s1) + (s2 + s3).
@inline(__always)
func sumTileBlocks(_ blocks: Int, _ blockDots: (Int) -> SIMD8<Float>) -> SIMD8<Float> {
    var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
    var block = 0
    while block &+ 4 <= blocks {
        s0 += blockDots(block)
        s1 += blockDots(block &+ 1)
        s2 += blockDots(block &+ 2)
        s3 += blockDots(block &+ 3)
        block &+= 4
    }
    while block < blocks {
        s0 += blockDots(block)
        block &+= 1
    }
    return (s0 + s1) + (s2 + s3)
}

/// Writes a 2 x 4 tile's lanes (weight row r, activation row b at lane 4r + b) to
/// `output[b * outputStride + r]`.
@inline(__always)
func storeTile32(_ total: SIMD8<Float>, output: UnsafeMutablePointer<Float>, outputStride: Int) {
    for b in 0..<4 {
        output[b &* outputStride] = total[b]
        output[b &* outputStride &+ 1] = total[4 &+ b]
    }
}

extension Q8_0: UnpackedDotKernel {
    #if HEARTH_AVX512_VNNI
    /// Never: the VNNI dots (VNNIDots.swift) are faster at every batch, and a row's result must
    /// not depend on its batch.
    static var unpackingPaysFromBatch: Int { .max }
    #else
    static var unpackingPaysFromBatch: Int { 8 }
    #endif
    static var activationQuantsOffset: Int { 2 }
    // Layout: Int16 quants [count], then d: Float per block.
    static func unpackedByteCount(columns: Int) -> Int { roundUp64(columns &* 2 &+ (columns / 32) &* 4) }

    static func unpack(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer) {
        let quants = output.assumingMemoryBound(to: Int16.self)
        let scales = (output + count &* 2).assumingMemoryBound(to: Float.self)
        // The quants are gathered into a stack buffer first: read straight from the row, LLVM
        // must assume the Int16 stores may alias them and converts byte by byte.
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: count) { gathered in
            let q = gathered.baseAddress!
            for block in 0..<count / 32 {
                let w = row + block &* 34
                scales[block] = w.half(at: 0)
                UnsafeMutableRawPointer(q + block &* 32).copyMemory(from: w + 2, byteCount: 32)
            }
            for i in 0..<count { quants[i] = Int16(q[i]) }
        }
    }

    static func dotUnpacked(
        _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int
    ) -> Float {
        dotUnpacked32(unpacked, activations, widened: widened, count: count)
    }

    static var tileShape: (rows: Int, activations: Int) { (2, 4) }

    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        dotTile32(unpacked, unpackedStride: unpackedStride, activations, activationStride: activationStride,
                  widened: widened, widenedStride: widenedStride, count: count, output: output, outputStride: outputStride)
    }
}

// AVX2 builds keep Q5_0 and Q4_1 rows as bytes instead (AVX2ByteTiles.swift).
#if !HEARTH_AVX2
extension Q5_0: UnpackedDotKernel {
    static var unpackingPaysFromBatch: Int { 2 }
    static var activationQuantsOffset: Int { 2 }
    // Layout: Int16 (quant - 16) [count], then d: Float per block.
    static func unpackedByteCount(columns: Int) -> Int { roundUp64(columns &* 2 &+ (columns / 32) &* 4) }

    static func unpack(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer) {
        let quants = output.assumingMemoryBound(to: Int16.self)
        let scales = (output + count &* 2).assumingMemoryBound(to: Float.self)
        for block in 0..<count / 32 {
            let w = row + block &* 22
            scales[block] = w.half(at: 0)
            let qh = w.uint32(at: 2), qs = w.bytes(at: 6), y = quants + block &* 32
            for j in 0..<16 {
                let low = Int16(qs[j] & 0x0F) | Int16(truncatingIfNeeded: (qh >> UInt32(j)) & 1) << 4
                let high = Int16(qs[j] >> 4) | Int16(truncatingIfNeeded: (qh >> UInt32(j &+ 16)) & 1) << 4
                y[j] = low &- 16
                y[j &+ 16] = high &- 16
            }
        }
    }

    static func dotUnpacked(
        _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int
    ) -> Float {
        dotUnpacked32(unpacked, activations, widened: widened, count: count)
    }

    static var tileShape: (rows: Int, activations: Int) { (2, 4) }

    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        dotTile32(unpacked, unpackedStride: unpackedStride, activations, activationStride: activationStride,
                  widened: widened, widenedStride: widenedStride, count: count, output: output, outputStride: outputStride)
    }
}

extension Q4_1: UnpackedDotKernel {
    static var unpackingPaysFromBatch: Int { 4 }
    static var activationQuantsOffset: Int { 4 }
    // Layout: Int16 quants [count], then per block d: Float, m: Float.
    static func unpackedByteCount(columns: Int) -> Int { roundUp64(columns &* 2 &+ (columns / 32) &* 8) }

    static func unpack(_ row: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer) {
        let quants = output.assumingMemoryBound(to: Int16.self)
        let scales = (output + count &* 2).assumingMemoryBound(to: Float.self)
        // Nibbles gathered into a stack buffer first (see Q8_0).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count / 2) { gathered in
            let q = gathered.baseAddress!
            for block in 0..<count / 32 {
                let w = row + block &* 20
                scales[2 &* block] = w.half(at: 0)
                scales[2 &* block &+ 1] = w.half(at: 2)
                UnsafeMutableRawPointer(q + block &* 16).copyMemory(from: w + 4, byteCount: 16)
            }
            for block in 0..<count / 32 {
                let qs = q + block &* 16, y = quants + block &* 32
                for j in 0..<16 {
                    y[j] = Int16(qs[j] & 0x0F)
                    y[j &+ 16] = Int16(qs[j] >> 4)
                }
            }
        }
    }

    /// As `dot`: d_w d_a sum(q_w q_a) + m_w s_a per block, with Q8_1's s_a = d_a sum(q_a).
    static func dotUnpacked(
        _ unpacked: UnsafeRawPointer, _ activations: UnsafeRawPointer, widened: UnsafePointer<Int16>, count: Int
    ) -> Float {
        let quants = unpacked.assumingMemoryBound(to: Int16.self)
        let scales = (unpacked + count &* 2).assumingMemoryBound(to: Float.self)
        let blocks = count / 32
        @inline(__always) func blockDot(_ block: Int) -> Float {
            let a = activations + block &* 36
            let sum = int16Dot(quants + block &* 32, widened + block &* 32, 32)
            return Float(sum) * (scales[2 &* block] * a.half(at: 0)) + scales[2 &* block &+ 1] * a.half(at: 2)
        }
        return sumBlockValues(blocks, blockDot)
    }

    static var tileShape: (rows: Int, activations: Int) { (2, 4) }

    /// `dotUnpacked` for 2 unpacked rows x 4 activation rows, as `dotTile32`: each lane does its
    /// pair's float operations, d_w d_a sum + m_w s_a, in `sumBlocks`' four accumulators.
    static func dotTile(
        _ unpacked: UnsafeRawPointer, unpackedStride: Int, _ activations: UnsafeRawPointer, activationStride: Int,
        widened: UnsafePointer<Int16>, widenedStride: Int, count: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let w0 = unpacked.assumingMemoryBound(to: Int16.self)
        let w1 = (unpacked + unpackedStride).assumingMemoryBound(to: Int16.self)
        let scales0 = (unpacked + count &* 2).assumingMemoryBound(to: Float.self)
        let scales1 = (unpacked + (unpackedStride &+ count &* 2)).assumingMemoryBound(to: Float.self)
        @inline(__always) func blockDots(_ block: Int) -> SIMD8<Float> {
            let sums = tileBlockSums32(w0 + block &* 32, w1 + block &* 32, widened + block &* 32, stride: widenedStride)
            let b = block &* 36
            let r0 = activations + b, r1 = activations + (activationStride &+ b)
            let r2 = activations + (2 &* activationStride &+ b), r3 = activations + (3 &* activationStride &+ b)
            let d = SIMD4<Float>(r0.half(at: 0), r1.half(at: 0), r2.half(at: 0), r3.half(at: 0))
            let s = SIMD4<Float>(r0.half(at: 2), r1.half(at: 2), r2.half(at: 2), r3.half(at: 2))
            let dw0 = scales0[2 &* block], mw0 = scales0[2 &* block &+ 1]
            let dw1 = scales1[2 &* block], mw1 = scales1[2 &* block &+ 1]
            let products = SIMD8<Float>(lowHalf: dw0 * d, highHalf: dw1 * d)
            let minimums = SIMD8<Float>(lowHalf: mw0 * s, highHalf: mw1 * s)
            return sums * products + minimums
        }
        storeTile32(sumTileBlocks(count / 32, blockDots), output: output, outputStride: outputStride)
    }
}
#endif

// MARK: - Driver

/// Bytes of unpacked weight rows a thread keeps per tile (in L2 while activation rows stream past).
let unpackedTileBytes = 256 * 1024

/// Y = X W^T for a batch, each weight row unpacked once per tile of rows: threads split the weight
/// rows; for each tile, every activation row (in L1) is dotted with every unpacked row of the tile.
func multiplyUnpacked<U: UnpackedDotKernel>(
    _ format: U.Type, weights: WeightMatrix, activations: QuantizedActivations,
    output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
) {
    let rows = weights.rows, columns = weights.columns, batch = activations.rows
    let w = weights.data, rowBytes = weights.rowByteCount
    let a = UnsafeRawPointer(activations.storage), activationBytes = activations.rowByteCount
    let unpackedBytes = U.unpackedByteCount(columns: columns)
    let (tileRows, tileBatch) = U.tileShape
    let tile = max(4, min(64, unpackedTileBytes / unpackedBytes)) / tileRows * tileRows
    // Each activation row prepared once for all weight rows (its quants sign-extended).
    let widened = UnsafeMutablePointer<Int16>.allocate(capacity: batch &* columns)
    defer { widened.deallocate() }
    let widen = { (range: Range<Int>) in
        for b in range { U.prepareActivation(a + b &* activationBytes, count: columns, into: widened + b &* columns) }
    }
    if parallel, let pool { pool.parallelFor(batch, widen) } else { widen(0..<batch) }
    let work = { (range: Range<Int>) in
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: unpackedBytes &* min(tile, range.count), alignment: 64)
        defer { buffer.deallocate() }
        var tileStart = range.lowerBound
        while tileStart < range.upperBound {
            let tileEnd = min(tileStart &+ tile, range.upperBound)
            for r in tileStart..<tileEnd {
                U.unpack(w + r &* rowBytes, count: columns, into: buffer + (r &- tileStart) &* unpackedBytes)
            }
            // Register tiles of tileRows x tileBatch products, then the edges pair by pair.
            let fullRows = tileStart &+ (tileEnd &- tileStart) / tileRows &* tileRows
            var b = 0
            while b &+ tileBatch <= batch {
                let x = a + b &* activationBytes, xw = UnsafePointer(widened + b &* columns), y = output + b &* rows
                var r = tileStart
                while r < fullRows {
                    U.dotTile(buffer + (r &- tileStart) &* unpackedBytes, unpackedStride: unpackedBytes, x,
                              activationStride: activationBytes, widened: xw, widenedStride: columns, count: columns,
                              output: y + r, outputStride: rows)
                    r &+= tileRows
                }
                for r in fullRows..<tileEnd {
                    for j in 0..<tileBatch {
                        y[j &* rows &+ r] = U.dotUnpacked(buffer + (r &- tileStart) &* unpackedBytes, x + j &* activationBytes,
                                                          widened: xw + j &* columns, count: columns)
                    }
                }
                b &+= tileBatch
            }
            for b in b..<batch {
                let x = a + b &* activationBytes, xw = UnsafePointer(widened + b &* columns), y = output + b &* rows
                for r in tileStart..<tileEnd {
                    y[r] = U.dotUnpacked(buffer + (r &- tileStart) &* unpackedBytes, x, widened: xw, count: columns)
                }
            }
            tileStart = tileEnd
        }
    }
    if parallel, let pool { pool.parallelFor(rows, grain: tile, work) } else { work(0..<rows) }
}
