import Foundation

/// One sequence's rows in a batched forward pass: `count` tokens at positions `start...` of
/// `cache`, at rows `firstRow...` of the batch.
struct Segment {
    let cache: KVCache
    let firstRow: Int
    let count: Int
    let start: Int

    init(cache: KVCache, firstRow: Int, count: Int) {
        self.cache = cache
        self.firstRow = firstRow
        self.count = count
        self.start = cache.count
    }
}

/// For each row of a batch: its sequence and its position in that sequence.
struct RowMap {
    let segments: [Segment]
    let segmentOfRow: [Int]
    let positions: [Int]

    init(segments: [Segment], rows: Int) {
        self.segments = segments
        var segmentOfRow = [Int](repeating: 0, count: rows)
        var positions = [Int](repeating: 0, count: rows)
        for (index, segment) in segments.enumerated() {
            for offset in 0..<segment.count {
                segmentOfRow[segment.firstRow + offset] = index
                positions[segment.firstRow + offset] = segment.start + offset
            }
        }
        self.segmentOfRow = segmentOfRow
        self.positions = positions
    }
}

/// Tokens of one sequence for a batched pass (continuous batching: many conversations, one
/// read of the weights).
public struct SequenceInput {
    public var tokens: [Int32]
    public var cache: KVCache
    /// Whether the last token's logits are wanted (false for a prompt chunk that is not the end).
    public var wantsLogits: Bool

    public init(tokens: [Int32], cache: KVCache, wantsLogits: Bool) {
        self.tokens = tokens
        self.cache = cache
        self.wantsLogits = wantsLogits
    }
}

extension TransformerModel {
    /// Runs several sequences' tokens in one pass and returns, for each sequence that wants
    /// them, the logits of its last token (nil for the others). Each row is computed exactly as
    /// it would be alone: rows never mix except through the weights they share.
    ///
    /// At most ``maximumBatch`` tokens in all; every cache must be distinct and have room.
    public func forward(_ sequences: [SequenceInput]) throws -> [[Float]?] {
        let vocabulary = hyperparameters.vocabularySize
        var total = 0
        var seen = Set<ObjectIdentifier>()
        for sequence in sequences {
            guard !sequence.tokens.isEmpty else { throw ModelError.invalidKey("batch", "a sequence has no tokens") }
            for token in sequence.tokens where token < 0 || Int(token) >= vocabulary {
                throw ModelError.invalidToken(token, vocabularySize: vocabulary)
            }
            guard sequence.cache.count + sequence.tokens.count <= sequence.cache.capacity else {
                throw ModelError.contextFull(needed: sequence.cache.count + sequence.tokens.count, capacity: sequence.cache.capacity)
            }
            guard seen.insert(ObjectIdentifier(sequence.cache)).inserted else {
                throw ModelError.invalidKey("batch", "two sequences share one KV cache")
            }
            total += sequence.tokens.count
        }
        guard total <= Self.maximumBatch else {
            throw ModelError.invalidKey("batch", "\(total) tokens in one pass; at most \(Self.maximumBatch)")
        }
        guard total > 0 else { return [] }
        lock.lock()
        defer { lock.unlock() }
        var tokens: [Int32] = []
        tokens.reserveCapacity(total)
        var segments: [Segment] = []
        var logitRows: [Int] = []
        for sequence in sequences {
            segments.append(Segment(cache: sequence.cache, firstRow: tokens.count, count: sequence.tokens.count))
            tokens.append(contentsOf: sequence.tokens)
            if sequence.wantsLogits { logitRows.append(tokens.count - 1) }
        }
        let logits = try forwardBatch(tokens, segments: segments, logitRows: logitRows)
        var results: [[Float]?] = []
        var next = 0
        for sequence in sequences {
            if sequence.wantsLogits {
                results.append(Array(logits[next * vocabulary..<(next + 1) * vocabulary]))
                next += 1
            } else {
                results.append(nil)
            }
        }
        return results
    }
}
