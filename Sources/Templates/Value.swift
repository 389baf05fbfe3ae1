import Foundation

/// The interpreter's value: TemplateValue plus what only exists while rendering (undefined with
/// its provenance, namespaces, callables). Only namespaces have reference semantics: the
/// immutable sandbox forbids mutating lists and dicts, so those stay Swift values.
enum Value {
    case undefined(Undefined)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Value])
    /// Python tuples: tuple literals, dict item pairs, varargs. Prints as `(a, b)`.
    case tuple([Value])
    case object(Dict)
    case namespace(Namespace)
    case callable(Callable)
    /// What jinja2's map/select/items/unique filters return: iterable once, truthy, but not
    /// printable, indexable or JSON-serializable until passed through `|list`.
    case generator([Value])
    /// markupsafe.Markup from `|safe` / `|escape`: prints as its text, but `+` with a plain
    /// string HTML-escapes that string (functionary's template depends on this). Everywhere
    /// else it behaves as the plain string (see `plain`).
    case markup(String)

    static var missing: Value { .undefined(Undefined()) }

    init(_ value: TemplateValue) {
        switch value {
        case .undefined: self = .missing
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(Value.init))
        case .object(let o): self = .object(Dict(o.pairs.map { ($0.0, Value($0.1)) }))
        }
    }
}

/// jinja2's default Undefined: prints as "", iterates as empty, is falsy; most other uses raise.
/// An unsafe attribute (sandbox) yields one whose use raises a security error.
struct Undefined {
    var message: String?
    var isUnsafe = false

    init(_ message: String? = nil, unsafe: Bool = false) {
        self.message = message
        self.isUnsafe = unsafe
    }

    func fail() -> TemplateError {
        if isUnsafe { return .runtime("SecurityError: \(message ?? "unsafe access")") }
        return .runtime("UndefinedError: \(message ?? "value is undefined")")
    }
}

/// A Python dict key. Chat data only has string keys, but templates write int-keyed literals
/// (`{0: 0, 512: 128}`); bool keys fold into ints as in Python (True == 1).
enum DictKey: Hashable {
    case string(String)
    case int(Int)

    init?(_ value: Value) {
        switch value {
        case .string(let s): self = .string(s)
        case .int(let i): self = .int(i)
        case .bool(let b): self = .int(b ? 1 : 0)
        case .double(let d) where d == d.rounded() && abs(d) < 9e18: self = .int(Int(d))
        default: return nil
        }
    }

    var value: Value {
        switch self {
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        }
    }

    /// The key as `str()` prints it (JSON object keys, keyword arguments).
    var text: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        }
    }
}

/// Ordered dictionary (Python dict order).
struct Dict {
    private(set) var keys: [DictKey] = []
    private var storage: [DictKey: Value] = [:]

    init() {}
    init(_ pairs: [(String, Value)]) {
        for (k, v) in pairs { self[k] = v }
    }

    var count: Int { keys.count }
    var pairs: [(DictKey, Value)] { keys.map { ($0, storage[$0]!) } }
    var stringPairs: [(String, Value)] { keys.map { ($0.text, storage[$0]!) } }
    var values: [Value] { keys.map { storage[$0]! } }

    subscript(key: String) -> Value? {
        get { storage[.string(key)] }
        set { self[DictKey.string(key)] = newValue }
    }

    subscript(key: DictKey) -> Value? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }
}

/// `namespace(...)`: the one mutable object templates may change (`{% set ns.x = ... %}`).
final class Namespace {
    var attributes: Dict
    init(_ attributes: Dict) { self.attributes = attributes }
}

struct Arguments {
    var positional: [Value] = []
    var keywords: [(String, Value)] = []

    func keyword(_ name: String) -> Value? { keywords.last { $0.0 == name }?.1 }

    /// Python-style binding: positional first, then by name, else the default.
    func value(_ index: Int, _ name: String) -> Value? {
        if index < positional.count { return positional[index] }
        return keyword(name)
    }
}

/// A function value: builtins, bound methods, macros, loop.cycle.
struct Callable {
    enum Kind { case builtin, method, macro }
    let name: String
    let kind: Kind
    let body: (Interpreter, Arguments) throws -> Value
}

extension Value {
    var isUndefined: Bool { if case .undefined = self { return true } else { return false } }
    /// Markup as the str it subclasses.
    var plain: Value { if case .markup(let s) = self { return .string(s) } else { return self } }

    /// Tuples where only the items matter.
    var tupleAsList: Value { if case .tuple(let a) = self { return .array(a) } else { return self } }

    var isNone: Bool { if case .none = self { return true } else { return false } }

    /// Python truthiness.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s), .markup(let s): return !s.isEmpty
        case .array(let a), .tuple(let a): return !a.isEmpty
        case .object(let o): return o.count > 0
        case .namespace, .callable, .generator: return true
        }
    }

    /// Python type name, used in error messages ("'list object' has no attribute ...").
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .tuple: return "tuple"
        case .object: return "dict"
        case .namespace: return "Namespace"
        case .callable(let c): return c.kind == .macro ? "Macro" : "builtin_function_or_method"
        case .generator: return "generator"
        case .markup: return "Markup"
        }
    }

    /// Numbers as Python sees them: bool is an int.
    var asNumber: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    var asInt: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    var isNumber: Bool { asNumber != nil }

    func toTemplateValue() -> TemplateValue {
        switch self {
        case .undefined: return .undefined
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .array(let a), .tuple(let a): return .array(a.map { $0.toTemplateValue() })
        case .object(let o): return .object(TemplateObject(o.stringPairs.map { ($0.0, $0.1.toTemplateValue()) }))
        case .namespace(let n): return .object(TemplateObject(n.attributes.stringPairs.map { ($0.0, $0.1.toTemplateValue()) }))
        case .callable: return .undefined
        case .generator(let items): return .array(items.map { $0.toTemplateValue() })
        case .markup(let s): return .string(s)
        }
    }
}

/// Python `==`: numbers compare across int/float/bool; containers compare element-wise.
func pythonEquals(_ a: Value, _ b: Value) -> Bool {
    switch (a.plain, b.plain) {
    case (.undefined, .undefined), (.none, .none): return true
    case (.string(let x), .string(let y)): return x == y
    case (.array(let x), .array(let y)), (.tuple(let x), .tuple(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { pythonEquals($0, $1) }
    case (.object(let x), .object(let y)):
        guard x.count == y.count else { return false }
        for (k, v) in x.pairs {
            guard let w = y[k], pythonEquals(v, w) else { return false }
        }
        return true
    case (.namespace(let x), .namespace(let y)): return x === y
    default:
        if let x = a.asNumber, let y = b.asNumber {
            if let i = a.asInt, let j = b.asInt { return i == j }
            return x == y
        }
        return false
    }
}

extension String {
    /// Python indexes strings by code point.
    var scalars: [Unicode.Scalar] { Array(unicodeScalars) }

    init(scalars: some Sequence<Unicode.Scalar>) {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        self = String(view)
    }
}
