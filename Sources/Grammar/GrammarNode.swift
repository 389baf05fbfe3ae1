/// A set of Unicode scalar values: sorted, disjoint, non-adjacent closed ranges. Surrogates
/// (U+D800–U+DFFF) are never members, since UTF-8 cannot encode them.
struct CodePointSet: Hashable, Sendable {
    private(set) var ranges: [ClosedRange<UInt32>]

    static let maximumScalar: UInt32 = 0x10FFFF
    static let all = CodePointSet([0...maximumScalar])
    static let empty = CodePointSet([])

    init(_ ranges: [ClosedRange<UInt32>]) {
        var sorted = ranges.filter { $0.lowerBound <= Self.maximumScalar }
            .map { $0.lowerBound...min($0.upperBound, Self.maximumScalar) }
            .sorted { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt32>] = []
        for range in sorted {
            if let last = merged.last, range.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        // Cut the surrogate block out of every range.
        sorted = []
        for range in merged {
            if range.upperBound < 0xD800 || range.lowerBound > 0xDFFF { sorted.append(range); continue }
            if range.lowerBound < 0xD800 { sorted.append(range.lowerBound...0xD7FF) }
            if range.upperBound > 0xDFFF { sorted.append(0xE000...range.upperBound) }
        }
        self.ranges = sorted
    }

    init(scalar: UInt32) { self.init([scalar...scalar]) }

    var isEmpty: Bool { ranges.isEmpty }

    func contains(_ scalar: UInt32) -> Bool {
        ranges.contains { $0.contains(scalar) }
    }

    var inverted: CodePointSet {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            next = range.upperBound + 1
        }
        if next <= Self.maximumScalar { result.append(next...Self.maximumScalar) }
        return CodePointSet(result)
    }

    func union(_ other: CodePointSet) -> CodePointSet { CodePointSet(ranges + other.ranges) }

    func subtracting(_ other: CodePointSet) -> CodePointSet { intersection(other.inverted) }

    func intersection(_ other: CodePointSet) -> CodePointSet {
        inverted.union(other.inverted).inverted
    }

    /// A single scalar, when the set has exactly one member.
    var singleScalar: UInt32? {
        ranges.count == 1 && ranges[0].lowerBound == ranges[0].upperBound ? ranges[0].lowerBound : nil
    }
}

/// A grammar expression over Unicode scalars: what GBNF, regular expressions and JSON Schema
/// all compile to before the byte-level program is built.
indirect enum GrammarNode: Hashable, Sendable {
    case empty
    case literal([UInt32])
    case set(CodePointSet)
    /// A reference to a named rule; `location` is where it was written, for errors.
    case rule(String, location: String)
    case sequence([GrammarNode])
    case choice([GrammarNode])
    /// `max == nil` is unbounded.
    case repetition(GrammarNode, min: Int, max: Int?)

    static func text(_ string: String) -> GrammarNode { .literal(string.unicodeScalars.map(\.value)) }
}

/// One named rule, as parsed.
struct GrammarRule: Sendable {
    var name: String
    var body: GrammarNode
    var location: String
}

// MARK: - Writing GBNF text

extension GrammarNode {
    /// GBNF text for this expression (used to embed regular expressions in generated grammars).
    var gbnf: String {
        var output = ""
        write(to: &output, context: .alternative)
        return output
    }

    private enum Context { case alternative, sequenceItem, repeated }

    private func write(to output: inout String, context: Context) {
        switch self {
        case .empty:
            output += "\"\""
        case .literal(let scalars):
            output += "\""
            for scalar in scalars { output += GrammarNode.escape(scalar, inClass: false) }
            output += "\""
        case .set(let set):
            output += GrammarNode.classText(set)
        case .rule(let name, _):
            output += name
        case .sequence(let items):
            if items.isEmpty { output += "\"\""; return }
            if items.count == 1 { items[0].write(to: &output, context: context); return }
            if context == .repeated { output += "(" }
            for (index, item) in items.enumerated() {
                if index > 0 { output += " " }
                item.write(to: &output, context: .sequenceItem)
            }
            if context == .repeated { output += ")" }
        case .choice(let branches):
            if branches.isEmpty { output += "[^\\x00-\\U0010FFFF]"; return }
            if branches.count == 1 { branches[0].write(to: &output, context: context); return }
            if context != .alternative { output += "(" }
            for (index, branch) in branches.enumerated() {
                if index > 0 { output += " | " }
                branch.write(to: &output, context: .sequenceItem)
            }
            if context != .alternative { output += ")" }
        case .repetition(let item, let min, let max):
            item.write(to: &output, context: .repeated)
            switch (min, max) {
            case (0, nil): output += "*"
            case (1, nil): output += "+"
            case (0, 1): output += "?"
            case (let m, nil): output += "{\(m),}"
            case (let m, let n?) where m == n: output += "{\(m)}"
            case (let m, let n?): output += "{\(m),\(n)}"
            }
        }
    }

    static func classText(_ set: CodePointSet) -> String {
        if set == .all { return "." }
        // Write the shorter of the set and its complement.
        let inverted = set.inverted
        let negate = inverted.ranges.count < set.ranges.count
        var output = negate ? "[^" : "["
        for range in (negate ? inverted : set).ranges {
            output += escape(range.lowerBound, inClass: true)
            if range.upperBound != range.lowerBound {
                if range.upperBound > range.lowerBound + 1 { output += "-" }
                output += escape(range.upperBound, inClass: true)
            }
        }
        return output + "]"
    }

    static func escape(_ scalar: UInt32, inClass: Bool) -> String {
        switch scalar {
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x5C: return "\\\\"
        case 0x22: return "\\\""
        case 0x5D where inClass: return "\\]"
        case 0x5B where inClass: return "\\["
        case 0x2D where inClass: return "\\-"
        case 0x5E where inClass: return "\\^"
        case 0x20...0x7E: return String(Character(Unicode.Scalar(UInt8(scalar))))
        case 0..<0x100: return "\\x" + hex(scalar, digits: 2)
        case 0x100..<0x10000: return "\\u" + hex(scalar, digits: 4)
        default: return "\\U" + hex(scalar, digits: 8)
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
