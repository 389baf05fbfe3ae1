// Matrix-vector and matrix-matrix products over quantised weights.
//
// Activations are quantised once per row into the weight format's activation format; every
// weight row is then dotted with them in integers (see the formats). Threads split the weight
// rows. For a batch, each thread walks its rows in tiles and dots every row of a tile with a
// group of activation rows before moving on, so each weight row comes from memory once per
// batch and the tile stays in cache while the activations stream past.

/// Weight rows per tile in the batched product: 16 rows of a few KB stay in L2 while a group of
/// activation rows is dotted with them.
let weightRowTile = 16

/// Below this many weight bytes per product, splitting across threads costs more than it saves.
let minimumParallelBytes = 64 * 1024

extension WeightMatrix {
    /// y = W x: `y[r] = dot(row r, x)` for x of `columns` floats and y of `rows` floats.
    public func matVec(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, pool: ThreadPool? = nil) {
        require(x.count == columns, "\(name): matVec input has \(x.count) floats, expected \(columns)")
        let activations = QuantizedActivations(checkedFormat: format.activationFormat, columns: columns, capacity: 1)
        activations.quantize(x, rows: 1)
        multiply(activations, into: y, pool: pool)
    }

    /// Y = X W^T for a batch: X is `batch` rows of `columns` floats, Y is `batch` rows of `rows`
    /// floats (both row-major): `Y[b][r] = dot(row r, X[b])`.
    public func matMat(
        _ x: UnsafeBufferPointer<Float>, batch: Int, into y: UnsafeMutableBufferPointer<Float>, pool: ThreadPool? = nil
    ) {
        require(batch >= 1, "\(name): matMat batch \(batch)")
        require(x.count == batch * columns, "\(name): matMat input has \(x.count) floats, expected \(batch) x \(columns)")
        let activations = QuantizedActivations(checkedFormat: format.activationFormat, columns: columns, capacity: batch)
        activations.quantize(x, rows: batch, pool: pool)
        multiply(activations, into: y, pool: pool)
    }

    /// Y = X W^T with X already quantised (in `format.Activation`): y holds `x.rows` rows of
    /// `rows` floats.
    ///
    /// `rowOrders` (nil, or one per activation row) says how llama.cpp would round each row's
    /// products where that depends on the batch (see `RowOrder`); formats whose rounding never
    /// depends on it ignore it.
    public func multiply(
        _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>, pool: ThreadPool? = nil,
        order: ProductOrder = .llamaCpp, rowOrders: [RowOrder]? = nil
    ) {
        checkOperands(x, y)
        require(rowOrders == nil || rowOrders!.count == x.rows, "\(name): \(rowOrders!.count) row orders for \(x.rows) rows")
        if order == .llamaCpp, let rowOrders, rowOrders.contains(where: { !$0.isEmpty }) {
            rowOrders.withUnsafeBufferPointer { orders in
                multiplyFast(format, weights: self, activations: x, output: y.baseAddress!, pool: pool, order: order,
                             rowOrders: orders.baseAddress)
            }
        } else {
            multiplyFast(format, weights: self, activations: x, output: y.baseAddress!, pool: pool, order: order, rowOrders: nil)
        }
    }

    /// Scalar reference twin of `multiply`: one thread, `dotReference` for every output.
    public func multiplyReference(_ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>) {
        checkOperands(x, y)
        for b in 0..<x.rows {
            for r in 0..<rows {
                y[b * rows + r] = format.dotReference(row(r), x.row(b), count: columns)
            }
        }
    }

    private func checkOperands(_ x: QuantizedActivations, _ y: UnsafeMutableBufferPointer<Float>) {
        require(ObjectIdentifier(x.format) == ObjectIdentifier(format.activationFormat),
                "\(name): \(format.name) weights need \(format.activationFormat.name) activations, got \(x.format.name)")
        require(x.columns == columns, "\(name): activations have \(x.columns) columns, expected \(columns)")
        require(y.count == x.rows * rows, "\(name): output has \(y.count) floats, expected \(x.rows) x \(rows)")
    }
}

extension QuantizedActivations {
    /// For shapes already validated by a `WeightMatrix`.
    convenience init(checkedFormat format: any ActivationFormat.Type, columns: Int, capacity: Int) {
        do {
            try self.init(format: format, columns: columns, capacity: capacity)
        } catch {
            fatalError("\(error)")
        }
    }
}

/// The product for one weight format (the existential is opened once per call; `F.dot` is then
/// one dynamic call per row into the format's specialised kernel).
private func multiplyFast<F: QuantFormat>(
    _ format: F.Type, weights: WeightMatrix, activations: QuantizedActivations,
    output: UnsafeMutablePointer<Float>, pool: ThreadPool?, order: ProductOrder, rowOrders: UnsafePointer<RowOrder>?
) {
    let rows = weights.rows, columns = weights.columns, batch = activations.rows
    let w = weights.data, rowBytes = weights.rowByteCount
    let a = UnsafeRawPointer(activations.storage), activationBytes = activations.rowByteCount
    let parallel = pool.map { $0.threadCount > 1 } == true && rows * rowBytes * batch >= minimumParallelBytes

    #if HEARTH_AVX512_VNNI
    if order == .blockSums, F.self == Q6_K.self {
        // Q6_K in the tiled order for every row: one rounding per super-block.
        if batch == 1 {
            let work = { (range: Range<Int>) in
                dotRowsAsTwoStreams(range, output: output) { r in
                    Q6_K.dotTiledOrder(w + r &* rowBytes, a, count: columns)
                } pair: { r, s in
                    Q6_K.dotTiledOrderTwoRows(w + r &* rowBytes, w + s &* rowBytes, a, count: columns)
                }
            }
            if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
        } else {
            [RowOrder](repeating: .inBatchOfEight, count: batch).withUnsafeBufferPointer { orders in
                Q6_K.multiplyPanels(
                    weights: w, rows: rows, rowBytes: rowBytes, columns: columns, activations: a,
                    activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel,
                    rowOrders: orders.baseAddress)
            }
        }
        return
    }
    if let panelKernel = F.self as? any KQuantPanelKernel.Type, batch >= panelKernel.panelsPayFromBatch || rowOrders != nil {
        panelKernel.multiplyPanels(
            weights: w, rows: rows, rowBytes: rowBytes, columns: columns, activations: a,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel,
            rowOrders: rowOrders)
        return
    }
    if batch == 1, let vnni = F.self as? any VNNIBlock32.Type {
        vnni.multiplyBatch(
            weights: w, rows: rows, rowBytes: rowBytes, columns: columns, activations: a,
            activationBytes: activationBytes, batch: 1, output: output, pool: pool, parallel: parallel, order: order)
        return
    }
    #endif
    if batch == 1 {
        let work = { (range: Range<Int>) in
            dotRowsAsTwoStreams(range, output: output) { r in
                F.dot(w + r &* rowBytes, a, count: columns)
            } pair: { r, s in
                F.dotTwoRows(w + r &* rowBytes, w + s &* rowBytes, a, count: columns)
            }
        }
        if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
        return
    }

    #if HEARTH_AVX512_VNNI
    if let vnni = F.self as? any VNNIBlock32.Type {
        vnni.multiplyBatch(
            weights: w, rows: rows, rowBytes: rowBytes, columns: columns, activations: a,
            activationBytes: activationBytes, batch: batch, output: output, pool: pool, parallel: parallel, order: order)
        return
    }
    #endif

    // Formats with an unpacked kernel unpack each weight row once for the whole batch (same
    // results as `F.dot`, bit for bit), once the batch is large enough to repay the unpacking.
    if let unpackable = F.self as? any UnpackedDotKernel.Type, batch >= unpackable.unpackingPaysFromBatch {
        multiplyUnpacked(unpackable, weights: weights, activations: activations, output: output, pool: pool, parallel: parallel)
        return
    }

    // Activation rows per group: about 64 KB of them, so a group stays in L2 next to the tile.
    let batchGroup = max(1, min(batch, 64 * 1024 / activationBytes))
    let work = { (range: Range<Int>) in
        var tileStart = range.lowerBound
        while tileStart < range.upperBound {
            let tileEnd = min(tileStart + weightRowTile, range.upperBound)
            var first = 0
            while first < batch {
                let count = min(batchGroup, batch - first)
                for r in tileStart..<tileEnd {
                    F.dot(
                        w + r &* rowBytes, activations: a + first &* activationBytes, activationStride: activationBytes,
                        activationCount: count, count: columns, into: output + (first &* rows &+ r), outputStride: rows)
                }
                first += count
            }
            tileStart = tileEnd
        }
    }
    if parallel, let pool { pool.parallelFor(rows, grain: weightRowTile, work) } else { work(0..<rows) }
}

/// Dots the weight rows of `range` with one activation row: row i of the range's first half
/// together with row i of its second half (`pair`), and a last odd row alone (`single`). Each half
/// is read front to back, so a thread streams two regions of the matrix at once: with one row at
/// a time the core waited on its single stream (BENCHMARKS.md, session 23). Two adjacent rows
/// side by side were far slower still: the hardware prefetchers lost both streams.
@inline(__always)
func dotRowsAsTwoStreams(
    _ range: Range<Int>, output: UnsafeMutablePointer<Float>,
    single: (Int) -> Float, pair: (Int, Int) -> (Float, Float)
) {
    let half = range.count / 2, lower = range.lowerBound
    for i in 0..<half {
        (output[lower &+ i], output[lower &+ half &+ i]) = pair(lower &+ i, lower &+ half &+ i)
    }
    if range.count & 1 == 1 { output[range.upperBound &- 1] = single(range.upperBound &- 1) }
}

/// The float operations of the AVX-512 VNNI products (other builds have one order of their own).
public enum ProductOrder: Sendable {
    /// llama.cpp's x86 operations, kernel for kernel, as it chooses them by batch size
    /// (`RowOrder`): logits equal llama.cpp's, greedy output is llama-simple's.
    case llamaCpp
    /// The 32-value formats' block products summed exactly and rounded once per block, Q6_K's
    /// once per super-block (llama.cpp's tiled-kernel order, for every row), Q4_K as llama.cpp
    /// multiplies one row: batched products (several sequences decoding together) do about half
    /// the float work, and a row's result never depends on its batch at all. What `hearth serve`
    /// uses.
    case blockSums
}

/// How llama.cpp's x86 build rounds one activation row's products where that depends on the
/// batch the row is in (it picks kernels by batch size).
public struct RowOrder: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// One of the first n - n % 4 rows of a batch, which llama.cpp's repacked Q4_K product takes
    /// four at a time (`ggml_gemm_q4_K_8x8_q8_K`: one fused multiply-add per pair of sub-blocks;
    /// the other rows `ggml_gemv_…`: one per super-block).
    public static let groupedInFours = RowOrder(rawValue: 1)
    /// A row of a batch of 8 or more: llama.cpp multiplies Q6_K (not repacked) with its tiled
    /// kernel there, (sum · d_w) · d_a added per super-block, not `vec_dot`'s eight lanes.
    public static let inBatchOfEight = RowOrder(rawValue: 2)
}

/// True when the quantised products run in the float operations of llama.cpp's x86 kernels
/// (`vec_dot`, tinyBLAS, the repacked Q4_K gemv/gemm): the AVX-512 VNNI kernels of a release
/// build. Other builds sum the same integers but round the floats in their own order.
#if HEARTH_AVX512_VNNI
public let productsRoundAsLlamaCppX86 = true
#else
public let productsRoundAsLlamaCppX86 = false
#endif
