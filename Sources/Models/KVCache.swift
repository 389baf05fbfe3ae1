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
