// Batched products of the 32-value formats on AVX-512 VNNI, with one activation row per lane, as
// the K-quant panels (VNNIKQuantPanels.swift).
//
// `vnniDot32` sums each block's 32 products exactly in integers and adds float(sum) * d_w * d_a
// into lane (block mod 8) of an eight-lane accumulator. Here a 512-bit `vpdpbusd` adds four
// products for sixteen activation rows at once (eight per block, in two chains), the block's
// integer sums are converted once and multiplied into accumulator (block mod 8) of sixteen rows,
// and the final sums follow `horizontalSum`'s order lane by lane: every result is bit for bit
// `vnniDot32`'s. Signed weights meet the panel as unsigned bytes w + 128; the panel's per-row
// starts (-128 * the block's activation sum) take the excess back off.
//
// Prompt chunks use 16-row panels, two weight rows at a time sharing each activation load; up to
// 8 rows (a decode step) use one mirrored panel, each row in lanes r and r + 8, against two weight
// rows at once (`mirroredPairRow32`).

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

    /// `mirrored`: one 16-row panel of up to 8 rows, row r in lanes r and r + 8, for two weight
    /// rows at once (`mirroredPairRow32`).
    init(
        _ activations: UnsafeRawPointer, rowBytes: Int, rows: Int, columns: Int, blockBytes: Int, quantsOffset: Int,
        width: Int, mirrored: Bool = false
    ) {
        precondition(!mirrored || (width == 16 && rows <= 8), "a mirrored panel holds up to 8 rows twice")
        self.width = width
        blocks = columns / 32
        panels = (rows + width - 1) / width
        let panelBlocks = panels * blocks
        quants = allocatePanelStorage(Int8.self, count: panelBlocks * 32 * width)
        scales = allocatePanelStorage(Float.self, count: panelBlocks * width)
        sums = allocatePanelStorage(Float.self, count: panelBlocks * width)
        starts = allocatePanelStorage(Int32.self, count: panelBlocks * width)
        quants.initialize(repeating: 0, count: panelBlocks * 32 * width)
        scales.initialize(repeating: 0, count: panelBlocks * width)
        sums.initialize(repeating: 0, count: panelBlocks * width)
        starts.initialize(repeating: 0, count: panelBlocks * width)
        let groupBytes = 4 &* width
        for row in 0..<rows {
            if mirrored {
                place(activations + row &* rowBytes, panel: 0, lane: row)
                place(activations + row &* rowBytes, panel: 0, lane: row &+ 8)
            } else {
                place(activations + row &* rowBytes, panel: row / width, lane: row % width)
            }
        }

        /// Copies one activation row into lane `lane` of panel `panel`.
        func place(_ row: UnsafeRawPointer, panel: Int, lane: Int) {
            for block in 0..<blocks {
                let a = row + block &* blockBytes
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

/// `vnniDot32`'s float part for each lane: `product(block)` gives a block's converted integer sums
/// and its scales d_w * d_a; block b goes to accumulator b mod 8, the blocks past the last eight
/// to `rest`, then the accumulators are summed in `horizontalSum`'s order and `rest` added.
@inline(__always)
func accumulateBlocks32<V: PanelLanes>(_ lanes: V.Type, blocks: Int, _ product: (Int) -> (V.Floats, V.Floats)) -> V.Floats {
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
    return V.add(acc.sum(), rest)
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

/// Decoded weight rows with one panel: `vnniDot32` for each of the panel's rows, for one weight
/// row (`SingleRow`) or two (`TwoRows`, each activation vector loaded once for both: loads, not
/// arithmetic, bound the single-row loop). `rows` holds the rows' bytes (for the Q4_1 / Q5_1
/// minimums) and decoded quants; `decodedFirst` and `decodedLast` their scales.
@inline(__always)
func panelRow32<F: VNNIBlock32, R: PanelRows>(
    _ format: F.Type, _ rows: R, _ decodedFirst: DecodedRow32, _ decodedLast: DecodedRow32,
    _ panels: ActivationPanels32, _ panel: Int
) -> R.V.Floats {
    typealias V = R.V
    let first = panel &* panels.blocks, blocks = panels.blocks
    let blockBytes = 32 &* V.width, groupBytes = 4 &* V.width
    let products = accumulateBlocks32(V.self, blocks: blocks) { block in
        // The block's products for each row: an exact integer sum (two chains of `vpdpbusd`),
        // converted once, with d_w * d_a.
        let weights = rows.groups(block: 0, offset: block &* 32)
        let index = first &+ block
        let a = UnsafeRawPointer(panels.quants + index &* blockBytes)
        var even = F.quantsAreSigned ? V.loadInts(panels.starts + index &* V.width) : V.zeroInts(), odd = V.zeroInts()
        for group in stride(from: 0, to: 8, by: 2) {
            even = V.dotBytes(even, weights.group(group), V.loadInts(a + group &* groupBytes))
            odd = V.dotBytes(odd, weights.group(group &+ 1), V.loadInts(a + (group &* groupBytes &+ groupBytes)))
        }
        let scale = V.multiply(
            rows.lanes(decodedFirst.scales[block], decodedLast.scales[block]), V.loadFloats(panels.scales + index &* V.width))
        return (V.float(V.add(even, odd)), scale)
    }
    if F.quantsAreSigned { return products }
    return V.add(products, panelMinimumTerm(F.self, V.self, panels, panel) { block in
        rows.lanes((rows.first + block &* F.bytesPerBlock).half(at: 2), (rows.last + block &* F.bytesPerBlock).half(at: 2))
    })
}

/// Two weight rows (decoded as they are read: one panel) with a mirrored panel (up to 8 activation rows, each in lanes r and
/// r + 8): lanes 0-7 are `panelRow32` of row A, lanes 8-15 of row B. A batch of 8 fills all 16
/// lanes of every 512-bit instruction (an 8-row panel in 256-bit registers runs no faster per
/// instruction on this machine, so it does half the work per instruction).
@inline(__always)
func mirroredPairRow32<F: VNNIBlock32>(
    _ format: F.Type, _ rowA: UnsafeRawPointer, _ rowB: UnsafeRawPointer, _ panels: ActivationPanels32
) -> __m512 {
    typealias V = Lanes16
    let blocks = panels.blocks
    // Unsigned bytes for `vpdpbusd`: w + 128 for signed formats (the panel's starts take it off).
    let offset = _mm256_set1_epi8(F.quantsAreSigned ? -128 : 0)
    // Group g of row A in lanes 0-7 and of row B in lanes 8-15, from the two rows' 32 quant bytes.
    @inline(__always)
    func groupIndex(_ g: Int32) -> __m512i {
        unsafeBitCast(SIMD16<Int32>(lowHalf: SIMD8(repeating: g), highHalf: SIMD8(repeating: 8 &+ g)), to: __m512i.self)
    }
    let i0 = groupIndex(0), i1 = groupIndex(1), i2 = groupIndex(2), i3 = groupIndex(3)
    let i4 = groupIndex(4), i5 = groupIndex(5), i6 = groupIndex(6), i7 = groupIndex(7)
    @inline(__always)
    func halves(_ a: Float, _ b: Float) -> __m512 {
        unsafeBitCast(SIMD16<Float>(lowHalf: SIMD8(repeating: a), highHalf: SIMD8(repeating: b)), to: __m512.self)
    }
    @inline(__always)
    func product(_ block: Int) -> (__m512, __m512) {
        let a = UnsafeRawPointer(panels.quants + block &* 512)
        let blockA = rowA + block &* F.bytesPerBlock, blockB = rowB + block &* F.bytesPerBlock
        let w = unsafeBitCast(SIMD16<Int32>(
            lowHalf: unsafeBitCast(_mm256_xor_si256(F.quants(blockA), offset), to: SIMD8<Int32>.self),
            highHalf: unsafeBitCast(_mm256_xor_si256(F.quants(blockB), offset), to: SIMD8<Int32>.self)), to: __m512i.self)
        var even = F.quantsAreSigned ? V.loadInts(panels.starts + block &* 16) : V.zeroInts(), odd = V.zeroInts()
        even = V.dotBytes(even, _mm512_permutexvar_epi32(i0, w), V.loadInts(a))
        odd = V.dotBytes(odd, _mm512_permutexvar_epi32(i1, w), V.loadInts(a + 64))
        even = V.dotBytes(even, _mm512_permutexvar_epi32(i2, w), V.loadInts(a + 128))
        odd = V.dotBytes(odd, _mm512_permutexvar_epi32(i3, w), V.loadInts(a + 192))
        even = V.dotBytes(even, _mm512_permutexvar_epi32(i4, w), V.loadInts(a + 256))
        odd = V.dotBytes(odd, _mm512_permutexvar_epi32(i5, w), V.loadInts(a + 320))
        even = V.dotBytes(even, _mm512_permutexvar_epi32(i6, w), V.loadInts(a + 384))
        odd = V.dotBytes(odd, _mm512_permutexvar_epi32(i7, w), V.loadInts(a + 448))
        let scale = V.multiply(halves(blockA.half(at: 0), blockB.half(at: 0)), V.loadFloats(panels.scales + block &* 16))
        return (V.float(V.add(even, odd)), scale)
    }
    let products = accumulateBlocks32(V.self, blocks: blocks, product)
    if F.quantsAreSigned { return products }
    return V.add(products, panelMinimumTerm(F.self, V.self, panels, 0) { block in
        halves((rowA + block &* F.bytesPerBlock).half(at: 2), (rowB + block &* F.bytesPerBlock).half(at: 2))
    })
}

/// Y = X W^T for up to 8 activation rows through one mirrored panel, two weight rows at a time.
@inline(__always)
func multiplyMirroredPairs32<F: VNNIBlock32>(
    _ format: F.Type, weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool
) {
    let panels = ActivationPanels32(
        activations, rowBytes: activationBytes, rows: batch, columns: columns, blockBytes: F.Activation.bytesPerBlock,
        quantsOffset: activationQuantsOffset(F.self), width: 16, mirrored: true)
    defer { panels.deallocate() }
    forEachMirroredPair(
        weights: weights, rows: rows, rowBytes: rowBytes, batch: batch, output: output, pool: pool, parallel: parallel,
        scratchBytes: 0
    ) { rowA, rowB, _ in mirroredPairRow32(F.self, rowA, rowB, panels) }
}

/// `minimumTerm` for each row of a panel: products m_w * s_a of blocks 8g + j summed into lane j,
/// the lanes summed as `horizontalSum`, plus the remaining blocks in order; each lane's weight
/// minimum `m` for a block given by `weightMinimums`.
@inline(__always)
func panelMinimumTerm<F: VNNIBlock32, V: PanelLanes>(
    _ format: F.Type, _ lanes: V.Type, _ panels: ActivationPanels32, _ panel: Int, weightMinimums: (Int) -> V.Floats
) -> V.Floats {
    var lanes = LaneAccumulators<V>()
    let first = panel &* panels.blocks, blocks = panels.blocks
    @inline(__always)
    func product(_ block: Int) -> V.Floats {
        V.multiply(weightMinimums(block), V.loadFloats(panels.sums + (first &+ block) &* V.width))
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

/// Y = X W^T through 16-row panels for a 32-value format: threads split the weight rows, two at
/// a time; each pair is decoded once and meets every panel.
@inline(__always)
func multiplyPanels32<F: VNNIBlock32>(
    _ format: F.Type, sixteenRowsOf weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool
) {
    let panels = ActivationPanels32(
        activations, rowBytes: activationBytes, rows: batch, columns: columns, blockBytes: F.Activation.bytesPerBlock,
        quantsOffset: activationQuantsOffset(F.self), width: 16)
    defer { panels.deallocate() }
    let work = { (range: Range<Int>) in
        let decodedA = DecodedRow32(blocks: panels.blocks), decodedB = DecodedRow32(blocks: panels.blocks)
        defer { decodedA.deallocate(); decodedB.deallocate() }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { buffer in
            let lanes = buffer.baseAddress!
            var r = range.lowerBound
            // Pairs of rows, except for an unsigned format meeting one panel (measured, 4864 x 896,
            // 2 threads: Q4_1 8 rows 0.28 ms paired vs 0.25 single, 64 rows 1.28 vs 1.48; Q5_0 8
            // rows 0.22 vs 0.24, 64 rows 0.99 vs 1.43).
            while (F.quantsAreSigned || panels.panels > 1) && r &+ 2 <= range.upperBound {
                let rowA = weights + r &* rowBytes, rowB = rowA + rowBytes
                decodedA.decode(F.self, rowA, blocks: panels.blocks)
                decodedB.decode(F.self, rowB, blocks: panels.blocks)
                let two = TwoRows(first: rowA, last: rowB, unpackedFirst: decodedA.quants, unpackedLast: decodedB.quants)
                for panel in 0..<panels.panels {
                    TwoLanes16.store(panelRow32(F.self, two, decodedA, decodedB, panels, panel), lanes)
                    let first = panel &* 16
                    for lane in 0..<min(16, batch &- first) {
                        output[(first &+ lane) &* rows &+ r] = lanes[lane]
                        output[(first &+ lane) &* rows &+ r &+ 1] = lanes[16 &+ lane]
                    }
                }
                r &+= 2
            }
            while r < range.upperBound {
                let row = weights + r &* rowBytes
                decodedA.decode(F.self, row, blocks: panels.blocks)
                let single = SingleRow<Lanes16>(first: row, unpacked: decodedA.quants)
                for panel in 0..<panels.panels {
                    let results = panelRow32(F.self, single, decodedA, decodedA, panels, panel)
                    let first = panel &* 16
                    storePanelLanes(Lanes16.self, results, valid: min(16, batch &- first), output + (first &* rows &+ r), stride: rows)
                }
                r &+= 1
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
            F.self, sixteenRowsOf: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel)
    }, { first, count in
        multiplyMirroredPairs32(
            F.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel)
    })
}
#endif
