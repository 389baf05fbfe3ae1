/// Reads a regular expression (an ECMA-262 subset) into a `GrammarNode`.
///
/// Supported: literals, escapes (`\d \w \s \D \W \S`, `\t \n \r \f \v \0`, `\xHH`, `\uHHHH`,
/// `\u{…}`, `\cX`, escaped punctuation), classes with ranges, negation and escapes, `.`, groups
/// `( )`, `(?: )`, named groups `(?<n> )`, alternation, quantifiers `* + ? {m} {m,} {m,n}` with a
/// lazy `?` (which does not change the language), and `^`/`$` at the ends. Backreferences,
/// lookaround, word boundaries, Unicode property escapes and flags are errors naming the offset.
struct RegexParser {
    enum Mode {
        /// The whole output must match; anchors change nothing.
        case raw
        /// JSON Schema `pattern`: the match is over the decoded string value, unanchored unless
        /// `^`/`$` are written, and the node produces the JSON-escaped text of the value.
        case jsonString
    }

    private let scalars: [Unicode.Scalar]
    private var index = 0

    static func parse(_ pattern: String, mode: Mode) throws(GrammarError) -> GrammarNode {
        let scalars = Array(pattern.unicodeScalars)
        guard scalars.count <= GrammarLimits.maximumRegexLength else {
            throw GrammarError(location: "offset 0", reason: "regular expression is longer than \(GrammarLimits.maximumRegexLength) characters")
        }
        var parser = RegexParser(scalars: scalars)
        var branches: [GrammarNode] = []
        while true {
            let branchStart = parser.index
            var anchoredStart = false
            if parser.current == "^" { anchoredStart = true; parser.index += 1 }
            var body = try parser.parseSequence(depth: 0)
            var anchoredEnd = false
            if parser.current == "$" { anchoredEnd = true; parser.index += 1 }
            if parser.index < scalars.count, parser.current != "|" {
                if parser.current == ")" { throw parser.error("unmatched ')'") }
                throw parser.error(parser.current == "^" || parser.current == "$"
                    ? "'\(Character(parser.current!))' is only supported at the start or end of the pattern"
                    : "unexpected character")
            }
            _ = branchStart
            if mode == .jsonString {
                body = jsonEscaped(body)
                let anyText = GrammarNode.repetition(jsonEscaped(.set(.all)), min: 0, max: nil)
                body = .sequence((anchoredStart ? [] : [anyText]) + [body] + (anchoredEnd ? [] : [anyText]))
            }
            branches.append(body)
            if parser.current == "|" { parser.index += 1; continue }
            break
        }
        return branches.count == 1 ? branches[0] : .choice(branches)
    }

    private init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private func error(_ reason: String, at offset: Int? = nil) -> GrammarError {
        GrammarError(location: "offset \(offset ?? index)", reason: reason)
    }

    private mutating func parseAlternation(depth: Int) throws(GrammarError) -> GrammarNode {
        var branches = [try parseSequence(depth: depth)]
        while current == "|" {
            index += 1
            branches.append(try parseSequence(depth: depth))
        }
        return branches.count == 1 ? branches[0] : .choice(branches)
    }

    private mutating func parseSequence(depth: Int) throws(GrammarError) -> GrammarNode {
        var items: [GrammarNode] = []
        while let c = current, c != "|", c != ")" {
            if c == "$" || c == "^" {
                // Only the very ends of a top-level branch may hold anchors.
                if depth == 0, c == "$", index + 1 == scalars.count || scalars[index + 1] == "|" { break }
                throw error("'\(Character(c))' is only supported at the start or end of the pattern")
            }
            let atomStart = index
            var atom = try parseAtom(depth: depth)
            var quantifiers = 0
            while let (minimum, maximum) = try parseQuantifier() {
                quantifiers += 1
                if quantifiers > 1 { throw error("nothing to repeat", at: atomStart) }
                atom = .repetition(atom, min: minimum, max: maximum)
            }
            items.append(atom)
        }
        if items.isEmpty { return .empty }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    /// A quantifier at the current position, or nil; `{` that does not start one is a literal.
    private mutating func parseQuantifier() throws(GrammarError) -> (Int, Int?)? {
        guard let c = current else { return nil }
        let start = index
        var result: (Int, Int?)
        switch c {
        case "*": index += 1; result = (0, nil)
        case "+": index += 1; result = (1, nil)
        case "?": index += 1; result = (0, 1)
        case "{":
            guard let (minimum, maximum, end) = scanBraces() else { return nil }
            index = end
            if let maximum, maximum < minimum { throw error("repetition maximum is below its minimum", at: start) }
            guard minimum <= GrammarLimits.maximumRepetition, (maximum ?? 0) <= GrammarLimits.maximumRepetition else {
                throw error("repetition count above the limit of \(GrammarLimits.maximumRepetition)", at: start)
            }
            result = (minimum, maximum)
        default:
            return nil
        }
        if current == "?" { index += 1 }  // lazy: same language
        return result
    }

    /// Parses `{m}`, `{m,}` or `{m,n}` at the current position without consuming it.
    private func scanBraces() -> (Int, Int?, Int)? {
        var position = index + 1
        func number() -> Int? {
            var value = 0, digits = 0
            while position < scalars.count, ("0"..."9").contains(scalars[position]) {
                value = min(value * 10 + Int(scalars[position].value - 48), Int(Int32.max))
                digits += 1
                position += 1
            }
            return digits > 0 ? value : nil
        }
        guard let minimum = number() else { return nil }
        var maximum: Int? = minimum
        if position < scalars.count, scalars[position] == "," {
            position += 1
            maximum = number()
        }
        guard position < scalars.count, scalars[position] == "}" else { return nil }
        return (minimum, maximum, position + 1)
    }

    private mutating func parseAtom(depth: Int) throws(GrammarError) -> GrammarNode {
        let start = index
        let c = current!
        switch c {
        case "(":
            guard depth < GrammarLimits.maximumNesting else { throw error("groups nested deeper than \(GrammarLimits.maximumNesting) levels") }
            index += 1
            if current == "?" {
                index += 1
                switch current {
                case ":": index += 1
                case "<" where index + 1 < scalars.count && scalars[index + 1] != "=" && scalars[index + 1] != "!":
                    try skipGroupName()
                case "P" where index + 1 < scalars.count && scalars[index + 1] == "<":
                    index += 1
                    try skipGroupName()
                case "=", "!": throw error("lookahead is not supported", at: start)
                case "<": throw error("lookbehind is not supported", at: start)
                default: throw error("unsupported group syntax '(?'", at: start)
                }
            }
            let inner = try parseAlternation(depth: depth + 1)
            guard current == ")" else { throw error("missing ')' for the group", at: start) }
            index += 1
            return inner
        case "[":
            return .set(try parseClass())
        case ".":
            index += 1
            return .set(CodePointSet([0x0A...0x0A, 0x0D...0x0D, 0x2028...0x2029]).inverted)
        case "\\":
            return try parseEscape(inClass: false)
        case "*", "+", "?":
            throw error("nothing to repeat")
        case "{":
            if scanBraces() != nil { throw error("nothing to repeat") }
            index += 1
            return .literal([c.value])
        case "]", "}":
            index += 1
            return .literal([c.value])
        default:
            index += 1
            return .literal([c.value])
        }
    }

    private mutating func skipGroupName() throws(GrammarError) {
        let start = index
        index += 1  // <
        while let c = current, c != ">" {
            guard c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "$" else { throw error("invalid group name", at: start) }
            index += 1
        }
        guard current == ">", index > start + 1 else { throw error("invalid group name", at: start) }
        index += 1
    }

    private static let digits = CodePointSet([0x30...0x39])
    private static let word = CodePointSet([0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    /// ECMA-262 white space and line terminators, minus U+FEFF, which Python's `re` (used by
    /// validators) does not count as space; the intersection keeps generated text valid for both.
    private static let space = CodePointSet([0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A,
                                             0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000])

    /// An escape outside a class returns a node; inside a class, use `parseClassEscape`.
    private mutating func parseEscape(inClass: Bool) throws(GrammarError) -> GrammarNode {
        let start = index
        switch try parseEscapeValue(inClass: inClass) {
        case .scalar(let value): return .literal([value])
        case .set(let set): return .set(set)
        case .none: throw error("unsupported escape", at: start)
        }
    }

    private enum EscapeValue { case scalar(UInt32), set(CodePointSet), none }

    private mutating func parseEscapeValue(inClass: Bool) throws(GrammarError) -> EscapeValue {
        let start = index
        index += 1  // backslash
        guard let c = current else { throw error("pattern ends with a lone backslash", at: start) }
        index += 1
        switch c {
        case "d": return .set(Self.digits)
        case "D": return .set(Self.digits.inverted)
        case "w": return .set(Self.word)
        case "W": return .set(Self.word.inverted)
        case "s": return .set(Self.space)
        case "S": return .set(Self.space.inverted)
        case "t": return .scalar(0x09)
        case "n": return .scalar(0x0A)
        case "r": return .scalar(0x0D)
        case "f": return .scalar(0x0C)
        case "v": return .scalar(0x0B)
        case "b" where inClass: return .scalar(0x08)
        case "b", "B": throw error("word boundaries are not supported", at: start)
        case "0":
            if let next = current, ("0"..."9").contains(next) { throw error("octal escapes are not supported", at: start) }
            return .scalar(0)
        case "1"..."9": throw error("backreferences are not supported", at: start)
        case "k": throw error("named backreferences are not supported", at: start)
        case "p", "P": throw error("Unicode property escapes are not supported", at: start)
        case "c":
            guard let letter = current, ("a"..."z").contains(letter) || ("A"..."Z").contains(letter) else {
                throw error("'\\c' must be followed by a letter", at: start)
            }
            index += 1
            return .scalar(letter.value % 32)
        case "x": return .scalar(try parseHex(count: 2, escapeStart: start))
        case "u":
            if current == "{" {
                index += 1
                var value: UInt32 = 0, digits = 0
                while let h = current, h != "}" {
                    guard h.isASCII, let digit = UInt32(String(h), radix: 16), digits < 6 else { throw error("invalid \\u{…} escape", at: start) }
                    value = value << 4 | digit
                    digits += 1
                    index += 1
                }
                guard current == "}", digits > 0 else { throw error("invalid \\u{…} escape", at: start) }
                index += 1
                return .scalar(try validScalar(value, at: start))
            }
            let value = try parseHex(count: 4, escapeStart: start)
            if (0xD800...0xDBFF).contains(value), index + 1 < scalars.count, scalars[index] == "\\", scalars[index + 1] == "u" {
                let saved = index
                index += 2
                if let low = try? parseHex(count: 4, escapeStart: saved), (0xDC00...0xDFFF).contains(low) {
                    return .scalar(0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00))
                }
                index = saved
            }
            return .scalar(try validScalar(value, at: start))
        default:
            if c.properties.isAlphabetic || ("0"..."9").contains(c) { throw error("unknown escape '\\\(Character(c))'", at: start) }
            return .scalar(c.value)
        }
    }

    private func validScalar(_ value: UInt32, at offset: Int) throws(GrammarError) -> UInt32 {
        guard value <= CodePointSet.maximumScalar, !(0xD800...0xDFFF).contains(value) else {
            throw error("escape is not a Unicode scalar value (lone surrogate or too large)", at: offset)
        }
        return value
    }

    private mutating func parseHex(count: Int, escapeStart: Int) throws(GrammarError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let h = current, h.isASCII, let digit = UInt32(String(h), radix: 16) else {
                throw error("expected \(count) hexadecimal digits", at: escapeStart)
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func parseClass() throws(GrammarError) -> CodePointSet {
        let start = index
        index += 1  // [
        var negated = false
        if current == "^" { negated = true; index += 1 }
        var set = CodePointSet.empty
        while true {
            guard let c = current else { throw error("unterminated character class", at: start) }
            if c == "]" { index += 1; break }
            let itemStart = index
            let low = try parseClassItem()
            if current == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                index += 1
                let high = try parseClassItem()
                guard case .scalar(let a) = low, case .scalar(let b) = high else {
                    throw error("a class escape cannot bound a range", at: itemStart)
                }
                guard a <= b else { throw error("character range out of order", at: itemStart) }
                set = set.union(CodePointSet([a...b]))
            } else {
                switch low {
                case .scalar(let value): set = set.union(CodePointSet(scalar: value))
                case .set(let members): set = set.union(members)
                case .none: break
                }
            }
        }
        let result = negated ? set.inverted : set
        guard !result.isEmpty else { throw error("character class matches nothing", at: start) }
        return result
    }

    private mutating func parseClassItem() throws(GrammarError) -> EscapeValue {
        let c = current!
        if c == "\\" { return try parseEscapeValue(inClass: true) }
        if c == "[", index + 1 < scalars.count, scalars[index + 1] == ":" { throw error("POSIX classes are not supported") }
        index += 1
        return .scalar(c.value)
    }

    // MARK: JSON escaping

    /// Characters a JSON string must escape.
    static let needsEscape = CodePointSet([0x00...0x1F, 0x22...0x22, 0x5C...0x5C])

    /// The same language, written as JSON string content: quote, backslash and control
    /// characters take their escaped forms.
    static func jsonEscaped(_ node: GrammarNode) -> GrammarNode {
        switch node {
        case .empty, .rule: return node
        case .literal(let scalars): return .literal(scalars.flatMap(escapedForm))
        case .set(let set):
            let plain = set.subtracting(needsEscape)
            var branches: [GrammarNode] = plain.isEmpty ? [] : [.set(plain)]
            for range in set.intersection(needsEscape).ranges {
                for scalar in range { branches.append(.literal(escapedForm(scalar))) }
            }
            return branches.count == 1 ? branches[0] : .choice(branches)
        case .sequence(let items): return .sequence(items.map(jsonEscaped))
        case .choice(let branches): return .choice(branches.map(jsonEscaped))
        case .repetition(let item, let minimum, let maximum): return .repetition(jsonEscaped(item), min: minimum, max: maximum)
        }
    }

    static func escapedForm(_ scalar: UInt32) -> [UInt32] {
        let backslash: UInt32 = 0x5C
        switch scalar {
        case 0x22: return [backslash, 0x22]
        case 0x5C: return [backslash, backslash]
        case 0x08: return [backslash, 0x62]
        case 0x0C: return [backslash, 0x66]
        case 0x0A: return [backslash, 0x6E]
        case 0x0D: return [backslash, 0x72]
        case 0x09: return [backslash, 0x74]
        case 0..<0x20:
            let hex = Array("0123456789abcdef".unicodeScalars)
            return [backslash, 0x75, 0x30, 0x30, hex[Int(scalar >> 4)].value, hex[Int(scalar & 15)].value]
        default: return [scalar]
        }
    }
}
