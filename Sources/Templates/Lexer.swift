import Foundation

struct Token {
    enum Kind: Equatable {
        case data(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
        case eof
    }
    let kind: Kind
    let offset: Int  // scalar offset into the normalized source, for line:column in errors
}

/// Splits a template into data and tag tokens, applying jinja2's whitespace rules as
/// transformers configures them: trim_blocks (drop the newline after a block or comment tag),
/// lstrip_blocks (drop indentation before a block or comment tag at a line start), and the
/// per-tag `-` / `+` overrides.
struct Lexer {
    let source: [Unicode.Scalar]
    private var pos = 0
    private var tokens: [Token] = []
    private var lineStarting = true

    init(_ text: String) {
        // jinja2 normalizes newlines and drops one trailing newline (keep_trailing_newline=False).
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        var iterator = text.unicodeScalars.makeIterator()
        var pending = iterator.next()
        while let s = pending {
            pending = iterator.next()
            if s == "\r" {
                scalars.append("\n")
                if pending == "\n" { pending = iterator.next() }
            } else {
                scalars.append(s)
            }
        }
        if scalars.last == "\n" { scalars.removeLast() }
        source = scalars
    }

    static func isSpace(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}": return true
        default: return s.value > 0x7F && s.properties.isWhitespace
        }
    }

    func syntaxError(_ message: String, at offset: Int) -> TemplateError {
        var line = 1
        var column = 1
        for s in source[0..<min(offset, source.count)] {
            if s == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return TemplateError(kind: .syntax(line: line, column: column), message: message)
    }

    private func at(_ i: Int, _ text: String) -> Bool {
        var j = i
        for s in text.unicodeScalars {
            guard j < source.count, source[j] == s else { return false }
            j += 1
        }
        return true
    }

    mutating func tokenize() throws -> [Token] {
        while pos < source.count {
            guard let (tagStart, kind) = nextTagStart(from: pos) else {
                emitData(pos, source.count, sign: nil, kind: nil)
                pos = source.count
                break
            }
            var afterOpen = tagStart + 2
            var sign: Unicode.Scalar? = nil
            if afterOpen < source.count, source[afterOpen] == "-" || source[afterOpen] == "+" {
                sign = source[afterOpen]
                afterOpen += 1
            }
            if kind == "%", let rawBodyStart = matchRawBegin(at: afterOpen) {
                emitData(pos, tagStart, sign: sign, kind: kind)
                try lexRaw(from: rawBodyStart, tagStart: tagStart)
                continue
            }
            emitData(pos, tagStart, sign: sign, kind: kind)
            pos = afterOpen
            switch kind {
            case "#": try skipComment(tagStart)
            case "{":
                tokens.append(Token(kind: .variableBegin, offset: tagStart))
                try lexTag(variable: true, tagStart: tagStart)
            default:
                tokens.append(Token(kind: .blockBegin, offset: tagStart))
                try lexTag(variable: false, tagStart: tagStart)
            }
        }
        tokens.append(Token(kind: .eof, offset: source.count))
        return tokens
    }

    private func nextTagStart(from start: Int) -> (Int, Unicode.Scalar)? {
        var i = start
        while i + 1 < source.count {
            if source[i] == "{" {
                let c = source[i + 1]
                if c == "{" || c == "%" || c == "#" { return (i, c) }
            }
            i += 1
        }
        return nil
    }

    /// `{%-? raw -?%}` (no trim_blocks newline removal after it, as in jinja2's rule).
    private func matchRawBegin(at start: Int) -> Int? {
        var i = start
        while i < source.count, Lexer.isSpace(source[i]) { i += 1 }
        guard at(i, "raw") else { return nil }
        i += 3
        while i < source.count, Lexer.isSpace(source[i]) { i += 1 }
        if at(i, "-%}") {
            i += 3
            while i < source.count, Lexer.isSpace(source[i]) { i += 1 }
            return i
        }
        if at(i, "%}") { return i + 2 }
        return nil
    }

    private mutating func lexRaw(from bodyStart: Int, tagStart: Int) throws {
        var i = bodyStart
        while i + 1 < source.count {
            if source[i] == "{" && source[i + 1] == "%" {
                var j = i + 2
                var sign: Unicode.Scalar? = nil
                if j < source.count, source[j] == "-" || source[j] == "+" { sign = source[j]; j += 1 }
                while j < source.count, Lexer.isSpace(source[j]) { j += 1 }
                if at(j, "endraw") {
                    j += 6
                    while j < source.count, Lexer.isSpace(source[j]) { j += 1 }
                    if at(j, "+%}") || at(j, "-%}") || at(j, "%}") {
                        lineStarting = bodyStart > 0 && source[bodyStart - 1] == "\n"
                        emitData(bodyStart, i, sign: sign, kind: "%")
                        pos = matchBlockEnd(at: j)!
                        return
                    }
                }
            }
            i += 1
        }
        throw syntaxError("Missing end of raw directive", at: tagStart)
    }

    /// Data before a tag, with `-` stripping or lstrip_blocks applied.
    private mutating func emitData(_ start: Int, _ end: Int, sign: Unicode.Scalar?, kind: Unicode.Scalar?) {
        var stop = end
        if sign == "-" {
            while stop > start, Lexer.isSpace(source[stop - 1]) { stop -= 1 }
        } else if sign != "+" && kind != "{" && kind != nil {
            var lineStart = stop
            while lineStart > start, source[lineStart - 1] != "\n" { lineStart -= 1 }
            let foundNewline = lineStart > start
            if (foundNewline || lineStarting) && lineStart < stop && source[lineStart..<stop].allSatisfy(Lexer.isSpace) {
                stop = lineStart
            }
        }
        if stop > start {
            tokens.append(Token(kind: .data(String(scalars: source[start..<stop])), offset: start))
        }
        lineStarting = false
    }

    private mutating func skipComment(_ tagStart: Int) throws {
        var i = pos
        while i + 1 < source.count {
            if source[i] == "#" && source[i + 1] == "}" {
                let signed = i > pos && (source[i - 1] == "-" || source[i - 1] == "+")
                pos = finishTagEnd(end: i + 2, sign: signed ? source[i - 1] : nil)
                return
            }
            i += 1
        }
        throw syntaxError("Missing end of comment tag", at: tagStart)
    }

    /// Position after a block/comment end, consuming trailing whitespace per the tag's sign.
    private mutating func finishTagEnd(end: Int, sign: Unicode.Scalar?) -> Int {
        var i = end
        if sign == "-" {
            while i < source.count, Lexer.isSpace(source[i]) { i += 1 }
        } else if sign == nil, i < source.count, source[i] == "\n" {
            i += 1  // trim_blocks
        }
        lineStarting = i > 0 && source[i - 1] == "\n"
        return i
    }

    private mutating func matchBlockEnd(at i: Int) -> Int? {
        if at(i, "+%}") { return finishTagEnd(end: i + 3, sign: "+") }
        if at(i, "-%}") { return finishTagEnd(end: i + 3, sign: "-") }
        if at(i, "%}") { return finishTagEnd(end: i + 2, sign: nil) }
        return nil
    }

    private static let operators = ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")",
                                    "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"]

    private mutating func lexTag(variable: Bool, tagStart: Int) throws {
        var depth: [Unicode.Scalar] = []
        while true {
            guard pos < source.count else {
                throw syntaxError(variable ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'", at: tagStart)
            }
            if depth.isEmpty {
                if variable {
                    if at(pos, "-}}") {
                        var i = pos + 3
                        while i < source.count, Lexer.isSpace(source[i]) { i += 1 }
                        tokens.append(Token(kind: .variableEnd, offset: pos))
                        lineStarting = i > 0 && source[i - 1] == "\n"
                        pos = i
                        return
                    }
                    if at(pos, "}}") {
                        tokens.append(Token(kind: .variableEnd, offset: pos))
                        pos += 2
                        lineStarting = false
                        return
                    }
                } else {
                    let start = pos
                    if let end = matchBlockEnd(at: pos) {
                        tokens.append(Token(kind: .blockEnd, offset: start))
                        pos = end
                        return
                    }
                }
            }
            let c = source[pos]
            if Lexer.isSpace(c) { pos += 1; continue }
            let start = pos
            if c.properties.numericType != nil && c.isASCII {
                tokens.append(Token(kind: lexNumber(), offset: start))
            } else if c == "_" || c.properties.isXIDStart {
                var i = pos
                while i < source.count, source[i] == "_" || source[i].properties.isXIDContinue { i += 1 }
                tokens.append(Token(kind: .name(String(scalars: source[pos..<i])), offset: start))
                pos = i
            } else if c == "'" || c == "\"" {
                tokens.append(Token(kind: .string(try lexString(quote: c)), offset: start))
            } else if let op = Lexer.operators.first(where: { at(pos, $0) }) {
                switch op {
                case "(", "[", "{": depth.append(op.unicodeScalars.first!)
                case ")", "]", "}":
                    let expected: Unicode.Scalar = op == ")" ? "(" : op == "]" ? "[" : "{"
                    guard depth.last == expected else { throw syntaxError("unexpected '\(op)'", at: pos) }
                    depth.removeLast()
                default: break
                }
                tokens.append(Token(kind: .op(op), offset: start))
                pos += op.unicodeScalars.count
            } else {
                throw syntaxError("unexpected char '\(c)'", at: pos)
            }
        }
    }

    private func isDigit(_ i: Int) -> Bool { i < source.count && source[i].value >= 0x30 && source[i].value <= 0x39 }

    private mutating func lexNumber() -> Token.Kind {
        var text = ""
        func digits() {
            while pos < source.count, isDigit(pos) || (source[pos] == "_" && isDigit(pos + 1)) {
                if source[pos] != "_" { text.unicodeScalars.append(source[pos]) }
                pos += 1
            }
        }
        digits()
        var isFloat = false
        if pos < source.count, source[pos] == ".", isDigit(pos + 1) {
            isFloat = true
            text += "."
            pos += 1
            digits()
        }
        if pos < source.count, source[pos] == "e" || source[pos] == "E" {
            var j = pos + 1
            if j < source.count, source[j] == "+" || source[j] == "-" { j += 1 }
            if isDigit(j) {
                isFloat = true
                text += "e" + String(scalars: source[(pos + 1)..<j])
                pos = j
                digits()
            }
        }
        if isFloat { return .float(Double(text) ?? .infinity) }
        // Python ints are unbounded; a literal beyond Int is clamped to a float so that
        // arithmetic on it fails or saturates instead of crashing.
        if let i = Int(text) { return .integer(i) }
        return .float(Double(text) ?? .infinity)
    }

    /// A string literal, decoded like Python's `unicode-escape` (jinja2 does exactly that).
    private mutating func lexString(quote: Unicode.Scalar) throws -> String {
        let start = pos
        pos += 1
        var out = String.UnicodeScalarView()
        while true {
            guard pos < source.count else { throw syntaxError("unexpected end of string", at: start) }
            let c = source[pos]
            pos += 1
            if c == quote { break }
            if c != "\\" { out.append(c); continue }
            guard pos < source.count else { throw syntaxError("unexpected end of string", at: start) }
            let e = source[pos]
            pos += 1
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "v": out.append("\u{0B}")
            case "\n": break
            case "x", "u", "U":
                let count = e == "x" ? 2 : e == "u" ? 4 : 8
                guard pos + count <= source.count,
                      let v = UInt32(String(scalars: source[pos..<pos + count]), radix: 16),
                      let scalar = Unicode.Scalar(v)
                else { throw syntaxError("invalid \\\(e) escape in string", at: pos) }
                out.append(scalar)
                pos += count
            case "0"..."7":
                var v = e.value - 0x30
                var n = 1
                while n < 3, pos < source.count, source[pos].value >= 0x30, source[pos].value <= 0x37 {
                    v = v * 8 + source[pos].value - 0x30
                    pos += 1
                    n += 1
                }
                out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            default:
                out.append("\\")
                out.append(e)
            }
        }
        return String(out)
    }
}
