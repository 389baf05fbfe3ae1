import Foundation

typealias FilterFunction = @Sendable (Interpreter, Value, Arguments) throws -> Value

/// jinja2's builtin filters (the ones chat templates use), with transformers' `tojson`.
/// Filters that are generators in jinja2 (map, select, items, unique...) return `.generator`.
enum Filters {
    static func lookup(_ name: String) -> FilterFunction? { table[name] }

    private static let table: [String: FilterFunction] = [
        "default": defaultFilter, "d": defaultFilter,
        "length": length, "count": length,
        "tojson": tojson,
        "string": { _, v, _ in .string(PythonFormat.str(v)) },
        "safe": { _, v, _ in if case .string(let s) = v { return .markup(s) } else { return v } },
        "trim": { _, v, a in .string(try Methods.strip(PythonFormat.str(v), a.value(0, "chars"), leading: true, trailing: true)) },
        "upper": { _, v, _ in .string(PythonFormat.str(v).uppercased()) },
        "lower": { _, v, _ in .string(PythonFormat.str(v).lowercased()) },
        "capitalize": { _, v, _ in .string(Methods.capitalize(PythonFormat.str(v))) },
        "title": { _, v, _ in .string(title(PythonFormat.str(v))) },
        "replace": { i, v, a in
            let count = a.value(2, "count").flatMap { $0.isNone ? nil : $0.asInt } ?? -1
            return .string(try Methods.replace(i, PythonFormat.str(v), PythonFormat.str(a.value(0, "old") ?? .missing),
                                               PythonFormat.str(a.value(1, "new") ?? .missing), count))
        },
        "join": join,
        "first": { i, v, _ in try i.iterate(v).first ?? .undefined(Undefined("No first item, sequence was empty.")) },
        "last": { i, v, _ in try i.iterate(v).last ?? .undefined(Undefined("No last item, sequence was empty.")) },
        "list": { i, v, _ in .array(try i.iterate(v)) },
        "items": { _, v, _ in
            switch v {
            case .undefined: return .generator([])
            case .object(let o): return .generator(o.pairs.map { .tuple([$0.0.value, $0.1]) })
            default: throw TemplateError.runtime("TypeError: Can only get item pairs from a mapping.")
            }
        },
        "dictsort": dictsort,
        "sort": sort,
        "unique": unique,
        "reverse": { i, v, _ in
            if case .string(let s) = v { return .string(String(scalars: s.scalars.reversed())) }
            return .generator(try i.iterate(v).reversed())
        },
        "map": map,
        "select": { i, v, a in try select(i, v, a, attribute: false, keep: true) },
        "reject": { i, v, a in try select(i, v, a, attribute: false, keep: false) },
        "selectattr": { i, v, a in try select(i, v, a, attribute: true, keep: true) },
        "rejectattr": { i, v, a in try select(i, v, a, attribute: true, keep: false) },
        "indent": indent,
        "int": toInt,
        "float": toFloat,
        "abs": { _, v, _ in
            switch v {
            case .int(let i): return i == .min ? .double(-Double(i)) : .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            case .undefined(let u): throw u.fail()
            default: throw TemplateError.typeError("bad operand type for abs(): '\(v.typeName)'")
            }
        },
        "round": round,
        "escape": escape, "e": escape, "forceescape": escape,
        "wordcount": { _, v, _ in
            .int(PythonFormat.str(v).split { !($0.isLetter || $0.isNumber || $0 == "_") }.count)
        },
        "center": { i, v, a in
            let s = PythonFormat.str(v)
            let width = a.value(0, "width")?.asInt ?? 80
            return try Methods.bind(.string(s), "center").map { try i.invoke($0, Arguments(positional: [.int(width)])) } ?? .string(s)
        },
        "min": { i, v, a in try extreme(i, v, a, wantMax: false) },
        "max": { i, v, a in try extreme(i, v, a, wantMax: true) },
        "sum": sum,
        "batch": batch,
        "attr": { i, v, a in try i.getAttribute(v, PythonFormat.str(a.value(0, "name") ?? .missing)) },
        "format": { _, v, a in .string(try Methods.percentFormat(PythonFormat.str(v), .tuple(a.positional))) },
        "pprint": { _, v, _ in .string(PythonFormat.repr(v)) },
    ]

    private static let defaultFilter: FilterFunction = { _, v, a in
        let fallback = a.value(0, "default_value") ?? .string("")
        let boolean = a.value(1, "boolean")?.truthy ?? false
        if v.isUndefined || (boolean && !v.truthy) { return fallback }
        return v
    }

    private static let length: FilterFunction = { _, v, _ in
        switch v {
        case .string(let s): return .int(s.unicodeScalars.count)
        case .array(let a), .tuple(let a): return .int(a.count)
        case .object(let o): return .int(o.count)
        case .undefined(let u): if u.isUnsafe { throw u.fail() } else { return .int(0) }
        default: throw TemplateError.typeError("object of type '\(v.typeName)' has no len()")
        }
    }

    /// transformers: `json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)`.
    private static let tojson: FilterFunction = { i, v, a in
        let indent = a.value(1, "indent").flatMap { $0.isNone ? nil : $0.asInt }
        var separators: (String, String)? = nil
        if let s = a.value(2, "separators"), !s.isNone {
            guard case .array(let parts) = s.tupleAsList, parts.count == 2, case .string(let x) = parts[0], case .string(let y) = parts[1] else {
                throw TemplateError.typeError("separators must be a pair of strings")
            }
            separators = (x, y)
        }
        let ascii = a.value(0, "ensure_ascii")?.truthy ?? false
        let sortKeys = a.value(3, "sort_keys")?.truthy ?? false
        return .string(try JSONWriter.write(v, indent: indent, separators: separators, sortKeys: sortKeys, asciiOnly: ascii,
                                            limit: i.limits.maxOutputBytes))
    }

    /// jinja2's `title` capitalizes after whitespace, `-` and opening brackets (not str.title).
    private static func title(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for c in s {
            let separator = c.isWhitespace || "-({[<".contains(c)
            if separator {
                out.append(c)
                atWordStart = true
            } else {
                out += atWordStart ? String(c).uppercased() : c.lowercased()
                atWordStart = false
            }
        }
        return out
    }

    /// `attribute="a.b"` or `attribute=0`: dotted lookups through getitem, as jinja2's attrgetter.
    static func attributeGetter(_ attribute: Value) -> (Interpreter, Value) throws -> Value {
        let parts: [Value]
        if case .string(let s) = attribute {
            parts = s.split(separator: ".", omittingEmptySubsequences: false).map { Int($0).map(Value.int) ?? .string(String($0)) }
        } else {
            parts = [attribute]
        }
        return { interpreter, item in
            var value = item
            for part in parts { value = try interpreter.getItem(value, part) }
            return value
        }
    }

    private static let join: FilterFunction = { i, v, a in
        let separator = PythonFormat.str(a.value(0, "d") ?? .string(""))
        var items = try i.iterate(v)
        if let attribute = a.value(1, "attribute"), !attribute.isNone {
            let getter = attributeGetter(attribute)
            items = try items.map { try getter(i, $0) }
        }
        let s = items.map(PythonFormat.str).joined(separator: separator)
        try i.checkSize(s.utf8.count, "string")
        return .string(s)
    }

    /// Sort key: lowercased strings unless case-sensitive (jinja2's ignore_case).
    private static func sortKey(_ v: Value, caseSensitive: Bool) -> Value {
        if !caseSensitive, case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    /// A stable merge sort whose comparison may throw (Python raises on mixed types).
    static func stableSort(_ items: [Value], reverse: Bool, _ interpreter: Interpreter, key: (Value) throws -> Value) throws -> [Value] {
        let keyed = try items.map { (try key($0), $0) }
        func merge(_ slice: ArraySlice<(Value, Value)>) throws -> [(Value, Value)] {
            if slice.count <= 1 { return Array(slice) }
            let mid = slice.startIndex + slice.count / 2
            let left = try merge(slice[..<mid])
            let right = try merge(slice[mid...])
            var out: [(Value, Value)] = []
            out.reserveCapacity(slice.count)
            var i = 0
            var j = 0
            while i < left.count && j < right.count {
                let c = try interpreter.order(left[i].0, right[j].0)
                // Take from the right only when strictly before: keeps equal keys in order.
                if reverse ? c < 0 : c > 0 {
                    out.append(right[j]); j += 1
                } else {
                    out.append(left[i]); i += 1
                }
            }
            out += left[i...]
            out += right[j...]
            return out
        }
        return try merge(keyed[...]).map { $0.1 }
    }

    private static let sort: FilterFunction = { i, v, a in
        let reverse = a.value(0, "reverse")?.truthy ?? false
        let caseSensitive = a.value(1, "case_sensitive")?.truthy ?? false
        let getter = a.value(2, "attribute").flatMap { $0.isNone ? nil : attributeGetter($0) }
        return .array(try stableSort(try i.iterate(v), reverse: reverse, i) {
            sortKey(try getter?(i, $0) ?? $0, caseSensitive: caseSensitive)
        })
    }

    private static let dictsort: FilterFunction = { i, v, a in
        guard case .object(let o) = v else {
            if case .undefined(let u) = v { throw u.fail() }
            throw TemplateError.runtime("AttributeError: '\(v.typeName)' object has no attribute 'items'")
        }
        let caseSensitive = a.value(0, "case_sensitive")?.truthy ?? false
        let by = PythonFormat.str(a.value(1, "by") ?? .string("key"))
        guard by == "key" || by == "value" else {
            throw TemplateError.runtime("FilterArgumentError: You can only sort by either \"key\" or \"value\"")
        }
        let reverse = a.value(2, "reverse")?.truthy ?? false
        let pairs: [Value] = o.pairs.map { .tuple([$0.0.value, $0.1]) }
        return .array(try stableSort(pairs, reverse: reverse, i) { pair in
            guard case .tuple(let kv) = pair else { return pair }
            return sortKey(kv[by == "key" ? 0 : 1], caseSensitive: caseSensitive)
        })
    }

    private static let unique: FilterFunction = { i, v, a in
        let caseSensitive = a.value(0, "case_sensitive")?.truthy ?? false
        let getter = a.value(1, "attribute").flatMap { $0.isNone ? nil : attributeGetter($0) }
        var seen: [Value] = []
        var out: [Value] = []
        for item in try i.iterate(v) {
            let key = sortKey(try getter?(i, item) ?? item, caseSensitive: caseSensitive)
            if !seen.contains(where: { pythonEquals($0, key) }) {
                seen.append(key)
                out.append(item)
            }
        }
        return .generator(out)
    }

    private static let map: FilterFunction = { i, v, a in
        guard v.truthy else { return .generator([]) }  // jinja2: `if value:` before anything else
        let items = try i.iterate(v)
        if let attribute = a.keyword("attribute") {
            let getter = attributeGetter(attribute)
            let fallback = a.keyword("default")
            return .generator(try items.map { item in
                let value = try getter(i, item)
                if value.isUndefined, let fallback { return fallback }
                return value
            })
        }
        guard case .string(let name)? = a.positional.first else {
            throw TemplateError.runtime("FilterArgumentError: map requires a filter argument")
        }
        guard let filter = lookup(name) else { throw TemplateError.runtime("TemplateRuntimeError: No filter named '\(name)'.") }
        let rest = Arguments(positional: Array(a.positional.dropFirst()), keywords: a.keywords)
        return .generator(try items.map { try filter(i, $0, rest) })
    }

    private static func select(_ i: Interpreter, _ v: Value, _ a: Arguments, attribute: Bool, keep: Bool) throws -> Value {
        guard v.truthy else { return .generator([]) }  // jinja2: `if value:` before anything else
        var positional = a.positional[...]
        var getter: ((Interpreter, Value) throws -> Value)? = nil
        if attribute {
            guard let attr = positional.popFirst() else { throw TemplateError.typeError("selectattr needs an attribute") }
            getter = attributeGetter(attr)
        }
        let testName = positional.popFirst()
        let rest = Arguments(positional: Array(positional), keywords: a.keywords)
        var test: (Value) throws -> Bool = { $0.truthy }
        if let testName {
            let name = PythonFormat.str(testName)
            guard let function = JinjaTests.lookup(name) else {
                throw TemplateError.runtime("TemplateRuntimeError: No test named '\(name)'.")
            }
            test = { try function(i, $0, rest) }
        }
        var out: [Value] = []
        for item in try i.iterate(v) {
            let subject = try getter?(i, item) ?? item
            if try test(subject) == keep { out.append(item) }
        }
        return .generator(out)
    }

    private static let indent: FilterFunction = { i, v, a in
        guard case .string(var s) = v else {
            if case .undefined(let u) = v { throw u.fail() }
            throw TemplateError.typeError("unsupported operand type(s) for +=: '\(v.typeName)' and 'str'")
        }
        let width = a.value(0, "width") ?? .int(4)
        let indention: String
        if case .string(let w) = width { indention = w } else { indention = String(repeating: " ", count: max(0, width.asInt ?? 4)) }
        let first = a.value(1, "first")?.truthy ?? false
        let blank = a.value(2, "blank")?.truthy ?? false
        s += "\n"  // jinja2's quirk so splitlines keeps a trailing empty line
        guard case .array(let lineValues) = try i.invoke(Methods.bind(.string(s), "splitlines")!, Arguments()) else { return v }
        let lines = lineValues.map(PythonFormat.str)
        try i.checkSize(s.utf8.count + lines.count * indention.utf8.count, "string")
        var out: String
        if blank {
            out = lines.joined(separator: "\n" + indention)
        } else {
            out = lines.first ?? ""
            if lines.count > 1 {
                out += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n")
            }
        }
        if first { out = indention + out }
        return .string(out)
    }

    private static let toInt: FilterFunction = { _, v, a in
        let fallback = a.value(0, "default") ?? .int(0)
        let base = a.value(1, "base")?.asInt ?? 10
        switch v {
        case .int, .bool: return .int(v.asInt!)
        case .double(let d):
            guard d.isFinite, abs(d) < 9.2e18 else { return fallback }
            return .int(Int(d))
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
            var digits = t
            var radix = base
            for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] where t.lowercased().hasPrefix(prefix) && (base == r || base == 0) {
                digits = String(t.dropFirst(2))
                radix = r
            }
            if let i = Int(digits, radix: radix == 0 ? 10 : radix) { return .int(i) }
            if let d = Double(t), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
            return fallback
        case .undefined(let u): throw u.fail()
        default: return fallback
        }
    }

    private static let toFloat: FilterFunction = { _, v, a in
        let fallback = a.value(0, "default") ?? .double(0)
        switch v {
        case .int, .bool, .double: return .double(v.asNumber!)
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespaces).lowercased()
            if let d = Double(t) { return .double(d) }
            switch t {
            case "nan", "+nan", "-nan": return .double(.nan)
            case "inf", "+inf", "infinity", "+infinity": return .double(.infinity)
            case "-inf", "-infinity": return .double(-.infinity)
            default: return fallback
            }
        case .undefined(let u): throw u.fail()
        default: return fallback
        }
    }

    private static let round: FilterFunction = { _, v, a in
        guard let x = v.asNumber else {
            if case .undefined(let u) = v { throw u.fail() }
            throw TemplateError.typeError("type \(v.typeName) doesn't define __round__ method")
        }
        let precision = a.value(0, "precision")?.asInt ?? 0
        let method = PythonFormat.str(a.value(1, "method") ?? .string("common"))
        let scale = pow(10.0, Double(precision))
        switch method {
        case "common": return .double((x * scale).rounded(.toNearestOrEven) / scale)
        case "ceil": return .double((x * scale).rounded(.up) / scale)
        case "floor": return .double((x * scale).rounded(.down) / scale)
        default: throw TemplateError.runtime("FilterArgumentError: method must be common, ceil or floor")
        }
    }

    private static let escape: FilterFunction = { _, v, _ in
        if case .markup = v { return v }
        return .markup(PythonFormat.escapeHTML(PythonFormat.str(v)))
    }

    private static func extreme(_ i: Interpreter, _ v: Value, _ a: Arguments, wantMax: Bool) throws -> Value {
        let caseSensitive = a.value(0, "case_sensitive")?.truthy ?? false
        let getter = a.value(1, "attribute").flatMap { $0.isNone ? nil : attributeGetter($0) }
        var best: (Value, Value)? = nil
        for item in try i.iterate(v) {
            let key = sortKey(try getter?(i, item) ?? item, caseSensitive: caseSensitive)
            if let current = best {
                let c = try i.order(key, current.0)
                if wantMax ? c > 0 : c < 0 { best = (key, item) }
            } else {
                best = (key, item)
            }
        }
        return best?.1 ?? .undefined(Undefined("No aggregated item, sequence was empty."))
    }

    private static let sum: FilterFunction = { i, v, a in
        let getter = a.value(0, "attribute").flatMap { $0.isNone ? nil : attributeGetter($0) }
        var total = a.value(1, "start") ?? .int(0)
        for item in try i.iterate(v) {
            total = try i.binary(.add, total, try getter?(i, item) ?? item)
        }
        return total
    }

    private static let batch: FilterFunction = { i, v, a in
        guard let size = a.value(0, "linecount")?.asInt, size > 0 else { throw TemplateError.runtime("ValueError: batch size must be positive") }
        let fill = a.value(1, "fill_with")
        var out: [Value] = []
        var current: [Value] = []
        for item in try i.iterate(v) {
            current.append(item)
            if current.count == size { out.append(.array(current)); current = [] }
        }
        if !current.isEmpty {
            if let fill, !fill.isNone { current += Array(repeating: fill, count: size - current.count) }
            out.append(.array(current))
        }
        return .generator(out)
    }
}
