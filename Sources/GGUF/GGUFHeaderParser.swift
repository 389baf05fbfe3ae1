#if _endian(big)
#error("GGUF files are little-endian; this reader copies numbers without byte swapping.")
#endif

/// Everything the header of a GGUF file says, checked.
struct GGUFHeader {
    var version: UInt32
    var metadataKeys: [String]
    var metadata: [String: GGUFValue]
    var tensors: [GGUFTensorInfo]
    var alignment: Int
    var dataOffset: Int
}

/// Reads the header of a GGUF file (magic, version, counts, metadata, tensor table) from bytes,
/// checking every number against the bytes left and the limits in ``GGUFLimits`` before using it.
///
/// Layout (v2 and v3 are identical; v3 merely allows big-endian files, which are rejected):
/// magic "GGUF", u32 version, u64 tensor count, u64 key-value count, key-values, tensor infos,
/// padding to the alignment, then the data section.
struct GGUFHeaderParser {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    /// The key or tensor being read, so errors can name it.
    private var currentKey: String?
    private var currentTensor: String?

    private static let magic: [UInt8] = Array("GGUF".utf8)
    private static let alignmentKey = "general.alignment"

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    private var remaining: Int { bytes.count - position }

    // MARK: - Header

    mutating func parse() throws(GGUFError) -> GGUFHeader {
        try readMagic()
        let version = try readVersion()

        let tensorCountAt = position
        let rawTensorCount = try read(UInt64.self, "tensor count")
        let keyValueCountAt = position
        let rawKeyValueCount = try read(UInt64.self, "key-value count")

        // Reject counts that cannot fit before reserving anything for them.
        let keyValueCount = try checkedCount(
            rawKeyValueCount, of: "key-value pairs", minimumSize: GGUFLimits.minimumKeyValueSize,
            within: remaining, at: keyValueCountAt)
        let bytesAfterKeyValues = remaining - keyValueCount * GGUFLimits.minimumKeyValueSize
        _ = try checkedCount(
            rawTensorCount, of: "tensor infos", minimumSize: GGUFLimits.minimumTensorInfoSize,
            within: bytesAfterKeyValues, at: tensorCountAt)

        var metadataKeys = [String]()
        var metadata = [String: GGUFValue]()
        metadataKeys.reserveCapacity(keyValueCount)
        metadata.reserveCapacity(keyValueCount)
        var alignment = GGUFLimits.defaultAlignment
        for _ in 0..<keyValueCount {
            let (key, value, valueAt) = try readKeyValue(existing: metadata)
            if key == Self.alignmentKey {
                alignment = try checkedAlignment(value, at: valueAt)
            }
            metadataKeys.append(key)
            metadata[key] = value
        }
        currentKey = nil

        // Now that the metadata's real size is known, check the tensor count again, tighter.
        let tensorCount = try checkedCount(
            rawTensorCount, of: "tensor infos", minimumSize: GGUFLimits.minimumTensorInfoSize,
            within: remaining, at: tensorCountAt)
        var pending = [PendingTensor]()
        pending.reserveCapacity(tensorCount)
        var seenNames = Set<String>()
        seenNames.reserveCapacity(tensorCount)
        for _ in 0..<tensorCount {
            let tensor = try readTensorInfo(alignment: alignment, seenNames: seenNames)
            seenNames.insert(tensor.name)
            pending.append(tensor)
        }
        currentTensor = nil

        // The data section starts at the first multiple of the alignment after the header.
        // `position` <= file size and alignment <= 1 MiB, so this cannot overflow.
        let dataOffset = (position + alignment - 1) / alignment * alignment
        let tensors = try pending.map { tensor throws(GGUFError) in
            try placed(tensor, dataOffset: dataOffset)
        }
        return GGUFHeader(
            version: version, metadataKeys: metadataKeys, metadata: metadata, tensors: tensors,
            alignment: alignment, dataOffset: dataOffset)
    }

    private mutating func readMagic() throws(GGUFError) {
        guard bytes.count >= Self.magic.count else {
            throw GGUFError(
                .truncated, "file of \(bytes.count) bytes is too short to be GGUF (needs at least "
                    + "\(GGUFLimits.headerSize) bytes of header)", offset: 0)
        }
        let found = Array(bytes[0..<Self.magic.count])
        guard found == Self.magic else {
            let hex = found.map { String($0, radix: 16).leftPadded(to: 2) }.joined(separator: " ")
            throw GGUFError(
                .badMagic, "not a GGUF file: starts with bytes \(hex), expected 47 47 55 46 (\"GGUF\")",
                offset: 0)
        }
        position = Self.magic.count
    }

    private mutating func readVersion() throws(GGUFError) -> UInt32 {
        let at = position
        let version = try read(UInt32.self, "version")
        switch version {
        case 2, 3:
            return version
        case 1:
            throw GGUFError(
                .unsupportedVersion, "GGUF version 1 is not supported (only versions 2 and 3)", offset: at)
        case UInt32(2).byteSwapped, UInt32(3).byteSwapped:
            throw GGUFError(
                .unsupportedVersion,
                "big-endian GGUF (version \(version.byteSwapped) byte-swapped) is not supported", offset: at)
        default:
            throw GGUFError(
                .unsupportedVersion, "GGUF version \(version) is not supported (only versions 2 and 3)",
                offset: at)
        }
    }

    /// A count from the header, if that many items of at least `minimumSize` bytes fit in `space`.
    private func checkedCount(
        _ count: UInt64, of items: String, minimumSize: Int, within space: Int, at offset: Int
    ) throws(GGUFError) -> Int {
        let fitting = max(space, 0) / minimumSize
        guard count <= UInt64(fitting) else {
            throw GGUFError(
                .countTooLarge,
                "\(count) \(items) cannot fit in the \(max(space, 0)) bytes left "
                    + "(each needs at least \(minimumSize) bytes)",
                offset: offset)
        }
        return Int(count)
    }

    // MARK: - Metadata

    private mutating func readKeyValue(
        existing: [String: GGUFValue]
    ) throws(GGUFError) -> (key: String, value: GGUFValue, valueAt: Int) {
        currentKey = nil
        let keyAt = position
        let key = try readKey()
        currentKey = key
        guard existing[key] == nil else {
            throw error(.duplicateKey, "duplicate key (it appears earlier in the file)", at: keyAt)
        }
        let typeAt = position
        let rawType = try read(UInt32.self, "value type")
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw error(.unknownValueType, "unknown value type \(rawType)", at: typeAt)
        }
        let valueAt = position
        let value = try readValue(of: type, depth: 0)
        return (key, value, valueAt)
    }

    private mutating func readKey() throws(GGUFError) -> String {
        let at = position
        let range = try readStringRange(limit: GGUFLimits.maxKeyLength, what: "key")
        guard !range.isEmpty else {
            throw error(.invalidKey, "empty key", at: at)
        }
        guard let key = String(validating: utf8(range), as: UTF8.self) else {
            let lossy = String(decoding: utf8(range), as: UTF8.self)
            throw GGUFError(.invalidKey, "key is not valid UTF-8", key: lossy, offset: at)
        }
        return key
    }

    private mutating func checkedAlignment(_ value: GGUFValue, at offset: Int) throws(GGUFError) -> Int {
        guard case .uint32(let raw) = value else {
            throw error(.invalidAlignment, "must be uint32, found \(value.type)", at: offset)
        }
        let alignment = Int(raw)
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw error(.invalidAlignment, "alignment \(alignment) is not a power of two", at: offset)
        }
        guard GGUFLimits.alignmentRange.contains(alignment) else {
            throw error(
                .invalidAlignment,
                "alignment \(alignment) is outside \(GGUFLimits.alignmentRange.lowerBound)..."
                    + "\(GGUFLimits.alignmentRange.upperBound)",
                at: offset)
        }
        return alignment
    }

    private mutating func readValue(of type: GGUFValueType, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, "uint8 value"))
        case .int8: return .int8(try read(Int8.self, "int8 value"))
        case .uint16: return .uint16(try read(UInt16.self, "uint16 value"))
        case .int16: return .int16(try read(Int16.self, "int16 value"))
        case .uint32: return .uint32(try read(UInt32.self, "uint32 value"))
        case .int32: return .int32(try read(Int32.self, "int32 value"))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, "float32 value")))
        case .bool: return .bool(try readBool())
        case .string:
            let range = try readStringRange(limit: GGUFLimits.maxStringLength, what: "string")
            return .string(String(decoding: utf8(range), as: UTF8.self))
        case .array: return .array(try readArray(depth: depth + 1))
        case .uint64: return .uint64(try read(UInt64.self, "uint64 value"))
        case .int64: return .int64(try read(Int64.self, "int64 value"))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, "float64 value")))
        }
    }

    private mutating func readBool() throws(GGUFError) -> Bool {
        let at = position
        let byte = try read(UInt8.self, "bool value")
        guard byte <= 1 else {
            throw error(.invalidBool, "bool value is \(byte), must be 0 or 1", at: at)
        }
        return byte == 1
    }

    /// Reads an array value; `depth` is 1 for an array that is directly a key's value.
    private mutating func readArray(depth: Int) throws(GGUFError) -> GGUFArray {
        let at = position
        guard depth <= GGUFLimits.maxArrayDepth else {
            throw error(
                .arrayTooDeep, "arrays nested more than \(GGUFLimits.maxArrayDepth) levels deep", at: at)
        }
        let rawType = try read(UInt32.self, "array element type")
        guard let elementType = GGUFValueType(rawValue: rawType) else {
            throw error(.unknownValueType, "unknown array element type \(rawType)", at: at)
        }
        let countAt = position
        let rawCount = try read(UInt64.self, "array length")
        guard rawCount <= UInt64(GGUFLimits.maxArrayCount) else {
            throw error(
                .arrayTooLarge,
                "array of \(rawCount) elements exceeds the limit of \(GGUFLimits.maxArrayCount)", at: countAt)
        }
        let count = Int(rawCount)
        let minimumSize = elementType.minimumEncodedSize
        guard count <= remaining / minimumSize else {
            throw error(
                .arrayTooLarge,
                "array of \(count) \(elementType) elements needs at least \(count * minimumSize) bytes, "
                    + "only \(remaining) left in the file",
                at: countAt)
        }
        switch elementType {
        case .uint8: return GGUFArray(uint8s: copyElements(count))
        case .int8: return GGUFArray(int8s: copyElements(count))
        case .uint16: return GGUFArray(uint16s: copyElements(count))
        case .int16: return GGUFArray(int16s: copyElements(count))
        case .uint32: return GGUFArray(uint32s: copyElements(count))
        case .int32: return GGUFArray(int32s: copyElements(count))
        case .float32: return GGUFArray(float32s: copyElements(count))
        case .uint64: return GGUFArray(uint64s: copyElements(count))
        case .int64: return GGUFArray(int64s: copyElements(count))
        case .float64: return GGUFArray(float64s: copyElements(count))
        case .bool:
            var values = [Bool]()
            values.reserveCapacity(count)
            for _ in 0..<count {
                values.append(try readBool())
            }
            return GGUFArray(bools: values)
        case .string:
            return GGUFArray(storage: .string(try readEncodedStrings(count)))
        case .array:
            var inner = [GGUFArray]()
            inner.reserveCapacity(count)
            for _ in 0..<count {
                inner.append(try readArray(depth: depth + 1))
            }
            return GGUFArray(arrays: inner)
        }
    }

    /// Copies `count` little-endian numbers straight out of the file. The caller has checked
    /// that `count * MemoryLayout<T>.size` bytes remain.
    private mutating func copyElements<T: BitwiseCopyable>(_ count: Int) -> [T] {
        let byteCount = count * MemoryLayout<T>.size
        precondition(byteCount <= remaining, "caller must check the array fits")
        guard count > 0, let base = bytes.baseAddress else { return [] }
        let source = UnsafeRawBufferPointer(start: base + position, count: byteCount)
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
            initialized = count
        }
        position += byteCount
        return values
    }

    /// Indexes `count` strings, then copies their GGUF encoding in one piece.
    private mutating func readEncodedStrings(_ count: Int) throws(GGUFError) -> EncodedStrings {
        let regionStart = position
        var starts = [Int]()
        var lengths = [Int]()
        starts.reserveCapacity(count)
        lengths.reserveCapacity(count)
        for _ in 0..<count {
            let range = try readStringRange(limit: GGUFLimits.maxStringLength, what: "string")
            starts.append(range.lowerBound - regionStart)
            lengths.append(range.count)
        }
        let encoded = copyBytes(regionStart..<position)
        return EncodedStrings(encoded: encoded, starts: starts, lengths: lengths)
    }

    /// Reads a u64 length and skips that many bytes, returning where they are.
    private mutating func readStringRange(limit: Int, what: String) throws(GGUFError) -> Range<Int> {
        let at = position
        let length = try read(UInt64.self, "\(what) length")
        guard length <= UInt64(limit) else {
            throw error(.stringTooLong, "\(what) of \(length) bytes exceeds the limit of \(limit) bytes", at: at)
        }
        guard length <= UInt64(remaining) else {
            throw error(
                .stringTooLong,
                "\(what) of \(length) bytes extends past end of file (only \(remaining) bytes left)", at: at)
        }
        let start = position
        position += Int(length)
        return start..<position
    }

    // MARK: - Tensor table

    /// A tensor info as read, before the data section's start is known.
    private struct PendingTensor {
        var name: String
        var dimensions: [Int]
        var type: GGUFTensorType
        var offset: Int
        var offsetFieldAt: Int
        var elementCount: Int
        var byteCount: Int
    }

    private mutating func readTensorInfo(
        alignment: Int, seenNames: Set<String>
    ) throws(GGUFError) -> PendingTensor {
        currentTensor = nil
        let nameAt = position
        let name = try readTensorName()
        currentTensor = name
        guard !seenNames.contains(name) else {
            throw error(
                .duplicateTensorName, "duplicate tensor name (it appears earlier in the table)", at: nameAt)
        }

        let dimensionCountAt = position
        let dimensionCount = try read(UInt32.self, "dimension count")
        guard (1...UInt32(GGUFLimits.maxDimensions)).contains(dimensionCount) else {
            throw error(
                .invalidDimensionCount,
                "has \(dimensionCount) dimensions, must be 1...\(GGUFLimits.maxDimensions)",
                at: dimensionCountAt)
        }
        var dimensions = [Int]()
        dimensions.reserveCapacity(Int(dimensionCount))
        var elementCount = 1
        for axis in 0..<Int(dimensionCount) {
            let at = position
            let raw = try read(UInt64.self, "dimension \(axis)")
            guard raw > 0 else {
                throw error(.invalidDimension, "dimension \(axis) is 0", at: at)
            }
            guard let dimension = Int(exactly: raw) else {
                throw error(.invalidDimension, "dimension \(axis) is \(raw), too large", at: at)
            }
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw error(
                    .sizeOverflow,
                    "element count of shape \(dimensions + [dimension]) overflows a 64-bit integer", at: at)
            }
            dimensions.append(dimension)
            elementCount = product
        }

        let typeAt = position
        let rawType = try read(UInt32.self, "tensor type")
        guard let type = GGUFTensorType(rawValue: rawType) else {
            throw error(.unknownTensorType, "unknown tensor type \(rawType)", at: typeAt)
        }
        guard dimensions[0] % type.blockSize == 0 else {
            throw error(
                .rowNotBlockAligned,
                "first dimension \(dimensions[0]) is not a multiple of \(type.name)'s block size "
                    + "\(type.blockSize)",
                at: typeAt)
        }
        let (byteCount, overflow) =
            (elementCount / type.blockSize).multipliedReportingOverflow(by: type.bytesPerBlock)
        guard !overflow else {
            throw error(
                .sizeOverflow, "byte size of \(elementCount) \(type.name) elements overflows a 64-bit integer",
                at: typeAt)
        }

        let offsetAt = position
        let rawOffset = try read(UInt64.self, "data offset")
        guard rawOffset % UInt64(alignment) == 0 else {
            throw error(
                .misalignedTensorOffset, "data offset \(rawOffset) is not a multiple of the alignment \(alignment)",
                at: offsetAt)
        }
        // Offsets beyond Int.max cannot be inside any file; report them with the bounds check.
        let offset = Int(exactly: rawOffset) ?? Int.max
        return PendingTensor(
            name: name, dimensions: dimensions, type: type, offset: offset, offsetFieldAt: offsetAt,
            elementCount: elementCount, byteCount: byteCount)
    }

    private mutating func readTensorName() throws(GGUFError) -> String {
        let at = position
        let range = try readStringRange(limit: Int(UInt32.max), what: "tensor name")
        let lossy = String(decoding: utf8(range), as: UTF8.self)
        guard !range.isEmpty else {
            throw GGUFError(.invalidTensorName, "tensor name is empty", offset: at)
        }
        guard range.count <= GGUFLimits.maxTensorNameLength else {
            throw GGUFError(
                .invalidTensorName,
                "name of \(range.count) bytes exceeds ggml's limit of \(GGUFLimits.maxTensorNameLength)",
                tensor: lossy, offset: at)
        }
        guard let name = String(validating: utf8(range), as: UTF8.self) else {
            throw GGUFError(.invalidTensorName, "name is not valid UTF-8", tensor: lossy, offset: at)
        }
        return name
    }

    /// Places a tensor in the file, checking its data lies inside it.
    private func placed(_ tensor: PendingTensor, dataOffset: Int) throws(GGUFError) -> GGUFTensorInfo {
        let (fileOffset, offsetOverflow) = dataOffset.addingReportingOverflow(tensor.offset)
        let (end, endOverflow) = fileOffset.addingReportingOverflow(tensor.byteCount)
        guard !offsetOverflow, !endOverflow, end <= bytes.count else {
            let shownOffset = tensor.offset == Int.max ? "beyond \(Int.max)" : "\(tensor.offset)"
            throw GGUFError(
                .tensorDataOutOfBounds,
                "data [offset \(shownOffset), size \(tensor.byteCount)] extends past end of file "
                    + "(size \(bytes.count), data section starts at \(dataOffset))",
                tensor: tensor.name, offset: tensor.offsetFieldAt)
        }
        return GGUFTensorInfo(
            name: tensor.name, dimensions: tensor.dimensions, type: tensor.type, offset: tensor.offset,
            elementCount: tensor.elementCount, byteCount: tensor.byteCount, fileOffset: fileOffset)
    }

    // MARK: - Primitives

    /// Reads one little-endian number, or fails naming what was being read.
    private mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(GGUFError) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else {
            throw error(
                .truncated,
                "\(what) (\(size) bytes) extends past end of file (size \(bytes.count))", at: position)
        }
        let value = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return T(littleEndian: value)
    }

    /// The bytes in `range` viewed as UTF-8 code units (contiguous, so decoding is fast).
    private func utf8(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeRawBufferPointer(rebasing: bytes[range]).assumingMemoryBound(to: UInt8.self)
    }

    /// A copy of the bytes in `range`, in one move.
    private func copyBytes(_ range: Range<Int>) -> [UInt8] {
        guard !range.isEmpty else { return [] }
        let source = UnsafeRawBufferPointer(rebasing: bytes[range])
        return [UInt8](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
            initialized = range.count
        }
    }

    private func error(_ kind: GGUFError.Kind, _ message: String, at offset: Int) -> GGUFError {
        GGUFError(kind, message, key: currentKey, tensor: currentTensor, offset: offset)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
