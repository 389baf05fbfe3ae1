/// A GGUF model file, memory-mapped read-only and checked from end to end on open.
///
/// Opening parses the header (metadata and tensor table) and checks every count, length,
/// dimension, type, offset and size in it; the tensor data stays in the mapping, so opening a
/// multi-gigabyte model reads only its first few megabytes.
///
/// ```swift
/// let file = try GGUFFile(path: "smollm2.gguf")
/// let arch = try file.requiredString("general.architecture")      // "llama"
/// let layers = try file.requiredInt("\(arch).block_count")         // 30
/// if let embedding = file.tensor(named: "token_embd.weight") {
///     let bytes = file.data(for: embedding)                         // points into the mapping
/// }
/// ```
///
/// Immutable after `init`, so it can be shared freely between threads. Buffers returned by
/// ``data(for:)`` are valid for as long as the `GGUFFile` is alive.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    /// 2 or 3.
    public let version: UInt32
    public let fileSize: Int
    /// The data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// Where the data section starts: the first multiple of `alignment` after the header.
    public let dataOffset: Int
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// All metadata by key.
    public let metadata: [String: GGUFValue]
    /// The tensor table in file order.
    public let tensors: [GGUFTensorInfo]

    private let mapping: MappedFile
    private let tensorIndex: [String: Int]

    /// Opens, maps and checks the file. Throws ``GGUFError`` (kind `.io` for open, stat and mmap
    /// failures) naming the problem, the key or tensor, and the byte offset.
    public init(path: String) throws(GGUFError) {
        let mapping = try MappedFile(path: path)
        var parser = GGUFHeaderParser(bytes: mapping.bytes)
        let header: GGUFHeader
        do {
            header = try parser.parse()
        } catch {
            throw error.with(path: path)
        }
        self.path = path
        self.mapping = mapping
        self.version = header.version
        self.fileSize = mapping.bytes.count
        self.alignment = header.alignment
        self.dataOffset = header.dataOffset
        self.metadataKeys = header.metadataKeys
        self.metadata = header.metadata
        self.tensors = header.tensors
        var index = [String: Int](minimumCapacity: header.tensors.count)
        for (position, tensor) in header.tensors.enumerated() {
            index[tensor.name] = position
        }
        self.tensorIndex = index
    }

    /// The value of a metadata key, if present.
    public subscript(key: String) -> GGUFValue? {
        metadata[key]
    }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's bytes, straight from the mapping (no copy). Valid while `self` is alive.
    /// The tensor must come from this file's table.
    public func data(for tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(
            tensor.fileOffset >= 0 && tensor.byteCount <= fileSize - tensor.fileOffset,
            "tensor '\(tensor.name)' does not belong to \(path)")
        return UnsafeRawBufferPointer(rebasing: mapping.bytes[tensor.fileOffset..<tensor.fileOffset + tensor.byteCount])
    }

    /// The whole file as mapped. Valid while `self` is alive.
    public var bytes: UnsafeRawBufferPointer { mapping.bytes }

    // MARK: - Typed metadata access
    //
    // `required…` throws `.missingKey` when the key is absent; every getter throws
    // `.wrongValueType` when it is present with a type that does not convert.

    /// Any integer type whose value fits in `Int`.
    public func requiredInt(_ key: String) throws(GGUFError) -> Int {
        try required(key, int(key))
    }

    public func requiredString(_ key: String) throws(GGUFError) -> String {
        try required(key, string(key))
    }

    /// float32, float64 or an integer.
    public func requiredFloat(_ key: String) throws(GGUFError) -> Double {
        try required(key, float(key))
    }

    public func requiredBool(_ key: String) throws(GGUFError) -> Bool {
        try required(key, bool(key))
    }

    public func requiredArray(_ key: String) throws(GGUFError) -> GGUFArray {
        try required(key, array(key))
    }

    /// nil when the key is absent.
    public func int(_ key: String) throws(GGUFError) -> Int? {
        try typed(key, "an integer that fits in Int") { $0.asInt }
    }

    /// nil when the key is absent.
    public func string(_ key: String) throws(GGUFError) -> String? {
        try typed(key, "a string") { $0.asString }
    }

    /// nil when the key is absent.
    public func float(_ key: String) throws(GGUFError) -> Double? {
        try typed(key, "a number") { $0.asFloat }
    }

    /// nil when the key is absent.
    public func bool(_ key: String) throws(GGUFError) -> Bool? {
        try typed(key, "a bool") { $0.asBool }
    }

    /// nil when the key is absent.
    public func array(_ key: String) throws(GGUFError) -> GGUFArray? {
        try typed(key, "an array") { $0.asArray }
    }

    private func typed<T>(
        _ key: String, _ expected: String, _ convert: (GGUFValue) -> T?
    ) throws(GGUFError) -> T? {
        guard let value = metadata[key] else { return nil }
        guard let converted = convert(value) else {
            throw GGUFError(
                .wrongValueType, "expected \(expected), found \(value.type) \(value)", key: key, path: path)
        }
        return converted
    }

    private func required<T>(_ key: String, _ value: T?) throws(GGUFError) -> T {
        guard let value else {
            throw GGUFError(.missingKey, "required key is missing", key: key, path: path)
        }
        return value
    }
}
