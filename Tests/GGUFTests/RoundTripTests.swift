import Foundation
import GGUF
import Testing

/// One value of every scalar type plus arrays of every element type, nested arrays and edge cases.
let everyValue: [(String, GGUFValue)] = [
    ("t.uint8", .uint8(250)),
    ("t.int8", .int8(-7)),
    ("t.uint16", .uint16(65_000)),
    ("t.int16", .int16(-32_000)),
    ("t.uint32", .uint32(4_000_000_000)),
    ("t.int32", .int32(-2_000_000_000)),
    ("t.float32", .float32(3.25)),
    ("t.bool.true", .bool(true)),
    ("t.bool.false", .bool(false)),
    ("t.string", .string("héllo, wörld ✓ 🦙")),
    ("t.string.empty", .string("")),
    ("t.uint64", .uint64(UInt64.max)),
    ("t.int64", .int64(Int64.min)),
    ("t.float64", .float64(-1.0e-300)),
    ("a.uint8", .array(GGUFArray(uint8s: [0, 1, 255]))),
    ("a.int8", .array(GGUFArray(int8s: [-128, 0, 127]))),
    ("a.uint16", .array(GGUFArray(uint16s: [1, 65_535]))),
    ("a.int16", .array(GGUFArray(int16s: [-1, 300]))),
    ("a.uint32", .array(GGUFArray(uint32s: [7, 4_000_000_000]))),
    ("a.int32", .array(GGUFArray(int32s: [1, -2, 3]))),
    ("a.float32", .array(GGUFArray(float32s: [0.5, -1.5, 1e30]))),
    ("a.bool", .array(GGUFArray(bools: [true, false, true]))),
    ("a.string", .array(GGUFArray(strings: ["a", "", "ünï", "<|im_start|>"]))),
    ("a.uint64", .array(GGUFArray(uint64s: [0, UInt64.max]))),
    ("a.int64", .array(GGUFArray(int64s: [Int64.min, 5]))),
    ("a.float64", .array(GGUFArray(float64s: [2.5, -0.0]))),
    ("a.empty.int32", .array(GGUFArray(int32s: []))),
    ("a.empty.string", .array(GGUFArray(strings: []))),
    ("a.nested", .array(GGUFArray(arrays: [
        GGUFArray(int32s: [1, 2]),
        GGUFArray(strings: ["x", "y", "z"]),
        GGUFArray(arrays: [GGUFArray(float64s: [9.5]), GGUFArray(bools: [])]),
        GGUFArray(arrays: []),
    ]))),
]

@Suite("Writer → reader round trips")
struct RoundTripTests {
    @Test("every value type survives a round trip", arguments: [UInt32(2), 3])
    func everyValueType(version: UInt32) throws {
        var writer = GGUFWriter(version: version)
        for (key, value) in everyValue {
            writer.add(key: key, value)
        }
        let file = try openGGUF(writer.bytes())
        #expect(file.version == version)
        #expect(file.metadataKeys == everyValue.map(\.0))
        for (key, value) in everyValue {
            #expect(file[key] == value, "key \(key)")
            #expect(file[key]?.type == value.type)
        }
        #expect(file.tensors.isEmpty)
        #expect(file.alignment == 32)
    }

    @Test("nested arrays keep their structure and element types")
    func nestedArrays() throws {
        var writer = GGUFWriter()
        writer.add(key: "a.nested", everyValue.first { $0.0 == "a.nested" }!.1)
        let file = try openGGUF(writer.bytes())
        let outer = try #require(file["a.nested"]?.asArray)
        #expect(outer.elementType == .array)
        #expect(outer.count == 4)
        let inner = try #require(outer.asArrays)
        #expect(inner[0].asInt32s == [1, 2])
        #expect(inner[1].asStrings == ["x", "y", "z"])
        #expect(inner[2].asArrays?[0].asDoubles == [9.5])
        #expect(inner[2].asArrays?[1].elementType == .bool)
        #expect(inner[3].isEmpty && inner[3].elementType == .array)
    }

    @Test("typed array accessors convert only when every value fits")
    func arrayAccessors() {
        #expect(GGUFArray(uint8s: [1, 2]).asInt32s == [1, 2])
        #expect(GGUFArray(uint32s: [4_000_000_000]).asInt32s == nil)
        #expect(GGUFArray(uint32s: [4_000_000_000]).asInts == [4_000_000_000])
        #expect(GGUFArray(uint64s: [UInt64.max]).asInts == nil)
        #expect(GGUFArray(float64s: [0.5]).asFloats == [0.5])
        #expect(GGUFArray(float32s: [0.5]).asInts == nil)
        #expect(GGUFArray(strings: ["a"]).asFloats == nil)
        #expect(GGUFArray(strings: ["ab", "ç"]).stringBytes(at: 1).map(Array.init) == [0xC3, 0xA7])
        #expect(GGUFArray(int32s: [5, 6])[1] == .int32(6))
        #expect(GGUFArray(strings: ["p", "q"]).values == [.string("p"), .string("q")])
        #expect(GGUFArray(int32s: Array(0..<10)).description == "[10 × int32: 0, 1, 2, 3, …]")
    }

    @Test("scalar accessors: asInt range-checks, asFloat widens")
    func valueAccessors() {
        #expect(GGUFValue.uint8(3).asInt == 3)
        #expect(GGUFValue.int64(-9).asInt == -9)
        #expect(GGUFValue.uint64(UInt64.max).asInt == nil)
        #expect(GGUFValue.float32(1.5).asInt == nil)
        #expect(GGUFValue.float32(1.5).asFloat == 1.5)
        #expect(GGUFValue.uint32(7).asFloat == 7)
        #expect(GGUFValue.string("7").asInt == nil)
        #expect(GGUFValue.string("s").asString == "s")
        #expect(GGUFValue.bool(true).asBool == true)
        #expect(GGUFValue.int8(1).asBool == nil)
        #expect(GGUFValue.array(GGUFArray(bools: [])).asArray?.elementType == .bool)
    }

    @Test("invalid UTF-8 in a string value is repaired, not rejected")
    func lossyStringValues() throws {
        var writer = GGUFWriter()
        writer.addRaw(key: Array("bad.value".utf8), typeCode: GGUFValueType.string.rawValue,
                      payload: le(UInt64(3)) + [0x61, 0xFF, 0x62])
        let file = try openGGUF(writer.bytes())
        #expect(file["bad.value"] == .string("a\u{FFFD}b"))
    }

    @Test("tensors: offsets, alignment, data and derived sizes", arguments: [32, 64, 4096])
    func tensors(alignment: Int) throws {
        var writer = GGUFWriter(alignment: alignment)
        writer.add(key: "general.architecture", .string("test"))
        let q4 = (0..<(GGUFTensorType.q4_K.bytesPerBlock * 3)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let f32 = (0..<20).map { UInt8($0) }
        writer.add(tensor: "blk.0.w", type: .q4_K, dimensions: [256, 3], data: q4)
        writer.add(tensor: "norm", type: .f32, dimensions: [5], data: f32)
        writer.add(tensor: "cube", type: .f16, dimensions: [2, 3, 4, 1], data: [UInt8](repeating: 9, count: 48))
        let file = try openGGUF(writer.bytes())

        #expect(file.alignment == alignment)
        #expect(file.dataOffset % alignment == 0)
        #expect(file.tensors.map(\.name) == ["blk.0.w", "norm", "cube"])
        let w = try #require(file.tensor(named: "blk.0.w"))
        #expect(w.dimensions == [256, 3] && w.type == .q4_K && w.elementCount == 768)
        #expect(w.byteCount == 3 * 144 && w.rowCount == 3 && w.bytesPerRow == 144)
        #expect(w.offset == 0 && w.fileOffset == file.dataOffset)
        #expect(Array(file.data(for: w)) == q4)
        let norm = try #require(file.tensor(named: "norm"))
        #expect(norm.offset % alignment == 0 && norm.offset >= w.byteCount)
        #expect(norm.fileOffset == file.dataOffset + norm.offset)
        #expect(Array(file.data(for: norm)) == f32)
        let cube = try #require(file.tensor(named: "cube"))
        #expect(cube.elementCount == 24 && cube.byteCount == 48)
        #expect(Array(file.data(for: cube)) == [UInt8](repeating: 9, count: 48))
        #expect(file.tensor(named: "missing") == nil)
        if alignment != 32 {
            #expect(file["general.alignment"] == .uint32(UInt32(alignment)))
        }
    }

    @Test("a v2 file with tensors reads like v3")
    func version2WithTensors() throws {
        var writer = GGUFWriter(version: 2)
        writer.add(key: "general.architecture", .string("llama"))
        writer.add(tensor: "t", type: .q8_0, dimensions: [64], data: tensorData(.q8_0, rows: 2, fill: 1))
        let file = try openGGUF(writer.bytes())
        #expect(file.version == 2)
        #expect(file.tensors.first?.byteCount == 68)
        #expect(file.data(for: file.tensors[0]).allSatisfy { $0 == 1 })
    }

    @Test("adding a key twice replaces its value in place")
    func replacingKeys() throws {
        var writer = GGUFWriter()
        writer.add(key: "a", .uint32(1))
        writer.add(key: "b", .uint32(2))
        writer.add(key: "a", .string("again"))
        let file = try openGGUF(writer.bytes())
        #expect(file.metadataKeys == ["a", "b"])
        #expect(file["a"] == .string("again"))
    }

    @Test("typed getters name the key when it is missing or has the wrong type")
    func typedGetters() throws {
        var writer = GGUFWriter()
        writer.add(key: "n", .uint16(12))
        writer.add(key: "s", .string("text"))
        writer.add(key: "f", .float32(0.25))
        writer.add(key: "b", .bool(true))
        writer.add(key: "big", .uint64(UInt64.max))
        writer.add(key: "list", .array(GGUFArray(int32s: [1])))
        let file = try openGGUF(writer.bytes())

        #expect(try file.requiredInt("n") == 12)
        #expect(try file.requiredString("s") == "text")
        #expect(try file.requiredFloat("f") == 0.25)
        #expect(try file.requiredFloat("n") == 12)
        #expect(try file.requiredBool("b"))
        #expect(try file.requiredArray("list").asInt32s == [1])
        #expect(try file.int("absent") == nil)
        #expect(try file.string("absent") == nil)
        #expect(try file.float("absent") == nil)

        let missing = #expect(throws: GGUFError.self) { try file.requiredInt("absent") }
        #expect(missing?.kind == .missingKey)
        #expect(missing?.key == "absent")
        #expect(missing?.description.contains("'absent'") == true)

        let wrong = #expect(throws: GGUFError.self) { try file.requiredString("n") }
        #expect(wrong?.kind == .wrongValueType)
        #expect(wrong?.description == "key 'n': expected a string, found uint16 12")
        #expect((try? file.int("big")) == nil)
        #expect(throws: GGUFError.self) { try file.int("s") }
        #expect(throws: GGUFError.self) { try file.float("s") }
    }

    @Test("write(to:) produces the same file as bytes()")
    func writeToDisk() throws {
        var writer = GGUFWriter()
        writer.add(key: "general.architecture", .string("llama"))
        writer.add(tensor: "w", type: .f32, dimensions: [3], data: [UInt8](repeating: 0, count: 12))
        let scratch = try ScratchDirectory()
        let path = scratch.path("w.gguf")
        try writer.write(to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(writer.bytes()))
        let file = try GGUFFile(path: path)
        #expect(file.path == path)
        #expect(file.fileSize == writer.bytes().count)
        #expect(file.bytes.count == file.fileSize)

        let bad = #expect(throws: GGUFError.self) { try writer.write(to: scratch.path("no/such/dir/x.gguf")) }
        #expect(bad?.kind == .io)
    }

    @Test("summary of a synthetic model")
    func summary() throws {
        var writer = GGUFWriter()
        writer.add(key: "general.architecture", .string("llama"))
        writer.add(key: "general.name", .string("Tiny"))
        writer.add(key: "llama.context_length", .uint32(2048))
        writer.add(key: "llama.embedding_length", .uint64(64))
        writer.add(key: "llama.block_count", .int32(2))
        writer.add(key: "llama.attention.head_count", .array(GGUFArray(uint32s: [4, 0, 8])))
        writer.add(key: "llama.vocab_size", .uint32(99))
        writer.add(key: "tokenizer.ggml.model", .string("llama"))
        writer.add(tensor: "a.weight", type: .q4_0, dimensions: [32, 2], data: tensorData(.q4_0, rows: 2))
        writer.add(tensor: "b.weight", type: .q4_0, dimensions: [64, 1], data: tensorData(.q4_0, rows: 2))
        writer.add(tensor: "c.weight", type: .q8_0, dimensions: [32, 1], data: tensorData(.q8_0))
        writer.add(tensor: "n1", type: .f32, dimensions: [7], data: [UInt8](repeating: 0, count: 28))
        writer.add(tensor: "n2", type: .f32, dimensions: [7], data: [UInt8](repeating: 0, count: 28))
        writer.add(tensor: "n3", type: .f32, dimensions: [7], data: [UInt8](repeating: 0, count: 28))
        let summary = GGUFSummary(try openGGUF(writer.bytes()))
        #expect(summary.architecture == "llama")
        #expect(summary.name == "Tiny")
        #expect(summary.parameterCount == 64 + 64 + 32 + 21)
        // No general.file_type: the most common matrix type wins, 1-D F32 norms do not vote.
        #expect(summary.fileType == "Q4_0")
        #expect(summary.tensorTypes == ["Q4_0": 2, "Q8_0": 1, "F32": 3])
        #expect(summary.contextLength == 2048)
        #expect(summary.embeddingLength == 64)
        #expect(summary.blockCount == 2)
        #expect(summary.headCount == 8)
        #expect(summary.headCountKV == nil)
        #expect(summary.tokenizerModel == "llama")
        #expect(summary.tokenizerPre == nil)
        #expect(summary.vocabularySize == 99)
        #expect(summary.hasChatTemplate == false)
        #expect(summary.tensorCount == 6)
        #expect(summary.version == 3)

        let encoded = try JSONEncoder().encode(summary)
        #expect(try JSONDecoder().decode(GGUFSummary.self, from: encoded) == summary)
    }

    @Test("summary file type names come from general.file_type")
    func summaryFileType() throws {
        for (code, name) in [(15, "Q4_K_M"), (3, "Q4_1"), (0, "F32"), (32, "BF16"), (999, "unknown (999)")] {
            var writer = GGUFWriter()
            writer.add(key: "general.file_type", .uint32(UInt32(code)))
            #expect(GGUFSummary(try openGGUF(writer.bytes())).fileType == name)
        }
    }
}
