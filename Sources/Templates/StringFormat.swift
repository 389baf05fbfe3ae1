import Foundation

/// Python `str.format`. Field lookups go through the sandboxed attribute access, so
/// `'{0.__class__}'.format(x)` is as inert as `x.__class__`.
enum StringFormat {
    static func format(_ interpreter: Interpreter, _ template: String, _ args: Arguments) throws -> String {
        var out = ""
        var autoIndex = 0
        var chars = Array(template)[...]
        while let c = chars.popFirst() {
            if c == "}" {
                guard chars.first == "}" else { throw TemplateError.runtime("ValueError: Single '}' encountered in format string") }
                chars.removeFirst()
                out += "}"
                continue
            }
            guard c == "{" else { out.append(c); continue }
            if chars.first == "{" {
                chars.removeFirst()
                out += "{"
                continue
            }
            var field = ""
            var nesting = 0
            while true {
                guard let d = chars.popFirst() else { throw TemplateError.runtime("ValueError: expected '}' before end of string") }
                if d == "{" { nesting += 1 }
                if d == "}" {
                    if nesting == 0 { break }
                    nesting -= 1
                }
                field.append(d)
            }
            var spec = ""
            var conversion: Character? = nil
            if let colon = field.firstIndex(of: ":") {
                spec = String(field[field.index(after: colon)...])
                field = String(field[..<colon])
            }
            if let bang = field.firstIndex(of: "!") {
                conversion = field[field.index(after: bang)...].first
                field = String(field[..<bang])
            }
            var value = try resolve(interpreter, field, args, &autoIndex)
            if conversion == "r" { value = .string(PythonFormat.repr(value)) }
            if conversion == "s" { value = .string(PythonFormat.str(value)) }
            out += try apply(spec, value)
            try interpreter.checkSize(out.utf8.count, "string")
        }
        return out
    }

    private static func resolve(_ interpreter: Interpreter, _ field: String, _ args: Arguments, _ autoIndex: inout Int) throws -> Value {
        var head = ""
        var rest = Substring(field)
        while let c = rest.first, c != "." && c != "[" {
            head.append(c)
            rest.removeFirst()
        }
        var value: Value
        if head.isEmpty {
            guard autoIndex < args.positional.count else { throw TemplateError.runtime("IndexError: Replacement index \(autoIndex) out of range") }
            value = args.positional[autoIndex]
            autoIndex += 1
        } else if let i = Int(head) {
            guard i < args.positional.count else { throw TemplateError.runtime("IndexError: Replacement index \(i) out of range") }
            value = args.positional[i]
        } else {
            guard let v = args.keyword(head) else { throw TemplateError.runtime("KeyError: '\(head)'") }
            value = v
        }
        while let c = rest.popFirst() {
            var name = ""
            if c == "." {
                while let d = rest.first, d != "." && d != "[" { name.append(d); rest.removeFirst() }
                value = try interpreter.getAttribute(value, name)
            } else {
                while let d = rest.popFirst(), d != "]" { name.append(d) }
                value = try interpreter.getItem(value, Int(name).map { .int($0) } ?? .string(name))
            }
            if case .undefined(let u) = value { throw u.fail() }
        }
        return value
    }

    /// The common part of the format-spec mini-language: [[fill]align][sign][0][width][.precision][type].
    private static func apply(_ spec: String, _ value: Value) throws -> String {
        if spec.isEmpty { return PythonFormat.str(value) }
        var chars = Array(spec)[...]
        var fill: Character = " "
        var align: Character? = nil
        if chars.count >= 2, "<>^=".contains(chars[chars.startIndex + 1]) {
            fill = chars.removeFirst()
            align = chars.removeFirst()
        } else if let c = chars.first, "<>^=".contains(c) {
            align = chars.removeFirst()
        }
        var sign: Character? = nil
        if let c = chars.first, "+- ".contains(c) { sign = chars.removeFirst() }
        if chars.first == "0" {
            if align == nil { fill = "0"; align = "=" }
            chars.removeFirst()
        }
        var width = 0
        while let c = chars.first, let d = c.wholeNumberValue { width = width * 10 + d; chars.removeFirst() }
        var precision: Int? = nil
        if chars.first == "." {
            chars.removeFirst()
            var p = 0
            while let c = chars.first, let d = c.wholeNumberValue { p = p * 10 + d; chars.removeFirst() }
            precision = p
        }
        let type = chars.first
        var body: String
        switch (type, value) {
        case ("f", _), ("F", _), ("%", _):
            guard var n = value.asNumber else { throw TemplateError.runtime("ValueError: Unknown format code for \(value.typeName)") }
            if type == "%" { n *= 100 }
            body = String(format: "%.\(precision ?? 6)f", n) + (type == "%" ? "%" : "")
        case ("d", _):
            guard let n = value.asInt else { throw TemplateError.runtime("ValueError: Unknown format code 'd' for \(value.typeName)") }
            body = String(n)
        case (nil, .string(let s)), ("s", .string(let s)):
            body = precision.map { String(s.prefix($0)) } ?? s
        default:
            body = PythonFormat.str(value)
        }
        if let sign, value.isNumber, !body.hasPrefix("-"), sign != "-" { body = String(sign == "+" ? "+" : " ") + body }
        let length = body.count
        guard width > length else { return body }
        let padding = width - length
        let defaultAlign: Character = value.isNumber ? ">" : "<"
        switch align ?? defaultAlign {
        case "<": return body + String(repeating: fill, count: padding)
        case "^":
            let left = padding / 2
            return String(repeating: fill, count: left) + body + String(repeating: fill, count: padding - left)
        case "=":
            if let first = body.first, first == "-" || first == "+" || first == " " {
                return String(first) + String(repeating: fill, count: padding) + body.dropFirst()
            }
            return String(repeating: fill, count: padding) + body
        default: return String(repeating: fill, count: padding) + body
        }
    }
}
