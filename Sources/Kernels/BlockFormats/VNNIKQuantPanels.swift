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

/// K-quant formats with a panel kernel.
protocol KQuantPanelKernel: QuantFormat {
    /// The batch from which panels beat the four-row kernel (measured, 2 threads; see MatVec).
    static var panelsPayFromBatch: Int { get }
    /// Y = X W^T through panels (a requirement so that the call, made through an existential,
    /// runs code specialised for the format).
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool)
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

    init(_ activations: UnsafeRawPointer, rowBytes: Int, rows: Int, columns: Int, width: Int) {
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
            let panel = row / width, lane = row % width
            for block in 0..<blocks {
                let a = activations + (row &* rowBytes &+ block &* 292)
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
/// quants at `weightQuants` (4 * groups unsigned bytes), starting from zero; the panel's groups are
/// `4 * V.width` bytes apart.
@inline(__always)
func panelProducts<V: PanelLanes>(_ lanes: V.Type, _ weightQuants: UnsafeRawPointer, _ panelQuants: UnsafeRawPointer, groups: Int) -> V.Ints {
    // Two chains of `vpdpbusd`, so the next one need not wait for the previous one's result.
    var even = V.zeroInts(), odd = V.zeroInts()
    let groupBytes = 4 &* V.width
    var group = 0
    while group < groups {
        let w0 = V.splat(weightQuants.loadUnaligned(fromByteOffset: group &* 4, as: Int32.self))
        let w1 = V.splat(weightQuants.loadUnaligned(fromByteOffset: group &* 4 &+ 4, as: Int32.self))
        even = V.dotBytes(even, w0, V.loadInts(panelQuants + group &* groupBytes))
        odd = V.dotBytes(odd, w1, V.loadInts(panelQuants + (group &* groupBytes &+ groupBytes)))
        group &+= 2
    }
    return V.add(even, odd)
}

/// The panel product for one format: threads split the weight rows; each row meets every panel.
@inline(__always)
func multiplyKQuantPanels<V: PanelLanes>(
    _ lanes: V.Type, weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int,
    activations: UnsafeRawPointer, activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool,
    rowKernel: (UnsafeRawPointer, ActivationPanels, Int, UnsafeMutablePointer<UInt8>) -> V.Floats
) {
    let panels = ActivationPanels(activations, rowBytes: activationBytes, rows: batch, columns: columns, width: V.width)
    defer { panels.deallocate() }
    withoutActuallyEscaping(rowKernel) { rowKernel in
        let work = { (range: Range<Int>) in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
                let unpacked = buffer.baseAddress!
                for r in range {
                    for panel in 0..<panels.panels {
                        let results = rowKernel(weights + r &* rowBytes, panels, panel, unpacked)
                        let first = panel &* V.width
                        storePanelLanes(V.self, results, valid: min(V.width, batch &- first), output + (first &* rows &+ r), stride: rows)
                    }
                }
            }
        }
        if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
    }
}

/// `multiplyKQuantPanels` at the panel widths `forEachPanelWidth` picks for the batch.
@inline(__always)
func multiplyKQuantPanels(
    weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
    activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool,
    rowKernel16: (UnsafeRawPointer, ActivationPanels, Int, UnsafeMutablePointer<UInt8>) -> __m512,
    rowKernel8: (UnsafeRawPointer, ActivationPanels, Int, UnsafeMutablePointer<UInt8>) -> __m256
) {
    forEachPanelWidth(batch: batch, { first, count in
        multiplyKQuantPanels(
            Lanes16.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel, rowKernel: rowKernel16)
    }, { first, count in
        multiplyKQuantPanels(
            Lanes8.self, weights: weights, rows: rows, rowBytes: rowBytes, columns: columns,
            activations: activations + first &* activationBytes, activationBytes: activationBytes, batch: count,
            output: output + first &* rows, pool: pool, parallel: parallel, rowKernel: rowKernel8)
    })
}

extension Q4_K: KQuantPanelKernel {
    static var panelsPayFromBatch: Int { 8 }
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyKQuantPanels(
            weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel,
            rowKernel16: { row, panels, panel, unpacked in panelRowQ4K(Lanes16.self, row, panels, panel, unpacked) },
            rowKernel8: { row, panels, panel, unpacked in panelRowQ4K(Lanes8.self, row, panels, panel, unpacked) })
    }
}

/// One Q4_K weight row with one panel: `blockDot`'s formula in each lane.
@inline(__always)
func panelRowQ4K<V: PanelLanes>(
    _ lanes: V.Type, _ row: UnsafeRawPointer, _ panels: ActivationPanels, _ panel: Int, _ unpacked: UnsafeMutablePointer<UInt8>
) -> V.Floats {
    var totals = V.zeroFloats()
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
        let sums = panels.sums + index &* 16 &* V.width
        var scaled = V.zeroInts(), minimums = V.zeroInts()
        for subBlock in 0..<8 {
            let (scale, minimum) = kQuantScaleAndMin(packed, subBlock)
            let products = panelProducts(V.self, UnsafeRawPointer(unpacked + 32 &* subBlock), panels.quants(index, group: 8 &* subBlock), groups: 8)
            scaled = V.add(scaled, V.multiply(products, V.splat(scale)))
            let activationSums = V.add(
                V.loadInts(sums + 2 &* subBlock &* V.width), V.loadInts(sums + (2 &* subBlock &+ 1) &* V.width))
            minimums = V.add(minimums, V.multiply(activationSums, V.splat(minimum)))
        }
        let scale = V.loadFloats(panels.scales + index &* V.width)
        let d = V.multiply(V.splat(w.half(at: 0)), scale)
        let dmin = V.multiply(V.splat(w.half(at: 2)), scale)
        let result = V.subtract(V.multiply(d, V.float(scaled)), V.multiply(dmin, V.float(minimums)))
        totals = V.add(totals, result)
    }
    return totals
}

extension Q6_K: KQuantPanelKernel {
    static var panelsPayFromBatch: Int { 8 }
    static func multiplyPanels(
        weights: UnsafeRawPointer, rows: Int, rowBytes: Int, columns: Int, activations: UnsafeRawPointer,
        activationBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool?, parallel: Bool
    ) {
        multiplyKQuantPanels(
            weights: weights, rows: rows, rowBytes: rowBytes, columns: columns, activations: activations,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel,
            rowKernel16: { row, panels, panel, unpacked in panelRowQ6K(Lanes16.self, row, panels, panel, unpacked) },
            rowKernel8: { row, panels, panel, unpacked in panelRowQ6K(Lanes8.self, row, panels, panel, unpacked) })
    }
}

/// One Q6_K weight row with one panel: `blockDot`'s formula in each lane (unsigned 6-bit quants
/// dotted as they are, 32 * scale * the 16-value activation sums taken off).
@inline(__always)
func panelRowQ6K<V: PanelLanes>(
    _ lanes: V.Type, _ row: UnsafeRawPointer, _ panels: ActivationPanels, _ panel: Int, _ unpacked: UnsafeMutablePointer<UInt8>
) -> V.Floats {
    var totals = V.zeroFloats()
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
        let sums = panels.sums + index &* 16 &* V.width
        var scaled = V.zeroInts(), offset = V.zeroInts()
        for group in 0..<16 {
            let scale = V.splat(Int32(scales[group]))
            let products = panelProducts(V.self, UnsafeRawPointer(unpacked + 16 &* group), panels.quants(index, group: 4 &* group), groups: 4)
            scaled = V.add(scaled, V.multiply(products, scale))
            offset = V.add(offset, V.multiply(V.loadInts(sums + group &* V.width), scale))
        }
        let sum = V.subtract(scaled, V.times32(offset))
        let scale = V.loadFloats(panels.scales + index &* V.width)
        let d = V.multiply(V.splat(w.half(at: 208)), scale)
        totals = V.add(totals, V.multiply(d, V.float(sum)))
    }
    return totals
}
#endif
