import Foundation

/// The shared, lock-protected cache behind every `GrammarMatcher` of one grammar and one
/// vocabulary: the lazily built automaton and the masks of recently seen states.
final class MatcherEngine: @unchecked Sendable {
    let vocabulary: TokenVocabulary
    private let program: GrammarProgram
    private let lock = NSLock()
    private var automaton: PushdownAutomaton
    /// Bumped whenever the automaton is discarded; state numbers from older epochs are stale.
    private(set) var epoch = 0
    private var masks: [Int32: [UInt64]] = [:]
    let initialStacks: [[Int32]]

    /// States kept before the automaton is rebuilt from scratch; each costs 1 KiB of transitions.
    private static let maximumStates = 20_000
    /// Cached masks (19 KB each for a 152k vocabulary).
    private static let maximumMasks = 256

    init(program: GrammarProgram, vocabulary: TokenVocabulary) {
        self.program = program
        self.vocabulary = vocabulary
        automaton = PushdownAutomaton(program: program)
        // Grammar's initialiser already checked that the initial state exists.
        let initial = automaton.initialState()!
        initialStacks = automaton.explicitStacks(initial)
    }

    /// Runs `body` under the lock with the current state of a matcher.
    func withState<R>(_ location: MatcherLocation, _ body: (PushdownAutomaton, Int32) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        if automaton.stateCount > Self.maximumStates {
            automaton = PushdownAutomaton(program: program)
            masks.removeAll()
            epoch += 1
        }
        let state = location.epoch == epoch ? location.state : automaton.state(for: location.stacks)
        return body(automaton, state)
    }

    func clearMasks() {
        lock.lock()
        masks.removeAll()
        lock.unlock()
    }

    /// Advances a matcher's location through `bytes`; nil when some byte is refused.
    func advance(_ location: MatcherLocation, bytes: some Sequence<UInt8>) -> MatcherLocation? {
        withState(location) { automaton, state in
            let next = automaton.step(state, bytes: bytes)
            guard next >= 0 else { return nil }
            return MatcherLocation(stacks: automaton.explicitStacks(next), epoch: epoch, state: next,
                                   canEnd: automaton.stateCanEnd[Int(next)], mustEnd: automaton.stateMustEnd[Int(next)])
        }
    }

    func allows(_ location: MatcherLocation, bytes: [UInt8]) -> Bool {
        withState(location) { automaton, state in automaton.step(state, bytes: bytes) >= 0 }
    }

    /// The allowed tokens as a bitmap in vocabulary order (end-of-generation tokens excluded).
    func mask(_ location: MatcherLocation) -> [UInt64] {
        withState(location) { automaton, state in
            if let cached = masks[state] { return cached }
            let mask = walkTrie(automaton, from: state)
            if masks.count >= Self.maximumMasks { masks.removeAll() }
            masks[state] = mask
            return mask
        }
    }

    /// One preorder scan of the vocabulary trie, stepping the automaton per node and skipping
    /// the subtree of every refused node. Transitions not computed yet are computed on the way
    /// (outside the unsafe-pointer section, since computing may grow the table).
    private func walkTrie(_ automaton: PushdownAutomaton, from start: Int32) -> [UInt64] {
        let vocabulary = self.vocabulary
        var bits = [UInt64](repeating: 0, count: (vocabulary.count + 63) / 64)
        let nodeCount = vocabulary.nodeByte.count
        var stateAtDepth = [Int32](repeating: 0, count: vocabulary.maximumDepth + 1)
        stateAtDepth[0] = start
        var index = 0
        while index < nodeCount {
            var pending: (state: Int32, byte: UInt8)? = nil
            automaton.transitions.withUnsafeBufferPointer { transitions in
                vocabulary.nodeByte.withUnsafeBufferPointer { nodeByte in
                vocabulary.nodeDepth.withUnsafeBufferPointer { nodeDepth in
                vocabulary.nodeSubtreeEnd.withUnsafeBufferPointer { subtreeEnd in
                vocabulary.nodeTokenStart.withUnsafeBufferPointer { tokenStart in
                vocabulary.nodeTokens.withUnsafeBufferPointer { tokens in
                stateAtDepth.withUnsafeMutableBufferPointer { stateAtDepth in
                bits.withUnsafeMutableBufferPointer { bits in
                    while index < nodeCount {
                        let depth = Int(nodeDepth[index])
                        let state = stateAtDepth[depth &- 1]
                        let byte = nodeByte[index]
                        let next = transitions[Int(state) &* 256 &+ Int(byte)]
                        if next == PushdownAutomaton.unknown {
                            pending = (state, byte)
                            return
                        }
                        if next < 0 {
                            index = Int(subtreeEnd[index])
                            continue
                        }
                        stateAtDepth[depth] = next
                        var token = Int(tokenStart[index])
                        let tokenEnd = Int(tokenStart[index &+ 1])
                        while token < tokenEnd {
                            let id = Int(tokens[token])
                            bits[id >> 6] |= 1 << UInt64(id & 63)
                            token &+= 1
                        }
                        index &+= 1
                    }
                }}}}}}}
            }
            if let pending { _ = automaton.computeTransition(pending.state, pending.byte) }
        }
        return bits
    }
}

/// Where a matcher is: its stacks (valid in any epoch) plus the state number they had in the
/// engine's current epoch, so the common case needs no re-interning.
struct MatcherLocation: Sendable {
    var stacks: [[Int32]]
    var epoch: Int
    var state: Int32
    var canEnd: Bool
    var mustEnd: Bool
}
