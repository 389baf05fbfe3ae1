// Batched products of the 32-value formats (prompt processing) on AVX-512 VNNI, with one
// activation row per lane, as the K-quant panels (VNNIKQuantPanels.swift).
//
// `vnniDot32` keeps a block's products in eight lanes, lane i holding the products of values
// 4i ..< 4i + 4, and adds them into even-block and odd-block float accumulators. Here the eight
// lanes become eight accumulators (even and odd) of sixteen activation rows each: for group i a
// 512-bit `vpdpbusd` makes lane i's integer for sixteen rows at once, and the same conversion,
// fused multiply-add and final sums follow per row — so every result is bit for bit
// `vnniDot32`'s, with a quarter of its instructions per product.

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel

/// Activation rows in Q8_0 or Q8_1 rearranged in panels of 16 rows (the last padded with zeros).
struct ActivationPanels32 {
    let blocks: Int
    let panels: Int
    /// [panel][block][8 groups][16 rows][4 quants]: 512 bytes per panel block; q + 128 (as
    /// unsigned bytes) for signed weight formats, q as is otherwise.
    let quants: UnsafeMutablePointer<UInt8>
    /// [panel][block][16 rows]: each row's block scale `d`.
    let scales: UnsafeMutablePointer<Float>
    /// [panel][block][16 rows]: each row's block `s` (Q8_1 only).
    let sums: UnsafeMutablePointer<Float>

    init(_ activations: UnsafeRawPointer, rowBytes: Int, rows: Int, columns: Int, blockBytes: Int, quantsOffset: Int, offsetQuants: Bool) {
        blocks = columns / 32
        panels = (rows + panelRows - 1) / panelRows
        let panelBlocks = panels * blocks
        quants = .allocate(capacity: panelBlocks * 512)
        scales = .allocate(capacity: panelBlocks * panelRows)
        sums = .allocate(capacity: panelBlocks * panelRows)
        quants.initialize(repeating: offsetQuants ? 0x80 : 0, count: panelBlocks * 512)
        scales.initialize(repeating: 0, count: panelBlocks * panelRows)
        sums.initialize(repeating: 0, count: panelBlocks * panelRows)
        let flip: UInt8 = offsetQuants ? 0x80 : 0
        for row in 0..<rows {
            let panel = row / panelRows, lane = row % panelRows
            for block in 0..<blocks {
                let a = activations + (row &* rowBytes &+ block &* blockBytes)
                let index = panel &* blocks &+ block
                let q = a.bytes(at: quantsOffset)
                let out = quants + (index &* 512 &+ lane &* 4)
                for group in 0..<8 {
                    let target = out + group &* 64, source = q + group &* 4
                    target[0] = source[0] ^ flip; target[1] = source[1] ^ flip
                    target[2] = source[2] ^ flip; target[3] = source[3] ^ flip
                }
                scales[index &* panelRows &+ lane] = a.half(at: 0)
                if quantsOffset == 4 { sums[index &* panelRows &+ lane] = a.half(at: 2) }
            }
        }
    }

    func deallocate() {
        quants.deallocate(); scales.deallocate(); sums.deallocate()
    }
}

/// Eight float accumulators of sixteen rows, one per lane of `vnniDot32`'s block products.
struct LaneAccumulators {
    var a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps()
    var a4 = _mm512_setzero_ps(), a5 = _mm512_setzero_ps(), a6 = _mm512_setzero_ps(), a7 = _mm512_setzero_ps()
}

/// Adds one weight block (quants `wx` stored at `weightQuants`, 32 bytes) dotted with one panel
/// block to `acc`, `scale` holding d_w * d_a per row.
@inline(__always)
func accumulatePanelBlock<F: VNNIBlock32>(
    _ format: F.Type, _ wx: __m256i, _ weightQuants: UnsafeRawPointer, _ panelQuants: UnsafeRawPointer,
    scale: __m512, _ acc: inout LaneAccumulators
) {
    // Signed weights: the panel holds q + 128, so each group starts from -128 * (its four weights).
    var starts = _mm256_setzero_si256()
    if F.quantsAreSigned {
        let groupSums = _mm256_mask_dpbusd_epi32(_mm256_setzero_si256(), 0xFF, _mm256_set1_epi8(1), wx)
        starts = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(groupSums, 7))
    }
    let startLanes = unsafeBitCast(starts, to: SIMD8<Int32>.self)
    @inline(__always)
    func group(_ i: Int) -> __m512 {
        let w = _mm512_set1_epi32(weightQuants.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self))
        let a = (panelQuants + i &* 64).loadUnaligned(as: __m512i.self)
        let sums = F.quantsAreSigned
            ? _mm512_dpbusd_epi32(_mm512_set1_epi32(startLanes[i]), a, w)
            : _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, a)
        return _mm512_cvtepi32_ps(sums)
    }
    acc.a0 = _mm512_fmadd_ps(scale, group(0), acc.a0); acc.a1 = _mm512_fmadd_ps(scale, group(1), acc.a1)
    acc.a2 = _mm512_fmadd_ps(scale, group(2), acc.a2); acc.a3 = _mm512_fmadd_ps(scale, group(3), acc.a3)
    acc.a4 = _mm512_fmadd_ps(scale, group(4), acc.a4); acc.a5 = _mm512_fmadd_ps(scale, group(5), acc.a5)
    acc.a6 = _mm512_fmadd_ps(scale, group(6), acc.a6); acc.a7 = _mm512_fmadd_ps(scale, group(7), acc.a7)
}

/// One weight row with one panel: `vnniDot32` for each of the panel's rows.
@inline(__always)
func panelRow32<F: VNNIBlock32>(
    _ format: F.Type, _ row: UnsafeRawPointer, _ panels: ActivationPanels32, _ panel: Int,
    _ buffer: UnsafeMutableRawPointer
) -> __m512 {
    var even = LaneAccumulators(), odd = LaneAccumulators()
    let first = panel &* panels.blocks
    for block in 0..<panels.blocks {
        let w = row + block &* F.bytesPerBlock
        let wx = F.quants(w)
        buffer.storeBytes(of: wx, as: __m256i.self)
        let index = first &+ block
        let da = UnsafeRawPointer(panels.scales + index &* panelRows).loadUnaligned(as: __m512.self)
        let scale = _mm512_mul_ps(_mm512_set1_ps(w.half(at: 0)), da)
        let quants = UnsafeRawPointer(panels.quants + index &* 512)
        if block & 1 == 0 {
            accumulatePanelBlock(F.self, wx, UnsafeRawPointer(buffer), quants, scale: scale, &even)
        } else {
            accumulatePanelBlock(F.self, wx, UnsafeRawPointer(buffer), quants, scale: scale, &odd)
        }
    }
    // horizontalSum(acc0 + acc1), lane by lane: x = even + odd, r_j = x_(j+4) + x_j,
    // (r_0 + r_2) + (r_1 + r_3).
    let x0 = _mm512_add_ps(even.a0, odd.a0), x1 = _mm512_add_ps(even.a1, odd.a1)
    let x2 = _mm512_add_ps(even.a2, odd.a2), x3 = _mm512_add_ps(even.a3, odd.a3)
    let x4 = _mm512_add_ps(even.a4, odd.a4), x5 = _mm512_add_ps(even.a5, odd.a5)
    let x6 = _mm512_add_ps(even.a6, odd.a6), x7 = _mm512_add_ps(even.a7, odd.a7)
    let r0 = _mm512_add_ps(x4, x0), r1 = _mm512_add_ps(x5, x1), r2 = _mm512_add_ps(x6, x2), r3 = _mm512_add_ps(x7, x3)
    let products = _mm512_add_ps(_mm512_add_ps(r0, r2), _mm512_add_ps(r1, r3))
    if F.quantsAreSigned { return products }
    return _mm512_add_ps(products, panelMinimumTerm(F.self, row, panels, panel))
}

/// `minimumTerm` for each row of a panel: products m_w * s_a of blocks 8g + j summed into lane j,
/// the lanes summed as `horizontalSum`, plus the remaining blocks in order.
@inline(__always)
func panelMinimumTerm<F: VNNIBlock32>(_ format: F.Type, _ row: UnsafeRawPointer, _ panels: ActivationPanels32, _ panel: Int) -> __m512 {
    var lanes = LaneAccumulators()
    let first = panel &* panels.blocks, blocks = panels.blocks
    @inline(__always)
    func product(_ block: Int) -> __m512 {
        let s = UnsafeRawPointer(panels.sums + (first &+ block) &* panelRows).loadUnaligned(as: __m512.self)
        return _mm512_mul_ps(_mm512_set1_ps((row + block &* F.bytesPerBlock).half(at: 2)), s)
    }
    var block = 0
    while block &+ 8 <= blocks {
        lanes.a0 = _mm512_add_ps(lanes.a0, product(block)); lanes.a1 = _mm512_add_ps(lanes.a1, product(block &+ 1))
        lanes.a2 = _mm512_add_ps(lanes.a2, product(block &+ 2)); lanes.a3 = _mm512_add_ps(lanes.a3, product(block &+ 3))
        lanes.a4 = _mm512_add_ps(lanes.a4, product(block &+ 4)); lanes.a5 = _mm512_add_ps(lanes.a5, product(block &+ 5))
        lanes.a6 = _mm512_add_ps(lanes.a6, product(block &+ 6)); lanes.a7 = _mm512_add_ps(lanes.a7, product(block &+ 7))
        block &+= 8
    }
    var rest = _mm512_setzero_ps()
    while block < blocks {
        rest = _mm512_add_ps(rest, product(block))
        block &+= 1
    }
    let r0 = _mm512_add_ps(lanes.a4, lanes.a0), r1 = _mm512_add_ps(lanes.a5, lanes.a1)
    let r2 = _mm512_add_ps(lanes.a6, lanes.a2), r3 = _mm512_add_ps(lanes.a7, lanes.a3)
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r0, r2), _mm512_add_ps(r1, r3)), rest)
}

/// Y = X W^T through panels for a 32-value format: threads split the weight rows; each row meets
/// every panel.
@inline(__always)
func multiplyPanels32<F: VNNIBlock32>(
    _ format: F.Type, weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool
) {
    let panels = ActivationPanels32(
        activations, rowBytes: activationBytes, rows: batch, columns: columns, blockBytes: F.Activation.bytesPerBlock,
        quantsOffset: activationQuantsOffset(F.self), offsetQuants: F.quantsAreSigned)
    defer { panels.deallocate() }
    let work = { (range: Range<Int>) in
        withUnsafeTemporaryAllocation(of: __m256i.self, capacity: 1) { buffer in
            let scratch = UnsafeMutableRawPointer(buffer.baseAddress!)
            for r in range {
                for panel in 0..<panels.panels {
                    let results = panelRow32(F.self, weights + r &* rowBytes, panels, panel, scratch)
                    let first = panel &* panelRows
                    storePanelLanes(results, valid: min(panelRows, batch &- first), output + (first &* rows &+ r), stride: rows)
                }
            }
        }
    }
    if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
}
#endif
