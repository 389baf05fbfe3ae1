import Kernels

/// How a ``KVCache`` stores keys and values (llama.cpp's `-ctk` / `-ctv`, Ollama's
/// `OLLAMA_KV_CACHE_TYPE`). The one owner of the cache's bytes per position.
public enum KVCacheType: String, Sendable, CaseIterable, Codable {
    /// binary16: llama.cpp's default, and the rounding its default cache applies.
    case f16
    /// Q8_0 blocks (32 values: a binary16 scale and 32 signed bytes), 34 bytes per 32 values
    /// instead of 64: 53% of the f16 cache. Each head is quantised on its own, so the head
    /// dimension must be a multiple of 32.
    case q8_0

    /// Bytes one head of `dimension` values takes.
    public func headBytes(dimension: Int) -> Int {
        switch self {
        case .f16: dimension * MemoryLayout<UInt16>.size
        case .q8_0: dimension / Q8_0.blockSize * Q8_0.bytesPerBlock
        }
    }

    /// Why this type cannot hold `hyperparameters`' heads, or nil when it can.
    public func unsupportedReason(_ hyperparameters: Hyperparameters) -> String? {
        switch self {
        case .f16: return nil
        case .q8_0:
            let dimensions = [hyperparameters.headDimension, hyperparameters.valueDimension]
            guard dimensions.allSatisfy({ $0 % Q8_0.blockSize == 0 }) else {
                return "a q8_0 cache quantises each head in blocks of 32 values; this model's heads have \(hyperparameters.headDimension) (keys) and \(hyperparameters.valueDimension) (values)"
            }
            return nil
        }
    }

    /// The span of the Walsh–Hadamard rotation applied to queries and keys before a quantised
    /// cache stores them (llama.cpp's attention rotation, on unless `LLAMA_ATTN_ROT_DISABLE`):
    /// the largest power of two dividing the head that is at least 64; nil for f16 or heads
    /// that are not a multiple of 64.
    public func keyRotation(headDimension: Int) -> Int? {
        guard self != .f16, headDimension % 64 == 0 else { return nil }
        var span = 64
        while headDimension % (2 * span) == 0 { span *= 2 }
        return span
    }

    /// The span of the rotation applied to values before a quantised cache stores them, and to
    /// the attention output after (it is its own inverse): 64, as llama.cpp's.
    public func valueRotation(valueDimension: Int) -> Int? {
        guard self != .f16, valueDimension % 64 == 0 else { return nil }
        return 64
    }

    /// Bytes of keys and values for `capacity` positions of a model of this shape.
    public func cacheBytes(_ hyperparameters: Hyperparameters, capacity: Int) -> Int {
        cacheBytes(layers: hyperparameters.blockCount, kvHeads: hyperparameters.headCountKV,
                   keyDimension: hyperparameters.headDimension, valueDimension: hyperparameters.valueDimension,
                   capacity: capacity)
    }

    /// Bytes of keys and values for `capacity` positions: every layer keeps every position of
    /// every KV head (sliding-window layers too). The one formula behind every cache size —
    /// the caches themselves, the server's memory admission and `hearth fit`.
    public func cacheBytes(layers: Int, kvHeads: Int, keyDimension: Int, valueDimension: Int, capacity: Int) -> Int {
        layers * capacity * kvHeads * (headBytes(dimension: keyDimension) + headBytes(dimension: valueDimension))
    }
}

/// Keys and values of every past position of one sequence, per layer, in the cache's
/// ``KVCacheType``.
///
/// Layout per layer: `capacity` rows of `keyRowBytes` (all KV heads side by side), so position p
/// of head h starts at `p * keyRowBytes + h * keyHeadBytes`; values likewise.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    public let layerCount: Int
    public let type: KVCacheType
    /// Bytes of one head's key (value) at one position.
    public let keyHeadBytes: Int
    public let valueHeadBytes: Int
    /// Bytes of one position's keys (values), all KV heads.
    public let keyRowBytes: Int
    public let valueRowBytes: Int
    /// Positions filled so far; the next token goes at this position.
    public private(set) var count = 0
    let keys: [UnsafeMutableRawPointer]
    let values: [UnsafeMutableRawPointer]

    public init(hyperparameters: Hyperparameters, capacity: Int, type: KVCacheType = .f16) throws {
        guard capacity > 0 else { throw ModelError.invalidKey("context", "must be > 0, got \(capacity)") }
        if let reason = type.unsupportedReason(hyperparameters) { throw ModelError.invalidKey("kv cache type", reason) }
        self.capacity = capacity
        self.type = type
        layerCount = hyperparameters.blockCount
        keyHeadBytes = type.headBytes(dimension: hyperparameters.headDimension)
        valueHeadBytes = type.headBytes(dimension: hyperparameters.valueDimension)
        keyRowBytes = hyperparameters.headCountKV * keyHeadBytes
        valueRowBytes = hyperparameters.headCountKV * valueHeadBytes
        let keyBytes = capacity * keyRowBytes, valueBytes = capacity * valueRowBytes
        keys = (0..<layerCount).map { _ in .allocate(byteCount: keyBytes, alignment: 64) }
        values = (0..<layerCount).map { _ in .allocate(byteCount: valueBytes, alignment: 64) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Bytes held for keys and values.
    public var byteCount: Int { layerCount * capacity * (keyRowBytes + valueRowBytes) }

    /// Forgets positions from `position` on (a new turn that shares only a prefix).
    public func truncate(to position: Int) {
        count = max(0, min(count, position))
    }

    func advance(by tokens: Int) { count += tokens }

    /// Stores `rows` positions of floats (`heads` heads of `dimension` values each, row after
    /// row) at `position` of `layer`'s keys or values, in the cache's type; a quantised type
    /// rotates each head in spans of `rotation` first (``KVCacheType/keyRotation(headDimension:)``).
    func store(_ source: UnsafePointer<Float>, rows: Int, heads: Int, dimension: Int, rotation: Int?,
               into storage: UnsafeMutableRawPointer, rowBytes: Int, headBytes: Int, at position: Int) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { buffer in
            let rotated = buffer.baseAddress!
            for row in 0..<rows {
                for head in 0..<heads {
                    let from = source + (row * heads + head) * dimension
                    let to = storage + (position + row) * rowBytes + head * headBytes
                    switch type {
                    case .f16:
                        let halves = to.assumingMemoryBound(to: UInt16.self)
                        for i in 0..<dimension { halves[i] = floatToHalf(from[i]) }
                    case .q8_0:
                        rotated.update(from: from, count: dimension)
                        if let rotation {
                            for start in stride(from: 0, to: dimension, by: rotation) { walshHadamardTransform(rotated + start, count: rotation) }
                        }
                        Q8_0.quantize(row: rotated, count: dimension, into: to)
                    }
                }
            }
        }
    }
}

/// A copy of some positions of a ``KVCache`` (every layer), for reuse by another sequence that
/// starts with the same tokens.
public struct KVBlock: Sendable {
    public let positions: Int
    public let type: KVCacheType
    let keys: [UInt8]
    let values: [UInt8]
    public var byteCount: Int { keys.count + values.count }
}

extension KVCache {
    /// Copies positions `range` out of every layer.
    public func copyBlock(_ range: Range<Int>) -> KVBlock {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "block \(range) outside the \(count) cached positions")
        var keyCopy: [UInt8] = []
        var valueCopy: [UInt8] = []
        keyCopy.reserveCapacity(layerCount * range.count * keyRowBytes)
        valueCopy.reserveCapacity(layerCount * range.count * valueRowBytes)
        for layer in 0..<layerCount {
            keyCopy.append(contentsOf: UnsafeRawBufferPointer(start: keys[layer] + range.lowerBound * keyRowBytes, count: range.count * keyRowBytes))
            valueCopy.append(contentsOf: UnsafeRawBufferPointer(start: values[layer] + range.lowerBound * valueRowBytes, count: range.count * valueRowBytes))
        }
        return KVBlock(positions: range.count, type: type, keys: keyCopy, values: valueCopy)
    }

    /// Writes `block` at `position` (which must be the current end) and extends the cache over it.
    public func append(_ block: KVBlock) throws {
        guard block.type == type, block.keys.count == layerCount * block.positions * keyRowBytes,
              block.values.count == layerCount * block.positions * valueRowBytes else {
            throw ModelError.invalidKey("kv block", "shape does not match this model's cache")
        }
        guard count + block.positions <= capacity else {
            throw ModelError.contextFull(needed: count + block.positions, capacity: capacity)
        }
        block.keys.withUnsafeBytes { source in
            for layer in 0..<layerCount {
                (keys[layer] + count * keyRowBytes).copyMemory(from: source.baseAddress! + layer * block.positions * keyRowBytes,
                                                               byteCount: block.positions * keyRowBytes)
            }
        }
        block.values.withUnsafeBytes { source in
            for layer in 0..<layerCount {
                (values[layer] + count * valueRowBytes).copyMemory(from: source.baseAddress! + layer * block.positions * valueRowBytes,
                                                                   byteCount: block.positions * valueRowBytes)
            }
        }
        advance(by: block.positions)
    }
}
