import GGUF
import Testing

/// One broken file per check on the tensor table.
@Suite("Corrupt files: tensor table")
struct CorruptTensorTests {
    /// A file with one metadata key and the given raw tensors.
    private func file(
        alignment: Int = 32, _ build: (inout GGUFWriter) -> Void
    ) -> [UInt8] {
        var writer = GGUFWriter(alignment: alignment)
        writer.add(key: "general.architecture", .string("llama"))
        build(&writer)
        return writer.bytes()
    }

    private func name(_ text: String) -> [UInt8] { Array(text.utf8) }
    private let f32 = GGUFTensorType.f32.rawValue
    private func zeros(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: count) }

    @Test("duplicate tensor names")
    func duplicateTensorName() {
        let bytes = file { writer in
            writer.add(tensor: "blk.0.attn_q.weight", type: .f32, dimensions: [4], data: zeros(16))
            writer.addRaw(tensor: name("blk.0.attn_q.weight"), typeCode: f32, dimensions: [4], data: zeros(16))
        }
        let error = expectGGUFError(.duplicateTensorName, bytes)
        #expect(error?.tensor == "blk.0.attn_q.weight")
        #expect(error?.description.hasPrefix("tensor 'blk.0.attn_q.weight': duplicate") == true)
    }

    @Test("tensor names must be non-empty, valid UTF-8 and at most 63 bytes")
    func invalidTensorNames() {
        let empty = file { $0.addRaw(tensor: [], typeCode: f32, dimensions: [1], data: [0, 0, 0, 0]) }
        expectGGUFError(.invalidTensorName, empty)

        let badUTF8 = file { $0.addRaw(tensor: [0x77, 0xFF], typeCode: f32, dimensions: [1], data: [0, 0, 0, 0]) }
        let utf8Error = expectGGUFError(.invalidTensorName, badUTF8)
        #expect(utf8Error?.description.contains("UTF-8") == true)

        let longName = String(repeating: "n", count: 64)
        let long = file { $0.addRaw(tensor: name(longName), typeCode: f32, dimensions: [1], data: [0, 0, 0, 0]) }
        let longError = expectGGUFError(.invalidTensorName, long)
        #expect(longError?.tensor == longName)

        let fits = file { $0.add(tensor: String(repeating: "n", count: 63), type: .f32, dimensions: [1], data: [0, 0, 0, 0]) }
        #expect((try? openGGUF(fits)) != nil)
    }

    @Test("tensor name length beyond the end of the file")
    func tensorNamePastEnd() {
        var bytes = file { $0.add(tensor: "w", type: .f32, dimensions: [1], data: [0, 0, 0, 0]) }
        let lengthAt = firstIndex(of: le(UInt64(1)) + name("w"), in: bytes)!
        bytes.replaceSubrange(lengthAt..<lengthAt + 8, with: le(UInt64(1) << 20))
        expectGGUFError(.stringTooLong, bytes)
    }

    @Test("number of dimensions outside 1...4", arguments: [0, 5])
    func invalidDimensionCount(count: Int) {
        let bytes = file {
            $0.addRaw(tensor: name("token_embd.weight"), typeCode: f32,
                      dimensions: [UInt64](repeating: 1, count: count), data: [0, 0, 0, 0])
        }
        let error = expectGGUFError(.invalidDimensionCount, bytes)
        #expect(error?.tensor == "token_embd.weight")
        #expect(error?.description.contains("\(count) dimensions") == true)
    }

    @Test("a zero or huge dimension", arguments: [UInt64(0), UInt64(Int64.max) + 1, .max])
    func invalidDimension(dimension: UInt64) {
        let bytes = file {
            $0.addRaw(tensor: name("output.weight"), typeCode: f32, dimensions: [4, dimension], data: [])
        }
        let error = expectGGUFError(.invalidDimension, bytes)
        #expect(error?.tensor == "output.weight")
        #expect(error?.description.contains("dimension 1") == true)
    }

    @Test("element count overflow")
    func elementCountOverflow() {
        let bytes = file {
            $0.addRaw(tensor: name("big"), typeCode: f32, dimensions: [1 << 32, 1 << 32], data: [])
        }
        let error = expectGGUFError(.sizeOverflow, bytes)
        #expect(error?.tensor == "big")
    }

    @Test("byte size overflow with a representable element count")
    func byteSizeOverflow() {
        // 2^62 elements fit in Int, but 8 bytes each do not.
        let bytes = file {
            $0.addRaw(tensor: name("big"), typeCode: GGUFTensorType.f64.rawValue, dimensions: [1 << 31, 1 << 31], data: [])
        }
        let error = expectGGUFError(.sizeOverflow, bytes)
        #expect(error?.description.contains("byte size") == true)
        #expect(error?.tensor == "big")
    }

    @Test("unknown tensor types", arguments: [UInt32(4), 31, 43, 1000])
    func unknownTensorType(code: UInt32) {
        let bytes = file { $0.addRaw(tensor: name("w"), typeCode: code, dimensions: [32], data: zeros(32)) }
        let error = expectGGUFError(.unknownTensorType, bytes)
        #expect(error?.tensor == "w")
        #expect(error?.description.contains("\(code)") == true)
    }

    @Test("first dimension not a multiple of the block size")
    func rowNotBlockAligned() {
        let bytes = file {
            $0.addRaw(tensor: name("blk.3.ffn_up.weight"), typeCode: GGUFTensorType.q4_K.rawValue,
                      dimensions: [128, 2], data: zeros(144))
        }
        let error = expectGGUFError(.rowNotBlockAligned, bytes)
        #expect(error?.tensor == "blk.3.ffn_up.weight")
        #expect(error?.description.contains("256") == true)
    }

    @Test("tensor offset not a multiple of the alignment", arguments: [32, 64])
    func misalignedOffset(alignment: Int) {
        let bytes = file(alignment: alignment) {
            $0.addRaw(tensor: name("w"), typeCode: f32, dimensions: [8], data: zeros(32), offset: 16)
        }
        let error = expectGGUFError(.misalignedTensorOffset, bytes)
        #expect(error?.tensor == "w")
        #expect(error?.description.contains("alignment \(alignment)") == true)
    }

    @Test("tensor data extending past the end of the file")
    func dataPastEnd() throws {
        var writer = GGUFWriter()
        writer.addRaw(tensor: name("blk.0.attn_q.weight"), typeCode: f32, dimensions: [1024], data: zeros(64))
        let bytes = writer.bytes()
        let error = try #require(expectGGUFError(.tensorDataOutOfBounds, bytes))
        // header 24 + name (8 + 19) + dimension count 4 + one dimension 8 + type 4 = the offset field.
        let offsetField = 24 + 8 + 19 + 4 + 8 + 4
        #expect(error.offset == offsetField)
        #expect(error.tensor == "blk.0.attn_q.weight")
        #expect(error.description == "tensor 'blk.0.attn_q.weight': data [offset 0, size 4096] extends past end "
                    + "of file (size \(bytes.count), data section starts at 96) (at byte \(offsetField))")
    }

    @Test("tensor offsets far beyond the file, up to the largest aligned 64-bit value")
    func hugeOffsets() {
        for offset in [UInt64(1) << 40, UInt64(Int64.max) - 31, UInt64.max - 31] {
            let bytes = file {
                $0.addRaw(tensor: name("w"), typeCode: f32, dimensions: [8], data: zeros(32), offset: offset)
            }
            let error = expectGGUFError(.tensorDataOutOfBounds, bytes)
            #expect(error?.tensor == "w")
        }
    }

    @Test("a later tensor is checked too, and a good one before it is not blamed")
    func secondTensorOutOfBounds() {
        let bytes = file {
            $0.add(tensor: "first", type: .f32, dimensions: [8], data: [UInt8](repeating: 1, count: 32))
            $0.addRaw(tensor: name("second"), typeCode: f32, dimensions: [8], data: [UInt8](repeating: 2, count: 32), offset: 64)
        }
        let error = expectGGUFError(.tensorDataOutOfBounds, bytes)
        #expect(error?.tensor == "second")
    }

    @Test("tensor info cut off by the end of the file")
    func truncatedTensorInfo() {
        var writer = GGUFWriter()
        writer.add(tensor: "w", type: .f32, dimensions: [8, 8], data: zeros(256))
        let full = writer.bytes()
        // The count check passes (32 bytes for one minimal info remain), then the type field is
        // cut: 24 + name 9 + dimension count 4 + dimensions 16 = 53, type at 53..<57.
        let error = expectGGUFError(.truncated, Array(full.prefix(56)))
        #expect(error?.tensor == "w")
        #expect(error?.offset == 53)
        #expect(error?.description.contains("tensor type") == true)
    }
}
