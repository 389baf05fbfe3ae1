import Foundation

/// Inside TemplateValue extensions `Value` names the dictionary-literal associated type.
typealias InterpreterValue = Value

/// A value handed to a template: the JSON-like data a chat render receives (messages, tools,
/// flags). Python semantics apply inside templates (truthiness, `str()`, ordering of dict keys).
public enum TemplateValue: Sendable, Equatable {
    case undefined
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    case object(TemplateObject)
}

/// An ordered string-keyed map. Insertion order is kept because templates observe it
/// (`items()`, `tojson`, for-loops over dicts).
public struct TemplateObject: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]

    public init() {}

    /// Later duplicates replace the value but keep the first key's position, as a Python dict does.
    public init(_ pairs: [(String, TemplateValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }

    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var pairs: [(String, TemplateValue)] { keys.map { ($0, storage[$0]!) } }

    public static func == (lhs: TemplateObject, rhs: TemplateObject) -> Bool {
        lhs.keys == rhs.keys && lhs.storage == rhs.storage
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .object(TemplateObject(elements)) }
    public init(nilLiteral: ()) { self = .none }
}

extension TemplateValue {
    /// Parses JSON keeping object key order and integer-ness (`1` stays `.int`, `1.0` is `.double`),
    /// which `JSONSerialization` would lose.
    public init(json: Data) throws {
        var parser = JSONReader(bytes: Array(json))
        self = try parser.parseDocument()
    }

    /// JSON text as Python's `json.dumps(value, ensure_ascii=False)` writes it.
    public var jsonString: String {
        (try? JSONWriter.write(InterpreterValue(self), indent: nil, separators: nil, sortKeys: false, asciiOnly: false)) ?? "null"
    }
}
