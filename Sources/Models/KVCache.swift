/// Keys and values of every past position of one sequence, per layer, in binary16 — half the
/// memory of Float32, and the same rounding llama.cpp's default F16 cache applies.
///
/// Layout per layer: `capacity` rows of `keyLength` floats (all KV heads side by side), so
/// position p of head h starts at `p * keyLength + h * headDimension`. Elements are binary16 bits.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    public let layerCount: Int
    public let keyLength: Int
    public let valueLength: Int
    /// Positions filled so far; the next token goes at this position.
    public private(set) var count = 0
    let keys: [UnsafeMutablePointer<UInt16>]
    let values: [UnsafeMutablePointer<UInt16>]

    public init(hyperparameters: Hyperparameters, capacity: Int) throws {
        guard capacity > 0 else { throw ModelError.invalidKey("context", "must be > 0, got \(capacity)") }
        self.capacity = capacity
        layerCount = hyperparameters.blockCount
        keyLength = hyperparameters.keyLength
        valueLength = hyperparameters.valueLength
        keys = (0..<layerCount).map { _ in .allocate(capacity: capacity * hyperparameters.keyLength) }
        values = (0..<layerCount).map { _ in .allocate(capacity: capacity * hyperparameters.valueLength) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Bytes held for keys and values.
    public var byteCount: Int { layerCount * capacity * (keyLength + valueLength) * MemoryLayout<UInt16>.size }

    /// Forgets positions from `position` on (a new turn that shares only a prefix).
    public func truncate(to position: Int) {
        count = max(0, min(count, position))
    }

    func advance(by tokens: Int) { count += tokens }
}

/// A copy of some positions of a ``KVCache`` (every layer), for reuse by another sequence that
/// starts with the same tokens.
public struct KVBlock: Sendable {
    public let positions: Int
    let keys: [UInt16]
    let values: [UInt16]
    public var byteCount: Int { (keys.count + values.count) * MemoryLayout<UInt16>.size }
}

extension KVCache {
    /// Copies positions `range` out of every layer.
    public func copyBlock(_ range: Range<Int>) -> KVBlock {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "block \(range) outside the \(count) cached positions")
        var keyCopy: [UInt16] = []
        var valueCopy: [UInt16] = []
        keyCopy.reserveCapacity(layerCount * range.count * keyLength)
        valueCopy.reserveCapacity(layerCount * range.count * valueLength)
        for layer in 0..<layerCount {
            keyCopy.append(contentsOf: UnsafeBufferPointer(start: keys[layer] + range.lowerBound * keyLength, count: range.count * keyLength))
            valueCopy.append(contentsOf: UnsafeBufferPointer(start: values[layer] + range.lowerBound * valueLength, count: range.count * valueLength))
        }
        return KVBlock(positions: range.count, keys: keyCopy, values: valueCopy)
    }

    /// Writes `block` at `position` (which must be the current end) and extends the cache over it.
    public func append(_ block: KVBlock) throws {
        guard block.keys.count == layerCount * block.positions * keyLength,
              block.values.count == layerCount * block.positions * valueLength else {
            throw ModelError.invalidKey("kv block", "shape does not match this model's cache")
        }
        guard count + block.positions <= capacity else {
            throw ModelError.contextFull(needed: count + block.positions, capacity: capacity)
        }
        block.keys.withUnsafeBufferPointer { source in
            for layer in 0..<layerCount {
                (keys[layer] + count * keyLength).update(from: source.baseAddress! + layer * block.positions * keyLength,
                                                         count: block.positions * keyLength)
            }
        }
        block.values.withUnsafeBufferPointer { source in
            for layer in 0..<layerCount {
                (values[layer] + count * valueLength).update(from: source.baseAddress! + layer * block.positions * valueLength,
                                                             count: block.positions * valueLength)
            }
        }
        advance(by: block.positions)
    }
}
