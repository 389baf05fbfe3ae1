// Batched K-quant products (prompt processing) on AVX-512 VNNI with one activation row per lane.
//
// Sixteen activation rows are laid out as a panel: for every four consecutive values, the sixteen
// rows' four quants side by side (64 bytes). A weight row's four unpacked quants are broadcast to
// all sixteen lanes and one 512-bit `vpdpbusd` adds 4 x 16 products, each lane belonging to one
// activation row — so a lane holds a whole sub-block sum, which takes its sub-block scale with one
// multiply for sixteen rows, and nothing is summed across lanes. (The four-row kernels in
// VNNIKQuantDots.swift spend two instructions per 32 products of one pair.)
//
// The integer super-block sums are exact and the float formula and order are `blockDot`'s and
// `sumSuperBlocks`'s, applied lane by lane, so each result is bit for bit the single-row `dot`.

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel

/// Activation rows per panel (lanes of a 512-bit vector of Int32).
let panelRows = 16

/// K-quant formats with a panel kernel.
protocol KQuantPanelKernel: QuantFormat {
    /// The batch from which panels (16 lanes, some empty below 16 rows) beat the four-row kernel
    /// (measured, 2 threads, 32768 x 1024 weights: Q4_K at 10 rows 133 vs 111 GMAC/s, at 64 rows
    /// 178 vs 121; Q6_K at 12 rows 136 vs 110, at 64 rows 173 vs 106).
    static var panelsPayFromBatch: Int { get }
    /// Y = X W^T through panels (a requirement so that the call, made through an existential,
    /// runs code specialised for the format).
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool)
}

/// Q8_K activation rows rearranged in panels of 16 rows (the last one padded with zero rows).
struct ActivationPanels {
    let blocks: Int
    let panels: Int
    /// [panel][block][64 groups of 4 values][16 rows][4 quants]: 4096 bytes per panel block.
    let quants: UnsafeMutablePointer<Int8>
    /// [panel][block][16 rows]: each row's Q8_K scale.
    let scales: UnsafeMutablePointer<Float>
    /// [panel][block][16 partial sums][16 rows]: Q8_K's 16-value sums, widened.
    let sums: UnsafeMutablePointer<Int32>

    init(_ activations: UnsafeRawPointer, rowBytes: Int, rows: Int, columns: Int) {
        blocks = columns / 256
        panels = (rows + panelRows - 1) / panelRows
        let panelBlocks = panels * blocks
        quants = .allocate(capacity: panelBlocks * 4096)
        scales = .allocate(capacity: panelBlocks * panelRows)
        sums = .allocate(capacity: panelBlocks * 16 * panelRows)
        quants.initialize(repeating: 0, count: panelBlocks * 4096)
        scales.initialize(repeating: 0, count: panelBlocks * panelRows)
        sums.initialize(repeating: 0, count: panelBlocks * 16 * panelRows)
        for row in 0..<rows {
            let panel = row / panelRows, lane = row % panelRows
            for block in 0..<blocks {
                let a = activations + (row &* rowBytes &+ block &* 292)
                let index = panel &* blocks &+ block
                let q = a.signedBytes(at: Q8_K.quantsOffset)
                let out = quants + (index &* 4096 &+ lane &* 4)
                for group in 0..<64 {
                    let target = out + group &* 64, source = q + group &* 4
                    target[0] = source[0]; target[1] = source[1]; target[2] = source[2]; target[3] = source[3]
                }
                scales[index &* panelRows &+ lane] = a.q8KScale
                for group in 0..<16 { sums[(index &* 16 &+ group) &* panelRows &+ lane] = a.q8KBlockSum(group) }
            }
        }
    }

    func deallocate() {
        quants.deallocate(); scales.deallocate(); sums.deallocate()
    }
}

/// Sum over `groups` consecutive groups of four values of the 16 lanes' products with the weight
/// quants at `weightQuants` (4 * groups unsigned bytes), starting from zero.
@inline(__always)
func panelProducts(_ weightQuants: UnsafeRawPointer, _ panelQuants: UnsafeRawPointer, groups: Int) -> __m512i {
    // Two chains of `vpdpbusd`, so the next one need not wait for the previous one's result.
    var even = _mm512_setzero_si512(), odd = _mm512_setzero_si512()
    var group = 0
    while group < groups {
        let w0 = _mm512_set1_epi32(weightQuants.loadUnaligned(fromByteOffset: group &* 4, as: Int32.self))
        let w1 = _mm512_set1_epi32(weightQuants.loadUnaligned(fromByteOffset: group &* 4 &+ 4, as: Int32.self))
        even = _mm512_dpbusd_epi32(even, w0, (panelQuants + group &* 64).loadUnaligned(as: __m512i.self))
        odd = _mm512_dpbusd_epi32(odd, w1, (panelQuants + (group &* 64 &+ 64)).loadUnaligned(as: __m512i.self))
        group &+= 2
    }
    return _mm512_add_epi32(even, odd)
}

/// Writes the 16 lanes of `results` for the `valid` real rows of a panel, `stride` floats apart.
@inline(__always)
func storePanelLanes(_ results: __m512, valid: Int, _ output: UnsafeMutablePointer<Float>, stride: Int) {
    let lanes = unsafeBitCast(results, to: SIMD16<Float>.self)
    for lane in 0..<valid { output[lane &* stride] = lanes[lane] }
}

/// The panel product for one format: threads split the weight rows; each row meets every panel.
@inline(__always)
func multiplyKQuantPanels<F: KQuantPanelKernel>(
    _ format: F.Type, weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool,
    rowKernel: @escaping (UnsafeRawPointer, ActivationPanels, Int, UnsafeMutablePointer<UInt8>) -> __m512
) {
    let panels = ActivationPanels(activations, rowBytes: activationBytes, rows: batch, columns: columns)
    defer { panels.deallocate() }
    let work = { (range: Range<Int>) in
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
            let unpacked = buffer.baseAddress!
            for r in range {
                for panel in 0..<panels.panels {
                    let results = rowKernel(weights + r &* rowBytes, panels, panel, unpacked)
                    let first = panel &* panelRows
                    storePanelLanes(results, valid: min(panelRows, batch &- first), output + (first &* rows &+ r), stride: rows)
                }
            }
        }
    }
    if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
}

extension Q4_K: KQuantPanelKernel {
    static var panelsPayFromBatch: Int { 10 }
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyKQuantPanels(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel,
            rowKernel: { row, panels, panel, unpacked in panelRowQ4K(row, panels, panel, unpacked) })
    }
}

/// One Q4_K weight row with one panel: `blockDot`'s formula in each lane.
@inline(__always)
func panelRowQ4K(_ row: UnsafeRawPointer, _ panels: ActivationPanels, _ panel: Int, _ unpacked: UnsafeMutablePointer<UInt8>) -> __m512 {
    var totals = _mm512_setzero_ps()
    let mask = _mm256_set1_epi8(0x0F)
    for block in 0..<panels.blocks {
        let w = row + block &* 144
        let packed = w.bytes(at: 4), qs = w + 16
        // Element 64c + l is the low nibble of qs[32c + l], element 64c + 32 + l its high nibble.
        for chunk in 0..<4 {
            let q = load32Bytes(qs + 32 &* chunk)
            let out = UnsafeMutableRawPointer(unpacked + 64 &* chunk)
            out.storeBytes(of: _mm256_and_si256(q, mask), as: __m256i.self)
            (out + 32).storeBytes(of: _mm256_and_si256(_mm256_srli_epi16(q, 4), mask), as: __m256i.self)
        }
        let index = panel &* panels.blocks &+ block
        let quants = UnsafeRawPointer(panels.quants + index &* 4096)
        let sums = panels.sums + index &* 16 &* panelRows
        var scaled = _mm512_setzero_si512(), minimums = _mm512_setzero_si512()
        for subBlock in 0..<8 {
            let (scale, minimum) = kQuantScaleAndMin(packed, subBlock)
            let products = panelProducts(UnsafeRawPointer(unpacked + 32 &* subBlock), quants + subBlock &* 512, groups: 8)
            scaled = _mm512_add_epi32(scaled, _mm512_mullo_epi32(products, _mm512_set1_epi32(scale)))
            let activationSums = _mm512_add_epi32(
                UnsafeRawPointer(sums + 2 &* subBlock &* panelRows).loadUnaligned(as: __m512i.self),
                UnsafeRawPointer(sums + (2 &* subBlock &+ 1) &* panelRows).loadUnaligned(as: __m512i.self))
            minimums = _mm512_add_epi32(minimums, _mm512_mullo_epi32(activationSums, _mm512_set1_epi32(minimum)))
        }
        let scale = UnsafeRawPointer(panels.scales + index &* panelRows).loadUnaligned(as: __m512.self)
        let d = _mm512_mul_ps(_mm512_set1_ps(w.half(at: 0)), scale)
        let dmin = _mm512_mul_ps(_mm512_set1_ps(w.half(at: 2)), scale)
        let result = _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(scaled)), _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(minimums)))
        totals = _mm512_add_ps(totals, result)
    }
    return totals
}

extension Q6_K: KQuantPanelKernel {
    static var panelsPayFromBatch: Int { 12 }
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyKQuantPanels(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel,
            rowKernel: { row, panels, panel, unpacked in panelRowQ6K(row, panels, panel, unpacked) })
    }
}

/// One Q6_K weight row with one panel: `blockDot`'s formula in each lane (unsigned 6-bit quants
/// dotted as they are, 32 * scale * the 16-value activation sums taken off).
@inline(__always)
func panelRowQ6K(_ row: UnsafeRawPointer, _ panels: ActivationPanels, _ panel: Int, _ unpacked: UnsafeMutablePointer<UInt8>) -> __m512 {
    var totals = _mm512_setzero_ps()
    let mask = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3)
    for block in 0..<panels.blocks {
        let w = row + block &* 210
        let scales = w.signedBytes(at: 192)
        for half in 0..<2 {
            let ql0 = load32Bytes(w + 64 &* half), ql1 = load32Bytes(w + (64 &* half &+ 32))
            let qh = load32Bytes(w + (128 &+ 32 &* half))
            for k in 0..<4 {
                let lowSource = k & 1 == 0 ? ql0 : ql1
                let low = k < 2 ? _mm256_and_si256(lowSource, mask) : _mm256_and_si256(_mm256_srli_epi16(lowSource, 4), mask)
                let highBits = _mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 &* k)), three)
                UnsafeMutableRawPointer(unpacked + (128 &* half &+ 32 &* k))
                    .storeBytes(of: _mm256_or_si256(low, _mm256_slli_epi16(highBits, 4)), as: __m256i.self)
            }
        }
        let index = panel &* panels.blocks &+ block
        let quants = UnsafeRawPointer(panels.quants + index &* 4096)
        let sums = panels.sums + index &* 16 &* panelRows
        var scaled = _mm512_setzero_si512(), offset = _mm512_setzero_si512()
        for group in 0..<16 {
            let scale = _mm512_set1_epi32(Int32(scales[group]))
            let products = panelProducts(UnsafeRawPointer(unpacked + 16 &* group), quants + group &* 256, groups: 4)
            scaled = _mm512_add_epi32(scaled, _mm512_mullo_epi32(products, scale))
            offset = _mm512_add_epi32(offset, _mm512_mullo_epi32(
                UnsafeRawPointer(sums + group &* panelRows).loadUnaligned(as: __m512i.self), scale))
        }
        let sum = _mm512_sub_epi32(scaled, _mm512_slli_epi32(offset, 5))
        let scale = UnsafeRawPointer(panels.scales + index &* panelRows).loadUnaligned(as: __m512.self)
        let d = _mm512_mul_ps(_mm512_set1_ps(w.half(at: 208)), scale)
        totals = _mm512_add_ps(totals, _mm512_mul_ps(d, _mm512_cvtepi32_ps(sum)))
    }
    return totals
}
#endif
