// Batched products of the 32-value formats on AVX-512 VNNI, with one activation row per lane, as
// the K-quant panels (VNNIKQuantPanels.swift).
//
// `vnniDot32` follows ggml: a block's products summed exactly in eight lanes of four values, each
// lane converted and added into its own float accumulator by one fused multiply-add with d_w * d_a.
// Here a 512-bit `vpdpbusd` makes one such lane (four values) for sixteen activation rows at once,
// and accumulator g holds lane g of `vnniDot32`'s accumulator for sixteen rows; the accumulators
// are summed in `horizontalSum`'s order lane by lane: every result is bit for bit `vnniDot32`'s.
// Signed weights meet the panel as unsigned bytes w + 128; the panel's per-row, per-lane starts
// (-128 * the sum of the lane's four activation quants) take the excess back off before the
// conversion, so each lane's integer sum is exact.
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
    /// [panel][block][8 groups][width rows]: -128 * the sum of the row's four quants of the group
    /// (for signed weight formats, whose quants meet these as w + 128).
    let starts: UnsafeMutablePointer<Int32>
    /// [panel][block][width rows]: -128 * the sum of all the row's block quants (block-sum order).
    let blockStarts: UnsafeMutablePointer<Int32>

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
        starts = allocatePanelStorage(Int32.self, count: panelBlocks * 8 * width)
        blockStarts = allocatePanelStorage(Int32.self, count: panelBlocks * width)
        quants.initialize(repeating: 0, count: panelBlocks * 32 * width)
        scales.initialize(repeating: 0, count: panelBlocks * width)
        sums.initialize(repeating: 0, count: panelBlocks * width)
        starts.initialize(repeating: 0, count: panelBlocks * 8 * width)
        blockStarts.initialize(repeating: 0, count: panelBlocks * width)
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
                var blockSum: Int32 = 0
                for group in 0..<8 {
                    let target = out + group &* groupBytes, source = q + group &* 4
                    target[0] = source[0]; target[1] = source[1]; target[2] = source[2]; target[3] = source[3]
                    let sum = Int32(source[0]) &+ Int32(source[1]) &+ Int32(source[2]) &+ Int32(source[3])
                    starts[(index &* 8 &+ group) &* width &+ lane] = -128 &* sum
                    blockSum &+= sum
                }
                blockStarts[index &* width &+ lane] = -128 &* blockSum
                scales[index &* width &+ lane] = a.half(at: 0)
                if quantsOffset == 4 { sums[index &* width &+ lane] = a.half(at: 2) }
            }
        }
    }

    func deallocate() {
        quants.deallocate(); scales.deallocate(); sums.deallocate(); starts.deallocate(); blockStarts.deallocate()
    }
}

/// Eight float accumulators of a panel's rows: accumulator g is lane g of `vnniDot32`'s
/// accumulator (values 4g ..< 4g + 4 of every block).
struct LaneAccumulators<V: PanelLanes> {
    var a0 = V.zeroFloats(), a1 = V.zeroFloats(), a2 = V.zeroFloats(), a3 = V.zeroFloats()
    var a4 = V.zeroFloats(), a5 = V.zeroFloats(), a6 = V.zeroFloats(), a7 = V.zeroFloats()

    /// Adds one block: lane g's exact integer sums (`lane(g)`), converted, times `scale`
    /// (d_w * d_a) into accumulator g, one fused multiply-add each.
    @inline(__always)
    mutating func add(scale: V.Floats, _ lane: (Int) -> V.Ints) {
        a0 = V.multiplyAdd(scale, V.float(lane(0)), a0); a1 = V.multiplyAdd(scale, V.float(lane(1)), a1)
        a2 = V.multiplyAdd(scale, V.float(lane(2)), a2); a3 = V.multiplyAdd(scale, V.float(lane(3)), a3)
        a4 = V.multiplyAdd(scale, V.float(lane(4)), a4); a5 = V.multiplyAdd(scale, V.float(lane(5)), a5)
        a6 = V.multiplyAdd(scale, V.float(lane(6)), a6); a7 = V.multiplyAdd(scale, V.float(lane(7)), a7)
    }

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

/// Decoded weight rows with one panel: `vnniDot32` for each of the panel's rows, for one weight
/// row (`SingleRow`) or two (`TwoRows`, each activation vector loaded once for both: loads, not
/// arithmetic, bound the single-row loop). `rows` holds the rows' bytes (for the Q4_1 / Q5_1
/// minimums) and decoded quants; `decodedFirst` and `decodedLast` their scales.
@inline(__always)
func panelRow32<F: VNNIBlock32, R: PanelRows>(
    _ format: F.Type, _ rows: R, _ decodedFirst: DecodedRow32, _ decodedLast: DecodedRow32,
    _ panels: ActivationPanels32, _ panel: Int, blockSums: Bool
) -> R.V.Floats {
    typealias V = R.V
    let first = panel &* panels.blocks, blocks = panels.blocks
    let blockBytes = 32 &* V.width, groupBytes = 4 &* V.width
    if blockSums {
        // Each block's exact integer sum (two chains of `vpdpbusd`), converted once.
        let products = accumulateBlockSums32(V.self, blocks: blocks) { block in
            let weights = rows.groups(block: 0, offset: block &* 32)
            let index = first &+ block
            let a = UnsafeRawPointer(panels.quants + index &* blockBytes)
            var even = F.quantsAreSigned ? V.loadInts(panels.blockStarts + index &* V.width) : V.zeroInts(), odd = V.zeroInts()
            for group in stride(from: 0, to: 8, by: 2) {
                even = V.dotBytes(even, weights.group(group), V.loadInts(a + group &* groupBytes))
                odd = V.dotBytes(odd, weights.group(group &+ 1), V.loadInts(a + (group &* groupBytes &+ groupBytes)))
            }
            let scale = V.multiply(
                rows.lanes(decodedFirst.scales[block], decodedLast.scales[block]), V.loadFloats(panels.scales + index &* V.width))
            return (V.float(V.add(even, odd)), scale)
        }
        if F.quantsAreSigned { return products }
        return V.add(products, panelMinimumTermBlockSums(V.self, panels, panel) { block in
            rows.lanes((rows.first + block &* F.bytesPerBlock).half(at: 2), (rows.last + block &* F.bytesPerBlock).half(at: 2))
        })
    }
    var acc = LaneAccumulators<V>()
    for block in 0..<blocks {
        // Lane g of the block for each row: an exact integer sum of four products (`vpdpbusd`
        // from the row's start), converted and multiplied by d_w * d_a into accumulator g.
        let weights = rows.groups(block: 0, offset: block &* 32)
        let index = first &+ block
        let a = UnsafeRawPointer(panels.quants + index &* blockBytes)
        let starts = UnsafeRawPointer(panels.starts + index &* 8 &* V.width)
        let scale = V.multiply(
            rows.lanes(decodedFirst.scales[block], decodedLast.scales[block]), V.loadFloats(panels.scales + index &* V.width))
        acc.add(scale: scale) { group in
            let start = F.quantsAreSigned ? V.loadInts(starts + group &* groupBytes) : V.zeroInts()
            return V.dotBytes(start, weights.group(group), V.loadInts(a + group &* groupBytes))
        }
    }
    let products = acc.sum()
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
    _ format: F.Type, _ rowA: UnsafeRawPointer, _ rowB: UnsafeRawPointer, _ panels: ActivationPanels32, blockSums: Bool
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
    @inline(__always)
    func halves(_ a: Float, _ b: Float) -> __m512 {
        unsafeBitCast(SIMD16<Float>(lowHalf: SIMD8(repeating: a), highHalf: SIMD8(repeating: b)), to: __m512.self)
    }
    if blockSums {
        @inline(__always)
        func product(_ block: Int) -> (__m512, __m512) {
            let a = UnsafeRawPointer(panels.quants + block &* 512)
            let blockA = rowA + block &* F.bytesPerBlock, blockB = rowB + block &* F.bytesPerBlock
            let w = unsafeBitCast(SIMD16<Int32>(
                lowHalf: unsafeBitCast(_mm256_xor_si256(F.quants(blockA), offset), to: SIMD8<Int32>.self),
                highHalf: unsafeBitCast(_mm256_xor_si256(F.quants(blockB), offset), to: SIMD8<Int32>.self)), to: __m512i.self)
            var even = F.quantsAreSigned ? V.loadInts(panels.blockStarts + block &* 16) : V.zeroInts(), odd = V.zeroInts()
            for group in stride(from: 0, to: 8, by: 2) {
                even = V.dotBytes(even, _mm512_permutexvar_epi32(groupIndex(Int32(truncatingIfNeeded: group)), w),
                                  V.loadInts(a + group &* 64))
                odd = V.dotBytes(odd, _mm512_permutexvar_epi32(groupIndex(Int32(truncatingIfNeeded: group &+ 1)), w),
                                 V.loadInts(a + (group &+ 1) &* 64))
            }
            let scale = V.multiply(halves(blockA.half(at: 0), blockB.half(at: 0)), V.loadFloats(panels.scales + block &* 16))
            return (V.float(V.add(even, odd)), scale)
        }
        let products = accumulateBlockSums32(V.self, blocks: blocks, product)
        if F.quantsAreSigned { return products }
        return V.add(products, panelMinimumTermBlockSums(V.self, panels, 0) { block in
            halves((rowA + block &* F.bytesPerBlock).half(at: 2), (rowB + block &* F.bytesPerBlock).half(at: 2))
        })
    }
    var acc = LaneAccumulators<V>()
    for block in 0..<blocks {
        let a = UnsafeRawPointer(panels.quants + block &* 512), starts = UnsafeRawPointer(panels.starts + block &* 128)
        let blockA = rowA + block &* F.bytesPerBlock, blockB = rowB + block &* F.bytesPerBlock
        let w = unsafeBitCast(SIMD16<Int32>(
            lowHalf: unsafeBitCast(_mm256_xor_si256(F.quants(blockA), offset), to: SIMD8<Int32>.self),
            highHalf: unsafeBitCast(_mm256_xor_si256(F.quants(blockB), offset), to: SIMD8<Int32>.self)), to: __m512i.self)
        let scale = V.multiply(halves(blockA.half(at: 0), blockB.half(at: 0)), V.loadFloats(panels.scales + block &* 16))
        acc.add(scale: scale) { group in
            let start = F.quantsAreSigned ? V.loadInts(starts + group &* 64) : V.zeroInts()
            return V.dotBytes(start, _mm512_permutexvar_epi32(groupIndex(Int32(truncatingIfNeeded: group)), w), V.loadInts(a + group &* 64))
        }
    }
    let products = acc.sum()
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
    pool: ThreadPool?, parallel: Bool, blockSums: Bool
) {
    let panels = ActivationPanels32(
        activations, rowBytes: activationBytes, rows: batch, columns: columns, blockBytes: F.Activation.bytesPerBlock,
        quantsOffset: activationQuantsOffset(F.self), width: 16, mirrored: true)
    defer { panels.deallocate() }
    forEachMirroredPair(
        weights: weights, rows: rows, rowBytes: rowBytes, batch: batch, output: output, pool: pool, parallel: parallel,
        scratchBytes: 0
    ) { rowA, rowB, _ in mirroredPairRow32(F.self, rowA, rowB, panels, blockSums: blockSums) }
}

/// `minimumTerm` for each row of a panel: m_w * s_a added block by block with one fused
/// multiply-add each; each lane's weight minimum `m` for a block given by `weightMinimums`.
@inline(__always)
func panelMinimumTerm<F: VNNIBlock32, V: PanelLanes>(
    _ format: F.Type, _ lanes: V.Type, _ panels: ActivationPanels32, _ panel: Int, weightMinimums: (Int) -> V.Floats
) -> V.Floats {
    let first = panel &* panels.blocks
    var sum = V.zeroFloats()
    for block in 0..<panels.blocks {
        sum = V.multiplyAdd(weightMinimums(block), V.loadFloats(panels.sums + (first &+ block) &* V.width), sum)
    }
    return sum
}

/// Y = X W^T through 16-row panels for a 32-value format: threads split the weight rows, two at
/// a time; each pair is decoded once and meets every panel.
@inline(__always)
func multiplyPanels32<F: VNNIBlock32>(
    _ format: F.Type, sixteenRowsOf weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool, blockSums: Bool
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
                    TwoLanes16.store(panelRow32(F.self, two, decodedA, decodedB, panels, panel, blockSums: blockSums), lanes)
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
                    let results = panelRow32(F.self, single, decodedA, decodedA, panels, panel, blockSums: blockSums)
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
    pool: ThreadPool?, parallel: Bool, blockSums: Bool
) {
    forEachPanelWidth(batch: batch, { first, count in
        multiplyPanels32(
            F.self, sixteenRowsOf: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel, blockSums: blockSums)
    }, { first, count in
        multiplyMirroredPairs32(
            F.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel, blockSums: blockSums)
    })
}
#endif
