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

/// Activation rows in Q8_0 or Q8_1 rearranged in panels of `width` rows (the last padded with zeros).
struct ActivationPanels32 {
    let width: Int
    let blocks: Int
    let panels: Int
    /// [panel][block][8 groups][width rows][4 quants]: 32 * width bytes per panel block.
    let quants: UnsafeMutablePointer<Int8>
    /// [panel][block][width rows]: each row's block scale `d`.
    let scales: UnsafeMutablePointer<Float>
    /// [panel][block][width rows]: each row's block `s` (Q8_1 only).
    let sums: UnsafeMutablePointer<Float>
    /// [panel][block][width rows]: -128 * the sum of the row's block quants (for signed weight
    /// formats, whose quants meet these as w + 128).
    let starts: UnsafeMutablePointer<Int32>

    init(_ activations: UnsafeRawPointer, rowBytes: Int, rows: Int, columns: Int, blockBytes: Int, quantsOffset: Int, width: Int) {
        self.width = width
        blocks = columns / 32
        panels = (rows + width - 1) / width
        let panelBlocks = panels * blocks
        quants = .allocate(capacity: panelBlocks * 32 * width)
        scales = .allocate(capacity: panelBlocks * width)
        sums = .allocate(capacity: panelBlocks * width)
        starts = .allocate(capacity: panelBlocks * width)
        quants.initialize(repeating: 0, count: panelBlocks * 32 * width)
        scales.initialize(repeating: 0, count: panelBlocks * width)
        sums.initialize(repeating: 0, count: panelBlocks * width)
        starts.initialize(repeating: 0, count: panelBlocks * width)
        let groupBytes = 4 &* width
        for row in 0..<rows {
            let panel = row / width, lane = row % width
            for block in 0..<blocks {
                let a = activations + (row &* rowBytes &+ block &* blockBytes)
                let index = panel &* blocks &+ block
                let q = a.signedBytes(at: quantsOffset)
                let out = quants + (index &* 8 &* groupBytes &+ lane &* 4)
                var sum: Int32 = 0
                for group in 0..<8 {
                    let target = out + group &* groupBytes, source = q + group &* 4
                    target[0] = source[0]; target[1] = source[1]; target[2] = source[2]; target[3] = source[3]
                    sum &+= Int32(source[0]) &+ Int32(source[1]) &+ Int32(source[2]) &+ Int32(source[3])
                }
                scales[index &* width &+ lane] = a.half(at: 0)
                if quantsOffset == 4 { sums[index &* width &+ lane] = a.half(at: 2) }
                starts[index &* width &+ lane] = -128 &* sum
            }
        }
    }

    func deallocate() {
        quants.deallocate(); scales.deallocate(); sums.deallocate(); starts.deallocate()
    }
}

/// Eight float accumulators of a panel's rows: accumulator j takes blocks j, j + 8, ... as lane j
/// of `vnniDot32`'s accumulator does.
struct LaneAccumulators<V: PanelLanes> {
    var a0 = V.zeroFloats(), a1 = V.zeroFloats(), a2 = V.zeroFloats(), a3 = V.zeroFloats()
    var a4 = V.zeroFloats(), a5 = V.zeroFloats(), a6 = V.zeroFloats(), a7 = V.zeroFloats()

    /// r_j = a_(j+4) + a_j, then (r_0 + r_2) + (r_1 + r_3): `horizontalSum`'s order, lane by lane.
    @inline(__always)
    func sum() -> V.Floats {
        let r0 = V.add(a4, a0), r1 = V.add(a5, a1), r2 = V.add(a6, a2), r3 = V.add(a7, a3)
        return V.add(V.add(r0, r2), V.add(r1, r3))
    }
}

/// A weight row decoded once for all the panels it meets: each block's 32 quants as unsigned
/// bytes (w + 128 for signed formats, which the panel's `starts` take back off) and its `d`.
struct DecodedRow32 {
    let quants: UnsafeMutableRawPointer
    let scales: UnsafeMutablePointer<Float>

    init(blocks: Int) {
        quants = .allocate(byteCount: max(1, blocks) &* 32, alignment: 32)
        scales = .allocate(capacity: max(1, blocks))
    }

    @inline(__always)
    func decode<F: VNNIBlock32>(_ format: F.Type, _ row: UnsafeRawPointer, blocks: Int) {
        let offset = _mm256_set1_epi8(F.quantsAreSigned ? -128 : 0)
        for block in 0..<blocks {
            let w = row + block &* F.bytesPerBlock
            (quants + block &* 32).storeBytes(of: _mm256_xor_si256(F.quants(w), offset), as: __m256i.self)
            scales[block] = w.half(at: 0)
        }
    }

    func deallocate() {
        quants.deallocate(); scales.deallocate()
    }
}

/// One decoded weight row (`row` its bytes, for the Q4_1 / Q5_1 minimums) with one panel:
/// `vnniDot32` for each of the panel's rows.
@inline(__always)
func panelRow32<F: VNNIBlock32, V: PanelLanes>(
    _ format: F.Type, _ lanes: V.Type, _ row: UnsafeRawPointer, _ decoded: DecodedRow32, _ panels: ActivationPanels32,
    _ panel: Int
) -> V.Floats {
    let first = panel &* panels.blocks, blocks = panels.blocks
    let blockBytes = 32 &* V.width, groupBytes = 4 &* V.width
    /// The block's products for each row times d_w * d_a: an exact integer sum (two chains of
    /// `vpdpbusd`), converted once.
    @inline(__always)
    func product(_ block: Int) -> (V.Floats, V.Floats) {
        let q = UnsafeRawPointer(decoded.quants + block &* 32)
        let a = UnsafeRawPointer(panels.quants + (first &+ block) &* blockBytes)
        let index = first &+ block
        var even = F.quantsAreSigned ? V.loadInts(panels.starts + index &* V.width) : V.zeroInts(), odd = V.zeroInts()
        for group in stride(from: 0, to: 8, by: 2) {
            let w0 = V.splat(q.loadUnaligned(fromByteOffset: group &* 4, as: Int32.self))
            let w1 = V.splat(q.loadUnaligned(fromByteOffset: group &* 4 &+ 4, as: Int32.self))
            let a0 = V.loadInts(a + group &* groupBytes), a1 = V.loadInts(a + (group &* groupBytes &+ groupBytes))
            even = V.dotBytes(even, w0, a0); odd = V.dotBytes(odd, w1, a1)
        }
        let scale = V.multiply(V.splat(decoded.scales[block]), V.loadFloats(panels.scales + (first &+ block) &* V.width))
        return (V.float(V.add(even, odd)), scale)
    }
    var acc = LaneAccumulators<V>()
    var block = 0
    while block &+ 8 <= blocks {
        var p = product(block); acc.a0 = V.multiplyAdd(p.0, p.1, acc.a0)
        p = product(block &+ 1); acc.a1 = V.multiplyAdd(p.0, p.1, acc.a1)
        p = product(block &+ 2); acc.a2 = V.multiplyAdd(p.0, p.1, acc.a2)
        p = product(block &+ 3); acc.a3 = V.multiplyAdd(p.0, p.1, acc.a3)
        p = product(block &+ 4); acc.a4 = V.multiplyAdd(p.0, p.1, acc.a4)
        p = product(block &+ 5); acc.a5 = V.multiplyAdd(p.0, p.1, acc.a5)
        p = product(block &+ 6); acc.a6 = V.multiplyAdd(p.0, p.1, acc.a6)
        p = product(block &+ 7); acc.a7 = V.multiplyAdd(p.0, p.1, acc.a7)
        block &+= 8
    }
    var rest = V.zeroFloats()
    while block < blocks {
        let p = product(block)
        rest = V.multiplyAdd(p.0, p.1, rest)
        block &+= 1
    }
    let products = V.add(acc.sum(), rest)
    if F.quantsAreSigned { return products }
    return V.add(products, panelMinimumTerm(F.self, V.self, row, panels, panel))
}

/// `minimumTerm` for each row of a panel: products m_w * s_a of blocks 8g + j summed into lane j,
/// the lanes summed as `horizontalSum`, plus the remaining blocks in order.
@inline(__always)
func panelMinimumTerm<F: VNNIBlock32, V: PanelLanes>(
    _ format: F.Type, _ lanes: V.Type, _ row: UnsafeRawPointer, _ panels: ActivationPanels32, _ panel: Int
) -> V.Floats {
    var lanes = LaneAccumulators<V>()
    let first = panel &* panels.blocks, blocks = panels.blocks
    @inline(__always)
    func product(_ block: Int) -> V.Floats {
        let s = V.loadFloats(panels.sums + (first &+ block) &* V.width)
        return V.multiply(V.splat((row + block &* F.bytesPerBlock).half(at: 2)), s)
    }
    var block = 0
    while block &+ 8 <= blocks {
        lanes.a0 = V.add(lanes.a0, product(block)); lanes.a1 = V.add(lanes.a1, product(block &+ 1))
        lanes.a2 = V.add(lanes.a2, product(block &+ 2)); lanes.a3 = V.add(lanes.a3, product(block &+ 3))
        lanes.a4 = V.add(lanes.a4, product(block &+ 4)); lanes.a5 = V.add(lanes.a5, product(block &+ 5))
        lanes.a6 = V.add(lanes.a6, product(block &+ 6)); lanes.a7 = V.add(lanes.a7, product(block &+ 7))
        block &+= 8
    }
    var rest = V.zeroFloats()
    while block < blocks {
        rest = V.add(rest, product(block))
        block &+= 1
    }
    return V.add(lanes.sum(), rest)
}

/// Y = X W^T through panels of one width for a 32-value format: threads split the weight rows;
/// each row meets every panel.
@inline(__always)
func multiplyPanels32<F: VNNIBlock32, V: PanelLanes>(
    _ format: F.Type, _ lanes: V.Type, weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool
) {
    let panels = ActivationPanels32(
        activations, rowBytes: activationBytes, rows: batch, columns: columns, blockBytes: F.Activation.bytesPerBlock,
        quantsOffset: activationQuantsOffset(F.self), width: V.width)
    defer { panels.deallocate() }
    let work = { (range: Range<Int>) in
        let decoded = DecodedRow32(blocks: panels.blocks)
        defer { decoded.deallocate() }
        for r in range {
            let row = weights + r &* rowBytes
            decoded.decode(F.self, row, blocks: panels.blocks)
            for panel in 0..<panels.panels {
                let results = panelRow32(F.self, V.self, row, decoded, panels, panel)
                let first = panel &* V.width
                storePanelLanes(V.self, results, valid: min(V.width, batch &- first), output + (first &* rows &+ r), stride: rows)
            }
        }
    }
    if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
}

/// `multiplyPanels32` at the panel widths `forEachPanelWidth` picks for the batch.
@inline(__always)
func multiplyPanels32<F: VNNIBlock32>(
    _ format: F.Type, weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool
) {
    forEachPanelWidth(batch: batch, { first, count in
        multiplyPanels32(
            F.self, Lanes16.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel)
    }, { first, count in
        multiplyPanels32(
            F.self, Lanes8.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel)
    })
}
#endif
