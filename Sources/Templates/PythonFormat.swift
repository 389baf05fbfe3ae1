import Foundation

/// How Python prints values: templates output `str(x)`, and containers print their items with
/// `repr` (`['a', 'b']`, `{'k': None}`), so chat prompts depend on these exact spellings.
enum PythonFormat {
    static func str(_ value: Value) -> String {
        switch value {
        case .undefined: return ""
        case .string(let s), .markup(let s): return s
        default: return repr(value)
        }
    }

    static func repr(_ value: Value) -> String { repr(value, depth: 0) }

    /// Namespaces may contain themselves; Python prints such a cycle as `...`.
    private static func repr(_ value: Value, depth: Int) -> String {
        if depth > 300 { return "..." }
        let repr = { (v: Value) in Self.repr(v, depth: depth + 1) }
        switch value {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return floatRepr(d, json: false)
        case .string(let s): return reprString(s)
        case .array(let a): return "[" + a.map(repr).joined(separator: ", ") + "]"
        case .tuple(let a): return "(" + a.map(repr).joined(separator: ", ") + (a.count == 1 ? ",)" : ")")
        case .object(let o): return "{" + o.pairs.map { repr($0.0.value) + ": " + repr($0.1) }.joined(separator: ", ") + "}"
        case .namespace(let n): return "<Namespace " + repr(.object(n.attributes)) + ">"
        case .callable(let c):
            return c.kind == .macro ? "<Macro '\(c.name)'>" : "<built-in method \(c.name)>"
        case .generator: return "<generator object>"
        case .markup(let s): return "Markup(" + reprString(s) + ")"
        }
    }

    /// markupsafe.escape.
    static func escapeHTML(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func reprString(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(scalar) == quote {
                    out += "\\" + String(quote)
                } else if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\x%02x", scalar.value)
                } else if scalar.value >= 0x80 && !isPrintable(scalar) {
                    if scalar.value <= 0xFF {
                        out += String(format: "\\x%02x", scalar.value)
                    } else if scalar.value <= 0xFFFF {
                        out += String(format: "\\u%04x", scalar.value)
                    } else {
                        out += String(format: "\\U%08x", scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append(quote)
        return out
    }

    /// Approximates Python's str.isprintable for non-ASCII: separators, controls, format and
    /// unassigned code points are escaped by repr.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default: return true
        }
    }

    /// `repr(float)`: shortest round-trip digits, fixed notation for exponents -4..<16.
    static func floatRepr(_ d: Double, json: Bool) -> String {
        if d.isNaN { return json ? "NaN" : "nan" }
        if d.isInfinite { return d < 0 ? (json ? "-Infinity" : "-inf") : (json ? "Infinity" : "inf") }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description also yields the shortest round-trip digits; only the layout differs.
        var text = "\(abs(d))"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0])
        let fracPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = intPart + fracPart
        var pointPosition = intPart.count + exponent  // digits before the decimal point
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sign = d < 0 ? "-" : ""
        let decimalExponent = pointPosition - 1
        if decimalExponent >= -5 + 1 && decimalExponent < 16 {
            if pointPosition <= 0 {
                return sign + "0." + String(repeating: "0", count: -pointPosition) + digits
            }
            if pointPosition >= digits.count {
                return sign + digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
            }
            let i = digits.index(digits.startIndex, offsetBy: pointPosition)
            return sign + digits[..<i] + "." + digits[i...]
        }
        var mantissa = String(digits.first!)
        if digits.count > 1 { mantissa += "." + digits.dropFirst() }
        let expSign = decimalExponent < 0 ? "-" : "+"
        let expDigits = String(abs(decimalExponent))
        return sign + mantissa + "e" + expSign + (expDigits.count < 2 ? "0" : "") + expDigits
    }
}
