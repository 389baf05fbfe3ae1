/// Runs a `GrammarProgram` over bytes, caching what it computes.
///
/// A parser configuration is a set of stacks, as in llama.cpp: each stack holds the grammar
/// positions still to be completed, its top being a terminal waiting for a byte. Stacks are
/// interned as nodes of a shared tree (position, parent), and whole stack sets as numbered
/// states, so stepping by a byte becomes, once computed, one table lookup: in effect a
/// deterministic automaton built lazily. That is what makes the trie walk of the full mask fast.
///
/// Not thread-safe: `MatcherEngine` serialises access.
final class PushdownAutomaton {
    let program: GrammarProgram

    static let unknown: Int32 = -2
    static let dead: Int32 = -1
    /// Node 0 is the empty stack: the whole root rule has been matched.
    static let acceptNode: Int32 = 0

    private var nodePosition: [Int32] = [-1]
    private var nodeParent: [Int32] = [-1]
    private var nodeDepth: [Int32] = [0]
    private var nodeIndex: [UInt64: Int32] = [:]

    /// Per state, the top nodes of its stacks, sorted.
    private(set) var stateStacks: [[Int32]] = []
    private var stateIndex: [[Int32]: Int32] = [:]
    /// `transitions[state * 256 + byte]`: the next state, `dead`, or `unknown` (not computed yet).
    private(set) var transitions: [Int32] = []
    private(set) var stateCanEnd: [Bool] = []
    private(set) var stateMustEnd: [Bool] = []

    init(program: GrammarProgram) {
        self.program = program
    }

    var stateCount: Int { stateStacks.count }
    var nodeCount: Int { nodePosition.count }

    /// The state before any byte; nil when the grammar starts with too many stacks.
    func initialState() -> Int32? {
        var seeds: [(Int32, Int32)] = []
        for start in program.alternatives[Int(program.root)] { seeds.append((start, Self.acceptNode)) }
        guard let tops = closure(seeds) else { return nil }
        return intern(tops)
    }

    @inline(__always) func step(_ state: Int32, _ byte: UInt8) -> Int32 {
        let next = transitions[Int(state) &* 256 &+ Int(byte)]
        return next == Self.unknown ? computeTransition(state, byte) : next
    }

    /// Steps through `bytes`; `dead` when some byte is refused.
    func step(_ state: Int32, bytes: some Sequence<UInt8>) -> Int32 {
        var current = state
        for byte in bytes {
            current = step(current, byte)
            if current < 0 { return Self.dead }
        }
        return current
    }

    func computeTransition(_ state: Int32, _ byte: UInt8) -> Int32 {
        var seeds: [(Int32, Int32)] = []
        let program = self.program
        for top in stateStacks[Int(state)] where top != Self.acceptNode {
            let position = nodePosition[Int(top)]
            if program.byteSets[Int(program.elements[Int(position)])].contains(byte) {
                seeds.append((position + 1, nodeParent[Int(top)]))
            }
        }
        var next = Self.dead
        if !seeds.isEmpty, let tops = closure(seeds), !tops.isEmpty { next = intern(tops) }
        transitions[Int(state) * 256 + Int(byte)] = next
        return next
    }

    /// Expands (position, parent) pairs until every stack's top is a terminal, following rule
    /// calls and returns. Iterative, with a visited set: left recursion was refused at compile
    /// time, so this ends. Nil when the result has more stacks than the limit.
    private func closure(_ seeds: [(Int32, Int32)]) -> [Int32]? {
        let elements = program.elements
        var work = seeds
        var visited = Set<UInt64>()
        var tops: [Int32] = []
        while let (position, parent) = work.popLast() {
            guard visited.insert(UInt64(UInt32(bitPattern: position)) << 32 | UInt64(UInt32(bitPattern: parent))).inserted else { continue }
            let element = elements[Int(position)]
            if element >= 0 {
                if let node = node(position, parent) { tops.append(node) }
            } else if element == GrammarProgram.end {
                if parent == Self.acceptNode {
                    tops.append(Self.acceptNode)
                } else {
                    work.append((nodePosition[Int(parent)], nodeParent[Int(parent)]))
                }
            } else {
                let rule = GrammarProgram.calledRule(element)
                // A call in tail position returns straight to the caller's caller, so loops
                // written as right recursion (`x*`) keep the stack flat.
                var returnNode = parent
                if elements[Int(position) + 1] != GrammarProgram.end {
                    guard let node = node(position + 1, parent) else { continue }
                    returnNode = node
                }
                for start in program.alternatives[rule] { work.append((start, returnNode)) }
            }
            if tops.count > GrammarLimits.maximumStacks { return nil }
        }
        tops.sort()
        var unique: [Int32] = []
        unique.reserveCapacity(tops.count)
        for top in tops where unique.last != top { unique.append(top) }
        return unique
    }

    /// The node for `position` over `parent`; nil when the stack would be too deep.
    private func node(_ position: Int32, _ parent: Int32) -> Int32? {
        let key = UInt64(UInt32(bitPattern: position)) << 32 | UInt64(UInt32(bitPattern: parent))
        if let existing = nodeIndex[key] { return existing }
        let depth = nodeDepth[Int(parent)] + 1
        guard depth <= GrammarLimits.maximumStackDepth else { return nil }
        let id = Int32(nodePosition.count)
        nodePosition.append(position)
        nodeParent.append(parent)
        nodeDepth.append(depth)
        nodeIndex[key] = id
        return id
    }

    private func intern(_ tops: [Int32]) -> Int32 {
        if let existing = stateIndex[tops] { return existing }
        let id = Int32(stateStacks.count)
        stateStacks.append(tops)
        stateIndex[tops] = id
        transitions.append(contentsOf: repeatElement(Self.unknown, count: 256))
        stateCanEnd.append(tops.first == Self.acceptNode)
        stateMustEnd.append(tops == [Self.acceptNode])
        return id
    }

    // MARK: Explicit stacks (independent of this cache's numbering)

    /// The stacks of `state` as position lists, bottom first; `[]` is the accepting empty stack.
    func explicitStacks(_ state: Int32) -> [[Int32]] {
        stateStacks[Int(state)].map { top in
            var stack: [Int32] = []
            var node = top
            while node != Self.acceptNode {
                stack.append(nodePosition[Int(node)])
                node = nodeParent[Int(node)]
            }
            return stack.reversed()
        }
    }

    /// The state for stacks previously returned by `explicitStacks` (possibly by an earlier,
    /// since discarded automaton of the same program).
    func state(for stacks: [[Int32]]) -> Int32 {
        var tops: [Int32] = []
        for stack in stacks {
            var node = Self.acceptNode
            for position in stack { node = self.node(position, node) ?? Self.acceptNode }
            tops.append(node)
        }
        tops.sort()
        var unique: [Int32] = []
        for top in tops where unique.last != top { unique.append(top) }
        return intern(unique)
    }
}
