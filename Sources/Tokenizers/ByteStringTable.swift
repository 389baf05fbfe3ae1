/// A hash map from byte strings to 32-bit ids that is looked up by *slices* of a caller's buffer,
/// so the merge loops can ask "is this span of text a token?" without allocating a key.
///
/// Keys are compared byte for byte. (A `[String: Int32]` would be wrong, not just slow: Swift
/// strings compare by canonical equivalence, so "é" and "e\u{301}" would collide.)
struct ByteStringTable: Sendable {
    /// All keys, back to back.
    private var keyBytes: [UInt8] = []
    /// Per entry: where its key starts in `keyBytes`, its length, its hash and its value.
    private var keyStarts: [Int] = []
    private var keyLengths: [Int32] = []
    private var keyHashes: [UInt64] = []
    private(set) var values: [Int32] = []
    /// Open addressing with linear probing: entry index + 1, or 0 for an empty slot.
    private var slots: [Int32]

    init(minimumCapacity: Int) {
        var size = 16
        while size < minimumCapacity * 2 { size <<= 1 }
        slots = Array(repeating: 0, count: size)
        keyStarts.reserveCapacity(minimumCapacity)
        keyLengths.reserveCapacity(minimumCapacity)
        keyHashes.reserveCapacity(minimumCapacity)
        values.reserveCapacity(minimumCapacity)
    }

    var count: Int { values.count }

    /// FNV-1a: keys are short (a few bytes on average) so a simple byte-wise hash is fast enough.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The value stored for `key`, or nil.
    func value(for key: UnsafeBufferPointer<UInt8>) -> Int32? {
        let hash = Self.hash(key)
        return keyBytes.withUnsafeBufferPointer { storage in
            slots.withUnsafeBufferPointer { slots in
                let mask = slots.count - 1
                var slot = Int(truncatingIfNeeded: hash) & mask
                while true {
                    let entryPlusOne = Int(slots[slot])
                    if entryPlusOne == 0 { return nil }
                    let entry = entryPlusOne - 1
                    if keyHashes[entry] == hash && Int(keyLengths[entry]) == key.count {
                        let start = keyStarts[entry]
                        var equal = true
                        for offset in 0..<key.count where storage[start + offset] != key[offset] {
                            equal = false
                            break
                        }
                        if equal { return values[entry] }
                    }
                    slot = (slot + 1) & mask
                }
            }
        }
    }

    func value(for key: [UInt8]) -> Int32? {
        key.withUnsafeBufferPointer { value(for: $0) }
    }

    /// Stores `value` for `key`. When the key is already present, `replacing` decides whether the
    /// new value wins (llama.cpp's `token_to_id[text] = id`: the last duplicate wins) or the old one
    /// stays (`emplace`: the first wins). Returns the value now stored.
    @discardableResult
    mutating func insert(_ key: [UInt8], value: Int32, replacing: Bool) -> Int32 {
        let hash = key.withUnsafeBufferPointer { Self.hash($0) }
        var mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entryPlusOne = Int(slots[slot])
            if entryPlusOne == 0 { break }
            let entry = entryPlusOne - 1
            if keyHashes[entry] == hash && Int(keyLengths[entry]) == key.count
                && keyBytes[keyStarts[entry]..<(keyStarts[entry] + key.count)].elementsEqual(key)
            {
                if replacing { values[entry] = value }
                return values[entry]
            }
            slot = (slot + 1) & mask
        }
        if (values.count + 1) * 2 > slots.count {
            grow()
            mask = slots.count - 1
            slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
        }
        keyStarts.append(keyBytes.count)
        keyBytes.append(contentsOf: key)
        keyLengths.append(Int32(key.count))
        keyHashes.append(hash)
        values.append(value)
        slots[slot] = Int32(values.count)
        return value
    }

    private mutating func grow() {
        var newSlots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = newSlots.count - 1
        for entry in 0..<values.count {
            var slot = Int(truncatingIfNeeded: keyHashes[entry]) & mask
            while newSlots[slot] != 0 { slot = (slot + 1) & mask }
            newSlots[slot] = Int32(entry + 1)
        }
        slots = newSlots
    }
}

/// A hash map from (left id, right id) pairs to merge ranks, with open addressing and a
/// multiplicative hash: merge lookups are the innermost step of byte-level BPE, and `Dictionary`'s
/// seeded SipHash costs several times more there.
struct PairRankTable: Sendable {
    private var keys: [UInt64]
    private var ranks: [Int32]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(minimumCapacity: Int) {
        var size = 16
        while size < minimumCapacity * 2 { size <<= 1 }
        keys = Array(repeating: Self.empty, count: size)
        ranks = Array(repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    func rank(_ left: Int32, _ right: Int32) -> Int32? {
        let key = Self.key(left, right)
        var slot = Self.slot(key, mask)
        while true {
            let stored = keys[slot]
            if stored == key { return ranks[slot] }
            if stored == Self.empty { return nil }
            slot = (slot + 1) & mask
        }
    }

    /// Stores `rank` unless the pair already has one (the first of duplicate merge rules wins).
    mutating func insertIfAbsent(_ left: Int32, _ right: Int32, rank: Int32) -> Bool {
        if (count + 1) * 2 > keys.count { grow() }
        let key = Self.key(left, right)
        var slot = Self.slot(key, mask)
        while true {
            let stored = keys[slot]
            if stored == key { return false }
            if stored == Self.empty { break }
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        ranks[slot] = rank
        count += 1
        return true
    }

    private mutating func grow() {
        let oldKeys = keys, oldRanks = ranks
        keys = Array(repeating: Self.empty, count: oldKeys.count * 2)
        ranks = Array(repeating: -1, count: oldKeys.count * 2)
        mask = keys.count - 1
        for index in oldKeys.indices where oldKeys[index] != Self.empty {
            var slot = Self.slot(oldKeys[index], mask)
            while keys[slot] != Self.empty { slot = (slot + 1) & mask }
            keys[slot] = oldKeys[index]
            ranks[slot] = oldRanks[index]
        }
    }
}
