/// Adjacent spans of one text being merged into tokens, as a doubly linked list over arrays.
/// A symbol absorbed into its left neighbour keeps its slot with length 0.
struct SymbolList {
    var starts: [Int] = []
    var lengths: [Int] = []
    var previous: [Int] = []
    var next: [Int] = []

    init() {}

    /// One symbol per UTF-8 sequence, measured from lead bytes only (llama.cpp's
    /// `unicode_len_utf8`; a sequence cut short by the end of the text is shortened).
    init(splittingCharactersOf text: UnsafeBufferPointer<UInt8>) {
        reset(splittingCharactersOf: text)
    }

    /// Reuses the arrays' storage for a new text.
    mutating func reset(splittingCharactersOf text: UnsafeBufferPointer<UInt8>) {
        starts.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        var offset = 0
        var index = 0
        while offset < text.count {
            let length = min(UTF8Codec.sequenceLength(leadByte: text[offset]), text.count - offset)
            starts.append(offset)
            lengths.append(length)
            offset += length
            previous.append(index - 1)
            next.append(offset == text.count ? -1 : index + 1)
            index += 1
        }
    }

    var count: Int { starts.count }

    /// Merges symbol `right` into its left neighbour `left`.
    @inline(__always)
    mutating func merge(_ left: Int, _ right: Int) {
        lengths[left] += lengths[right]
        lengths[right] = 0
        next[left] = next[right]
        if next[right] >= 0 { previous[next[right]] = left }
    }
}

/// A candidate SentencePiece merge: the pair's token score and the combined length it had when
/// queued (if either side has changed since, the candidate is stale).
private struct ScoredPair: QueueOrdered {
    var score: Float
    var left: Int
    var right: Int
    var size: Int

    /// Highest score first; ties go to the leftmost pair (llama.cpp's `llm_bigram_spm::comparator`).
    static func precedes(_ lhs: ScoredPair, _ rhs: ScoredPair) -> Bool {
        lhs.score > rhs.score || (lhs.score == rhs.score && lhs.left < rhs.left)
    }
}

/// SentencePiece BPE as llama.cpp's `llm_tokenizer_spm` runs it: start from single characters,
/// repeatedly merge the adjacent pair whose concatenation is the highest-scoring token, then emit
/// each symbol's token, or its bytes as `<0xXX>` tokens when the symbol is not in the vocabulary.
///
/// (llama.cpp also keeps a reverse-merge map for symbols that are not tokens; it can only find
/// merged symbols, and every merged symbol is a token, so the map is never consulted.)
func encodeSentencePiece(
    _ text: UnsafeBufferPointer<UInt8>, store: VocabularyStore, into output: inout [Int32]
) {
    guard !text.isEmpty else { return }
    var symbols = SymbolList(splittingCharactersOf: text)
    var queue = PriorityQueue<ScoredPair>(capacity: symbols.count)

    func queuePair(_ left: Int, _ right: Int) {
        guard left >= 0 && right >= 0 else { return }
        let start = symbols.starts[left]
        let size = symbols.lengths[left] + symbols.lengths[right]
        guard let id = store.tokenID(UnsafeBufferPointer(rebasing: text[start..<(start + size)])) else {
            return
        }
        queue.push(ScoredPair(score: store.scores[Int(id)], left: left, right: right, size: size))
    }

    for index in 1..<symbols.count { queuePair(index - 1, index) }

    while let pair = queue.pop() {
        let leftLength = symbols.lengths[pair.left]
        let rightLength = symbols.lengths[pair.right]
        if leftLength == 0 || rightLength == 0 || leftLength + rightLength != pair.size { continue }
        symbols.merge(pair.left, pair.right)
        queuePair(symbols.previous[pair.left], pair.left)
        queuePair(pair.left, symbols.next[pair.left])
    }

    var index = 0
    while index != -1 {
        let start = symbols.starts[index]
        let length = symbols.lengths[index]
        let span = UnsafeBufferPointer(rebasing: text[start..<(start + length)])
        if let id = store.tokenID(span) {
            output.append(id)
        } else {
            for byte in span {
                if let id = store.sentencePieceByteToken(byte) { output.append(id) }
            }
        }
        index = symbols.next[index]
    }
}
