import Foundation
import Tokenizers

/// Reads the `tokenizer.ggml.*` metadata of a GGUF file into a ``Vocabulary`` — a minimal,
/// test-only reader (header and key/value section only) so these tests do not depend on the GGUF
/// target. The file is memory-mapped; tensor data is never touched.
enum VocabularyFile {
    struct FormatError: Error, CustomStringConvertible {
        let description: String
    }

    /// A metadata value, reduced to the shapes tokenizer metadata uses.
    private enum Value {
        case integer(Int64)
        case float(Double)
        case bool(Bool)
        case string(String)
        case strings([String])
        case floats([Float])
        case integers([Int64])
        case skipped
    }

    static func load(_ url: URL) throws -> Vocabulary {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        let metadata = try data.withUnsafeBytes { try readMetadata($0) }
        func integer(_ key: String) -> Int32? {
            if case .integer(let value)? = metadata[key], let id = Int32(exactly: value) { return id }
            return nil
        }
        func bool(_ key: String) -> Bool? {
            if case .bool(let value)? = metadata[key] { return value }
            return nil
        }
        func string(_ key: String) -> String? {
            if case .string(let value)? = metadata[key] { return value }
            return nil
        }
        guard let modelName = string("tokenizer.ggml.model") else {
            throw FormatError(description: "\(url.path): no tokenizer.ggml.model")
        }
        guard let model = TokenizerModel(rawValue: modelName) else {
            throw FormatError(description: "\(url.path): tokenizer model '\(modelName)' is not supported")
        }
        guard case .strings(let tokens)? = metadata["tokenizer.ggml.tokens"] else {
            throw FormatError(description: "\(url.path): no tokenizer.ggml.tokens")
        }
        var scores: [Float]?
        if case .floats(let values)? = metadata["tokenizer.ggml.scores"] { scores = values }
        var types: [Int32]?
        if case .integers(let values)? = metadata["tokenizer.ggml.token_type"] { types = values.map { Int32($0) } }
        var merges: [String]?
        if case .strings(let values)? = metadata["tokenizer.ggml.merges"] { merges = values }
        return Vocabulary(
            model: model, tokens: tokens, scores: scores, tokenTypes: types, merges: merges,
            preTokenizer: string("tokenizer.ggml.pre"),
            bosTokenID: integer("tokenizer.ggml.bos_token_id"),
            eosTokenID: integer("tokenizer.ggml.eos_token_id"),
            eotTokenID: integer("tokenizer.ggml.eot_token_id"),
            eomTokenID: integer("tokenizer.ggml.eom_token_id"),
            unknownTokenID: integer("tokenizer.ggml.unknown_token_id"),
            paddingTokenID: integer("tokenizer.ggml.padding_token_id"),
            fimPadTokenID: integer("tokenizer.ggml.fim_pad_token_id"),
            fimRepoTokenID: integer("tokenizer.ggml.fim_rep_token_id"),
            fimSeparatorTokenID: integer("tokenizer.ggml.fim_sep_token_id"),
            addBOS: bool("tokenizer.ggml.add_bos_token"),
            addEOS: bool("tokenizer.ggml.add_eos_token"),
            addSpacePrefix: bool("tokenizer.ggml.add_space_prefix"),
            modelName: string("general.name"))
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer {
            guard count >= 0, count <= bytes.count - offset else {
                throw FormatError(description: "truncated GGUF metadata at byte \(offset)")
            }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        }

        mutating func scalar<T: FixedWidthInteger>(_: T.Type) throws -> T {
            T(littleEndian: try take(MemoryLayout<T>.size).loadUnaligned(as: T.self))
        }

        mutating func string() throws -> String {
            let length = try scalar(UInt64.self)
            guard length < UInt64(Int.max) else { throw FormatError(description: "string length \(length)") }
            return String(decoding: try take(Int(length)), as: UTF8.self)
        }
    }

    private static func readMetadata(_ bytes: UnsafeRawBufferPointer) throws -> [String: Value] {
        var reader = Reader(bytes: bytes)
        guard try reader.scalar(UInt32.self) == 0x4655_4747 else { throw FormatError(description: "not a GGUF file") }
        let version = try reader.scalar(UInt32.self)
        guard version == 2 || version == 3 else { throw FormatError(description: "GGUF version \(version)") }
        _ = try reader.scalar(UInt64.self)  // tensor count
        let keyCount = try reader.scalar(UInt64.self)
        var metadata: [String: Value] = [:]
        for _ in 0..<keyCount {
            let key = try reader.string()
            let type = try reader.scalar(UInt32.self)
            metadata[key] = try readValue(type: type, from: &reader)
        }
        return metadata
    }

    private static func readValue(type: UInt32, from reader: inout Reader) throws -> Value {
        switch type {
        case 0: return .integer(Int64(try reader.scalar(UInt8.self)))
        case 1: return .integer(Int64(try reader.scalar(Int8.self)))
        case 2: return .integer(Int64(try reader.scalar(UInt16.self)))
        case 3: return .integer(Int64(try reader.scalar(Int16.self)))
        case 4: return .integer(Int64(try reader.scalar(UInt32.self)))
        case 5: return .integer(Int64(try reader.scalar(Int32.self)))
        case 6: return .float(Double(Float(bitPattern: try reader.scalar(UInt32.self))))
        case 7: return .bool(try reader.scalar(UInt8.self) != 0)
        case 8: return .string(try reader.string())
        case 10: return .integer(Int64(bitPattern: try reader.scalar(UInt64.self)))
        case 11: return .integer(try reader.scalar(Int64.self))
        case 12: return .float(Double(bitPattern: try reader.scalar(UInt64.self)))
        case 9:
            let elementType = try reader.scalar(UInt32.self)
            let count = try reader.scalar(UInt64.self)
            guard count <= UInt64(reader.bytes.count) else { throw FormatError(description: "array of \(count)") }
            switch elementType {
            case 8:
                var strings: [String] = []
                strings.reserveCapacity(Int(count))
                for _ in 0..<count { strings.append(try reader.string()) }
                return .strings(strings)
            case 6:
                let raw = try reader.take(Int(count) * 4)
                return .floats((0..<Int(count)).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
                })
            case 5:
                let raw = try reader.take(Int(count) * 4)
                return .integers((0..<Int(count)).map {
                    Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)))
                })
            default:
                for _ in 0..<count { _ = try readValue(type: elementType, from: &reader) }
                return .skipped
            }
        default:
            throw FormatError(description: "unknown GGUF value type \(type)")
        }
    }
}
