/// 256 bits: the bytes one grammar position accepts.
struct ByteSet: Hashable, Sendable {
    var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    init() {}

    init(_ range: ClosedRange<UInt8>) {
        for byte in range { insert(byte) }
    }

    mutating func insert(_ byte: UInt8) {
        let bit = UInt64(1) << UInt64(byte & 63)
        switch byte >> 6 {
        case 0: w0 |= bit
        case 1: w1 |= bit
        case 2: w2 |= bit
        default: w3 |= bit
        }
    }

    @inline(__always) func contains(_ byte: UInt8) -> Bool {
        let word: UInt64
        switch byte >> 6 {
        case 0: word = w0
        case 1: word = w1
        case 2: word = w2
        default: word = w3
        }
        return word >> UInt64(byte & 63) & 1 != 0
    }
}

/// The compiled, byte-level grammar: a flat array of elements like llama.cpp's, where each rule
/// is a list of alternatives and each alternative a run of elements ending in `end`.
struct GrammarProgram: Sendable {
    /// `>= 0`: a terminal, the index of a `ByteSet`; `end` (-1): end of an alternative;
    /// `<= -2`: a call of rule `-element - 2`.
    var elements: [Int32]
    var byteSets: [ByteSet]
    /// Per rule, the element index where each alternative starts.
    var alternatives: [[Int32]]
    var ruleNames: [String]
    var root: Int32

    static let end: Int32 = -1
    @inline(__always) static func call(_ rule: Int) -> Int32 { Int32(-rule - 2) }
    @inline(__always) static func calledRule(_ element: Int32) -> Int { Int(-element - 2) }
}

/// Lowers parsed rules (over Unicode scalars) to a `GrammarProgram` (over bytes), expanding
/// repetitions into helper rules and character classes into UTF-8 byte sequences, then checks
/// the result: undefined rules, left recursion and rules that can never finish are errors.
struct GrammarCompiler {
    private enum Symbol: Hashable {
        case bytes(ByteSet)
        case rule(Int)
    }

    private enum HelperKey: Hashable {
        case characterClass(CodePointSet)
        case group(GrammarNode)
        case star(Symbol)
        case optionalChain(Symbol, Int)
    }

    private var names: [String] = []
    /// The named rule each rule (helpers included) came from, for error messages.
    private var owners: [Int] = []
    private var isRepetitionHelper: [Bool] = []
    private var locations: [String] = []
    private var bodies: [[[Symbol]]] = []
    private var namedRules: [String: Int] = [:]
    private var helpers: [HelperKey: Int] = [:]
    private var symbolCount = 0
    private var currentOwner = 0

    static func compile(_ rules: [GrammarRule], root: String) throws(GrammarError) -> GrammarProgram {
        var compiler = GrammarCompiler()
        return try compiler.run(rules, root: root)
    }

    private mutating func run(_ rules: [GrammarRule], root: String) throws(GrammarError) -> GrammarProgram {
        guard rules.count <= GrammarLimits.maximumRules else {
            throw GrammarError(location: rules[GrammarLimits.maximumRules].location, reason: "more than \(GrammarLimits.maximumRules) rules")
        }
        for rule in rules {
            if namedRules[rule.name] != nil {
                throw GrammarError(location: rule.location, reason: "rule '\(rule.name)' is defined twice")
            }
            namedRules[rule.name] = newRule(rule.name, location: rule.location, owner: nil)
        }
        guard let rootRule = namedRules[root] else {
            throw GrammarError(location: rules.first?.location ?? "line 1, column 1", reason: "no rule named '\(root)' (the root rule)")
        }
        for rule in rules {
            let id = namedRules[rule.name]!
            currentOwner = id
            bodies[id] = try lowerAlternatives(rule.body)
        }
        try check(root: rootRule)
        return flatten(root: rootRule)
    }

    private mutating func newRule(_ name: String, location: String, owner: Int?, repetition: Bool = false) -> Int {
        let id = names.count
        names.append(name)
        locations.append(location)
        owners.append(owner ?? id)
        isRepetitionHelper.append(repetition)
        bodies.append([])
        return id
    }

    private mutating func helperRule(_ key: HelperKey, repetition: Bool = false, body: (inout GrammarCompiler) throws(GrammarError) -> [[Symbol]]) throws(GrammarError) -> Int {
        if let id = helpers[key] { return id }
        let id = newRule("\(names[currentOwner])-\(names.count)", location: locations[currentOwner], owner: currentOwner, repetition: repetition)
        helpers[key] = id
        bodies[id] = try body(&self)
        return id
    }

    private mutating func count(_ symbols: Int) throws(GrammarError) {
        symbolCount += symbols
        guard symbolCount <= GrammarLimits.maximumSymbols else {
            throw GrammarError(location: locations[currentOwner], reason: "grammar expands to more than \(GrammarLimits.maximumSymbols) symbols (repetitions too large)")
        }
    }

    private mutating func lowerAlternatives(_ node: GrammarNode) throws(GrammarError) -> [[Symbol]] {
        if case .choice(let branches) = node {
            var result: [[Symbol]] = []
            for branch in branches { result.append(try lowerSequence(branch)) }
            return result
        }
        return [try lowerSequence(node)]
    }

    private mutating func lowerSequence(_ node: GrammarNode) throws(GrammarError) -> [Symbol] {
        var output: [Symbol] = []
        try lower(node, into: &output)
        return output
    }

    private mutating func lower(_ node: GrammarNode, into output: inout [Symbol]) throws(GrammarError) {
        switch node {
        case .empty:
            break
        case .literal(let scalars):
            for scalar in scalars {
                for byte in UTF8Ranges.encode(scalar) { output.append(.bytes(ByteSet(byte...byte))) }
            }
            try count(scalars.count)
        case .set(let set):
            try output.append(lowerSet(set))
        case .rule(let name, let location):
            guard let id = namedRules[name] else { throw GrammarError(location: location, reason: "undefined rule '\(name)'") }
            output.append(.rule(id))
            try count(1)
        case .sequence(let items):
            for item in items { try lower(item, into: &output) }
        case .choice(let branches):
            if branches.count == 1 { return try lower(branches[0], into: &output) }
            let id = try helperRule(.group(node)) { (compiler: inout GrammarCompiler) throws(GrammarError) in try compiler.lowerAlternatives(node) }
            output.append(.rule(id))
            try count(1)
        case .repetition(let item, let minimum, let maximum):
            let symbol = try singleSymbol(item)
            try count(minimum + 1)
            for _ in 0..<minimum { output.append(symbol) }
            if let maximum {
                if maximum > minimum { output.append(.rule(try optionalChain(symbol, maximum - minimum))) }
            } else {
                let id = try helperRule(.star(symbol), repetition: true) { (compiler: inout GrammarCompiler) throws(GrammarError) in
                    try compiler.count(3)
                    return [[symbol, .rule(compiler.names.count - 1)], []]
                }
                output.append(.rule(id))
            }
        }
    }

    /// `x{0,n}` as a chain of rules `o_n ::= x o_(n-1) | ""`, built iteratively.
    private mutating func optionalChain(_ symbol: Symbol, _ length: Int) throws(GrammarError) -> Int {
        var previous: Int? = nil
        for step in 1...length {
            let before = previous
            previous = try helperRule(.optionalChain(symbol, step), repetition: true) { (compiler: inout GrammarCompiler) throws(GrammarError) in
                try compiler.count(3)
                if let before { return [[symbol, .rule(before)], []] }
                return [[symbol], []]
            }
        }
        return previous!
    }

    private mutating func singleSymbol(_ node: GrammarNode) throws(GrammarError) -> Symbol {
        let symbols = try lowerSequence(node)
        if symbols.count == 1 { return symbols[0] }
        let id = try helperRule(.group(node)) { (compiler: inout GrammarCompiler) throws(GrammarError) in [symbols] }
        return .rule(id)
    }

    private mutating func lowerSet(_ set: CodePointSet) throws(GrammarError) -> Symbol {
        if let last = set.ranges.last, last.upperBound < 0x80 {
            var bytes = ByteSet()
            for range in set.ranges { for byte in UInt8(range.lowerBound)...UInt8(range.upperBound) { bytes.insert(byte) } }
            try count(1)
            return .bytes(bytes)
        }
        let id = try helperRule(.characterClass(set)) { (compiler: inout GrammarCompiler) throws(GrammarError) in
            var ascii = ByteSet()
            var hasASCII = false
            var alternatives: [[Symbol]] = []
            for sequence in UTF8Ranges.sequences(for: set) {
                if sequence.count == 1 {
                    for byte in sequence[0] { ascii.insert(byte) }
                    hasASCII = true
                } else {
                    alternatives.append(sequence.map { .bytes(ByteSet($0)) })
                }
            }
            if hasASCII { alternatives.insert([.bytes(ascii)], at: 0) }
            try compiler.count(alternatives.reduce(0) { $0 + $1.count })
            return alternatives
        }
        return .rule(id)
    }

    // MARK: Checks

    private func check(root: Int) throws(GrammarError) {
        let ruleCount = bodies.count
        // Reachable rules from the root.
        var reachable = [Bool](repeating: false, count: ruleCount)
        var queue = [root]
        reachable[root] = true
        while let rule = queue.popLast() {
            for alternative in bodies[rule] {
                for case .rule(let callee) in alternative where !reachable[callee] {
                    reachable[callee] = true
                    queue.append(callee)
                }
            }
        }
        let nullable = fixpoint(terminalsSatisfy: false)
        try checkLeftRecursion(reachable: reachable, nullable: nullable)
        let productive = fixpoint(terminalsSatisfy: true)
        for rule in 0..<ruleCount where reachable[rule] && !productive[rule] {
            let owner = owners[rule]
            throw GrammarError(location: locations[owner], reason: "rule '\(names[owner])' can never finish: every alternative recurses without end")
        }
    }

    /// Rules having an alternative whose symbols all qualify: with `terminalsSatisfy == false`
    /// this computes nullable rules, with `true` productive ones (those deriving some finite text).
    private func fixpoint(terminalsSatisfy: Bool) -> [Bool] {
        let ruleCount = bodies.count
        var result = [Bool](repeating: false, count: ruleCount)
        var remaining: [[Int]] = []
        var users = [[(rule: Int, alternative: Int)]](repeating: [], count: ruleCount)
        var queue: [Int] = []
        for rule in 0..<ruleCount {
            var counts: [Int] = []
            for (index, alternative) in bodies[rule].enumerated() {
                var pending = 0
                var impossible = false
                for symbol in alternative {
                    switch symbol {
                    case .bytes: if !terminalsSatisfy { impossible = true }
                    case .rule(let callee): pending += 1; users[callee].append((rule, index))
                    }
                }
                counts.append(impossible ? Int.max : pending)
                if pending == 0 && !impossible { queue.append(rule) }
            }
            remaining.append(counts)
        }
        while let rule = queue.popLast() {
            if result[rule] { continue }
            result[rule] = true
            for (user, alternative) in users[rule] where remaining[user][alternative] != Int.max {
                remaining[user][alternative] -= 1
                if remaining[user][alternative] == 0 && !result[user] { queue.append(user) }
            }
        }
        return result
    }

    private func checkLeftRecursion(reachable: [Bool], nullable: [Bool]) throws(GrammarError) {
        let ruleCount = bodies.count
        // Left-corner edges: callees reachable without consuming a byte.
        var edges = [[Int]](repeating: [], count: ruleCount)
        for rule in 0..<ruleCount where reachable[rule] {
            var seen = Set<Int>()
            for alternative in bodies[rule] {
                for symbol in alternative {
                    guard case .rule(let callee) = symbol else { break }
                    if seen.insert(callee).inserted { edges[rule].append(callee) }
                    if !nullable[callee] { break }
                }
            }
        }
        // Iterative depth-first search with colours; a grey successor closes a cycle.
        var colour = [UInt8](repeating: 0, count: ruleCount)
        for start in 0..<ruleCount where reachable[start] && colour[start] == 0 {
            var path: [(rule: Int, next: Int)] = [(start, 0)]
            colour[start] = 1
            while !path.isEmpty {
                let (rule, next) = path[path.count - 1]
                if next == edges[rule].count {
                    colour[rule] = 2
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let callee = edges[rule][next]
                if colour[callee] == 1 {
                    let cycle = path.map(\.rule).drop { $0 != callee } + [callee]
                    throw leftRecursionError(Array(cycle))
                }
                if colour[callee] == 0 {
                    colour[callee] = 1
                    path.append((callee, 0))
                }
            }
        }
    }

    private func leftRecursionError(_ cycle: [Int]) -> GrammarError {
        let owner = owners[cycle[0]]
        if cycle.contains(where: { isRepetitionHelper[$0] }) {
            return GrammarError(location: locations[owner], reason: "rule '\(names[owner])' repeats something that can match empty text (it would loop forever)")
        }
        var path: [String] = []
        for rule in cycle where path.last != names[owners[rule]] { path.append(names[owners[rule]]) }
        if path.count == 1 { path.append(path[0]) }
        return GrammarError(location: locations[owner], reason: "left recursion: \(path.joined(separator: " -> ")) (it would loop forever)")
    }

    // MARK: Flattening

    private func flatten(root: Int) -> GrammarProgram {
        var elements: [Int32] = []
        var byteSets: [ByteSet] = []
        var byteSetIndex: [ByteSet: Int32] = [:]
        var alternatives: [[Int32]] = []
        elements.reserveCapacity(symbolCount + bodies.count * 2)
        for body in bodies {
            var starts: [Int32] = []
            for alternative in body {
                starts.append(Int32(elements.count))
                for symbol in alternative {
                    switch symbol {
                    case .bytes(let set):
                        if let index = byteSetIndex[set] {
                            elements.append(index)
                        } else {
                            let index = Int32(byteSets.count)
                            byteSets.append(set)
                            byteSetIndex[set] = index
                            elements.append(index)
                        }
                    case .rule(let callee):
                        elements.append(GrammarProgram.call(callee))
                    }
                }
                elements.append(GrammarProgram.end)
            }
            alternatives.append(starts)
        }
        return GrammarProgram(elements: elements, byteSets: byteSets, alternatives: alternatives, ruleNames: names, root: Int32(root))
    }
}
