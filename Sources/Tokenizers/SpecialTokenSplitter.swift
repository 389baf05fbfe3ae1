/// A piece of input after special tokens have been split out: raw text (a byte range of the input)
/// still to be tokenized, or a token taken verbatim.
enum Fragment: Equatable {
    case text(Range<Int>)
    case token(Int32)
}

/// Splits special-token texts out of raw text exactly as llama.cpp's `tokenizer_st_partition` does:
/// special tokens are tried one at a time, longest text first, and each one is cut out of every
/// remaining text fragment at its leftmost non-overlapping occurrences. (This differs from a
/// single left-to-right longest-match scan when texts overlap, so the order is kept.)
///
/// Trying thousands of special tokens (Gemma has over 6 000) against long text would cost
/// tokens × length, so an Aho–Corasick automaton first finds, in one pass, which special tokens
/// occur in the text at all; only those are tried.
struct SpecialTokenSplitter: Sendable {
    /// Candidate tokens in the order they are tried, with their texts and attributes.
    private let tokens: [Int32]
    private let texts: [[UInt8]]
    private let attributes: [TokenAttributes]
    /// Whether any candidate is split out even when special tokens are not parsed.
    private let hasUserDefinedTokens: Bool

    // Aho–Corasick automaton over the token texts. Node 0 is the root.
    private let rootTransitions: [Int32]
    private let transitions: [UInt64: Int32]
    private let failure: [Int32]
    /// For each node, the candidate indices whose text ends exactly there.
    private let terminals: [Int32: [Int32]]
    /// The nearest node on the failure chain (including the node itself) that ends a text, or -1.
    private let nearestTerminal: [Int32]

    init(order: [Int32], store: VocabularyStore) {
        tokens = order
        texts = order.map { Array(store.text(of: $0)) }
        attributes = order.map { store.attributes[Int($0)] }
        hasUserDefinedTokens = attributes.contains { $0.isDisjoint(with: [.control, .unknown]) }

        var rootTransitions = [Int32](repeating: -1, count: 256)
        var transitions: [UInt64: Int32] = [:]
        var terminals: [Int32: [Int32]] = [:]
        var children: [[Int32]] = [[]]
        var nodeCount: Int32 = 1
        for (candidate, text) in texts.enumerated() {
            var node: Int32 = 0
            for byte in text {
                let existing = node == 0 ? rootTransitions[Int(byte)] : (transitions[Self.edge(node, byte)] ?? -1)
                if existing >= 0 {
                    node = existing
                    continue
                }
                let child = nodeCount
                nodeCount += 1
                children.append([])
                children[Int(node)].append(child)
                if node == 0 { rootTransitions[Int(byte)] = child } else { transitions[Self.edge(node, byte)] = child }
                node = child
            }
            terminals[node, default: []].append(Int32(candidate))
        }

        // Breadth-first: a node's failure link is the longest proper suffix of its text that is
        // also a prefix in the trie.
        var failure = [Int32](repeating: 0, count: Int(nodeCount))
        var nearestTerminal = [Int32](repeating: -1, count: Int(nodeCount))
        var byteOfNode = [UInt8](repeating: 0, count: Int(nodeCount))
        for byte in 0..<256 where rootTransitions[byte] >= 0 { byteOfNode[Int(rootTransitions[byte])] = UInt8(byte) }
        for (key, child) in transitions { byteOfNode[Int(child)] = UInt8(truncatingIfNeeded: key) }
        var queue: [Int32] = children[0]
        var head = 0
        for node in queue where terminals[node] != nil { nearestTerminal[Int(node)] = node }
        func step(_ node: Int32, _ byte: UInt8) -> Int32 {
            var state = node
            while true {
                let next = state == 0 ? rootTransitions[Int(byte)] : (transitions[Self.edge(state, byte)] ?? -1)
                if next >= 0 { return next }
                if state == 0 { return 0 }
                state = failure[Int(state)]
            }
        }
        while head < queue.count {
            let node = queue[head]
            head += 1
            for child in children[Int(node)] {
                let link = node == 0 ? 0 : step(failure[Int(node)], byteOfNode[Int(child)])
                failure[Int(child)] = link
                nearestTerminal[Int(child)] = terminals[child] != nil ? child : nearestTerminal[Int(link)]
                queue.append(child)
            }
        }

        self.rootTransitions = rootTransitions
        self.transitions = transitions
        self.failure = failure
        self.terminals = terminals
        self.nearestTerminal = nearestTerminal
    }

    @inline(__always)
    private static func edge(_ node: Int32, _ byte: UInt8) -> UInt64 {
        UInt64(UInt32(bitPattern: node)) << 8 | UInt64(byte)
    }

    /// Which candidates occur somewhere in `text`, as a mask indexed like `tokens`.
    private func occurringCandidates(in text: UnsafeBufferPointer<UInt8>) -> [Bool] {
        var occurs = [Bool](repeating: false, count: tokens.count)
        var reachedTerminals = Set<Int32>()
        var state: Int32 = 0
        for byte in text {
            while true {
                let next = state == 0 ? rootTransitions[Int(byte)] : (transitions[Self.edge(state, byte)] ?? -1)
                if next >= 0 {
                    state = next
                    break
                }
                if state == 0 { break }
                state = failure[Int(state)]
            }
            let terminal = nearestTerminal[Int(state)]
            if terminal >= 0 { reachedTerminals.insert(terminal) }
        }
        // Every text ending at a reached terminal occurs, and so does every text ending at a
        // terminal further along its failure chain.
        var visited = Set<Int32>()
        var pending = Array(reachedTerminals)
        while let node = pending.popLast() {
            guard node >= 0, visited.insert(node).inserted else { continue }
            for candidate in terminals[node] ?? [] { occurs[Int(candidate)] = true }
            pending.append(nearestTerminal[Int(failure[Int(node)])])
        }
        return occurs
    }

    /// Cuts special tokens out of `text`. Without `parseSpecial` only user-defined tokens are cut
    /// (control and unknown tokens stay plain text), as in llama.cpp.
    func split(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Fragment] {
        guard !text.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<text.count)]
        guard parseSpecial ? !tokens.isEmpty : hasUserDefinedTokens else { return fragments }
        let occurs = occurringCandidates(in: text)
        for candidate in 0..<tokens.count where occurs[candidate] {
            let attribute = attributes[candidate]
            if !parseSpecial && !attribute.isDisjoint(with: [.control, .unknown]) { continue }
            fragments = cut(candidate, from: fragments, in: text)
        }
        return fragments
    }

    private func cut(_ candidate: Int, from fragments: [Fragment], in text: UnsafeBufferPointer<UInt8>) -> [Fragment] {
        let needle = texts[candidate]
        let token = tokens[candidate]
        let stripLeft = attributes[candidate].contains(.stripLeft)
        let stripRight = attributes[candidate].contains(.stripRight)
        var result: [Fragment] = []
        result.reserveCapacity(fragments.count + 2)
        for fragment in fragments {
            guard case .text(let range) = fragment else {
                result.append(fragment)
                continue
            }
            var start = range.lowerBound
            while start < range.upperBound {
                guard let match = Self.firstOccurrence(of: needle, in: text, from: start, to: range.upperBound) else {
                    result.append(.text(start..<range.upperBound))
                    break
                }
                var leftEnd = match
                if stripLeft {
                    while leftEnd > start && UTF8Codec.isASCIISpace(text[leftEnd - 1]) { leftEnd -= 1 }
                }
                if leftEnd > start { result.append(.text(start..<leftEnd)) }
                result.append(.token(token))
                start = match + needle.count
                if stripRight {
                    while start < range.upperBound && UTF8Codec.isASCIISpace(text[start]) { start += 1 }
                }
            }
        }
        return result
    }

    /// The first position in `from..<to` where `needle` starts and fits, or nil.
    private static func firstOccurrence(
        of needle: [UInt8], in text: UnsafeBufferPointer<UInt8>, from: Int, to: Int
    ) -> Int? {
        guard let first = needle.first, to - from >= needle.count else { return nil }
        var position = from
        let last = to - needle.count
        return needle.withUnsafeBufferPointer { needle in
            while position <= last {
                if text[position] == first {
                    var offset = 1
                    while offset < needle.count && text[position + offset] == needle[offset] { offset += 1 }
                    if offset == needle.count { return position }
                }
                position += 1
            }
            return nil
        }
    }
}
