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
// The integer super-block sums are exact and the float formula and order are `blockDot`'s and
// `sumSuperBlocks`'s, applied lane by lane, so each result is bit for bit the single-row `dot`.

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
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool)
    /// The weight rows `rows` (one, or a mirrored pair) with one panel, `unpacked` holding 256
    /// bytes per row.
    static func panelRow<R: KQuantPanelRows>(
        _ rows: R, _ panels: ActivationPanels, _ panel: Int, _ unpacked: UnsafeMutablePointer<UInt8>) -> R.V.Floats
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

    /// `mirrored`: one 16-row panel of up to 8 rows, row r in lanes r and r + 8, for two weight
    /// rows at once (`MirroredPairRows`).
    init(_ activations: UnsafeRawPointer, rowBytes: Int, rows: Int, columns: Int, width: Int, mirrored: Bool = false) {
        precondition(!mirrored || (width == 16 && rows <= 8), "a mirrored panel holds up to 8 rows twice")
        self.width = width
        blocks = columns / 256
        panels = (rows + width - 1) / width
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

/// Where a panel kernel's weight quants come from, four per lane: `group(i)` for the i-th group of
/// four values from `start`.
protocol PanelWeightGroups {
    associatedtype V: PanelLanes
    func group(_ i: Int) -> V.Ints
}

/// One weight row's quants, the same four in every lane.
struct BroadcastGroups<V: PanelLanes>: PanelWeightGroups {
    let start: UnsafeRawPointer
    @inline(__always) func group(_ i: Int) -> V.Ints { V.splat(start.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self)) }
}

/// Two weight rows' quants (up to 8 groups of each, loaded together): row A's group in lanes 0-7,
/// row B's in lanes 8-15.
struct PairGroups: PanelWeightGroups {
    typealias V = Lanes16
    let both: __m512i
    init(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) {
        both = unsafeBitCast(SIMD16<Int32>(lowHalf: a.loadUnaligned(as: SIMD8<Int32>.self), highHalf: b.loadUnaligned(as: SIMD8<Int32>.self)), to: __m512i.self)
    }
    @inline(__always) func group(_ i: Int) -> __m512i {
        let index = SIMD16<Int32>(lowHalf: SIMD8(repeating: Int32(truncatingIfNeeded: i)), highHalf: SIMD8(repeating: Int32(truncatingIfNeeded: 8 &+ i)))
        return _mm512_permutexvar_epi32(unsafeBitCast(index, to: __m512i.self), both)
    }
}

/// The weight side of a K-quant panel kernel: one row in every lane, or two rows (`MirroredPairRows`)
/// against a mirrored panel.
protocol KQuantPanelRows {
    associatedtype V: PanelLanes
    associatedtype Groups: PanelWeightGroups where Groups.V == V
    /// Rows unpacked per super-block (their unpacked quants 256 bytes apart).
    static var rowCount: Int { get }
    /// The bytes of row `i`.
    func row(_ i: Int) -> UnsafeRawPointer
    /// Each row's unpacked quants from byte `offset` of its super-block.
    func groups(_ unpacked: UnsafeRawPointer, offset: Int) -> Groups
    /// A value of the first row (lanes of the first row) and of the last one.
    func lanes(_ first: Int32, _ last: Int32) -> V.Ints
    func lanes(_ first: Float, _ last: Float) -> V.Floats
}

struct SingleRow<V: PanelLanes>: KQuantPanelRows {
    let start: UnsafeRawPointer
    static var rowCount: Int { 1 }
    @inline(__always) func row(_ i: Int) -> UnsafeRawPointer { start }
    @inline(__always) func groups(_ unpacked: UnsafeRawPointer, offset: Int) -> BroadcastGroups<V> { BroadcastGroups(start: unpacked + offset) }
    @inline(__always) func lanes(_ first: Int32, _ last: Int32) -> V.Ints { V.splat(first) }
    @inline(__always) func lanes(_ first: Float, _ last: Float) -> V.Floats { V.splat(first) }
}

struct MirroredPairRows: KQuantPanelRows {
    typealias V = Lanes16
    let a: UnsafeRawPointer, b: UnsafeRawPointer
    static var rowCount: Int { 2 }
    @inline(__always) func row(_ i: Int) -> UnsafeRawPointer { i == 0 ? a : b }
    @inline(__always) func groups(_ unpacked: UnsafeRawPointer, offset: Int) -> PairGroups { PairGroups(unpacked + offset, unpacked + (256 &+ offset)) }
    @inline(__always) func lanes(_ first: Int32, _ last: Int32) -> __m512i {
        unsafeBitCast(SIMD16<Int32>(lowHalf: SIMD8(repeating: first), highHalf: SIMD8(repeating: last)), to: __m512i.self)
    }
    @inline(__always) func lanes(_ first: Float, _ last: Float) -> __m512 {
        unsafeBitCast(SIMD16<Float>(lowHalf: SIMD8(repeating: first), highHalf: SIMD8(repeating: last)), to: __m512.self)
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

/// The panel product for one format over panels of one width: threads split the weight rows; each
/// row meets every panel.
@inline(__always)
func multiplyKQuantPanels<F: KQuantPanelKernel, V: PanelLanes>(
    _ format: F.Type, _ lanes: V.Type, weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool
) {
    let panels = ActivationPanels(activations, rowBytes: activationBytes, rows: batch, columns: columns, width: V.width)
    defer { panels.deallocate() }
    let work = { (range: Range<Int>) in
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
            let unpacked = buffer.baseAddress!
            for r in range {
                for panel in 0..<panels.panels {
                    let results = F.panelRow(SingleRow<V>(start: weights + r &* rowBytes), panels, panel, unpacked)
                    let first = panel &* V.width
                    storePanelLanes(V.self, results, valid: min(V.width, batch &- first), output + (first &* rows &+ r), stride: rows)
                }
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
    pool: ThreadPool?, parallel: Bool
) {
    let panels = ActivationPanels(activations, rowBytes: activationBytes, rows: batch, columns: columns, width: 16, mirrored: true)
    defer { panels.deallocate() }
    let work = { (range: Range<Int>) in
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512 &+ 64) { buffer in
            let unpacked = buffer.baseAddress!, lanes = UnsafeMutableRawPointer(unpacked + 512).assumingMemoryBound(to: Float.self)
            var r = range.lowerBound
            var touched: UInt8 = 0
            while r < range.upperBound {
                if r &+ 3 < range.upperBound { touched ^= touchCacheLines(weights + (r &+ 2) &* rowBytes, bytes: 2 &* rowBytes) }
                // A last odd row pairs with itself.
                let rowA = weights + r &* rowBytes, rowB = r &+ 1 < range.upperBound ? rowA + rowBytes : rowA
                Lanes16.store(F.panelRow(MirroredPairRows(a: rowA, b: rowB), panels, 0, unpacked), lanes)
                for b in 0..<batch { output[b &* rows &+ r] = lanes[b] }
                if r &+ 1 < range.upperBound {
                    for b in 0..<batch { output[b &* rows &+ r &+ 1] = lanes[8 &+ b] }
                }
                r &+= 2
            }
            touchedCacheLines = touched
        }
    }
    if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
}

/// The panel product with the panels `forEachPanelWidth` picks for the batch: 16-row panels, and
/// a mirrored panel for up to 8 rows.
@inline(__always)
func multiplyKQuantPanels<F: KQuantPanelKernel>(
    _ format: F.Type, weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
    activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
) {
    forEachPanelWidth(batch: batch, { first, count in
        multiplyKQuantPanels(
            F.self, Lanes16.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel)
    }, { first, count in
        multiplyKQuantMirroredPairs(
            F.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel)
    })
}

extension Q4_K: KQuantPanelKernel {
    static var panelsPayFromBatch: Int { 6 }
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyKQuantPanels(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel)
    }
    @inline(__always)
    static func panelRow<R: KQuantPanelRows>(
        _ rows: R, _ panels: ActivationPanels, _ panel: Int, _ unpacked: UnsafeMutablePointer<UInt8>
    ) -> R.V.Floats {
        panelRowQ4K(rows, panels, panel, unpacked)
    }
}

/// One Q4_K weight row with one panel: `blockDot`'s formula in each lane.
@inline(__always)
func panelRowQ4K<R: KQuantPanelRows>(
    _ rows: R, _ panels: ActivationPanels, _ panel: Int, _ unpacked: UnsafeMutablePointer<UInt8>
) -> R.V.Floats {
    typealias V = R.V
    var totals = V.zeroFloats()
    let mask = _mm256_set1_epi8(0x0F)
    for block in 0..<panels.blocks {
        for i in 0..<R.rowCount {
            let qs = rows.row(i) + (block &* 144 &+ 16)
            // Element 64c + l is the low nibble of qs[32c + l], element 64c + 32 + l its high nibble.
            for chunk in 0..<4 {
                let q = load32Bytes(qs + 32 &* chunk)
                let out = UnsafeMutableRawPointer(unpacked + (256 &* i &+ 64 &* chunk))
                out.storeBytes(of: _mm256_and_si256(q, mask), as: __m256i.self)
                (out + 32).storeBytes(of: _mm256_and_si256(_mm256_srli_epi16(q, 4), mask), as: __m256i.self)
            }
        }
        let first = rows.row(0) + block &* 144, last = rows.row(R.rowCount &- 1) + block &* 144
        let index = panel &* panels.blocks &+ block
        let sums = panels.sums + index &* 16 &* V.width
        var scaled = V.zeroInts(), minimums = V.zeroInts()
        for subBlock in 0..<8 {
            let (scale, minimum) = kQuantScaleAndMin(first.bytes(at: 4), subBlock)
            let (lastScale, lastMinimum) = kQuantScaleAndMin(last.bytes(at: 4), subBlock)
            let products = panelProducts(
                rows.groups(UnsafeRawPointer(unpacked), offset: 32 &* subBlock), panels.quants(index, group: 8 &* subBlock), groups: 8)
            scaled = V.add(scaled, V.multiply(products, rows.lanes(scale, lastScale)))
            let activationSums = V.add(
                V.loadInts(sums + 2 &* subBlock &* V.width), V.loadInts(sums + (2 &* subBlock &+ 1) &* V.width))
            minimums = V.add(minimums, V.multiply(activationSums, rows.lanes(minimum, lastMinimum)))
        }
        let scale = V.loadFloats(panels.scales + index &* V.width)
        let d = V.multiply(rows.lanes(first.half(at: 0), last.half(at: 0)), scale)
        let dmin = V.multiply(rows.lanes(first.half(at: 2), last.half(at: 2)), scale)
        let result = V.subtract(V.multiply(d, V.float(scaled)), V.multiply(dmin, V.float(minimums)))
        totals = V.add(totals, result)
    }
    return totals
}

extension Q6_K: KQuantPanelKernel {
    static var panelsPayFromBatch: Int { 6 }
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyKQuantPanels(
            Self.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel)
    }
    @inline(__always)
    static func panelRow<R: KQuantPanelRows>(
        _ rows: R, _ panels: ActivationPanels, _ panel: Int, _ unpacked: UnsafeMutablePointer<UInt8>
    ) -> R.V.Floats {
        panelRowQ6K(rows, panels, panel, unpacked)
    }
}

/// One Q6_K weight row with one panel: `blockDot`'s formula in each lane (unsigned 6-bit quants
/// dotted as they are, 32 * scale * the 16-value activation sums taken off).
@inline(__always)
func panelRowQ6K<R: KQuantPanelRows>(
    _ rows: R, _ panels: ActivationPanels, _ panel: Int, _ unpacked: UnsafeMutablePointer<UInt8>
) -> R.V.Floats {
    typealias V = R.V
    var totals = V.zeroFloats()
    let mask = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3)
    for block in 0..<panels.blocks {
        for i in 0..<R.rowCount {
            let w = rows.row(i) + block &* 210
            for half in 0..<2 {
                let ql0 = load32Bytes(w + 64 &* half), ql1 = load32Bytes(w + (64 &* half &+ 32))
                let qh = load32Bytes(w + (128 &+ 32 &* half))
                for k in 0..<4 {
                    let lowSource = k & 1 == 0 ? ql0 : ql1
                    let low = k < 2 ? _mm256_and_si256(lowSource, mask) : _mm256_and_si256(_mm256_srli_epi16(lowSource, 4), mask)
                    let highBits = _mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 &* k)), three)
                    UnsafeMutableRawPointer(unpacked + (256 &* i &+ 128 &* half &+ 32 &* k))
                        .storeBytes(of: _mm256_or_si256(low, _mm256_slli_epi16(highBits, 4)), as: __m256i.self)
                }
            }
        }
        let first = rows.row(0) + block &* 210, last = rows.row(R.rowCount &- 1) + block &* 210
        let firstScales = first.signedBytes(at: 192), lastScales = last.signedBytes(at: 192)
        let index = panel &* panels.blocks &+ block
        let sums = panels.sums + index &* 16 &* V.width
        var scaled = V.zeroInts(), offset = V.zeroInts()
        for group in 0..<16 {
            let scale = rows.lanes(Int32(firstScales[group]), Int32(lastScales[group]))
            let products = panelProducts(
                rows.groups(UnsafeRawPointer(unpacked), offset: 16 &* group), panels.quants(index, group: 4 &* group), groups: 4)
            scaled = V.add(scaled, V.multiply(products, scale))
            offset = V.add(offset, V.multiply(V.loadInts(sums + group &* V.width), scale))
        }
        let sum = V.subtract(scaled, V.times32(offset))
        let scale = V.loadFloats(panels.scales + index &* V.width)
        let d = V.multiply(rows.lanes(first.half(at: 208), last.half(at: 208)), scale)
        totals = V.add(totals, V.multiply(d, V.float(sum)))
    }
    return totals
}
#endif
