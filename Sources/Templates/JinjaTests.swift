import Foundation

typealias TestFunction = @Sendable (Interpreter, Value, Arguments) throws -> Bool

/// jinja2's builtin tests (`x is defined`, `x is mapping`...), with Python's type semantics:
/// bool counts as a number, undefined is iterable and a sequence.
enum JinjaTests {
    static func lookup(_ name: String) -> TestFunction? { table[name] }

    private static func argument(_ a: Arguments) -> Value { a.positional.first ?? a.keywords.first?.1 ?? .missing }

    private static let equal: TestFunction = { _, v, a in pythonEquals(v, argument(a)) }
    private static let notEqual: TestFunction = { _, v, a in !pythonEquals(v, argument(a)) }
    private static let less: TestFunction = { i, v, a in try i.order(v, argument(a)) < 0 }
    private static let lessEqual: TestFunction = { i, v, a in try i.order(v, argument(a)) <= 0 }
    private static let greater: TestFunction = { i, v, a in try i.order(v, argument(a)) > 0 }
    private static let greaterEqual: TestFunction = { i, v, a in try i.order(v, argument(a)) >= 0 }

    private static func modulo(_ i: Interpreter, _ v: Value, _ n: Value) throws -> Value {
        try i.binary(.modulo, v, n)
    }

    private static let table: [String: TestFunction] = [
        "defined": { _, v, _ in !v.isUndefined },
        "undefined": { _, v, _ in v.isUndefined },
        "none": { _, v, _ in v.isNone },
        "string": { _, v, _ in if case .string = v { return true } else { return false } },
        "mapping": { _, v, _ in if case .object = v { return true } else { return false } },
        "sequence": { _, v, _ in
            switch v {
            case .string, .array, .tuple, .object, .undefined: return true
            default: return false
            }
        },
        "iterable": { _, v, _ in
            switch v {
            case .string, .array, .tuple, .object, .undefined, .generator: return true
            default: return false
            }
        },
        "number": { _, v, _ in v.isNumber },
        "integer": { _, v, _ in if case .int = v { return true } else { return false } },
        "float": { _, v, _ in if case .double = v { return true } else { return false } },
        "boolean": { _, v, _ in if case .bool = v { return true } else { return false } },
        "true": { _, v, _ in if case .bool(true) = v { return true } else { return false } },
        "false": { _, v, _ in if case .bool(false) = v { return true } else { return false } },
        "callable": { _, v, _ in if case .callable = v { return true } else { return false } },
        "odd": { i, v, _ in try modulo(i, v, .int(2)).truthy },
        "even": { i, v, _ in !(try modulo(i, v, .int(2)).truthy) },
        "divisibleby": { i, v, a in !(try modulo(i, v, argument(a)).truthy) },
        "lower": { _, v, _ in
            let s = PythonFormat.str(v)
            return s.contains { $0.isCased } && !s.contains { $0.isUppercase }
        },
        "upper": { _, v, _ in
            let s = PythonFormat.str(v)
            return s.contains { $0.isCased } && !s.contains { $0.isLowercase }
        },
        "in": { i, v, a in try i.contains(argument(a), v) },
        "sameas": { _, v, a in
            let other = argument(a)
            switch (v, other) {
            case (.none, .none): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.namespace(let x), .namespace(let y)): return x === y
            case (.int(let x), .int(let y)): return x == y && x >= -5 && x <= 256  // CPython's small-int cache
            default: return false
            }
        },
        "escaped": { _, _, _ in false },
        "filter": { _, v, _ in if case .string(let s) = v { return Filters.lookup(s) != nil } else { return false } },
        "test": { _, v, _ in if case .string(let s) = v { return JinjaTests.lookup(s) != nil } else { return false } },
        "eq": equal, "equalto": equal, "==": equal,
        "ne": notEqual, "!=": notEqual,
        "lt": less, "lessthan": less, "<": less,
        "le": lessEqual, "<=": lessEqual,
        "gt": greater, "greaterthan": greater, ">": greater,
        "ge": greaterEqual, ">=": greaterEqual,
    ]
}
