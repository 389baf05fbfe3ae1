import Foundation
import GGUF
import Kernels

/// Which positions of a batch need logits.
public enum LogitsSelection: Sendable {
    /// Only the last token's (generation).
    case last
    /// Every token's, row after row (perplexity).
    case all
    /// No logits: the mean over the batch of the final-normed hidden states, one
    /// embedding-sized row (sentence embeddings for `/v1/embeddings`).
    case meanHiddenState
}

/// A decoder-only transformer bound to a memory-mapped GGUF file: weights are shared and
/// read-only, so one model serves many sessions, each with its own ``KVCache``.
public final class TransformerModel: @unchecked Sendable {
    public let hyperparameters: Hyperparameters
    public let recipe: TransformerRecipe
    /// Set once, before any forward pass (adapters are attached right after loading).
    var weights: TransformerWeights
    /// Keeps the mapping (and so every weight pointer) alive as long as the model.
    public let file: GGUFFile
    let pool: ThreadPool
    /// Forward passes of one model run one at a time: the scratch buffers are shared.
    let lock = NSLock()
    var buffers: ForwardBuffers

    /// The float order of the quantised products (`ProductOrder`): llama.cpp's by default; set
    /// before the first forward pass.
    public var productOrder: ProductOrder = .llamaCpp

    /// Most tokens processed in one pass; longer inputs are split so scratch stays bounded.
    public static let maximumBatch = 128

    init(file: GGUFFile, hyperparameters: Hyperparameters, recipe: TransformerRecipe,
         weights: TransformerWeights, threads: Int) throws {
        self.file = file
        self.hyperparameters = hyperparameters
        self.recipe = recipe
        self.weights = weights
        self.pool = ThreadPool(threads: threads)
        self.buffers = ForwardBuffers(hyperparameters)
        let style: RotaryEmbedding.Style = hyperparameters.ropeStyle == .normal ? .normal : .neox
        var magnitude = hyperparameters.ropeAttentionFactor
        // YaRN applies to every rotation of the model (llama.cpp's context-wide `ext_factor`), each
        // with its own base; its attention factor is set from the global scale.
        func yarn(base: Float) -> RotaryEmbedding.YaRN? {
            guard hyperparameters.ropeUsesYaRN else { return nil }
            return RotaryEmbedding.YaRN(dimensions: hyperparameters.ropeDimensions,
                                        originalContext: hyperparameters.ropeOriginalContextLength, base: base)
        }
        if hyperparameters.ropeUsesYaRN {
            magnitude = RotaryEmbedding.YaRN.attentionFactor(scale: hyperparameters.ropeFrequencyScale) * hyperparameters.ropeAttentionFactor
        }
        do {
            globalRope = try RotaryEmbedding(
                dimensions: hyperparameters.ropeDimensions, base: hyperparameters.ropeFrequencyBase,
                scale: hyperparameters.ropeFrequencyScale, style: style, frequencyFactors: weights.ropeFrequencyFactors,
                magnitude: magnitude, yarn: yarn(base: hyperparameters.ropeFrequencyBase))
            slidingRope = try RotaryEmbedding(
                dimensions: hyperparameters.ropeDimensions, base: hyperparameters.ropeFrequencyBaseSliding,
                scale: hyperparameters.ropeFrequencyScaleSliding, style: style, magnitude: magnitude,
                yarn: yarn(base: hyperparameters.ropeFrequencyBaseSliding))
            if let factors = weights.ropeFrequencyFactorsLong {
                longRope = try RotaryEmbedding(
                    dimensions: hyperparameters.ropeDimensions, base: hyperparameters.ropeFrequencyBase,
                    scale: hyperparameters.ropeFrequencyScale, style: style, frequencyFactors: factors, magnitude: magnitude)
            } else {
                longRope = nil
            }
        } catch {
            throw ModelError.invalidKey("\(hyperparameters.architecture).rope", error.description)
        }
    }

    /// RoPE of global layers, and of sliding-window layers (their own base and scale).
    let globalRope: RotaryEmbedding
    let slidingRope: RotaryEmbedding
    /// RoPE of global layers for long contexts, when the model has long frequency factors.
    let longRope: RotaryEmbedding?

    /// The global layers' RoPE for a sequence in `cache`: llama.cpp picks the long factors when
    /// its per-sequence context, which it rounds up to a multiple of 256, exceeds
    /// `rope.scaling.original_context_length`; a cache's capacity is that context here.
    func globalRope(for cache: KVCache) -> RotaryEmbedding {
        guard let longRope else { return globalRope }
        let context = (cache.capacity + 255) / 256 * 256
        return context > hyperparameters.ropeOriginalContextLength ? longRope : globalRope
    }

    /// How the caches this model makes store keys and values; set before the first cache is made.
    public var cacheType: KVCacheType = .f16

    /// A KV cache for one sequence of up to `capacity` tokens, in `cacheType`.
    public func makeCache(capacity: Int) throws -> KVCache {
        try KVCache(hyperparameters: hyperparameters, capacity: capacity, type: cacheType)
    }

    /// Runs `tokens` at the cache's next positions and returns logits (vocabulary-sized rows).
    public func forward(_ tokens: [Int32], cache: KVCache, logits selection: LogitsSelection = .last) throws -> [Float] {
        let vocabulary = hyperparameters.vocabularySize
        for token in tokens where token < 0 || Int(token) >= vocabulary {
            throw ModelError.invalidToken(token, vocabularySize: vocabulary)
        }
        guard cache.count + tokens.count <= cache.capacity else {
            throw ModelError.contextFull(needed: cache.count + tokens.count, capacity: cache.capacity)
        }
        guard !tokens.isEmpty else { return [] }
        lock.lock()
        defer { lock.unlock() }
        var result: [Float] = []
        if selection == .meanHiddenState {
            result = [Float](repeating: 0, count: hyperparameters.embeddingLength)
        } else {
            result.reserveCapacity(selection == .all ? tokens.count * vocabulary : vocabulary)
        }
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + Self.maximumBatch)
            let isLast = end == tokens.count
            if selection == .meanHiddenState {
                _ = try forwardBatch(Array(tokens[start..<end]), segments: [Segment(cache: cache, firstRow: 0, count: end - start)], logitRows: [])
                addNormedHiddenStates(rows: end - start, into: &result)
            } else {
                let count = end - start
                let wanted: [Int] = selection == .all ? Array(0..<count) : (isLast ? [count - 1] : [])
                let rows = try forwardBatch(Array(tokens[start..<end]), segments: [Segment(cache: cache, firstRow: 0, count: count)],
                                            logitRows: wanted)
                result.append(contentsOf: rows)
            }
            start = end
        }
        if selection == .meanHiddenState {
            let scale = 1 / Float(tokens.count)
            for i in result.indices { result[i] *= scale }
        }
        return result
    }

    /// Adds the output-normed hidden state of each row of the last batch to `sum`.
    private func addNormedHiddenStates(rows: Int, into sum: inout [Float]) {
        let embedding = hyperparameters.embeddingLength
        normRows(buffers.hidden, weight: weights.outputNorm, rows: rows, width: embedding, into: buffers.normed)
        for row in 0..<rows {
            let source = buffers.normed + row * embedding
            for i in 0..<embedding { sum[i] += source[i] }
        }
    }

    /// One batch: embeddings → layers → (selected rows) norm → LM head. The rows may belong to
    /// several sequences (`segments`), each at its own positions in its own cache: the weights
    /// are read once for all of them.
    func forwardBatch(_ tokens: [Int32], segments: [Segment], logitRows: [Int]) throws -> [Float] {
        let hp = hyperparameters
        let n = tokens.count
        let embedding = hp.embeddingLength
        buffers.reserve(batch: n)
        let b = buffers
        let x = b.hidden

        for (index, token) in tokens.enumerated() {
            weights.tokenEmbedding.dequantizeRow(Int(token), into: x + index * embedding)
        }
        if let scale = recipe.embeddingScale {
            for i in 0..<(n * embedding) { x[i] *= scale }
        }

        let rows = RowMap(segments: segments, rows: n)
        let (orders, lastOrders) = productOrder == .llamaCpp
            ? Self.rowOrders(segments: segments, rows: n, logitRows: logitRows) : (nil, nil)
        for layer in 0..<hp.blockCount {
            attentionBlock(layer: layer, batch: n, rows: rows, orders: orders)
            feedForwardBlock(layer: layer, batch: n, orders: layer == hp.blockCount - 1 ? lastOrders : orders)
        }
        for segment in segments { segment.cache.advance(by: segment.count) }

        guard !logitRows.isEmpty else { return [] }
        for (index, row) in logitRows.enumerated() {
            normRows(x + row * embedding, weight: weights.outputNorm, rows: 1, width: embedding, into: b.normed + index * embedding)
        }
        var logits = [Float](repeating: 0, count: logitRows.count * hp.vocabularySize)
        logits.withUnsafeMutableBufferPointer { out in
            weights.output.apply(
                b.normed, batch: logitRows.count, into: out.baseAddress!, scratch: b.arena, pool: pool, order: productOrder)
        }
        if let cap = recipe.finalLogitSoftCap {
            // ggml's scale(1/cap), tanh, scale(cap), in that order.
            let inverse = 1 / cap
            for i in logits.indices { logits[i] = tanhf(logits[i] * inverse) * cap }
        }
        return logits
    }

    /// How llama.cpp would round each row's products (`RowOrder`): it picks kernels by batch
    /// size, so within each sequence's rows all but the last count % 4 are grouped in fours, and
    /// all are in a batch of eight when there are 8 or more. In the last layer llama.cpp keeps
    /// only the rows whose logits are wanted before the feed-forward block, so there the orders
    /// follow those rows. Deciding per sequence keeps a sequence's results independent of the
    /// others in its batch; a segment of rows alone (a speculative check) keeps single rows'
    /// orders. Nil when every row is a single row's order.
    static func rowOrders(segments: [Segment], rows: Int, logitRows: [Int]) -> (layers: [RowOrder]?, last: [RowOrder]?) {
        var orders = [RowOrder](repeating: [], count: rows)
        var lastOrders = orders
        let wanted = Set(logitRows)
        func mark(_ members: [Int], into target: inout [RowOrder]) {
            for row in members.prefix(members.count - members.count % 4) { target[row].insert(.groupedInFours) }
            if members.count >= 8 { for row in members { target[row].insert(.inBatchOfEight) } }
        }
        for segment in segments where !segment.rowsAlone {
            let members = Array(segment.firstRow..<segment.firstRow + segment.count)
            mark(members, into: &orders)
            mark(members.filter { wanted.contains($0) }, into: &lastOrders)
        }
        if logitRows.isEmpty { lastOrders = orders }
        let isSingle = { (orders: [RowOrder]) in orders.allSatisfy(\.isEmpty) }
        return (isSingle(orders) ? nil : orders, isSingle(lastOrders) ? nil : lastOrders)
    }

    private func attentionBlock(layer: Int, batch n: Int, rows: RowMap, orders: [RowOrder]?) {
        let hp = hyperparameters
        let w = weights.layers[layer]
        let b = buffers
        let embedding = hp.embeddingLength
        normRows(b.hidden, weight: w.attentionNorm, rows: n, width: embedding, into: b.normed)

        w.query.apply(b.normed, batch: n, into: b.query, scratch: b.arena, pool: pool, order: productOrder, rowOrders: orders)
        w.key.apply(b.normed, batch: n, into: b.key, scratch: b.arena, pool: pool, order: productOrder, rowOrders: orders)
        w.value.apply(b.normed, batch: n, into: b.value, scratch: b.arena, pool: pool, order: productOrder, rowOrders: orders)

        let headDimension = hp.headDimension
        if let queryNorm = w.queryNorm {
            normRows(b.query, weight: queryNorm, rows: n * hp.headCount, width: headDimension, into: b.query)
        }
        if let keyNorm = w.keyNorm {
            normRows(b.key, weight: keyNorm, rows: n * hp.headCountKV, width: headDimension, into: b.key)
        }

        let sliding = hp.slidingLayers[layer]
        for t in 0..<n {
            let position = rows.positions[t]
            let rope = sliding ? slidingRope : globalRope(for: rows.segments[rows.segmentOfRow[t]].cache)
            rope.apply(to: UnsafeMutableBufferPointer(start: b.query + t * hp.queryLength, count: hp.queryLength),
                       headCount: hp.headCount, headDimension: headDimension, position: position)
            rope.apply(to: UnsafeMutableBufferPointer(start: b.key + t * hp.keyLength, count: hp.keyLength),
                       headCount: hp.headCountKV, headDimension: headDimension, position: position)
        }

        // Append each sequence's keys and values to its cache.
        for segment in rows.segments {
            let cache = segment.cache
            cache.store(b.key + segment.firstRow * hp.keyLength, rows: segment.count, heads: hp.headCountKV,
                        dimension: headDimension, rotation: cache.type.keyRotation(headDimension: headDimension),
                        into: cache.keys[layer], rowBytes: cache.keyRowBytes,
                        headBytes: cache.keyHeadBytes, at: segment.start)
            cache.store(b.value + segment.firstRow * hp.valueLength, rows: segment.count, heads: hp.headCountKV,
                        dimension: hp.valueDimension, rotation: cache.type.valueRotation(valueDimension: hp.valueDimension),
                        into: cache.values[layer], rowBytes: cache.valueRowBytes,
                        headBytes: cache.valueHeadBytes, at: segment.start)
        }

        attend(layer: layer, batch: n, rows: rows, window: sliding ? hp.slidingWindow : nil)

        w.output.apply(b.attention, batch: n, into: b.projected, scratch: b.arena, pool: pool, order: productOrder, rowOrders: orders)
        if let post = w.postAttentionNorm {
            normRows(b.projected, weight: post, rows: n, width: embedding, into: b.projected)
        }
        for i in 0..<(n * embedding) { b.hidden[i] += b.projected[i] }
    }

    private func feedForwardBlock(layer: Int, batch n: Int, orders: [RowOrder]?) {
        let hp = hyperparameters
        let w = weights.layers[layer]
        let b = buffers
        let embedding = hp.embeddingLength
        normRows(b.hidden, weight: w.feedForwardNorm, rows: n, width: embedding, into: b.normed)
        switch w.feedForward {
        case .dense(let dense): denseFeedForward(dense, batch: n, orders: orders)
        case .experts(let experts): expertFeedForward(experts, batch: n, orders: orders)
        }
        if let post = w.postFeedForwardNorm {
            normRows(b.projected, weight: post, rows: n, width: embedding, into: b.projected)
        }
        for i in 0..<(n * embedding) { b.hidden[i] += b.projected[i] }
    }

    /// The gated MLP of `n` normed rows (`buffers.normed`) into `buffers.projected`.
    private func denseFeedForward(_ w: DenseFeedForward, batch n: Int, orders: [RowOrder]?) {
        let hp = hyperparameters
        let b = buffers
        w.gate.apply(b.normed, batch: n, into: b.gate, scratch: b.arena, pool: pool, order: productOrder, rowOrders: orders)
        w.up.apply(b.normed, batch: n, into: b.up, scratch: b.arena, pool: pool, order: productOrder, rowOrders: orders)
        // Element-wise, so the threads split it (a prompt chunk's activations are megabytes).
        let activation = recipe.activation
        let gateBase = b.gate, upBase = b.up
        pool.parallelFor(n * hp.feedForwardLength, grain: 4096) { range in
            let gate = UnsafeBufferPointer(start: gateBase + range.lowerBound, count: range.count)
            let up = UnsafeBufferPointer(start: upBase + range.lowerBound, count: range.count)
            let activated = UnsafeMutableBufferPointer(start: gateBase + range.lowerBound, count: range.count)
            switch activation {
            case .swiGLU: swiglu(gate: gate, up: up, into: activated)
            // llama.cpp rounds GELU through a binary16 table; doing the same keeps gemma3 in step with it.
            case .geGLU: GeluHalfTable.geglu(gate: gate, up: up, into: activated)
            }
        }
        w.down.apply(b.gate, batch: n, into: b.projected, scratch: b.arena, pool: pool, order: productOrder, rowOrders: orders)
    }

    private func normRows(
        _ input: UnsafeMutablePointer<Float>, weight: [Float], rows: Int, width: Int,
        into output: UnsafeMutablePointer<Float>
    ) {
        Models.normRows(input, weight: weight, rows: rows, width: width, epsilon: hyperparameters.rmsEpsilon, into: output)
    }
}

/// Activation buffers for one batch, sized for the largest batch seen so far.
final class ForwardBuffers: @unchecked Sendable {
    let hp: Hyperparameters
    let arena = ScratchArena(batchCapacity: TransformerModel.maximumBatch)
    private(set) var batchCapacity = 0
    private(set) var hidden: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var normed: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var query: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var key: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var value: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var attention: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var projected: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var gate: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var up: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    /// The mixture-of-experts feed-forward's own buffers (empty for a dense model).
    let experts = ExpertScratch()

    init(_ hp: Hyperparameters) { self.hp = hp }

    func reserve(batch: Int) {
        if batch > batchCapacity {
            let widest = max(hp.embeddingLength, hp.queryLength)
            for pointer in [hidden, normed, query, key, value, attention, projected, gate, up] { pointer.deallocate() }
            hidden = .allocate(capacity: batch * hp.embeddingLength)
            normed = .allocate(capacity: batch * widest)
            query = .allocate(capacity: batch * hp.queryLength)
            key = .allocate(capacity: batch * hp.keyLength)
            value = .allocate(capacity: batch * hp.valueLength)
            attention = .allocate(capacity: batch * hp.queryLength)
            projected = .allocate(capacity: batch * hp.embeddingLength)
            gate = .allocate(capacity: batch * hp.feedForwardLength)
            up = .allocate(capacity: batch * hp.feedForwardLength)
            batchCapacity = batch
        }
    }

    deinit {
        for pointer in [hidden, normed, query, key, value, attention, projected, gate, up] { pointer.deallocate() }
    }
}
