// Batched K-quant products on AVX-512 VNNI with one activation row per lane.
//
// Sixteen activation rows are laid out as a panel: for every four consecutive values, the sixteen
// rows' four quants side by side (64 bytes). A weight row's four unpacked quants are broadcast to
// all sixteen lanes and one 512-bit `vpdpbusd` adds 4 x 16 products, each lane belonging to one
// activation row — so a lane holds a whole sub-block sum, which takes its sub-block scale with one
// multiply for sixteen rows, and nothing is summed across lanes. Up to 8 activation rows (a
// decode step) fill a mirrored panel, row r in lanes r and r + 8, against two weight rows: row A's
// quants in lanes 0-7, row B's in lanes 8-15 (`MirroredPairRows`).
//
// The integer sums are exact and the float operations are the single-row `dot`'s (llama.cpp's),
// applied lane by lane, so each result is bit for bit the single-row `dot`.

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel

/// K-quant formats with a panel kernel.
protocol KQuantPanelKernel: QuantFormat {
    /// The batch from which panels beat the four-row kernel (measured, 2 threads; see MatVec).
    static var panelsPayFromBatch: Int { get }
    /// Y = X W^T through panels (a requirement so that the call, made through an existential,
    /// runs code specialised for the format).
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
        rowOrders: UnsafePointer<RowOrder>?)
    /// A weight row's quants as unsigned bytes, 256 per super-block, in element order.
    static func unpackRow(_ row: UnsafeRawPointer, blocks: Int, into unpacked: UnsafeMutablePointer<UInt8>)
    /// The weight rows `rows` (one, two, or a mirrored pair), already unpacked, with one panel.
    static func panelRow<R: PanelRows>(_ rows: R, _ panels: ActivationPanels, _ panel: Int) -> R.V.Floats
}

/// Q8_K activation rows rearranged in panels of `width` rows (the last one padded with zero rows).
struct ActivationPanels {
    let width: Int
    let blocks: Int
    let panels: Int
    /// [panel][block][64 groups of 4 values][width rows][4 quants]: 256 * width bytes per panel block.
    let quants: UnsafeMutablePointer<Int8>
    /// [panel][block][width rows]: each row's Q8_K scale.
    let scales: UnsafeMutablePointer<Float>
    /// [panel][block][16 partial sums][width rows]: Q8_K's 16-value sums, widened.
    let sums: UnsafeMutablePointer<Int32>
    /// [panel]: the lanes whose rows are `RowOrder.groupedInFours`.
    let groupedLanes: [UInt16]
    /// [panel]: the lanes whose rows are `RowOrder.inBatchOfEight`.
    let tiledLanes: [UInt16]
    /// [panel]: the lanes that hold a row (the others are padding).
    let occupiedLanes: [UInt16]

    /// `mirrored`: one 16-row panel of up to 8 rows, row r in lanes r and r + 8, for two weight
    /// rows at once (`MirroredPairRows`).
    init(
        _ activations: UnsafeRawPointer, rowBytes: Int, rows: Int, columns: Int, width: Int, mirrored: Bool = false,
        rowOrders: UnsafePointer<RowOrder>? = nil
    ) {
        precondition(!mirrored || (width == 16 && rows <= 8), "a mirrored panel holds up to 8 rows twice")
        self.width = width
        blocks = columns / 256
        panels = (rows + width - 1) / width
        var groupedLanes = [UInt16](repeating: 0, count: panels), tiledLanes = groupedLanes, occupiedLanes = groupedLanes
        for row in 0..<rows {
            let panel = mirrored ? 0 : row / width
            let lanes = mirrored ? UInt16(1) << row | UInt16(1) << (row &+ 8) : UInt16(1) << (row % width)
            occupiedLanes[panel] |= lanes
            if let rowOrders, rowOrders[row].contains(.groupedInFours) { groupedLanes[panel] |= lanes }
            if let rowOrders, rowOrders[row].contains(.inBatchOfEight) { tiledLanes[panel] |= lanes }
        }
        self.groupedLanes = groupedLanes
        self.tiledLanes = tiledLanes
        self.occupiedLanes = occupiedLanes
        let panelBlocks = panels * blocks
        quants = allocatePanelStorage(Int8.self, count: panelBlocks * 256 * width)
        scales = allocatePanelStorage(Float.self, count: panelBlocks * width)
        sums = allocatePanelStorage(Int32.self, count: panelBlocks * 16 * width)
        quants.initialize(repeating: 0, count: panelBlocks * 256 * width)
        scales.initialize(repeating: 0, count: panelBlocks * width)
        sums.initialize(repeating: 0, count: panelBlocks * 16 * width)
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
                let a = row + block &* 292
                let index = panel &* blocks &+ block
                let q = a.signedBytes(at: Q8_K.quantsOffset)
                let out = quants + (index &* 64 &* groupBytes &+ lane &* 4)
                for group in 0..<64 {
                    let target = out + group &* groupBytes, source = q + group &* 4
                    target[0] = source[0]; target[1] = source[1]; target[2] = source[2]; target[3] = source[3]
                }
                scales[index &* width &+ lane] = a.q8KScale
                for group in 0..<16 { sums[(index &* 16 &+ group) &* width &+ lane] = a.q8KBlockSum(group) }
            }
        }
    }

    /// The first quant byte of group `group` of a panel block.
    @inline(__always)
    func quants(_ index: Int, group: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(quants + (index &* 64 &+ group) &* 4 &* width)
    }

    func deallocate() {
        quants.deallocate(); scales.deallocate(); sums.deallocate()
    }
}

/// Sum over `groups` consecutive groups of four values of each lane's products with the weight
/// quants `weights`, starting from zero; the panel's groups are `4 * V.width` bytes apart.
@inline(__always)
func panelProducts<G: PanelWeightGroups>(_ weights: G, _ panelQuants: UnsafeRawPointer, groups: Int) -> G.V.Ints {
    typealias V = G.V
    // Two chains of `vpdpbusd`, so the next one need not wait for the previous one's result.
    var even = V.zeroInts(), odd = V.zeroInts()
    let groupBytes = 4 &* V.width
    var group = 0
    while group < groups {
        even = V.dotBytes(even, weights.group(group), V.loadInts(panelQuants + group &* groupBytes))
        odd = V.dotBytes(odd, weights.group(group &+ 1), V.loadInts(panelQuants + (group &* groupBytes &+ groupBytes)))
        group &+= 2
    }
    return V.add(even, odd)
}

/// The panel product for one format over 16-row panels: threads split the weight rows, two at a
/// time; each pair is unpacked once and meets every panel.
@inline(__always)
func multiplyKQuantPanels<F: KQuantPanelKernel>(
    _ format: F.Type, sixteenRowsOf weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool, rowOrders: UnsafePointer<RowOrder>?
) {
    let panels = ActivationPanels(
        activations, rowBytes: activationBytes, rows: batch, columns: columns, width: 16, rowOrders: rowOrders)
    defer { panels.deallocate() }
    let blocks = panels.blocks
    let work = { (range: Range<Int>) in
        let unpacked = allocatePanelStorage(UInt8.self, count: 2 &* blocks &* 256 &+ 128)
        defer { unpacked.deallocate() }
        let unpackedB = unpacked + blocks &* 256, lanes = UnsafeMutableRawPointer(unpackedB + blocks &* 256).assumingMemoryBound(to: Float.self)
        var r = range.lowerBound
        while r < range.upperBound {
            let rowA = weights + r &* rowBytes
            F.unpackRow(rowA, blocks: blocks, into: unpacked)
            if r &+ 1 < range.upperBound {
                F.unpackRow(rowA + rowBytes, blocks: blocks, into: unpackedB)
                let two = TwoRows(first: rowA, last: rowA + rowBytes, unpackedFirst: unpacked, unpackedLast: unpackedB)
                for panel in 0..<panels.panels {
                    TwoLanes16.store(F.panelRow(two, panels, panel), lanes)
                    let first = panel &* 16, valid = min(16, batch &- first)
                    for lane in 0..<valid {
                        output[(first &+ lane) &* rows &+ r] = lanes[lane]
                        output[(first &+ lane) &* rows &+ r &+ 1] = lanes[16 &+ lane]
                    }
                }
                r &+= 2
            } else {
                for panel in 0..<panels.panels {
                    let results = F.panelRow(SingleRow<Lanes16>(first: rowA, unpacked: unpacked), panels, panel)
                    let first = panel &* 16
                    storePanelLanes(Lanes16.self, results, valid: min(16, batch &- first), output + (first &* rows &+ r), stride: rows)
                }
                r &+= 1
            }
        }
    }
    if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
}

/// Y = X W^T for up to 8 activation rows through one mirrored panel, two weight rows at a time
/// (as `multiplyMirroredPairs32`).
@inline(__always)
func multiplyKQuantMirroredPairs<F: KQuantPanelKernel>(
    _ format: F.Type, weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool, rowOrders: UnsafePointer<RowOrder>?
) {
    let panels = ActivationPanels(
        activations, rowBytes: activationBytes, rows: batch, columns: columns, width: 16, mirrored: true,
        rowOrders: rowOrders)
    defer { panels.deallocate() }
    let blocks = panels.blocks
    // Scratch: the two rows unpacked, 64 bytes to spare for `PairGroups`' 32-byte reads.
    forEachMirroredPair(
        weights: weights, rows: rows, rowBytes: rowBytes, batch: batch, output: output, pool: pool, parallel: parallel,
        scratchBytes: 2 &* blocks &* 256 &+ 64
    ) { rowA, rowB, unpacked in
        let unpackedB = unpacked + blocks &* 256
        F.unpackRow(rowA, blocks: blocks, into: unpacked)
        F.unpackRow(rowB, blocks: blocks, into: unpackedB)
        return F.panelRow(MirroredPairRows(first: rowA, last: rowB, unpackedFirst: unpacked, unpackedLast: unpackedB), panels, 0)
    }
}

/// The panel product with the panels `forEachPanelWidth` picks for the batch: 16-row panels, and
/// a mirrored panel for up to 8 rows.
@inline(__always)
func multiplyKQuantPanels<F: KQuantPanelKernel>(
    _ format: F.Type, weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
    activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
    rowOrders: UnsafePointer<RowOrder>?
) {
    forEachPanelWidth(batch: batch, { first, count in
        multiplyKQuantPanels(
            F.self, sixteenRowsOf: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel, rowOrders: rowOrders.map { $0 + first })
    }, { first, count in
        multiplyKQuantMirroredPairs(
            F.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel, rowOrders: rowOrders.map { $0 + first })
    })
}

extension Q4_K: KQuantPanelKernel {
    static var panelsPayFromBatch: Int { 6 }
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
        rowOrders: UnsafePointer<RowOrder>?
    ) {
        multiplyKQuantPanels(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel,
            rowOrders: rowOrders)
    }
    @inline(__always)
    static func panelRow<R: PanelRows>(_ rows: R, _ panels: ActivationPanels, _ panel: Int) -> R.V.Floats {
        panelRowQ4K(rows, panels, panel)
    }
    @inline(__always)
    static func unpackRow(_ row: UnsafeRawPointer, blocks: Int, into unpacked: UnsafeMutablePointer<UInt8>) {
        let mask = _mm256_set1_epi8(0x0F)
        for block in 0..<blocks {
            let qs = row + (block &* 144 &+ 16)
            // Element 64c + l is the low nibble of qs[32c + l], element 64c + 32 + l its high nibble.
            for chunk in 0..<4 {
                let q = load32Bytes(qs + 32 &* chunk)
                let out = UnsafeMutableRawPointer(unpacked + (256 &* block &+ 64 &* chunk))
                out.storeBytes(of: _mm256_and_si256(q, mask), as: __m256i.self)
                (out + 32).storeBytes(of: _mm256_and_si256(_mm256_srli_epi16(q, 4), mask), as: __m256i.self)
            }
        }
    }
}

/// One Q4_K weight row with one panel: the single-row `dot`'s operations in each lane (exact
/// super-block sums; products and minimums in two accumulators, one fused multiply-add each per
/// super-block, as `ggml_gemv_q4_K_8x8_q8_K`). The panel's grouped lanes instead take one fused
/// multiply-add per pair of sub-blocks, as `ggml_gemm_q4_K_8x8_q8_K` does for the rows llama.cpp
/// multiplies four at a time; both are kept and each lane takes its own.
@inline(__always)
func panelRowQ4K<R: PanelRows>(_ rows: R, _ panels: ActivationPanels, _ panel: Int) -> R.V.Floats {
    typealias V = R.V
    var products = V.zeroFloats(), minimumTotals = V.zeroFloats()
    var pairProducts = V.zeroFloats(), pairMinimums = V.zeroFloats()
    let grouped = panels.groupedLanes[panel] != 0
    for block in 0..<panels.blocks {
        let first = rows.first + block &* 144, last = rows.last + block &* 144
        let index = panel &* panels.blocks &+ block
        let sums = panels.sums + index &* 16 &* V.width
        let scale = V.loadFloats(panels.scales + index &* V.width)
        let d = V.multiply(rows.lanes(first.half(at: 0), last.half(at: 0)), scale)
        let dmin = V.multiply(rows.lanes(first.half(at: 2), last.half(at: 2)), scale)
        var scaled = V.zeroInts(), minimums = V.zeroInts()
        var pairScaled = V.zeroInts(), pairMinimum = V.zeroInts()
        for subBlock in 0..<8 {
            let (scale, minimum) = kQuantScaleAndMin(first.bytes(at: 4), subBlock)
            let (lastScale, lastMinimum) = kQuantScaleAndMin(last.bytes(at: 4), subBlock)
            let products = panelProducts(
                rows.groups(block: block, offset: 32 &* subBlock), panels.quants(index, group: 8 &* subBlock), groups: 8)
            let subScaled = V.multiply(products, rows.lanes(scale, lastScale))
            let activationSums = V.add(
                V.loadInts(sums + 2 &* subBlock &* V.width), V.loadInts(sums + (2 &* subBlock &+ 1) &* V.width))
            let subMinimum = V.multiply(activationSums, rows.lanes(minimum, lastMinimum))
            scaled = V.add(scaled, subScaled)
            minimums = V.add(minimums, subMinimum)
            if grouped {
                pairScaled = V.add(pairScaled, subScaled)
                pairMinimum = V.add(pairMinimum, subMinimum)
                if subBlock & 1 == 1 {
                    pairProducts = V.multiplyAdd(V.float(pairScaled), d, pairProducts)
                    pairMinimums = V.multiplyAdd(V.float(pairMinimum), dmin, pairMinimums)
                    pairScaled = V.zeroInts()
                    pairMinimum = V.zeroInts()
                }
            }
        }
        products = V.multiplyAdd(V.float(scaled), d, products)
        minimumTotals = V.multiplyAdd(V.float(minimums), dmin, minimumTotals)
    }
    let single = V.subtract(products, minimumTotals)
    return grouped ? V.select(panels.groupedLanes[panel], V.subtract(pairProducts, pairMinimums), single) : single
}

extension Q6_K: KQuantPanelKernel {
    static var panelsPayFromBatch: Int { 6 }
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
        rowOrders: UnsafePointer<RowOrder>?
    ) {
        multiplyKQuantPanels(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel,
            rowOrders: rowOrders)
    }
    @inline(__always)
    static func panelRow<R: PanelRows>(_ rows: R, _ panels: ActivationPanels, _ panel: Int) -> R.V.Floats {
        panelRowQ6K(rows, panels, panel)
    }
    @inline(__always)
    static func unpackRow(_ row: UnsafeRawPointer, blocks: Int, into unpacked: UnsafeMutablePointer<UInt8>) {
        let mask = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3)
        for block in 0..<blocks {
            let w = row + block &* 210
            for half in 0..<2 {
                let ql0 = load32Bytes(w + 64 &* half), ql1 = load32Bytes(w + (64 &* half &+ 32))
                let qh = load32Bytes(w + (128 &+ 32 &* half))
                for k in 0..<4 {
                    let lowSource = k & 1 == 0 ? ql0 : ql1
                    let low = k < 2 ? _mm256_and_si256(lowSource, mask) : _mm256_and_si256(_mm256_srli_epi16(lowSource, 4), mask)
                    let highBits = _mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 &* k)), three)
                    UnsafeMutableRawPointer(unpacked + (256 &* block &+ 128 &* half &+ 32 &* k))
                        .storeBytes(of: _mm256_or_si256(low, _mm256_slli_epi16(highBits, 4)), as: __m256i.self)
                }
            }
        }
    }
}

/// One Q6_K weight row with one panel: the single-row `dot`'s operations in each lane. Lane k
/// of ggml's eight (values 4k ..< 4k + 4 of every 32) takes the groups of four k, k + 8, ...: each
/// group's four products (`vpdpbusd`, at most 4 * 63 * 127 in magnitude, so a 16-bit value)
/// times its scale with `vpdpwssd` against the scale in the low half of the lane; then 32 *
/// scale * the 16-value activation sums come off as ggml takes them off, lane k getting groups
/// 2k and 2k + 1, and the lane goes into its float accumulator with one fused multiply-add.
@inline(__always)
func panelRowQ6K<R: PanelRows>(_ rows: R, _ panels: ActivationPanels, _ panel: Int) -> R.V.Floats {
    typealias V = R.V
    var acc = LaneAccumulators<V>()
    // Rows of batches of 8 or more: llama.cpp's tiled kernel, (sum · d_w) · d_a fused into one
    // accumulator per super-block.
    let tiled = panels.tiledLanes[panel], onlyTiled = tiled != 0 && tiled == panels.occupiedLanes[panel]
    var tiledTotals = V.zeroFloats()
    for block in 0..<panels.blocks {
        let first = rows.first + block &* 210, last = rows.last + block &* 210
        let firstScales = first.signedBytes(at: 192), lastScales = last.signedBytes(at: 192)
        let index = panel &* panels.blocks &+ block
        let sums = panels.sums + index &* 16 &* V.width
        let scale = V.loadFloats(panels.scales + index &* V.width)
        let weightScale = rows.lanes(first.half(at: 208), last.half(at: 208))
        let d = V.multiply(weightScale, scale)
        if onlyTiled {
            // Every row in the tiled order: the super-block's exact sum is all it needs (a
            // `vpmulld` per sixteen values instead of a `vpdpwssd` per four).
            var scaled = V.zeroInts(), offset = V.zeroInts()
            for group in 0..<16 {
                let groupScale = rows.lanes(Int32(firstScales[group]), Int32(lastScales[group]))
                let products = panelProducts(
                    rows.groups(block: block, offset: 16 &* group), panels.quants(index, group: 4 &* group), groups: 4)
                scaled = V.add(scaled, V.multiply(products, groupScale))
                offset = V.add(offset, V.multiply(V.loadInts(sums + group &* V.width), groupScale))
            }
            let sum = V.subtract(scaled, V.times32(offset))
            tiledTotals = V.multiplyAdd(V.multiply(V.float(sum), weightScale), scale, tiledTotals)
            continue
        }
        var blockSum = V.zeroInts()
        acc.add(scale: d) { k in
            var lane = V.zeroInts()
            for m in 0..<8 {
                let group = 8 &* m &+ k, scaleIndex = 2 &* m &+ k / 4
                // Groups 8m ..< 8m + 8 (`PairGroups` reads eight groups from its offset).
                let weights = rows.groups(block: block, offset: 32 &* m)
                let products = V.dotBytes(V.zeroInts(), weights.group(k), V.loadInts(panels.quants(index, group: group)))
                let words = rows.lanes(Int32(firstScales[scaleIndex]) & 0xFFFF, Int32(lastScales[scaleIndex]) & 0xFFFF)
                lane = V.dotWords(lane, products, words)
            }
            let offset = V.add(
                V.multiply(V.loadInts(sums + 2 &* k &* V.width), rows.lanes(Int32(firstScales[2 &* k]), Int32(lastScales[2 &* k]))),
                V.multiply(V.loadInts(sums + (2 &* k &+ 1) &* V.width),
                           rows.lanes(Int32(firstScales[2 &* k &+ 1]), Int32(lastScales[2 &* k &+ 1]))))
            let exact = V.subtract(lane, V.times32(offset))
            if tiled != 0 { blockSum = V.add(blockSum, exact) }
            return exact
        }
        if tiled != 0 { tiledTotals = V.multiplyAdd(V.multiply(V.float(blockSum), weightScale), scale, tiledTotals) }
    }
    if onlyTiled { return tiledTotals }
    return tiled != 0 ? V.select(tiled, tiledTotals, acc.sum()) : acc.sum()
}
#endif
