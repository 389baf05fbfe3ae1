/// Everything that can go wrong while opening or reading a GGUF file.
///
/// Each error has a machine-checkable ``kind``, the metadata key or tensor it concerns (if any),
/// the byte offset in the file where the offending field starts (if known), and a one-line
/// ``description`` that names all of them:
///
/// ```swift
/// do {
///     let file = try GGUFFile(path: "model.gguf")
/// } catch let error as GGUFError {
///     print(error)
///     // tensor 'blk.0.attn_q.weight': data [offset 123, size 456] extends past end of file (size 789) (at byte 4242)
/// }
/// ```
public struct GGUFError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What kind of problem was found. Tests and callers switch on this; the message is for people.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The file could not be opened, inspected or memory-mapped.
        case io
        /// The file does not start with the bytes `GGUF`.
        case badMagic
        /// The version is not 2 or 3.
        case unsupportedVersion
        /// A field runs past the end of the file.
        case truncated
        /// The tensor or key-value count cannot possibly fit in the rest of the file.
        case countTooLarge
        /// A string length exceeds the bytes left in the file or a sanity limit.
        case stringTooLong
        /// A metadata key is empty or not valid UTF-8.
        case invalidKey
        /// The same metadata key appears twice.
        case duplicateKey
        /// A metadata value (or array element) has a type code that GGUF does not define.
        case unknownValueType
        /// A bool value is neither 0 nor 1.
        case invalidBool
        /// An array has more elements than fit in the file or than the sanity limit allows.
        case arrayTooLarge
        /// Arrays are nested deeper than the reader allows.
        case arrayTooDeep
        /// `general.alignment` is not a uint32, not a power of two, or out of range.
        case invalidAlignment
        /// A tensor name is empty, not valid UTF-8, or too long.
        case invalidTensorName
        /// The same tensor name appears twice.
        case duplicateTensorName
        /// A tensor has fewer than 1 or more than 4 dimensions.
        case invalidDimensionCount
        /// A tensor dimension is zero or too large.
        case invalidDimension
        /// A tensor's element count or byte size overflows.
        case sizeOverflow
        /// A tensor's type code is not a known ggml type.
        case unknownTensorType
        /// A tensor's first dimension is not a multiple of its type's block size.
        case rowNotBlockAligned
        /// A tensor's data offset is not a multiple of the file's alignment.
        case misalignedTensorOffset
        /// A tensor's data lies (partly) outside the file.
        case tensorDataOutOfBounds
        /// A required metadata key is missing.
        case missingKey
        /// A metadata value has a different type than the caller asked for.
        case wrongValueType
    }

    public let kind: Kind
    /// What is wrong, without the subject or the offset (those are added by ``description``).
    public let message: String
    /// The metadata key the problem concerns, if any.
    public let key: String?
    /// The tensor the problem concerns, if any.
    public let tensor: String?
    /// Byte offset in the file where the offending field starts, if known.
    public let offset: Int?
    /// The file being read, if known.
    public let path: String?

    public init(
        _ kind: Kind, _ message: String, key: String? = nil, tensor: String? = nil,
        offset: Int? = nil, path: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.key = key
        self.tensor = tensor
        self.offset = offset
        self.path = path
    }

    /// One line: `key 'k': message (at byte N)` or `tensor 't': message (at byte N)`.
    public var description: String {
        var line = ""
        if let tensor {
            line += "tensor '\(tensor)': "
        } else if let key {
            line += "key '\(key)': "
        }
        line += message
        if let offset {
            line += " (at byte \(offset))"
        }
        return Self.escapingControlCharacters(line)
    }

    /// Keys, names and values come from the file and may hold newlines or other control
    /// characters; escaping them keeps the description on one line and the terminal intact.
    private static func escapingControlCharacters(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return text
        }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                escaped.append(contentsOf: scalar.escaped(asASCII: true).unicodeScalars)
            } else {
                escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    /// The same error, tagged with the path of the file it came from.
    func with(path: String) -> GGUFError {
        GGUFError(kind, message, key: key, tensor: tensor, offset: offset, path: path)
    }
}
