import GGUF
import Testing

@Suite("Tensor and file type tables")
struct TypeTableTests {
    /// (code, name, block size, bytes per block), copied from gguf-py's GGML_QUANT_SIZES and
    /// checked against the static_asserts in ggml-common.h.
    static let ggmlTable: [(UInt32, String, Int, Int)] = [
        (0, "F32", 1, 4), (1, "F16", 1, 2), (2, "Q4_0", 32, 18), (3, "Q4_1", 32, 20),
        (6, "Q5_0", 32, 22), (7, "Q5_1", 32, 24), (8, "Q8_0", 32, 34), (9, "Q8_1", 32, 36),
        (10, "Q2_K", 256, 84), (11, "Q3_K", 256, 110), (12, "Q4_K", 256, 144), (13, "Q5_K", 256, 176),
        (14, "Q6_K", 256, 210), (15, "Q8_K", 256, 292), (16, "IQ2_XXS", 256, 66), (17, "IQ2_XS", 256, 74),
        (18, "IQ3_XXS", 256, 98), (19, "IQ1_S", 256, 50), (20, "IQ4_NL", 32, 18), (21, "IQ3_S", 256, 110),
        (22, "IQ2_S", 256, 82), (23, "IQ4_XS", 256, 136), (24, "I8", 1, 1), (25, "I16", 1, 2),
        (26, "I32", 1, 4), (27, "I64", 1, 8), (28, "F64", 1, 8), (29, "IQ1_M", 256, 56),
        (30, "BF16", 1, 2), (34, "TQ1_0", 256, 54), (35, "TQ2_0", 256, 66), (39, "MXFP4", 32, 17),
        (40, "NVFP4", 64, 36), (41, "Q1_0", 128, 18), (42, "Q2_0", 64, 18),
    ]

    @Test("every ggml type has the right code, name, block size and block bytes")
    func tensorTypes() throws {
        #expect(GGUFTensorType.allCases.count == Self.ggmlTable.count)
        for (code, name, block, bytes) in Self.ggmlTable {
            let type = try #require(GGUFTensorType(rawValue: code), "code \(code)")
            #expect(type.name == name)
            #expect(type.blockSize == block, "\(name)")
            #expect(type.bytesPerBlock == bytes, "\(name)")
            #expect(GGUFTensorType(name: name.lowercased()) == type)
        }
        for removed: UInt32 in [4, 5, 31, 32, 33, 36, 37, 38, 43] {
            #expect(GGUFTensorType(rawValue: removed) == nil)
        }
        #expect(GGUFTensorType.q4_K.isQuantized && !GGUFTensorType.bf16.isQuantized)
    }

    @Test("llama_ftype names")
    func fileTypes() {
        let expected: [(Int, String, String)] = [
            (0, "F32", "all F32"), (1, "F16", "F16"), (2, "Q4_0", "Q4_0"), (3, "Q4_1", "Q4_1"),
            (7, "Q8_0", "Q8_0"), (8, "Q5_0", "Q5_0"), (9, "Q5_1", "Q5_1"), (10, "Q2_K", "Q2_K - Medium"),
            (11, "Q3_K_S", "Q3_K - Small"), (12, "Q3_K_M", "Q3_K - Medium"), (13, "Q3_K_L", "Q3_K - Large"),
            (14, "Q4_K_S", "Q4_K - Small"), (15, "Q4_K_M", "Q4_K - Medium"), (16, "Q5_K_S", "Q5_K - Small"),
            (17, "Q5_K_M", "Q5_K - Medium"), (18, "Q6_K", "Q6_K"), (32, "BF16", "BF16"),
            (38, "MXFP4_MOE", "MXFP4 MoE"),
        ]
        for (code, name, long) in expected {
            #expect(GGUFFileType(rawValue: code)?.name == name)
            #expect(GGUFFileType(rawValue: code)?.description == long)
        }
        for removed in [4, 5, 6, 33, 34, 35] {
            #expect(GGUFFileType(rawValue: removed) == nil)
        }
    }
}
