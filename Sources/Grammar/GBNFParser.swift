/// Reads llama.cpp's GBNF: `name ::= alternatives` rules, `|`, sequences, string literals,
/// character classes, `.`, groups, `* + ? {m} {m,} {m,n}` and `#` comments.
///
/// A rule ends at the end of its line unless the line ends inside parentheses or after `|`
/// or `::=`; as a small extension, a following line that starts with `|` continues the rule.
struct GBNFParser {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var lineStart = 0

    static func parse(_ source: String) throws(GrammarError) -> [GrammarRule] {
        guard source.utf8.count <= GrammarLimits.maximumSourceBytes else {
            throw GrammarError(location: "line 1, column 1", reason: "grammar source is larger than \(GrammarLimits.maximumSourceBytes) bytes")
        }
        var parser = GBNFParser(scalars: Array(source.unicodeScalars))
        return try parser.parseGrammar()
    }

    private init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    private var location: String { "line \(line), column \(index - lineStart + 1)" }

    private func error(_ reason: String) -> GrammarError { GrammarError(location: location, reason: reason) }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private func peek(_ offset: Int) -> Unicode.Scalar? { index + offset < scalars.count ? scalars[index + offset] : nil }

    private mutating func advance() {
        if scalars[index] == "\n" { line += 1; lineStart = index + 1 }
        index += 1
    }

    /// Skips blanks and comments; newlines too when `newlines` is set.
    private mutating func skipSpace(newlines: Bool) {
        while let c = current {
            if c == " " || c == "\t" || c == "\r" || (newlines && c == "\n") {
                advance()
            } else if c == "#" {
                while let c = current, c != "\n" { advance() }
            } else {
                return
            }
        }
    }

    private static func isNameScalar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_": true
        default: false
        }
    }

    private mutating func parseName() throws(GrammarError) -> String {
        let start = index
        while let c = current, Self.isNameScalar(c) { advance() }
        guard index > start else {
            if let c = current { throw error("expected a rule name, found '\(Character(c))'") }
            throw error("expected a rule name, found the end of the grammar")
        }
        var name = ""
        name.unicodeScalars.append(contentsOf: scalars[start..<index])
        return name
    }

    private mutating func parseGrammar() throws(GrammarError) -> [GrammarRule] {
        var rules: [GrammarRule] = []
        var seen: [String: String] = [:]
        skipSpace(newlines: true)
        while current != nil {
            let ruleLocation = location
            let name = try parseName()
            skipSpace(newlines: false)
            guard current == ":", peek(1) == ":", peek(2) == "=" else { throw error("expected '::=' after rule name '\(name)'") }
            advance(); advance(); advance()
            skipSpace(newlines: true)
            let body = try parseAlternatives(depth: 0, nested: false)
            if let previous = seen[name] {
                throw GrammarError(location: ruleLocation, reason: "rule '\(name)' is already defined at \(previous)")
            }
            seen[name] = ruleLocation
            rules.append(GrammarRule(name: name, body: body, location: ruleLocation))
            guard rules.count <= GrammarLimits.maximumRules else { throw error("more than \(GrammarLimits.maximumRules) rules") }
            if let c = current, c != "\n" { throw error("unexpected '\(Character(c))'") }
            skipSpace(newlines: true)
        }
        if rules.isEmpty { throw error("the grammar has no rules") }
        return rules
    }

    private mutating func parseAlternatives(depth: Int, nested: Bool) throws(GrammarError) -> GrammarNode {
        guard depth <= GrammarLimits.maximumNesting else { throw error("parentheses nested deeper than \(GrammarLimits.maximumNesting) levels") }
        var branches = [try parseSequence(depth: depth, nested: nested)]
        while true {
            if current == "|" {
                advance()
                skipSpace(newlines: true)
                branches.append(try parseSequence(depth: depth, nested: nested))
                continue
            }
            // Extension: a line starting with `|` continues the alternatives of a top-level rule.
            if !nested, current == "\n" {
                var probe = index
                while probe < scalars.count, [" ", "\t", "\r", "\n"].contains(scalars[probe]) { probe += 1 }
                if probe < scalars.count, scalars[probe] == "|" {
                    while index < probe { advance() }
                    continue
                }
            }
            break
        }
        return branches.count == 1 ? branches[0] : .choice(branches)
    }

    private mutating func parseSequence(depth: Int, nested: Bool) throws(GrammarError) -> GrammarNode {
        var items: [GrammarNode] = []
        while let c = current {
            if c == "|" || c == ")" || (c == "\n" && !nested) { break }
            var item: GrammarNode
            switch c {
            case "\"":
                item = .literal(try parseLiteral())
            case "[":
                item = .set(try parseClass())
            case ".":
                advance()
                item = .set(.all)
            case "(":
                advance()
                skipSpace(newlines: true)
                item = try parseAlternatives(depth: depth + 1, nested: true)
                guard current == ")" else { throw error("expected ')'") }
                advance()
            case "<":
                throw error("token references (<…>) are not supported")
            default:
                guard Self.isNameScalar(c) else { throw error("unexpected '\(Character(c))'") }
                let refLocation = location
                let name = try parseName()
                skipSpace(newlines: false)
                if current == ":", peek(1) == ":" {
                    throw GrammarError(location: refLocation, reason: "missing newline before rule '\(name)'")
                }
                item = .rule(name, location: refLocation)
            }
            skipSpace(newlines: nested)
            item = try parseQuantifiers(item, nested: nested)
            items.append(item)
        }
        if items.isEmpty { return .empty }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    private mutating func parseQuantifiers(_ item: GrammarNode, nested: Bool) throws(GrammarError) -> GrammarNode {
        var item = item
        var stacked = 0
        while let c = current, "*+?{".unicodeScalars.contains(c) {
            // Each quantifier wraps the item once more; the compiler recurses per wrapper.
            stacked += 1
            guard stacked <= 4 else { throw error("too many quantifiers in a row") }
            switch c {
            case "*": advance(); item = .repetition(item, min: 0, max: nil)
            case "+": advance(); item = .repetition(item, min: 1, max: nil)
            case "?": advance(); item = .repetition(item, min: 0, max: 1)
            case "{":
                advance()
                skipSpace(newlines: false)
                let minimum = try parseCount()
                var maximum: Int? = minimum
                skipSpace(newlines: false)
                if current == "," {
                    advance()
                    skipSpace(newlines: false)
                    maximum = current == "}" ? nil : try parseCount()
                    skipSpace(newlines: false)
                }
                guard current == "}" else { throw error("expected '}' to close the repetition") }
                if let maximum, maximum < minimum { throw error("repetition maximum \(maximum) is below its minimum \(minimum)") }
                advance()
                item = .repetition(item, min: minimum, max: maximum)
            default:
                return item
            }
            skipSpace(newlines: nested)
        }
        return item
    }

    private mutating func parseCount() throws(GrammarError) -> Int {
        var value = 0
        var digits = 0
        while let c = current, ("0"..."9").contains(c) {
            value = value * 10 + Int(c.value - 48)
            digits += 1
            guard value <= GrammarLimits.maximumRepetition else {
                throw error("repetition count above the limit of \(GrammarLimits.maximumRepetition)")
            }
            advance()
        }
        guard digits > 0 else { throw error("expected a number in the repetition") }
        return value
    }

    private mutating func parseLiteral() throws(GrammarError) -> [UInt32] {
        advance()  // opening quote
        var result: [UInt32] = []
        while true {
            guard let c = current, c != "\n" else { throw error("unterminated string literal") }
            if c == "\"" { advance(); return result }
            result.append(try parseChar())
        }
    }

    private mutating func parseClass() throws(GrammarError) -> CodePointSet {
        let start = location
        advance()  // [
        var negated = false
        if current == "^" { negated = true; advance() }
        var ranges: [ClosedRange<UInt32>] = []
        while true {
            guard let c = current, c != "\n" else { throw error("unterminated character class") }
            if c == "]" { advance(); break }
            let low = try parseChar()
            if current == "-", let next = peek(1), next != "]" {
                advance()
                let high = try parseChar()
                guard low <= high else { throw error("character range is reversed") }
                ranges.append(low...high)
            } else {
                ranges.append(low...low)
            }
        }
        let set = negated ? CodePointSet(ranges).inverted : CodePointSet(ranges)
        if set.isEmpty { throw GrammarError(location: start, reason: "character class matches nothing") }
        return set
    }

    /// One character of a literal or class, with its escape decoded.
    private mutating func parseChar() throws(GrammarError) -> UInt32 {
        let c = current!
        if c != "\\" { advance(); return c.value }
        advance()
        guard let escape = current else { throw error("unterminated escape") }
        advance()
        switch escape {
        case "n": return 0x0A
        case "r": return 0x0D
        case "t": return 0x09
        case "\\", "\"", "[", "]", "-", "^", "/", "'": return escape.value
        case "x": return try parseHex(digits: 2)
        case "u": return try parseHex(digits: 4)
        case "U": return try parseHex(digits: 8)
        default: throw error("unknown escape '\\\(Character(escape))'")
        }
    }

    private mutating func parseHex(digits: Int) throws(GrammarError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let c = current, c.isASCII, let digit = UInt32(String(c), radix: 16) else {
                throw error("expected \(digits) hexadecimal digits")
            }
            value = value << 4 | digit
            advance()
        }
        guard value <= CodePointSet.maximumScalar, !(0xD800...0xDFFF).contains(value) else {
            throw error("escape is not a Unicode scalar value")
        }
        return value
    }
}
