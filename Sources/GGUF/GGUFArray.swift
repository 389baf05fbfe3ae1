/// A metadata array: one element type and its values, kept in compact typed storage.
///
/// Real models carry arrays of 150 000+ elements (`tokenizer.ggml.tokens`, `.scores`,
/// `.token_type`, `.merges`). Numbers are stored as plain Swift arrays of their file type
/// (copied from the file in one move) and strings as their raw GGUF encoding plus an index,
/// decoded only when asked for. Nothing boxes each element in a ``GGUFValue``.
///
/// ```swift
/// let tokens = file["tokenizer.ggml.tokens"]?.asArray?.asStrings   // [String]
/// let types  = file["tokenizer.ggml.token_type"]?.asArray?.asInt32s
/// let made   = GGUFArray(strings: ["a", "b"])                     // for the writer
/// ```
public struct GGUFArray: Sendable, Equatable, CustomStringConvertible {
    enum Storage: Sendable, Equatable {
        case uint8([UInt8])
        case int8([Int8])
        case uint16([UInt16])
        case int16([Int16])
        case uint32([UInt32])
        case int32([Int32])
        case float32([Float])
        case bool([Bool])
        case string(EncodedStrings)
        case array([GGUFArray])
        case uint64([UInt64])
        case int64([Int64])
        case float64([Double])
    }

    let storage: Storage

    init(storage: Storage) {
        self.storage = storage
    }

    public init(uint8s values: [UInt8]) { storage = .uint8(values) }
    public init(int8s values: [Int8]) { storage = .int8(values) }
    public init(uint16s values: [UInt16]) { storage = .uint16(values) }
    public init(int16s values: [Int16]) { storage = .int16(values) }
    public init(uint32s values: [UInt32]) { storage = .uint32(values) }
    public init(int32s values: [Int32]) { storage = .int32(values) }
    public init(float32s values: [Float]) { storage = .float32(values) }
    public init(bools values: [Bool]) { storage = .bool(values) }
    public init(strings values: [String]) { storage = .string(EncodedStrings(values)) }
    public init(arrays values: [GGUFArray]) { storage = .array(values) }
    public init(uint64s values: [UInt64]) { storage = .uint64(values) }
    public init(int64s values: [Int64]) { storage = .int64(values) }
    public init(float64s values: [Double]) { storage = .float64(values) }

    /// The type every element has.
    public var elementType: GGUFValueType {
        switch storage {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .array: .array
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    public var count: Int {
        switch storage {
        case .uint8(let v): v.count
        case .int8(let v): v.count
        case .uint16(let v): v.count
        case .int16(let v): v.count
        case .uint32(let v): v.count
        case .int32(let v): v.count
        case .float32(let v): v.count
        case .bool(let v): v.count
        case .string(let v): v.count
        case .array(let v): v.count
        case .uint64(let v): v.count
        case .int64(let v): v.count
        case .float64(let v): v.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// One element as a ``GGUFValue``. Traps if `index` is out of range, like `Array`.
    public subscript(index: Int) -> GGUFValue {
        switch storage {
        case .uint8(let v): .uint8(v[index])
        case .int8(let v): .int8(v[index])
        case .uint16(let v): .uint16(v[index])
        case .int16(let v): .int16(v[index])
        case .uint32(let v): .uint32(v[index])
        case .int32(let v): .int32(v[index])
        case .float32(let v): .float32(v[index])
        case .bool(let v): .bool(v[index])
        case .string(let v): .string(v.string(at: index))
        case .array(let v): .array(v[index])
        case .uint64(let v): .uint64(v[index])
        case .int64(let v): .int64(v[index])
        case .float64(let v): .float64(v[index])
        }
    }

    /// Every element boxed as a ``GGUFValue``: convenient for display, slow for huge arrays.
    public var values: [GGUFValue] {
        (0..<count).map { self[$0] }
    }

    /// The strings (invalid UTF-8 repaired with U+FFFD), if this is a string array.
    public var asStrings: [String]? {
        if case .string(let v) = storage { return v.decodedAll() }
        return nil
    }

    /// The raw bytes of string element `index`, if this is a string array (no UTF-8 repair).
    public func stringBytes(at index: Int) -> ArraySlice<UInt8>? {
        if case .string(let v) = storage { return v.bytes(at: index) }
        return nil
    }

    /// The elements of any integer array, if every one fits in `Int32`.
    public var asInt32s: [Int32]? {
        if case .int32(let v) = storage { return v }
        return integers(as: Int32.self)
    }

    /// The elements of any integer array, if every one fits in `Int`.
    public var asInts: [Int]? {
        integers(as: Int.self)
    }

    /// The elements of a float32 array, or of a float64 array rounded to `Float`.
    public var asFloats: [Float]? {
        switch storage {
        case .float32(let v): v
        case .float64(let v): v.map { Float($0) }
        default: nil
        }
    }

    /// The elements of a float64 or float32 array as `Double`.
    public var asDoubles: [Double]? {
        switch storage {
        case .float64(let v): v
        case .float32(let v): v.map { Double($0) }
        default: nil
        }
    }

    public var asBools: [Bool]? {
        if case .bool(let v) = storage { return v }
        return nil
    }

    /// The inner arrays, if this is an array of arrays.
    public var asArrays: [GGUFArray]? {
        if case .array(let v) = storage { return v }
        return nil
    }

    private func integers<T: FixedWidthInteger>(as: T.Type) -> [T]? {
        func convert<S: BinaryInteger>(_ source: [S]) -> [T]? {
            var result = [T]()
            result.reserveCapacity(source.count)
            for element in source {
                guard let converted = T(exactly: element) else { return nil }
                result.append(converted)
            }
            return result
        }
        switch storage {
        case .uint8(let v): return convert(v)
        case .int8(let v): return convert(v)
        case .uint16(let v): return convert(v)
        case .int16(let v): return convert(v)
        case .uint32(let v): return convert(v)
        case .int32(let v): return convert(v)
        case .uint64(let v): return convert(v)
        case .int64(let v): return convert(v)
        default: return nil
        }
    }

    /// `[3 × string: "a", "b", "c"]`, showing at most the first few elements.
    public var description: String {
        let shown = 4
        let head = (0..<Swift.min(count, shown)).map { self[$0].description }
        let more = count > shown ? ", …" : ""
        return "[\(count) × \(elementType): " + head.joined(separator: ", ") + more + "]"
    }
}

/// Strings kept exactly as GGUF encodes them: each one a little-endian uint64 byte length followed
/// by its bytes, back to back. Reading a 150k-token vocabulary is then one copy plus an index, and
/// two lists are equal exactly when their encodings are.
struct EncodedStrings: Sendable, Equatable {
    /// The GGUF encoding of all the strings.
    let encoded: [UInt8]
    /// Where string `i`'s bytes start in `encoded` (just past its length prefix).
    let starts: [Int]
    /// How many bytes string `i` has.
    let lengths: [Int]

    var count: Int { starts.count }

    init(encoded: [UInt8], starts: [Int], lengths: [Int]) {
        self.encoded = encoded
        self.starts = starts
        self.lengths = lengths
    }

    init(_ strings: [String]) {
        var encoded = [UInt8]()
        var starts = [Int]()
        var lengths = [Int]()
        starts.reserveCapacity(strings.count)
        lengths.reserveCapacity(strings.count)
        for string in strings {
            let utf8 = Array(string.utf8)
            withUnsafeBytes(of: UInt64(utf8.count).littleEndian) { encoded.append(contentsOf: $0) }
            starts.append(encoded.count)
            lengths.append(utf8.count)
            encoded.append(contentsOf: utf8)
        }
        self.init(encoded: encoded, starts: starts, lengths: lengths)
    }

    static func == (lhs: EncodedStrings, rhs: EncodedStrings) -> Bool {
        lhs.encoded == rhs.encoded
    }

    func bytes(at index: Int) -> ArraySlice<UInt8> {
        encoded[starts[index]..<starts[index] + lengths[index]]
    }

    func string(at index: Int) -> String {
        String(decoding: bytes(at: index), as: UTF8.self)
    }

    func decodedAll() -> [String] {
        encoded.withUnsafeBufferPointer { buffer in
            var strings = [String]()
            strings.reserveCapacity(starts.count)
            for index in starts.indices {
                let start = starts[index]
                let bytes = UnsafeBufferPointer(rebasing: buffer[start..<start + lengths[index]])
                strings.append(String(decoding: bytes, as: UTF8.self))
            }
            return strings
        }
    }
}
