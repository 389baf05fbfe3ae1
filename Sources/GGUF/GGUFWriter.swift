import Foundation

/// Builds a GGUF file in memory: for test fixtures and small tools.
///
/// ```swift
/// var writer = GGUFWriter()
/// writer.add(key: "general.architecture", .string("llama"))
/// writer.add(key: "tokenizer.ggml.tokens", .array(GGUFArray(strings: ["<s>", "</s>"])))
/// writer.add(tensor: "output_norm.weight", type: .f32, dimensions: [4], data: [UInt8](repeating: 0, count: 16))
/// try writer.write(to: "/tmp/tiny.gguf")
/// ```
///
/// Layout follows ggml: header, key-values, tensor infos, padding to `alignment`, then each
/// tensor's data at the next multiple of `alignment` (padding after each, too). When
/// `alignment` is not 32 and no `general.alignment` was added, the writer adds it (as uint32)
/// first.
///
/// The `raw…` members write whatever they are given — unknown type codes, invalid UTF-8, wrong
/// counts, misplaced offsets — so tests can build every kind of broken file. ``add(key:_:)`` and
/// ``add(tensor:type:dimensions:data:)`` are the checked, well-formed path.
public struct GGUFWriter: Sendable {
    public var version: UInt32
    public var alignment: Int
    /// Written instead of `"GGUF"` (tests of the magic check).
    public var rawMagic: [UInt8] = Array("GGUF".utf8)
    /// Written instead of the real tensor count.
    public var rawTensorCount: UInt64?
    /// Written instead of the real key-value count.
    public var rawKeyValueCount: UInt64?

    private struct KeyValue: Sendable {
        var key: String?  // nil for raw entries, which are never replaced
        var encodedKey: [UInt8]
        var typeCode: UInt32
        var payload: [UInt8]
    }

    private struct Tensor: Sendable {
        var encodedName: [UInt8]
        var typeCode: UInt32
        var dimensions: [UInt64]
        var data: [UInt8]
        var rawOffset: UInt64?
    }

    private var keyValues: [KeyValue] = []
    private var tensors: [Tensor] = []

    public init(version: UInt32 = 3, alignment: Int = 32) {
        precondition(alignment > 0, "alignment must be positive")
        self.version = version
        self.alignment = alignment
    }

    // MARK: - Metadata

    /// Adds a key, or replaces its value (keeping its place) if it was added before.
    public mutating func add(key: String, _ value: GGUFValue) {
        let entry = KeyValue(
            key: key, encodedKey: Self.encodedString(Array(key.utf8)), typeCode: value.type.rawValue,
            payload: Self.encode(value))
        if let existing = keyValues.firstIndex(where: { $0.key == key }) {
            keyValues[existing] = entry
        } else {
            keyValues.append(entry)
        }
    }

    /// Appends a key-value pair exactly as given: `key` bytes need not be UTF-8 or unique,
    /// `typeCode` need not be a GGUF type, `payload` follows the type code verbatim.
    public mutating func addRaw(key: [UInt8], typeCode: UInt32, payload: [UInt8]) {
        keyValues.append(
            KeyValue(key: nil, encodedKey: Self.encodedString(key), typeCode: typeCode, payload: payload))
    }

    /// The bytes GGUF stores after a value's type code (useful with ``addRaw(key:typeCode:payload:)``).
    public static func encode(_ value: GGUFValue) -> [UInt8] {
        var out = [UInt8]()
        append(value, to: &out)
        return out
    }

    // MARK: - Tensors

    /// Adds a well-formed tensor; traps if the name is taken or too long, the shape is invalid or
    /// `data` has the wrong size.
    public mutating func add(tensor name: String, type: GGUFTensorType, dimensions: [Int], data: [UInt8]) {
        let encodedName = Self.encodedString(Array(name.utf8))
        precondition(!name.isEmpty && name.utf8.count <= GGUFLimits.maxTensorNameLength, "tensor name length")
        precondition(!tensors.contains { $0.encodedName == encodedName }, "duplicate tensor '\(name)'")
        precondition((1...GGUFLimits.maxDimensions).contains(dimensions.count), "1...4 dimensions")
        precondition(dimensions.allSatisfy { $0 > 0 }, "dimensions must be positive")
        precondition(dimensions[0] % type.blockSize == 0, "ne0 must be a multiple of the block size")
        let elements = dimensions.reduce(1, *)
        precondition(
            data.count == elements / type.blockSize * type.bytesPerBlock,
            "tensor '\(name)' needs \(elements / type.blockSize * type.bytesPerBlock) bytes, got \(data.count)")
        tensors.append(
            Tensor(
                encodedName: encodedName, typeCode: type.rawValue, dimensions: dimensions.map { UInt64($0) },
                data: data, rawOffset: nil))
    }

    /// Appends a tensor exactly as given. Its data is laid out like any other tensor's, but the
    /// info records `offset` instead of the real one when given.
    public mutating func addRaw(
        tensor name: [UInt8], typeCode: UInt32, dimensions: [UInt64], data: [UInt8], offset: UInt64? = nil
    ) {
        tensors.append(
            Tensor(
                encodedName: Self.encodedString(name), typeCode: typeCode, dimensions: dimensions,
                data: data, rawOffset: offset))
    }

    // MARK: - Output

    public func bytes() -> [UInt8] {
        var out = rawMagic
        Self.appendInteger(version, to: &out)

        var entries = keyValues
        let declaresAlignment = keyValues.contains { $0.key == "general.alignment" }
        if alignment != GGUFLimits.defaultAlignment && !declaresAlignment {
            let key = "general.alignment"
            entries.insert(
                KeyValue(
                    key: key, encodedKey: Self.encodedString(Array(key.utf8)),
                    typeCode: GGUFValueType.uint32.rawValue, payload: Self.encode(.uint32(UInt32(alignment)))),
                at: 0)
        }
        Self.appendInteger(rawTensorCount ?? UInt64(tensors.count), to: &out)
        Self.appendInteger(rawKeyValueCount ?? UInt64(entries.count), to: &out)
        for entry in entries {
            out += entry.encodedKey
            Self.appendInteger(entry.typeCode, to: &out)
            out += entry.payload
        }

        // Data offsets relative to the data section, each at the next multiple of the alignment.
        var offsets = [Int]()
        var cursor = 0
        for tensor in tensors {
            offsets.append(cursor)
            cursor = padded(cursor + tensor.data.count)
        }
        for (tensor, offset) in zip(tensors, offsets) {
            out += tensor.encodedName
            Self.appendInteger(UInt32(truncatingIfNeeded: tensor.dimensions.count), to: &out)
            for dimension in tensor.dimensions {
                Self.appendInteger(dimension, to: &out)
            }
            Self.appendInteger(tensor.typeCode, to: &out)
            Self.appendInteger(tensor.rawOffset ?? UInt64(offset), to: &out)
        }

        guard !tensors.isEmpty else { return out }
        out += [UInt8](repeating: 0, count: padded(out.count) - out.count)
        let dataStart = out.count
        for (tensor, offset) in zip(tensors, offsets) {
            out += [UInt8](repeating: 0, count: dataStart + offset - out.count)
            out += tensor.data
        }
        out += [UInt8](repeating: 0, count: padded(out.count) - out.count)
        return out
    }

    /// Writes ``bytes()`` to `path` (atomically); throws ``GGUFError`` of kind `.io` on failure.
    public func write(to path: String) throws(GGUFError) {
        do {
            try Data(bytes()).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw GGUFError(.io, "cannot write '\(path)': \(error.localizedDescription)", path: path)
        }
    }

    private func padded(_ size: Int) -> Int {
        (size + alignment - 1) / alignment * alignment
    }

    // MARK: - Encoding

    private static func appendInteger<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func encodedString(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        appendInteger(UInt64(bytes.count), to: &out)
        return out + bytes
    }

    private static func append(_ value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): appendInteger(v, to: &out)
        case .int8(let v): appendInteger(v, to: &out)
        case .uint16(let v): appendInteger(v, to: &out)
        case .int16(let v): appendInteger(v, to: &out)
        case .uint32(let v): appendInteger(v, to: &out)
        case .int32(let v): appendInteger(v, to: &out)
        case .float32(let v): appendInteger(v.bitPattern, to: &out)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let v): out += encodedString(Array(v.utf8))
        case .uint64(let v): appendInteger(v, to: &out)
        case .int64(let v): appendInteger(v, to: &out)
        case .float64(let v): appendInteger(v.bitPattern, to: &out)
        case .array(let v): append(v, to: &out)
        }
    }

    /// Element type, count, then the elements: numbers are copied as they sit in memory
    /// (little-endian hosts only, which the reader also requires).
    private static func append(_ array: GGUFArray, to out: inout [UInt8]) {
        appendInteger(array.elementType.rawValue, to: &out)
        appendInteger(UInt64(array.count), to: &out)
        switch array.storage {
        case .uint8(let v): v.withUnsafeBytes { out += $0 }
        case .int8(let v): v.withUnsafeBytes { out += $0 }
        case .uint16(let v): v.withUnsafeBytes { out += $0 }
        case .int16(let v): v.withUnsafeBytes { out += $0 }
        case .uint32(let v): v.withUnsafeBytes { out += $0 }
        case .int32(let v): v.withUnsafeBytes { out += $0 }
        case .float32(let v): v.withUnsafeBytes { out += $0 }
        case .bool(let v): out += v.map { $0 ? 1 : 0 }
        case .string(let v): out += v.encoded
        case .array(let v): v.forEach { append($0, to: &out) }
        case .uint64(let v): v.withUnsafeBytes { out += $0 }
        case .int64(let v): v.withUnsafeBytes { out += $0 }
        case .float64(let v): v.withUnsafeBytes { out += $0 }
        }
    }
}
