/// The vocabulary as bytes, built once per model (immutable, shared).
///
/// Besides the pieces it holds a byte trie of them, laid out in depth-first order so the full
/// mask is one linear scan that skips refused subtrees.
public final class TokenVocabulary: Sendable {
    let pieces: [[UInt8]?]
    let endOfGeneration: Set<Int32>
    /// Per vocabulary index, whether it ends generation (dense, for the mask loop).
    let isEndOfGeneration: [Bool]

    // Trie nodes in preorder; the root is implicit (depth 0), so node depths start at 1.
    let nodeByte: [UInt8]
    let nodeDepth: [Int32]
    /// Index just past the node's subtree: where the scan resumes when the node is refused.
    let nodeSubtreeEnd: [Int32]
    /// `nodeTokens[nodeTokenStart[i]..<nodeTokenStart[i + 1]]`: tokens whose piece ends at node i.
    let nodeTokenStart: [Int32]
    let nodeTokens: [Int32]
    let maximumDepth: Int

    /// `pieces[i]`: the bytes token i writes; nil for tokens that may never appear in
    /// constrained output (control/special tokens); an empty piece is never allowed either.
    /// `endOfGeneration`: tokens that end generation; allowed exactly when the grammar can end here.
    public init(pieces: [[UInt8]?], endOfGeneration: Set<Int32>) {
        self.pieces = pieces
        self.endOfGeneration = endOfGeneration
        var isEnd = [Bool](repeating: false, count: pieces.count)
        for token in endOfGeneration where token >= 0 && Int(token) < pieces.count { isEnd[Int(token)] = true }
        self.isEndOfGeneration = isEnd

        var order: [Int32] = []
        for (index, piece) in pieces.enumerated() where !isEnd[index] {
            if let piece, !piece.isEmpty { order.append(Int32(index)) }
        }
        order.sort { pieces[Int($0)]!.lexicographicallyPrecedes(pieces[Int($1)]!) }

        var bytes: [UInt8] = [], depths: [Int32] = [], ends: [Int32] = [], tokenStart: [Int32] = [], tokens: [Int32] = []
        var path: [Int] = []  // node index at each depth - 1 along the current piece
        var previous: [UInt8] = []
        var deepest = 0
        func close(downTo depth: Int) {
            while path.count > depth { ends[path.removeLast()] = Int32(bytes.count) }
        }
        for token in order {
            let piece = pieces[Int(token)]!
            var common = 0
            while common < min(piece.count, previous.count), piece[common] == previous[common] { common += 1 }
            close(downTo: common)
            for depth in common..<piece.count {
                path.append(bytes.count)
                bytes.append(piece[depth])
                depths.append(Int32(depth + 1))
                ends.append(0)
                tokenStart.append(Int32(tokens.count))
            }
            // Tokens ending at a node are contiguous in `tokens` because pieces are sorted and
            // a node's tokens are added right after it is created (duplicates follow at once).
            tokens.append(token)
            deepest = max(deepest, piece.count)
            previous = piece
        }
        close(downTo: 0)
        tokenStart.append(Int32(tokens.count))
        // tokenStart[i] was recorded when node i was created; tokens of node i are those added
        // before node i+1 was created, i.e. tokens[tokenStart[i]..<tokenStart[i+1]].
        self.nodeByte = bytes
        self.nodeDepth = depths
        self.nodeSubtreeEnd = ends
        self.nodeTokenStart = tokenStart
        self.nodeTokens = tokens
        self.maximumDepth = deepest
    }

    public var count: Int { pieces.count }

    /// The bytes token `token` writes (nil for control tokens and out-of-range ids).
    public func piece(_ token: Int32) -> [UInt8]? {
        token >= 0 && Int(token) < pieces.count ? pieces[Int(token)] : nil
    }

    /// Trie nodes (for diagnostics and speed reports).
    public var trieNodeCount: Int { nodeByte.count }
}
