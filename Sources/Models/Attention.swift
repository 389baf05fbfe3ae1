import Foundation
import Kernels

extension TransformerModel {
    /// Causal attention of each new query over the cached keys.
    ///
    /// This is flash attention as llama.cpp's CPU backend runs it: one pass over the positions
    /// with an online softmax (running maximum M and sum S), in ggml's order, per cache type:
    /// - f16 (its default): the query rounded to binary16 to meet the binary16 keys, the value
    ///   accumulator held in binary16 and rounded after every update (`attendHalfBlock`);
    /// - q8_0 (`-ctk q8_0 -ctv q8_0`): keys, values and queries rotated by a Walsh–Hadamard
    ///   transform (llama.cpp's attention rotation, see ``KVCacheType/keyRotation(headDimension:)``),
    ///   the query quantised to Q8_0 and dotted with the Q8_0 keys (`Q8_0.dot`), each value row
    ///   dequantised to floats and accumulated in Float32 with one fused multiply-add per
    ///   element, and the output rotated back.
    /// With an attention soft cap (gemma2) each score is capped right after scaling, as ggml does.
    /// Rounding where the reference rounds keeps greedy decoding in step with it; it also needs
    /// no score buffer beyond a block's, whatever the context length.
    ///
    /// Each task takes the query heads that share one key/value head, for up to eight rows of
    /// one sequence, and walks the positions in blocks: a block of keys and values is read once
    /// for all of them while it is in cache (at depth, reading them once per query head and row
    /// made attention most of a multi-row pass), and a binary16 block is decoded to floats once
    /// for all of them. Each (row, head) still visits its positions in order with the same
    /// operations, so the results are the one-at-a-time results.
    func attend(layer: Int, batch n: Int, rows: RowMap, window: Int?) {
        let hp = hyperparameters
        let groupSize = hp.headCount / hp.headCountKV
        // A task's heads share the reads and the decoding of their key/value head's blocks, so a
        // group is split only when there are too few tasks to keep every thread busy evenly.
        let rowBlocks = rows.segments.reduce(0) { $0 + ($1.count + Self.attentionRowBlock - 1) / Self.attentionRowBlock }
        let wholeGroups = hp.headCountKV * rowBlocks
        let headsPerTask = n >= 8 || wholeGroups % pool.threadCount == 0 ? groupSize : max(1, (groupSize + 1) / 2)
        var tasks: [AttentionTask] = []
        for segment in rows.segments {
            for kvHead in 0..<hp.headCountKV {
                var row = segment.firstRow
                while row < segment.firstRow + segment.count {
                    let rowCount = min(Self.attentionRowBlock, segment.firstRow + segment.count - row)
                    var head = kvHead * groupSize
                    while head < (kvHead + 1) * groupSize {
                        let count = min(headsPerTask, (kvHead + 1) * groupSize - head)
                        tasks.append(AttentionTask(firstRow: row, rowCount: rowCount, firstHead: head, headCount: count))
                        head += count
                    }
                    row += rowCount
                }
            }
        }
        let stateCapacity = Self.attentionRowBlock * max(headsPerTask, groupSize)
        pool.parallelFor(tasks.count) { range in
            let scratch = AttentionScratch(states: stateCapacity, dimension: hp.headDimension)
            defer { scratch.deallocate() }
            for task in tasks[range] {
                let cache = rows.segments[rows.segmentOfRow[task.firstRow]].cache
                switch cache.type {
                case .f16: attendHalf(task, layer: layer, cache: cache, rows: rows, window: window, scratch: scratch)
                case .q8_0: attendQ8(task, layer: layer, cache: cache, rows: rows, window: window, scratch: scratch)
                }
            }
        }
    }

    /// What multiplies each query · key, and the soft cap applied after it: with a cap, ggml's
    /// flash attention divides the scale by the cap and then takes cap · tanh(score), in that
    /// order, so the scores round as llama.cpp's do.
    private func scoreScaleAndCap() -> (scale: Float, cap: Float?) {
        guard let cap = recipe.attentionLogitSoftCap else { return (recipe.attentionScale, nil) }
        return (recipe.attentionScale / cap, cap)
    }

    /// Rows of one sequence, and positions, that an attention task takes at a time.
    static let attentionRowBlock = 8
    static let attentionPositionBlock = halfAttentionBlock

    /// Sets up each (row, head) state of `task`: its visible positions, an empty softmax, and
    /// its query scaled; returns the lowest and highest position any state sees.
    private func startStates(_ task: AttentionTask, rows: RowMap, window: Int?, scratch: AttentionScratch,
                             prepareQuery: (_ state: Int, _ query: UnsafeMutablePointer<Float>) -> Void) -> (Int, Int) {
        let hp = hyperparameters
        let queryScale = recipe.queryScale ?? 1
        var lowest = Int.max, highest = 0
        for s in 0..<task.rowCount * task.headCount {
            let t = task.firstRow + s / task.headCount, h = task.firstHead + s % task.headCount
            let position = rows.positions[t]
            // Standard sliding window: key j is visible when position - j < window.
            scratch.firsts[s] = window.map { max(0, position - $0 + 1) } ?? 0
            scratch.lasts[s] = position
            lowest = min(lowest, scratch.firsts[s])
            highest = max(highest, position)
            scratch.maxima[s] = -Float.infinity
            scratch.sums[s] = 0
            let query = buffers.query + (t * hp.headCount + h) * hp.headDimension
            let scaled = scratch.queries + s * hp.headDimension
            // x * 1 is x: no query scale costs nothing.
            for d in 0..<hp.headDimension { scaled[d] = query[d] * queryScale }
            prepareQuery(s, scaled)
            (scratch.accumulators + s * hp.headDimension).update(repeating: 0, count: hp.headDimension)
        }
        return (lowest, highest)
    }

    /// Divides each state's accumulator by its sum into the attention output, rotated back
    /// in spans of `rotation` when the values were stored rotated. With `sinks` (gpt-oss), each
    /// head's sink logit first joins the softmax as a position with no value, as ggml adds it
    /// after the last position: a new maximum rescales the accumulator (in Float), and
    /// `S = S·ms + vs` (one fused multiply-add, as GCC contracts it).
    private func finishStates(_ task: AttentionTask, scratch: AttentionScratch, rotation: Int? = nil, sinks: [Float]? = nil) {
        let hp = hyperparameters
        for s in 0..<task.rowCount * task.headCount {
            let t = task.firstRow + s / task.headCount, h = task.firstHead + s % task.headCount
            let accumulator = scratch.accumulators + s * hp.headDimension
            if let sinks {
                let sink = sinks[h], maximum = scratch.maxima[s]
                var rescale: Float = 1, weight: Float = 1
                if sink > maximum {
                    rescale = expf(maximum - sink)
                    for d in 0..<hp.headDimension { accumulator[d] *= rescale }
                } else {
                    weight = expf(sink - maximum)
                }
                scratch.sums[s] = weight.addingProduct(scratch.sums[s], rescale)
            }
            let inverse = 1 / scratch.sums[s]
            let out = buffers.attention + (t * hp.headCount + h) * hp.headDimension
            for d in 0..<hp.headDimension { out[d] = accumulator[d] * inverse }
            if let rotation {
                for start in stride(from: 0, to: hp.headDimension, by: rotation) { walshHadamardTransform(out + start, count: rotation) }
            }
        }
    }

    private func attendHalf(_ task: AttentionTask, layer: Int, cache: KVCache, rows: RowMap, window: Int?,
                            scratch: AttentionScratch) {
        let headDimension = hyperparameters.headDimension
        let (scale, softCap) = scoreScaleAndCap()
        let kvHead = task.firstHead / (hyperparameters.headCount / hyperparameters.headCountKV)
        let keys = UnsafePointer((cache.keys[layer] + kvHead * cache.keyHeadBytes).assumingMemoryBound(to: UInt16.self))
        let values = UnsafePointer((cache.values[layer] + kvHead * cache.valueHeadBytes).assumingMemoryBound(to: UInt16.self))
        let keyStride = cache.keyRowBytes / 2, valueStride = cache.valueRowBytes / 2
        let (lowest, highest) = startStates(task, rows: rows, window: window, scratch: scratch) { _, query in
            for d in 0..<headDimension { query[d] = halfToFloat(floatToHalf(query[d])) }
        }
        let decodedKeys = scratch.decodedKeys, decodedValues = scratch.decodedValues
        var blockStart = lowest
        while blockStart <= highest {
            let blockEnd = min(blockStart + Self.attentionPositionBlock, highest + 1)
            // Each key and value row is decoded once per block for all the task's states.
            decodeHalfRows(keys + blockStart * keyStride, stride: keyStride, count: blockEnd - blockStart,
                           dimension: headDimension, into: decodedKeys)
            decodeHalfRows(values + blockStart * valueStride, stride: valueStride, count: blockEnd - blockStart,
                           dimension: headDimension, into: decodedValues)
            for s in 0..<task.rowCount * task.headCount {
                let from = max(blockStart, scratch.firsts[s]), to = min(blockEnd - 1, scratch.lasts[s])
                guard from <= to else { continue }
                var state = HalfAttentionState(maximum: scratch.maxima[s], sum: scratch.sums[s])
                let offset = (from - blockStart) * headDimension
                attendHalfBlock(query: scratch.queries + s * headDimension, keys: decodedKeys + offset,
                                values: decodedValues + offset, count: to - from + 1, dimension: headDimension,
                                scale: scale, softCap: softCap, accumulator: scratch.accumulators + s * headDimension,
                                state: &state)
                scratch.maxima[s] = state.maximum
                scratch.sums[s] = state.sum
            }
            blockStart = blockEnd
        }
        finishStates(task, scratch: scratch, sinks: weights.layers[layer].attentionSinks)
    }

    private func attendQ8(_ task: AttentionTask, layer: Int, cache: KVCache, rows: RowMap, window: Int?,
                          scratch: AttentionScratch) {
        let headDimension = hyperparameters.headDimension
        let (scale, softCap) = scoreScaleAndCap()
        let kvHead = task.firstHead / (hyperparameters.headCount / hyperparameters.headCountKV)
        let keys = UnsafeRawPointer(cache.keys[layer] + kvHead * cache.keyHeadBytes)
        let values = UnsafeRawPointer(cache.values[layer] + kvHead * cache.valueHeadBytes)
        let keyStride = cache.keyRowBytes, valueStride = cache.valueRowBytes
        let queryBytes = cache.keyHeadBytes
        let quantisedQueries = scratch.quantisedQueries
        // Queries meet the keys in the keys' rotated basis, as llama.cpp's attention rotation.
        let keyRotation = cache.type.keyRotation(headDimension: headDimension)
        let (lowest, highest) = startStates(task, rows: rows, window: window, scratch: scratch) { s, query in
            if let keyRotation {
                for start in stride(from: 0, to: headDimension, by: keyRotation) { walshHadamardTransform(query + start, count: keyRotation) }
            }
            Q8_0.quantize(row: query, count: headDimension, into: quantisedQueries + s * queryBytes)
        }
        let decoded = scratch.decodedValues
        var blockStart = lowest
        while blockStart <= highest {
            let blockEnd = min(blockStart + Self.attentionPositionBlock, highest + 1)
            // Each value row is dequantised once per block for all the task's states.
            for j in blockStart..<blockEnd {
                Q8_0.dequantize(row: values + j * valueStride, count: headDimension,
                                into: decoded + (j - blockStart) * headDimension)
            }
            for s in 0..<task.rowCount * task.headCount {
                let from = max(blockStart, scratch.firsts[s]), to = min(blockEnd - 1, scratch.lasts[s])
                guard from <= to else { continue }
                let query = UnsafeRawPointer(quantisedQueries + s * queryBytes)
                let accumulator = scratch.accumulators + s * headDimension
                var maximum = scratch.maxima[s], sum = scratch.sums[s]
                for j in from...to {
                    var score = Q8_0.dot(keys + j * keyStride, query, count: headDimension) * scale
                    if let softCap { score = softCap * tanhf(score) }
                    var rescale: Float = 1
                    var weight: Float = 1
                    if score > maximum {
                        rescale = expf(maximum - score)
                        maximum = score
                        for d in 0..<headDimension { accumulator[d] *= rescale }
                    } else {
                        weight = expf(score - maximum)
                    }
                    let value = decoded + (j - blockStart) * headDimension
                    for d in 0..<headDimension { accumulator[d] = accumulator[d].addingProduct(value[d], weight) }
                    sum = weight.addingProduct(sum, rescale)
                }
                scratch.maxima[s] = maximum
                scratch.sums[s] = sum
            }
            blockStart = blockEnd
        }
        finishStates(task, scratch: scratch, rotation: cache.type.valueRotation(valueDimension: hyperparameters.valueDimension),
                     sinks: weights.layers[layer].attentionSinks)
    }
}

/// Up to `attentionRowBlock` rows of one sequence and some of the query heads of one KV head.
struct AttentionTask {
    let firstRow: Int
    let rowCount: Int
    let firstHead: Int
    let headCount: Int
}

/// One thread's working memory for attention tasks: per (row, head) state its query, value
/// accumulator, softmax maximum and sum, and visible positions; for a q8_0 cache the quantised
/// queries; a block of keys and values decoded to floats.
struct AttentionScratch {
    let queries: UnsafeMutablePointer<Float>
    let accumulators: UnsafeMutablePointer<Float>
    let quantisedQueries: UnsafeMutableRawPointer
    let decodedKeys: UnsafeMutablePointer<Float>
    let decodedValues: UnsafeMutablePointer<Float>
    let maxima: UnsafeMutablePointer<Float>
    let sums: UnsafeMutablePointer<Float>
    let firsts: UnsafeMutablePointer<Int>
    let lasts: UnsafeMutablePointer<Int>

    init(states: Int, dimension: Int) {
        queries = .allocate(capacity: states * dimension)
        accumulators = .allocate(capacity: states * dimension)
        quantisedQueries = .allocate(byteCount: states * KVCacheType.q8_0.headBytes(dimension: dimension) + 64, alignment: 64)
        decodedKeys = .allocate(capacity: TransformerModel.attentionPositionBlock * dimension)
        decodedValues = .allocate(capacity: TransformerModel.attentionPositionBlock * dimension)
        maxima = .allocate(capacity: states)
        sums = .allocate(capacity: states)
        firsts = .allocate(capacity: states)
        lasts = .allocate(capacity: states)
    }

    func deallocate() {
        queries.deallocate()
        accumulators.deallocate()
        quantisedQueries.deallocate()
        decodedKeys.deallocate()
        decodedValues.deallocate()
        maxima.deallocate()
        sums.deallocate()
        firsts.deallocate()
        lasts.deallocate()
    }
}
