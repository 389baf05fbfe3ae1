import Foundation

/// The type code of a metadata value, as stored in the file (`gguf_type`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    public var description: String {
        switch self {
        case .uint8: "uint8"
        case .int8: "int8"
        case .uint16: "uint16"
        case .int16: "int16"
        case .uint32: "uint32"
        case .int32: "int32"
        case .float32: "float32"
        case .bool: "bool"
        case .string: "string"
        case .array: "array"
        case .uint64: "uint64"
        case .int64: "int64"
        case .float64: "float64"
        }
    }

    /// Bytes one value of this type occupies, for fixed-size types; nil for string and array.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }

    /// The fewest bytes a value of this type can occupy in a file: used to reject element counts
    /// that cannot fit before anything is allocated.
    var minimumEncodedSize: Int {
        switch self {
        case .string: 8  // the length prefix of an empty string
        case .array: 4 + 8  // element type and count of an empty array
        default: fixedSize ?? 1
        }
    }
}

/// One metadata value.
///
/// Use the `as…` accessors rather than switching when any integer width will do:
///
/// ```swift
/// let layers = file["llama.block_count"]?.asInt      // uint32 30 -> 30
/// let eps = file["llama.attention.layer_norm_rms_epsilon"]?.asFloat
/// let tokens = file["tokenizer.ggml.tokens"]?.asArray?.asStrings
/// ```
public indirect enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)
    case array(GGUFArray)

    /// The type code this value is stored with.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        case .array: .array
        }
    }

    /// Any integer type, if its value fits in `Int`; nil for other types.
    public var asInt: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(exactly: v)
        default: nil
        }
    }

    /// A float32 or float64, or an integer converted to `Double`; nil for other types.
    public var asFloat: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: asInt.map(Double.init)
        }
    }

    /// The string, if this is a string.
    public var asString: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    /// The bool, if this is a bool.
    public var asBool: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    /// The array, if this is an array.
    public var asArray: GGUFArray? {
        if case .array(let v) = self { return v }
        return nil
    }

    /// A short human-readable rendering; long strings and arrays are abbreviated.
    public var description: String {
        switch self {
        case .uint8(let v): "\(v)"
        case .int8(let v): "\(v)"
        case .uint16(let v): "\(v)"
        case .int16(let v): "\(v)"
        case .uint32(let v): "\(v)"
        case .int32(let v): "\(v)"
        case .float32(let v): "\(v)"
        case .bool(let v): "\(v)"
        case .string(let v): Self.abbreviated(v)
        case .uint64(let v): "\(v)"
        case .int64(let v): "\(v)"
        case .float64(let v): "\(v)"
        case .array(let v): v.description
        }
    }

    static func abbreviated(_ text: String, limit: Int = 60) -> String {
        let quoted = text.count > limit ? String(text.prefix(limit)) + "…" : text
        return "\"" + quoted.replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
