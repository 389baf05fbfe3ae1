import Foundation
import GGUF
import Testing

/// One broken file per check on the fixed header and the metadata section.
@Suite("Corrupt files: header and metadata")
struct CorruptHeaderTests {
    private func minimal(_ build: (inout GGUFWriter) -> Void = { _ in }) -> [UInt8] {
        var writer = GGUFWriter()
        writer.add(key: "general.architecture", .string("llama"))
        build(&writer)
        return writer.bytes()
    }

    @Test("files too short for the header")
    func tooShort() {
        let empty = expectGGUFError(.truncated, [])
        #expect(empty?.offset == 0)
        expectGGUFError(.truncated, Array("GG".utf8))
        let cut = expectGGUFError(.truncated, Array(minimal().prefix(20)))
        #expect(cut?.description.contains("key-value count") == true)
        #expect(cut?.offset == 16)
    }

    @Test("wrong magic")
    func badMagic() {
        var writer = GGUFWriter()
        writer.rawMagic = Array("GGML".utf8)
        let error = expectGGUFError(.badMagic, writer.bytes())
        #expect(error?.offset == 0)
        #expect(error?.description.contains("47 47 4d 4c") == true)
    }

    @Test("unsupported versions", arguments: [UInt32(0), 1, 4, 0x0300_0000, .max])
    func unsupportedVersion(version: UInt32) {
        var writer = GGUFWriter(version: version)
        writer.add(key: "a", .uint8(1))
        let error = expectGGUFError(.unsupportedVersion, writer.bytes())
        #expect(error?.offset == 4)
        #expect(error?.description.contains("version") == true)
        if version == 0x0300_0000 {
            #expect(error?.description.contains("big-endian") == true)
        }
    }

    @Test("key-value count that cannot fit in the file")
    func keyValueCountTooLarge() {
        var writer = GGUFWriter()
        writer.add(key: "a", .uint8(1))
        writer.rawKeyValueCount = UInt64.max
        let error = expectGGUFError(.countTooLarge, writer.bytes())
        #expect(error?.offset == 16)
        #expect(error?.description.contains("key-value") == true)

        // Just one more than fits: a 14-byte pair leaves room for only one 13-byte minimum.
        writer.rawKeyValueCount = 2
        expectGGUFError(.countTooLarge, writer.bytes())
    }

    @Test("tensor count that cannot fit, before and after reading the metadata")
    func tensorCountTooLarge() {
        var huge = GGUFWriter()
        huge.rawTensorCount = 1 << 60
        let early = expectGGUFError(.countTooLarge, huge.bytes())
        #expect(early?.offset == 8)
        #expect(early?.description.contains("tensor") == true)

        // Enough bytes for one 32-byte tensor info only while the metadata is assumed minimal.
        var writer = GGUFWriter()
        writer.add(key: "k", .string(String(repeating: "x", count: 40)))
        writer.rawTensorCount = 2
        var bytes = writer.bytes()
        bytes += [UInt8](repeating: 0, count: 40)
        let late = expectGGUFError(.countTooLarge, bytes)
        #expect(late?.offset == 8)
    }

    @Test("string length beyond the end of the file names the key")
    func stringPastEnd() {
        var writer = GGUFWriter()
        writer.addRaw(key: Array("general.name".utf8), typeCode: GGUFValueType.string.rawValue,
                      payload: le(UInt64(1000)) + Array("short".utf8))
        let error = expectGGUFError(.stringTooLong, writer.bytes())
        #expect(error?.key == "general.name")
        #expect(error?.description.hasPrefix("key 'general.name': string of 1000 bytes extends past end") == true)
        #expect(error?.offset == 24 + 8 + 12 + 4)
    }

    @Test("string length beyond the sanity limit")
    func stringOverLimit() {
        var writer = GGUFWriter()
        writer.addRaw(key: Array("k".utf8), typeCode: GGUFValueType.string.rawValue, payload: le(UInt64(1) << 40))
        let error = expectGGUFError(.stringTooLong, writer.bytes())
        #expect(error?.description.contains("limit") == true)
        #expect(error?.key == "k")
    }

    @Test("key length beyond the end of the file or the 65535-byte limit")
    func keyTooLong() {
        var pastEnd = GGUFWriter()
        pastEnd.add(key: "a", .uint8(1))
        var bytes = pastEnd.bytes()
        bytes.replaceSubrange(24..<32, with: le(UInt64(500)))
        expectGGUFError(.stringTooLong, bytes)

        var long = GGUFWriter()
        long.add(key: String(repeating: "k", count: 70_000), .uint8(1))
        let error = expectGGUFError(.stringTooLong, long.bytes())
        #expect(error?.description.contains("65535") == true)
    }

    @Test("keys must be non-empty valid UTF-8")
    func invalidKeys() {
        var badUTF8 = GGUFWriter()
        badUTF8.addRaw(key: [0x67, 0xC3, 0x28], typeCode: GGUFValueType.uint8.rawValue, payload: [1])
        let error = expectGGUFError(.invalidKey, badUTF8.bytes())
        #expect(error?.description.contains("UTF-8") == true)
        #expect(error?.offset == 24)

        var empty = GGUFWriter()
        empty.addRaw(key: [], typeCode: GGUFValueType.uint8.rawValue, payload: [1])
        expectGGUFError(.invalidKey, empty.bytes())
    }

    @Test("duplicate keys")
    func duplicateKey() {
        var writer = GGUFWriter()
        writer.add(key: "llama.block_count", .uint32(30))
        writer.addRaw(key: Array("llama.block_count".utf8), typeCode: GGUFValueType.uint32.rawValue, payload: le(UInt32(31)))
        let error = expectGGUFError(.duplicateKey, writer.bytes())
        #expect(error?.key == "llama.block_count")
        #expect(error?.description.contains("'llama.block_count'") == true)
    }

    @Test("control characters in names are escaped so the message stays on one line")
    func controlCharactersEscaped() {
        var writer = GGUFWriter()
        writer.add(key: "evil\nkey\u{1B}[2J", .uint8(1))
        writer.addRaw(key: Array("evil\nkey\u{1B}[2J".utf8), typeCode: GGUFValueType.uint8.rawValue, payload: [1])
        let error = expectGGUFError(.duplicateKey, writer.bytes())
        #expect(error?.key == "evil\nkey\u{1B}[2J")
        #expect(error?.description.hasPrefix("key 'evil\\nkey\\u{1B}[2J': duplicate key") == true)
    }

    @Test("unknown value types, also as array elements")
    func unknownValueType() {
        var scalar = GGUFWriter()
        scalar.addRaw(key: Array("weird".utf8), typeCode: 13, payload: [0, 0, 0, 0])
        let error = expectGGUFError(.unknownValueType, scalar.bytes())
        #expect(error?.key == "weird")
        #expect(error?.description.contains("13") == true)

        var element = GGUFWriter()
        element.addRaw(key: Array("list".utf8), typeCode: GGUFValueType.array.rawValue,
                       payload: le(UInt32(77)) + le(UInt64(1)) + [0, 0, 0, 0])
        let inner = expectGGUFError(.unknownValueType, element.bytes())
        #expect(inner?.key == "list")
    }

    @Test("bool bytes other than 0 and 1")
    func invalidBool() {
        var scalar = GGUFWriter()
        scalar.addRaw(key: Array("flag".utf8), typeCode: GGUFValueType.bool.rawValue, payload: [2])
        let error = expectGGUFError(.invalidBool, scalar.bytes())
        #expect(error?.key == "flag")

        var array = GGUFWriter()
        array.addRaw(key: Array("flags".utf8), typeCode: GGUFValueType.array.rawValue,
                     payload: le(GGUFValueType.bool.rawValue) + le(UInt64(3)) + [1, 0, 255])
        let inArray = expectGGUFError(.invalidBool, array.bytes())
        #expect(inArray?.key == "flags")
    }

    @Test("array counts beyond the file or the limit")
    func arrayTooLarge() {
        // 1000 uint32s need 4000 bytes; the file holds a dozen.
        var short = GGUFWriter()
        short.addRaw(key: Array("tokenizer.ggml.scores".utf8), typeCode: GGUFValueType.array.rawValue,
                     payload: le(GGUFValueType.uint32.rawValue) + le(UInt64(1000)) + [0, 0, 0, 0, 0, 0, 0, 0])
        let error = expectGGUFError(.arrayTooLarge, short.bytes())
        #expect(error?.key == "tokenizer.ggml.scores")

        // Strings need at least their 8-byte length each.
        var strings = GGUFWriter()
        strings.addRaw(key: Array("tokens".utf8), typeCode: GGUFValueType.array.rawValue,
                       payload: le(GGUFValueType.string.rawValue) + le(UInt64(10)) + [UInt8](repeating: 0, count: 72))
        expectGGUFError(.arrayTooLarge, strings.bytes())

        var huge = GGUFWriter()
        huge.addRaw(key: Array("tokens".utf8), typeCode: GGUFValueType.array.rawValue,
                    payload: le(GGUFValueType.uint8.rawValue) + le(UInt64.max))
        let over = expectGGUFError(.arrayTooLarge, huge.bytes())
        #expect(over?.description.contains("limit") == true)
    }

    @Test("a string inside an array running past the end")
    func arrayStringPastEnd() {
        var writer = GGUFWriter()
        writer.addRaw(key: Array("tokens".utf8), typeCode: GGUFValueType.array.rawValue,
                      payload: le(GGUFValueType.string.rawValue) + le(UInt64(2)) + le(UInt64(1)) + [0x41]
                        + le(UInt64(99)) + [0x42])
        let error = expectGGUFError(.stringTooLong, writer.bytes())
        #expect(error?.key == "tokens")
    }

    @Test("arrays nested too deeply")
    func arrayTooDeep() {
        func nested(_ depth: Int) -> GGUFArray {
            depth == 1 ? GGUFArray(int8s: [1]) : GGUFArray(arrays: [nested(depth - 1)])
        }
        var ok = GGUFWriter()
        ok.add(key: "deep", .array(nested(GGUFLimits.maxArrayDepth)))
        #expect((try? openGGUF(ok.bytes())) != nil)

        var tooDeep = GGUFWriter()
        tooDeep.add(key: "deep", .array(nested(GGUFLimits.maxArrayDepth + 1)))
        let error = expectGGUFError(.arrayTooDeep, tooDeep.bytes())
        #expect(error?.key == "deep")
    }

    @Test("general.alignment must be a uint32 power of two in range",
          arguments: [GGUFValue.int32(32), .uint64(32), .string("32"), .uint32(0), .uint32(48), .uint32(1 << 24)])
    func invalidAlignment(value: GGUFValue) {
        var writer = GGUFWriter()
        writer.add(key: "general.alignment", value)
        let error = expectGGUFError(.invalidAlignment, writer.bytes())
        #expect(error?.key == "general.alignment")
        #expect(error?.description.hasPrefix("key 'general.alignment': ") == true)
    }

    @Test("a value cut off by the end of the file names its key")
    func truncatedValue() {
        var writer = GGUFWriter()
        writer.add(key: "llama.rope.freq_base", .float64(10_000))
        let bytes = Array(writer.bytes().dropLast(3))
        let error = expectGGUFError(.truncated, bytes)
        #expect(error?.key == "llama.rope.freq_base")
        #expect(error?.description.contains("float64 value") == true)
    }

    @Test("open failures are io errors naming the path")
    func ioErrors() throws {
        let missing = "/nonexistent/dir/model.gguf"
        let error = #expect(throws: GGUFError.self) { try GGUFFile(path: missing) }
        #expect(error?.kind == .io)
        #expect(error?.path == missing)
        #expect(error?.description.contains(missing) == true)

        let scratch = try ScratchDirectory()
        let directory = #expect(throws: GGUFError.self) { try GGUFFile(path: scratch.url.path) }
        #expect(directory?.kind == .io)
        #expect(directory?.description.contains("not a regular file") == true)
    }

    @Test("errors carry the path of the file they came from")
    func errorsCarryPath() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.path("bad.gguf")
        try Data("nope, not gguf".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: GGUFError.self) { try GGUFFile(path: path) }
        #expect(error?.path == path)
        #expect(error?.kind == .badMagic)
    }
}
