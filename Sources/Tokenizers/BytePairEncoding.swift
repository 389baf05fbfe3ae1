/// GPT-2's reversible byte↔unicode map: byte-level BPE vocabularies spell every byte as a printable
/// character, so that "Ġ" (U+0120) stands for a space, "Ċ" for a line feed, and so on.
enum ByteLevelAlphabet {
    /// The code point standing for each byte: printable Latin-1 bytes stand for themselves, the
    /// 68 others take U+0100, U+0101, … in byte order.
    static let codepointForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The UTF-8 spelling of each byte's stand-in character (one or two bytes).
    static let utf8ForByte: [[UInt8]] = codepointForByte.map { codepoint in
        var bytes: [UInt8] = []
        UTF8Codec.append(codepoint, to: &bytes)
        return bytes
    }

    /// The byte a stand-in character means, or nil for a character outside the alphabet.
    static func byte(for codepoint: UInt32) -> UInt8? {
        guard codepoint < 0x144 else { return nil }
        return byteForCodepoint[Int(codepoint)]
    }

    private static let byteForCodepoint: [UInt8?] = {
        var table = [UInt8?](repeating: nil, count: 0x144)
        for (byte, codepoint) in codepointForByte.enumerated() { table[Int(codepoint)] = UInt8(byte) }
        return table
    }()
}

/// A candidate BPE merge: the merge rule's rank and the combined length it had when queued.
private struct RankedPair: QueueOrdered {
    var rank: Int32
    var left: Int
    var right: Int
    var size: Int

    /// Lowest rank first; ties go to the leftmost pair (llama.cpp's `llm_bigram_bpe::comparator`).
    static func precedes(_ lhs: RankedPair, _ rhs: RankedPair) -> Bool {
        lhs.rank < rhs.rank || (lhs.rank == rhs.rank && lhs.left < rhs.left)
    }
}

/// Byte-level BPE over one fragment of text, as llama.cpp's `llm_tokenizer_bpe_session` runs it:
/// split into words with the pre-tokenizer, spell each word in the byte-level alphabet, merge
/// adjacent symbols by merge rank, and emit each final symbol's token.
func encodeBytePairs(
    _ text: UnsafeBufferPointer<UInt8>, store: VocabularyStore, preTokenizer: PreTokenizer,
    into output: inout [Int32]
) {
    let codepoints = UTF8Codec.decodeLeniently(text)
    let wordLengths = codepoints.withUnsafeBufferPointer { preTokenizer.split($0) }
    var merger = WordMerger(store: store, ignoreMerges: preTokenizer.ignoreMerges)
    var word: [UInt8] = []
    var utf8: [UInt8] = []
    var start = 0
    for length in wordLengths {
        word.removeAll(keepingCapacity: true)
        for codepoint in codepoints[start..<(start + length)] {
            utf8.removeAll(keepingCapacity: true)
            UTF8Codec.append(codepoint, to: &utf8)
            for byte in utf8 { word.append(contentsOf: ByteLevelAlphabet.utf8ForByte[Int(byte)]) }
        }
        start += length
        word.withUnsafeBufferPointer { merger.merge($0, into: &output) }
    }
}

/// Merges words one after another, reusing its buffers (text has many short words, and
/// allocating per word would dominate the cost).
private struct WordMerger {
    let store: VocabularyStore
    let ignoreMerges: Bool
    var symbols = SymbolList()
    /// Each symbol's id among the strings merge rules mention (see `VocabularyStore.mergeRank`).
    var symbolIDs: [Int32] = []
    var queue = PriorityQueue<RankedPair>(capacity: 64)

    init(store: VocabularyStore, ignoreMerges: Bool) {
        self.store = store
        self.ignoreMerges = ignoreMerges
    }

    /// Merges one byte-level-spelled word and appends its tokens.
    mutating func merge(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        guard !word.isEmpty else { return }
        if ignoreMerges, let id = store.tokenID(word) {
            output.append(id)
            return
        }
        symbols.reset(splittingCharactersOf: word)
        symbolIDs.removeAll(keepingCapacity: true)
        for index in 0..<symbols.count {
            let start = symbols.starts[index]
            let span = UnsafeBufferPointer(rebasing: word[start..<(start + symbols.lengths[index])])
            symbolIDs.append(store.stringID(span) ?? -1)
        }
        queue.removeAll()
        for index in 1..<symbols.count { queuePair(index - 1, index) }

        while let pair = queue.pop() {
            let leftLength = symbols.lengths[pair.left]
            let rightLength = symbols.lengths[pair.right]
            // A pair is stale once either side has merged with something else; comparing lengths
            // is equivalent to llama.cpp's text comparison because symbols only grow rightwards.
            if leftLength == 0 || rightLength == 0 || leftLength + rightLength != pair.size { continue }
            symbols.merge(pair.left, pair.right)
            symbolIDs[pair.left] = store.mergeResults[Int(pair.rank)]
            queuePair(symbols.previous[pair.left], pair.left)
            queuePair(pair.left, symbols.next[pair.left])
        }

        var index = 0
        while index != -1 {
            let id = symbolIDs[index]
            if id >= 0 && Int(id) < store.tokenCount {
                output.append(id)
            } else {
                // Not a token (only possible with merge rules that produce non-tokens): llama.cpp
                // falls back to tokens spelled as the single raw bytes of the symbol, if any exist.
                let start = symbols.starts[index]
                for byte in word[start..<(start + symbols.lengths[index])] {
                    if let id = store.singleByteToken(byte) { output.append(id) }
                }
            }
            index = symbols.next[index]
        }
    }

    private mutating func queuePair(_ left: Int, _ right: Int) {
        guard left >= 0 && right >= 0, let rank = store.mergeRank(symbolIDs[left], symbolIDs[right]) else { return }
        let size = symbols.lengths[left] + symbols.lengths[right]
        queue.push(RankedPair(rank: rank, left: left, right: right, size: size))
    }
}
