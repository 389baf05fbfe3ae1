import Foundation

extension Interpreter {
    func evaluate(_ expr: Expr, _ scope: Scope) throws -> Value {
        try tick()
        try enterExpression()
        defer { leaveExpression() }
        switch expr {
        case .constant(let c): return Value(c)
        case .name(let n):
            return scope.lookup(n) ?? .undefined(Undefined("'\(n)' is undefined"))
        case .list(let items):
            return .array(try items.map { try evaluate($0, scope) })
        case .tuple(let items):
            return .tuple(try items.map { try evaluate($0, scope) })
        case .dict(let pairs):
            var d = Dict()
            for (k, v) in pairs {
                let key = try evaluate(k, scope)
                guard let dictKey = DictKey(key) else { throw TemplateError.typeError("unhashable or unsupported dict key type: '\(key.typeName)'") }
                d[dictKey] = try evaluate(v, scope)
            }
            return .object(d)
        case .attribute(let base, let name):
            return try getAttribute(try evaluate(base, scope), name)
        case .item(let base, let index):
            return try getItem(try evaluate(base, scope), try evaluate(index, scope))
        case .slice(let base, let start, let stop, let step):
            let value = try evaluate(base, scope)
            return try slice(value, try start.map { try evaluate($0, scope) }, try stop.map { try evaluate($0, scope) },
                             try step.map { try evaluate($0, scope) })
        case .call(let callee, let arguments):
            let function = try evaluate(callee, scope)
            return try invoke(function, try evaluateArguments(arguments, scope))
        case .filter(let base, let name, let arguments):
            return try applyFilter(name, try evaluate(base, scope), arguments, scope)
        case .test(let base, let name, let arguments, let negated):
            guard let test = JinjaTests.lookup(name) else {
                throw TemplateError.runtime("TemplateRuntimeError: No test named '\(name)' found.")
            }
            let result = try test(self, try evaluate(base, scope).plain, try evaluateArguments(arguments, scope))
            return .bool(result != negated)
        case .not(let e): return .bool(!(try evaluate(e, scope).truthy))
        case .negate(let e):
            switch try evaluate(e, scope) {
            case .int(let i):
                guard i != .min else { throw TemplateError.runtime("OverflowError: integer overflow") }
                return .int(-i)
            case .bool(let b): return .int(b ? -1 : 0)
            case .double(let d): return .double(-d)
            case .undefined(let u): throw u.fail()
            case let v: throw TemplateError.typeError("bad operand type for unary -: '\(v.typeName)'")
            }
        case .plus(let e):
            let v = try evaluate(e, scope)
            if case .undefined(let u) = v { throw u.fail() }
            guard v.isNumber else { throw TemplateError.typeError("bad operand type for unary +: '\(v.typeName)'") }
            if case .bool(let b) = v { return .int(b ? 1 : 0) }
            return v
        case .binary(let op, let l, let r):
            return try binary(op, try evaluate(l, scope), try evaluate(r, scope))
        case .and(let l, let r):
            let left = try evaluate(l, scope)
            return left.truthy ? try evaluate(r, scope) : left
        case .or(let l, let r):
            let left = try evaluate(l, scope)
            return left.truthy ? left : try evaluate(r, scope)
        case .compare(let first, let operations):
            var left = try evaluate(first, scope)
            for (op, rightExpr) in operations {
                let right = try evaluate(rightExpr, scope)
                guard try compare(op, left, right) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let test, let then, let otherwise):
            if try evaluate(test, scope).truthy { return try evaluate(then, scope) }
            if let otherwise { return try evaluate(otherwise, scope) }
            return .undefined(Undefined("the inline if-expression evaluated to false and no else section was defined."))
        }
    }

    // MARK: attribute and item access

    /// `obj.name`: Python attribute (methods) first, then item, as jinja2's sandboxed getattr.
    /// Attributes starting with `_` never resolve: that is the whole reflection surface.
    func getAttribute(_ original: Value, _ name: String) throws -> Value {
        let value = original.plain
        if case .undefined(let u) = value { throw u.fail() }
        if name.hasPrefix("_") {
            if case .object(let o) = value, !name.hasPrefix("__"), let v = o[name] { return v }
            return .undefined(Undefined("access to attribute '\(name)' of '\(value.typeName)' object is unsafe.", unsafe: true))
        }
        if let method = Methods.bind(value, name) { return method }
        switch value {
        case .object(let o):
            if let v = o[name] { return v }
        case .namespace(let ns):
            if let v = ns.attributes[name] { return v }
        default: break
        }
        return .undefined(Undefined("'\(value.typeName) object' has no attribute '\(name)'"))
    }

    /// `obj[key]`: item first, then attribute for string keys, as jinja2's getitem.
    func getItem(_ original: Value, _ rawKey: Value) throws -> Value {
        let value = original.plain, key = rawKey.plain
        switch (value, key) {
        case (.undefined(let u), _): throw u.fail()
        case (.object(let o), _):
            if let k = DictKey(key), let v = o[k] { return v }
        case (.namespace(let ns), .string(let k)):
            if let v = ns.attributes[k] { return v }
        case (.array(let a), _), (.tuple(let a), _):
            if let i = key.asInt {
                let index = i < 0 ? i + a.count : i
                if index >= 0 && index < a.count { return a[index] }
                return .undefined(Undefined("list index out of range"))
            }
        case (.string(let s), _):
            if let i = key.asInt {
                let scalars = s.scalars
                let index = i < 0 ? i + scalars.count : i
                if index >= 0 && index < scalars.count { return .string(String(scalars[index])) }
                return .undefined(Undefined("string index out of range"))
            }
        default: break
        }
        if case .string(let name) = key { return try getAttribute(value, name) }
        return .undefined(Undefined("'\(value.typeName) object' has no attribute \(PythonFormat.repr(key))"))
    }

    func slice(_ original: Value, _ start: Value?, _ stop: Value?, _ step: Value?) throws -> Value {
        func bound(_ v: Value?) throws -> Int? {
            guard let v, !v.isUndefined, !v.isNone else { return nil }
            guard let i = v.asInt else { throw TemplateError.typeError("slice indices must be integers or None") }
            return i
        }
        let value = original.plain
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw TemplateError.runtime("ValueError: slice step cannot be zero") }
        func indices(_ count: Int) throws -> [Int] {
            let lower = stepValue < 0 ? -1 : 0
            let upper = stepValue < 0 ? count - 1 : count
            func clamp(_ i: Int?, _ fallback: Int) -> Int {
                guard let i else { return fallback }
                let j = i < 0 ? i + count : i
                return min(max(j, lower), upper)
            }
            var i = clamp(try bound(start), stepValue < 0 ? upper : lower)
            let end = clamp(try bound(stop), stepValue < 0 ? lower : upper)
            var out: [Int] = []
            while stepValue > 0 ? i < end : i > end {
                out.append(i)
                i += stepValue
            }
            return out
        }
        switch value {
        case .array(let a): return .array(try indices(a.count).map { a[$0] })
        case .tuple(let a): return .tuple(try indices(a.count).map { a[$0] })
        case .string(let s):
            let scalars = s.scalars
            return .string(String(scalars: try indices(scalars.count).map { scalars[$0] }))
        case .undefined(let u): throw u.fail()
        default: throw TemplateError.typeError("'\(value.typeName)' object is not subscriptable")
        }
    }

    // MARK: operators

    func binary(_ op: BinaryOperator, _ left: Value, _ right: Value) throws -> Value {
        if op == .add {
            switch (left, right) {
            case (.markup(let a), .markup(let b)): return .markup(a + b)
            case (.markup(let a), .string(let b)): return .markup(a + PythonFormat.escapeHTML(b))
            case (.string(let a), .markup(let b)): return .markup(PythonFormat.escapeHTML(a) + b)
            default: break
            }
        }
        let l = left.plain, r = right.plain
        if op == .concat {
            let s = PythonFormat.str(l) + PythonFormat.str(r)
            try checkSize(s.utf8.count, "string")
            return .string(s)
        }
        if case .undefined(let u) = l { throw u.fail() }
        if case .undefined(let u) = r { throw u.fail() }
        func unsupported() -> TemplateError {
            if op == .add, case .string = l {
                return .typeError("can only concatenate str (not \"\(r.typeName)\") to str")
            }
            if op == .add, case .array = l {
                return .typeError("can only concatenate list (not \"\(r.typeName)\") to list")
            }
            return .typeError("unsupported operand type(s) for \(op.rawValue): '\(l.typeName)' and '\(r.typeName)'")
        }
        switch (op, l, r) {
        case (.add, .string(let a), .string(let b)):
            try checkSize(a.utf8.count + b.utf8.count, "string")
            return .string(a + b)
        case (.add, .array(let a), .array(let b)):
            try checkSize(a.count + b.count, "list")
            return .array(a + b)
        case (.add, .tuple(let a), .tuple(let b)):
            try checkSize(a.count + b.count, "tuple")
            return .tuple(a + b)
        case (.multiply, .string(let s), _), (.multiply, _, .string(let s)):
            guard let n = (l.asInt != nil ? l.asInt : r.asInt) else { throw unsupported() }
            let (size, overflow) = s.utf8.count.multipliedReportingOverflow(by: max(n, 0))
            if overflow { throw TemplateError.limit(.outputBytes, "string repetition too large") }
            try checkSize(size, "string")
            return .string(String(repeating: s, count: max(n, 0)))
        case (.multiply, .array(let a), _), (.multiply, _, .array(let a)):
            guard let n = (l.asInt != nil ? l.asInt : r.asInt) else { throw unsupported() }
            let (size, overflow) = a.count.multipliedReportingOverflow(by: max(n, 0))
            if overflow { throw TemplateError.limit(.outputBytes, "list repetition too large") }
            try checkSize(size, "list")
            return .array(Array([[Value]](repeating: a, count: max(n, 0)).joined()))
        case (.modulo, .string(let format), _):
            return .string(try Methods.percentFormat(format, r))
        default: break
        }
        guard let x = l.asNumber, let y = r.asNumber else { throw unsupported() }
        if let a = l.asInt, let b = r.asInt {
            func checked(_ result: (partialValue: Int, overflow: Bool)) throws -> Value {
                if result.overflow { throw TemplateError.runtime("OverflowError: integer result too large") }
                return .int(result.partialValue)
            }
            switch op {
            case .add: return try checked(a.addingReportingOverflow(b))
            case .subtract: return try checked(a.subtractingReportingOverflow(b))
            case .multiply: return try checked(a.multipliedReportingOverflow(by: b))
            case .divide:
                guard b != 0 else { throw TemplateError.runtime("ZeroDivisionError: division by zero") }
                return .double(Double(a) / Double(b))
            case .floorDivide:
                guard b != 0 else { throw TemplateError.runtime("ZeroDivisionError: integer division or modulo by zero") }
                if a == .min && b == -1 { throw TemplateError.runtime("OverflowError: integer result too large") }
                let q = a / b
                return .int((a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q)
            case .modulo:
                guard b != 0 else { throw TemplateError.runtime("ZeroDivisionError: integer division or modulo by zero") }
                if b == -1 { return .int(0) }
                let m = a % b
                return .int(m != 0 && ((m < 0) != (b < 0)) ? m + b : m)
            case .power:
                if b < 0 { return .double(pow(Double(a), Double(b))) }
                var result = 1
                for _ in 0..<b {
                    let (p, overflow) = result.multipliedReportingOverflow(by: a)
                    if overflow { throw TemplateError.runtime("OverflowError: integer result too large") }
                    result = p
                    if result == 0 || result == 1 { break }
                }
                if result == 1 && a == -1 { result = b % 2 == 0 ? 1 : -1 }
                return .int(result)
            case .concat: break
            }
        }
        switch op {
        case .add: return .double(x + y)
        case .subtract: return .double(x - y)
        case .multiply: return .double(x * y)
        case .divide:
            guard y != 0 else { throw TemplateError.runtime("ZeroDivisionError: float division by zero") }
            return .double(x / y)
        case .floorDivide:
            guard y != 0 else { throw TemplateError.runtime("ZeroDivisionError: float floor division by zero") }
            return .double((x / y).rounded(.down))
        case .modulo:
            guard y != 0 else { throw TemplateError.runtime("ZeroDivisionError: float modulo") }
            let m = x.truncatingRemainder(dividingBy: y)
            return .double(m != 0 && ((m < 0) != (y < 0)) ? m + y : m)
        case .power: return .double(pow(x, y))
        case .concat: fatalError("handled above")
        }
    }

    func compare(_ op: CompareOperator, _ l: Value, _ r: Value) throws -> Bool {
        switch op {
        case .equal: return pythonEquals(l, r)
        case .notEqual: return !pythonEquals(l, r)
        case .inside: return try contains(r, l)
        case .notInside: return !(try contains(r, l))
        case .less: return try order(l, r) < 0
        case .lessEqual: return try order(l, r) <= 0
        case .greater: return try order(l, r) > 0
        case .greaterEqual: return try order(l, r) >= 0
        }
    }

    /// Python `in`.
    func contains(_ rawContainer: Value, _ rawItem: Value) throws -> Bool {
        let container = rawContainer.plain, item = rawItem.plain
        switch container {
        case .string(let s):
            guard case .string(let needle) = item else {
                if case .undefined(let u) = item { throw u.fail() }
                throw TemplateError.typeError("'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return needle.isEmpty || s.contains(needle)
        case .array(let a), .tuple(let a), .generator(let a): return a.contains { pythonEquals($0, item) }
        case .object(let o):
            return DictKey(item).flatMap { o[$0] } != nil
        case .undefined(let u):
            if u.isUnsafe { throw u.fail() }
            return false
        default:
            throw TemplateError.typeError("argument of type '\(container.typeName)' is not iterable")
        }
    }

    /// Python ordering; mixed types raise TypeError like Python 3.
    func order(_ left: Value, _ right: Value) throws -> Int {
        let l = left.plain, r = right.plain
        if case .undefined(let u) = l { throw u.fail() }
        if case .undefined(let u) = r { throw u.fail() }
        if let x = l.asNumber, let y = r.asNumber {
            if let a = l.asInt, let b = r.asInt { return a < b ? -1 : a > b ? 1 : 0 }
            return x < y ? -1 : x > y ? 1 : 0
        }
        switch (l, r) {
        case (.string(let a), .string(let b)):
            if a == b { return 0 }
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) ? -1 : 1
        case (.array(let a), .array(let b)), (.tuple(let a), .tuple(let b)):
            for (x, y) in zip(a, b) where !pythonEquals(x, y) { return try order(x, y) }
            return a.count < b.count ? -1 : a.count > b.count ? 1 : 0
        default:
            throw TemplateError.typeError("'<' not supported between instances of '\(l.typeName)' and '\(r.typeName)'")
        }
    }
}
