import Foundation

/// One sequence's rows in a batched forward pass: `count` tokens at positions `start...` of
/// `cache`, at rows `firstRow...` of the batch.
struct Segment {
    let cache: KVCache
    let firstRow: Int
    let count: Int
    let start: Int
    /// Every row computed in a single row's order (a speculative check).
    let rowsAlone: Bool

    init(cache: KVCache, firstRow: Int, count: Int, rowsAlone: Bool = false) {
        self.cache = cache
        self.firstRow = firstRow
        self.count = count
        self.start = cache.count
        self.rowsAlone = rowsAlone
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
    /// Every token's logits, each row computed as it would be alone (a speculative check).
    public var checksProposal: Bool

    public init(tokens: [Int32], cache: KVCache, wantsLogits: Bool, checksProposal: Bool = false) {
        self.tokens = tokens
        self.cache = cache
        self.wantsLogits = wantsLogits
        self.checksProposal = checksProposal
    }
}

extension TransformerModel {
    /// Runs several sequences' tokens in one pass and returns, for each sequence that wants
    /// them, the logits of its last token (nil for the others). Each row is computed exactly as
    /// it would be alone: rows never mix except through the weights they share.
    ///
    /// At most ``maximumBatch`` tokens in all; every cache must be distinct and have room.
    public func forward(_ sequences: [SequenceInput]) throws -> [[Float]?] {
        try forwardRows(sequences).map { $0.last }
    }

    /// ``forward(_:)`` with every row's logits for the sequences that check a proposal: for each
    /// sequence, no rows, its last token's, or (`checksProposal`) all of its tokens'.
    public func forwardRows(_ sequences: [SequenceInput]) throws -> [[[Float]]] {
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
        var rowCounts: [Int] = []
        for sequence in sequences {
            segments.append(Segment(cache: sequence.cache, firstRow: tokens.count, count: sequence.tokens.count,
                                    rowsAlone: sequence.checksProposal))
            let first = tokens.count
            tokens.append(contentsOf: sequence.tokens)
            if sequence.checksProposal {
                logitRows.append(contentsOf: first..<tokens.count)
                rowCounts.append(sequence.tokens.count)
            } else if sequence.wantsLogits {
                logitRows.append(tokens.count - 1)
                rowCounts.append(1)
            } else {
                rowCounts.append(0)
            }
        }
        let logits = try forwardBatch(tokens, segments: segments, logitRows: logitRows)
        var results: [[[Float]]] = []
        var next = 0
        for count in rowCounts {
            results.append((next..<next + count).map { Array(logits[$0 * vocabulary..<($0 + 1) * vocabulary]) })
            next += count
        }
        return results
    }
}
