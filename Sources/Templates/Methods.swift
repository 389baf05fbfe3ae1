import Foundation

/// Python methods templates may call on strings, dicts and lists. Mutating list/dict methods
/// resolve to an unsafe undefined, so calling them fails like jinja2's immutable sandbox.
enum Methods {
    private static let unsafeListMethods: Set<String> = ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"]
    private static let unsafeDictMethods: Set<String> = ["pop", "popitem", "update", "setdefault", "clear"]

    static func bind(_ value: Value, _ name: String) -> Value? {
        func method(_ body: @escaping (Interpreter, Arguments) throws -> Value) -> Value {
            .callable(Callable(name: name, kind: .method, body: body))
        }
        func unsafe() -> Value {
            .undefined(Undefined("access to attribute '\(name)' of '\(value.typeName)' object is unsafe.", unsafe: true))
        }
        switch value {
        case .string(let s):
            guard stringMethodNames.contains(name) else { return nil }
            return method { interpreter, args in try callStringMethod(interpreter, s, name, args) }
        case .object(let o):
            if unsafeDictMethods.contains(name) { return unsafe() }
            switch name {
            case "get":
                return method { _, args in
                    guard let key = DictKey(args.value(0, "key") ?? .missing) else { return args.value(1, "default") ?? .none }
                    return o[key] ?? args.value(1, "default") ?? .none
                }
            case "items": return method { _, _ in .array(o.pairs.map { .tuple([$0.0.value, $0.1]) }) }
            case "keys": return method { _, _ in .array(o.keys.map { $0.value }) }
            case "values": return method { _, _ in .array(o.values) }
            case "copy": return method { _, _ in .object(o) }
            default: return nil
            }
        case .array(let a), .tuple(let a):
            if unsafeListMethods.contains(name) { return unsafe() }
            switch name {
            case "count": return method { _, args in .int(a.filter { pythonEquals($0, args.positional.first ?? .none) }.count) }
            case "index":
                return method { _, args in
                    guard let i = a.firstIndex(where: { pythonEquals($0, args.positional.first ?? .none) }) else {
                        throw TemplateError.runtime("ValueError: value is not in list")
                    }
                    return .int(i)
                }
            case "copy": return method { _, _ in .array(a) }
            default: return nil
            }
        default:
            return nil
        }
    }

    private static let stringMethodNames: Set<String> = [
        "upper", "lower", "title", "capitalize", "swapcase", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
        "startswith", "endswith", "replace", "find", "rfind", "index", "rindex", "count", "join", "format", "isdigit",
        "isalpha", "isalnum", "isspace", "isupper", "islower", "isnumeric", "isdecimal", "zfill", "center", "ljust",
        "rjust", "partition", "rpartition", "removeprefix", "removesuffix",
    ]

    static func isPythonSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x1F, 0x20, 0x85: return true
        default: return s.value > 0x7F && s.properties.isWhitespace
        }
    }

    static func strip(_ s: String, _ chars: Value?, leading: Bool, trailing: Bool) throws -> String {
        let scalars = s.scalars
        let set: Set<Unicode.Scalar>?
        switch chars {
        case nil, .none?, .undefined?: set = nil
        case .string(let c)?: set = Set(c.unicodeScalars)
        case let v?: throw TemplateError.typeError("strip arg must be None or str, not \(v.typeName)")
        }
        func strippable(_ c: Unicode.Scalar) -> Bool { set?.contains(c) ?? isPythonSpace(c) }
        var start = 0
        var end = scalars.count
        if leading { while start < end, strippable(scalars[start]) { start += 1 } }
        if trailing { while end > start, strippable(scalars[end - 1]) { end -= 1 } }
        return String(scalars: scalars[start..<end])
    }

    static func split(_ s: String, _ separator: Value?, _ maxSplit: Int) throws -> [String] {
        var limit = maxSplit < 0 ? Int.max : maxSplit
        switch separator {
        case nil, .none?:
            var parts: [String] = []
            let scalars = s.scalars
            var i = 0
            while i < scalars.count {
                while i < scalars.count, isPythonSpace(scalars[i]) { i += 1 }
                if i >= scalars.count { break }
                if limit == 0 {
                    var end = scalars.count
                    while end > i, isPythonSpace(scalars[end - 1]) { end -= 1 }
                    parts.append(String(scalars: scalars[i..<end]))
                    break
                }
                let start = i
                while i < scalars.count, !isPythonSpace(scalars[i]) { i += 1 }
                parts.append(String(scalars: scalars[start..<i]))
                limit -= 1
            }
            return parts
        case .string(let sep)?:
            guard !sep.isEmpty else { throw TemplateError.runtime("ValueError: empty separator") }
            var parts: [String] = []
            var rest = Substring(s)
            while limit > 0, let range = rest.range(of: sep) {
                parts.append(String(rest[..<range.lowerBound]))
                rest = rest[range.upperBound...]
                limit -= 1
            }
            parts.append(String(rest))
            return parts
        case let v?:
            throw TemplateError.typeError("must be str or None, not \(v.typeName)")
        }
    }

    static func title(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s {
            let cased = c.isCased
            out += cased ? (previousCased ? c.lowercased() : String(c).uppercased()) : String(c)
            previousCased = cased
        }
        return out
    }

    static func capitalize(_ s: String) -> String {
        guard let first = s.first else { return s }
        return String(first).uppercased() + s.dropFirst().lowercased()
    }

    private static func stringArgument(_ args: Arguments, _ index: Int, _ name: String) throws -> String {
        guard let v = args.value(index, name) else { throw TemplateError.typeError("missing argument '\(name)'") }
        guard case .string(let s) = v else { throw TemplateError.typeError("must be str, not \(v.typeName)") }
        return s
    }

    /// Code-point offsets, as Python's find/index report them.
    private static func scalarOffset(_ s: String, _ index: String.Index) -> Int {
        s.unicodeScalars.distance(from: s.unicodeScalars.startIndex, to: index)
    }

    private static func callStringMethod(_ interpreter: Interpreter, _ s: String, _ name: String, _ args: Arguments) throws -> Value {
        switch name {
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "title": return .string(title(s))
        case "capitalize": return .string(capitalize(s))
        case "swapcase": return .string(String(s.map { $0.isUppercase ? Character($0.lowercased()) : $0.isLowercase ? Character($0.uppercased()) : $0 }))
        case "strip": return .string(try strip(s, args.value(0, "chars"), leading: true, trailing: true))
        case "lstrip": return .string(try strip(s, args.value(0, "chars"), leading: true, trailing: false))
        case "rstrip": return .string(try strip(s, args.value(0, "chars"), leading: false, trailing: true))
        case "split", "rsplit":
            let maxSplit = args.value(1, "maxsplit")?.asInt ?? -1
            if name == "rsplit" && maxSplit >= 0 {
                // rsplit with a limit splits from the right: reverse, split, reverse back.
                let sep = args.value(0, "sep")
                let reversedSep: Value? = sep.flatMap { if case .string(let x) = $0 { return .string(String(x.reversed())) } else { return $0 } }
                let parts = try split(String(s.reversed()), reversedSep, maxSplit)
                return .array(parts.reversed().map { .string(String($0.reversed())) })
            }
            return .array(try split(s, args.value(0, "sep"), maxSplit).map { .string($0) })
        case "splitlines":
            let keep = args.value(0, "keepends")?.truthy ?? false
            var lines: [Value] = []
            var current = ""
            var iterator = s.unicodeScalars.makeIterator()
            var pending = iterator.next()
            while let c = pending {
                pending = iterator.next()
                if ["\n", "\r", "\u{0B}", "\u{0C}", "\u{1C}", "\u{1D}", "\u{1E}", "\u{85}", "\u{2028}", "\u{2029}"].contains(c) {
                    var ending = String(c)
                    if c == "\r", pending == "\n" { ending += "\n"; pending = iterator.next() }
                    lines.append(.string(keep ? current + ending : current))
                    current = ""
                } else {
                    current.unicodeScalars.append(c)
                }
            }
            if !current.isEmpty { lines.append(.string(current)) }
            return .array(lines)
        case "startswith", "endswith":
            let candidates: [Value]
            switch args.value(0, "prefix") ?? .missing {
            case .tuple(let a): candidates = a
            case let v: candidates = [v]
            }
            for candidate in candidates {
                guard case .string(let affix) = candidate else {
                    throw TemplateError.typeError("\(name) first arg must be str or a tuple of str, not \(candidate.typeName)")
                }
                let hit = name == "startswith" ? s.unicodeScalars.starts(with: affix.unicodeScalars)
                    : s.unicodeScalars.reversed().starts(with: affix.unicodeScalars.reversed())
                if hit { return .bool(true) }
            }
            return .bool(false)
        case "replace":
            let old = try stringArgument(args, 0, "old")
            let new = try stringArgument(args, 1, "new")
            let count = args.value(2, "count")?.asInt ?? -1
            return .string(try replace(interpreter, s, old, new, count))
        case "find", "rfind", "index", "rindex":
            let sub = try stringArgument(args, 0, "sub")
            let range = name.hasPrefix("r") ? s.range(of: sub, options: [.backwards, .literal]) : s.range(of: sub, options: .literal)
            if let range { return .int(scalarOffset(s, range.lowerBound)) }
            if sub.isEmpty { return .int(name.hasPrefix("r") ? s.unicodeScalars.count : 0) }
            if name.hasSuffix("index") { throw TemplateError.runtime("ValueError: substring not found") }
            return .int(-1)
        case "count":
            let sub = try stringArgument(args, 0, "sub")
            if sub.isEmpty { return .int(s.unicodeScalars.count + 1) }
            return .int(s.components(separatedBy: sub).count - 1)
        case "join":
            let items = try interpreter.iterate(args.positional.first ?? .missing)
            var parts: [String] = []
            for item in items {
                guard case .string(let part) = item else {
                    throw TemplateError.typeError("sequence item: expected str instance, \(item.typeName) found")
                }
                parts.append(part)
            }
            return .string(parts.joined(separator: s))
        case "format": return .string(try StringFormat.format(interpreter, s, args))
        case "isdigit", "isnumeric", "isdecimal":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPythonSpace))
        case "isupper": return .bool(s.contains { $0.isCased } && !s.contains { $0.isLowercase })
        case "islower": return .bool(s.contains { $0.isCased } && !s.contains { $0.isUppercase })
        case "zfill", "center", "ljust", "rjust":
            let width = args.value(0, "width")?.asInt ?? 0
            let count = s.unicodeScalars.count
            guard width > count else { return .string(s) }
            try interpreter.checkSize(width)
            let pad = width - count
            let fill = (try? stringArgument(args, 1, "fillchar")) ?? " "
            switch name {
            case "ljust": return .string(s + String(repeating: fill, count: pad))
            case "rjust": return .string(String(repeating: fill, count: pad) + s)
            case "center":
                let left = pad / 2 + (pad & width & 1)
                return .string(String(repeating: fill, count: left) + s + String(repeating: fill, count: pad - left))
            default:
                if s.hasPrefix("-") || s.hasPrefix("+") {
                    return .string(String(s.first!) + String(repeating: "0", count: pad) + s.dropFirst())
                }
                return .string(String(repeating: "0", count: pad) + s)
            }
        case "partition", "rpartition":
            let sep = try stringArgument(args, 0, "sep")
            let range = name == "rpartition" ? s.range(of: sep, options: [.backwards, .literal]) : s.range(of: sep, options: .literal)
            guard let range else {
                return name == "rpartition" ? .tuple([.string(""), .string(""), .string(s)]) : .tuple([.string(s), .string(""), .string("")])
            }
            return .tuple([.string(String(s[..<range.lowerBound])), .string(sep), .string(String(s[range.upperBound...]))])
        case "removeprefix":
            let p = try stringArgument(args, 0, "prefix")
            return .string(s.unicodeScalars.starts(with: p.unicodeScalars) ? String(scalars: s.scalars.dropFirst(p.unicodeScalars.count)) : s)
        case "removesuffix":
            let p = try stringArgument(args, 0, "suffix")
            return .string(s.unicodeScalars.reversed().starts(with: p.unicodeScalars.reversed())
                ? String(scalars: s.scalars.dropLast(p.unicodeScalars.count)) : s)
        default:
            throw TemplateError.runtime("AttributeError: 'str' object has no attribute '\(name)'")
        }
    }

    /// Python str.replace, with the result size checked before it is built.
    static func replace(_ interpreter: Interpreter, _ s: String, _ old: String, _ new: String, _ count: Int) throws -> String {
        if old.isEmpty {
            // Python inserts `new` between every code point (and at both ends).
            let scalars = s.scalars
            let slots = count < 0 ? scalars.count + 1 : min(count, scalars.count + 1)
            try interpreter.checkSize(s.utf8.count + slots * new.utf8.count, "string")
            var out = ""
            for (i, c) in scalars.enumerated() {
                if i < slots { out += new }
                out.unicodeScalars.append(c)
            }
            if slots > scalars.count { out += new }
            return out
        }
        var parts = s.components(separatedBy: old)
        if count >= 0 && parts.count - 1 > count {
            let head = parts[0...count].joined(separator: new)
            let tail = parts[(count + 1)...].joined(separator: old)
            parts = [head, tail]
            return parts.joined(separator: old)
        }
        try interpreter.checkSize(s.utf8.count + (parts.count - 1) * max(0, new.utf8.count - old.utf8.count), "string")
        return parts.joined(separator: new)
    }

    /// printf-style `'%s' % value` (jinja2's sandbox allows it).
    static func percentFormat(_ format: String, _ argument: Value) throws -> String {
        var args: [Value]
        if case .tuple(let a) = argument { args = a } else { args = [argument] }
        var out = ""
        var chars = Array(format)[...]
        while let c = chars.popFirst() {
            guard c == "%" else { out.append(c); continue }
            var spec = ""
            while let d = chars.first, "-+ 0#.123456789".contains(d) { spec.append(d); chars.removeFirst() }
            guard let conversion = chars.popFirst() else { throw TemplateError.runtime("ValueError: incomplete format") }
            if conversion == "%" { out += "%"; continue }
            guard !args.isEmpty else { throw TemplateError.typeError("not enough arguments for format string") }
            let value = args.removeFirst()
            switch conversion {
            case "s": out += pad(PythonFormat.str(value), spec)
            case "r": out += pad(PythonFormat.repr(value), spec)
            case "d", "i":
                guard let n = value.asNumber else { throw TemplateError.typeError("%d format: a real number is required") }
                out += pad(String(Int(n)), spec)
            case "f", "F":
                guard let n = value.asNumber else { throw TemplateError.typeError("must be real number") }
                let precision = spec.split(separator: ".").last.flatMap { spec.contains(".") ? Int($0) : nil } ?? 6
                out += pad(String(format: "%.\(precision)f", n), spec.split(separator: ".").first.map(String.init) ?? "")
            default:
                throw TemplateError.runtime("ValueError: unsupported format character '\(conversion)'")
            }
        }
        if !args.isEmpty, case .tuple = argument {
            throw TemplateError.typeError("not all arguments converted during string formatting")
        }
        return out
    }

    private static func pad(_ s: String, _ spec: String) -> String {
        let digits = spec.filter { $0.isNumber }
        guard let width = Int(digits.split(separator: ".").first ?? ""), width > s.count else { return s }
        let padding = String(repeating: spec.hasPrefix("0") ? "0" : " ", count: width - s.count)
        return spec.hasPrefix("-") ? s + padding : padding + s
    }
}
