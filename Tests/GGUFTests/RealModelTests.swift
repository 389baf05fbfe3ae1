import Foundation
import GGUF
import Testing

/// What gguf-py's GGUFReader (the reference implementation) reports for each test model.
struct ReferenceFacts: Sendable {
    var architecture: String
    var tensorCount: Int
    var keyValueCount: Int
    var dataOffset: Int
    var fileSize: Int
    var parameterCount: Int
    /// Sums over the whole tensor table: byte counts, absolute data offsets, dimension counts.
    var totalBytes: Int
    var totalFileOffsets: Int
    var totalDimensions: Int
    var tensorTypes: [String: Int]
    var fileType: String
    var contextLength: Int
    var embeddingLength: Int
    var blockCount: Int
    var headCount: Int
    var headCountKV: Int
    var tokenizerModel: String
    var tokenizerPre: String
    var vocabularySize: Int
    var hasChatTemplate: Bool
    /// tokens[0], tokens[1], tokens[last] and token_type of the same three.
    var sampleTokens: [String]
    var sampleTokenTypes: [Int32]
    /// The second tensor: name, dimensions, type, absolute offset, bytes.
    var secondTensor: (String, [Int], GGUFTensorType, Int, Int)

    static func of(_ model: RealModel) -> ReferenceFacts {
        switch model {
        case .smollm2:
            ReferenceFacts(
                architecture: "llama", tensorCount: 272, keyValueCount: 33, dataOffset: 1_785_664,
                fileSize: 98_362_432, parameterCount: 134_515_008, totalBytes: 96_576_768,
                totalFileOffsets: 17_705_856_512, totalDimensions: 483,
                tensorTypes: ["Q8_0": 1, "F32": 61, "Q4_1": 210], fileType: "Q4_1", contextLength: 8192,
                embeddingLength: 576, blockCount: 30, headCount: 9, headCountKV: 3, tokenizerModel: "gpt2",
                tokenizerPre: "smollm", vocabularySize: 49152, hasChatTemplate: true,
                sampleTokens: ["<|endoftext|>", "<|im_start|>", "ectable"], sampleTokenTypes: [3, 3, 1],
                secondTensor: ("blk.0.attn_norm.weight", [576], .f32, 31_866_688, 2304))
        case .gemma3:
            ReferenceFacts(
                architecture: "gemma3", tensorCount: 236, keyValueCount: 33, dataOffset: 6_525_120,
                fileSize: 253_113_024, parameterCount: 268_098_176, totalBytes: 246_587_904,
                totalFileOffsets: 51_113_590_528, totalDimensions: 363,
                tensorTypes: ["F32": 109, "Q8_0": 10, "Q5_0": 81, "Q4_K": 27, "Q6_K": 9], fileType: "Q4_K_M",
                contextLength: 32768, embeddingLength: 640, blockCount: 18, headCount: 4, headCountKV: 1,
                tokenizerModel: "llama", tokenizerPre: "default", vocabularySize: 262_144, hasChatTemplate: false,
                sampleTokens: ["<pad>", "<eos>", "<unused6241>"], sampleTokenTypes: [3, 3, 3],
                secondTensor: ("token_embd.weight", [640, 262_144], .q8_0, 6_527_680, 178_257_920))
        case .qwen05:
            ReferenceFacts(
                architecture: "qwen2", tensorCount: 291, keyValueCount: 26, dataOffset: 5_947_776,
                fileSize: 491_400_064, parameterCount: 630_167_424, totalBytes: 485_452_288,
                totalFileOffsets: 107_040_640_128, totalDimensions: 461,
                tensorTypes: ["Q8_0": 13, "Q5_0": 133, "F32": 121, "Q6_K": 12, "Q4_K": 12], fileType: "Q4_K_M",
                contextLength: 32768, embeddingLength: 896, blockCount: 24, headCount: 14, headCountKV: 2,
                tokenizerModel: "gpt2", tokenizerPre: "qwen2", vocabularySize: 151_936, hasChatTemplate: true,
                sampleTokens: ["!", "\"", "[PAD151935]"], sampleTokenTypes: [1, 1, 5],
                secondTensor: ("token_embd.weight", [896, 151_936], .q5_0, 150_590_848, 93_592_576))
        case .qwen15:
            ReferenceFacts(
                architecture: "qwen2", tensorCount: 339, keyValueCount: 26, dataOffset: 5_950_528,
                fileSize: 1_117_320_768, parameterCount: 1_777_088_000, totalBytes: 1_111_370_240,
                totalFileOffsets: 245_506_796_736, totalDimensions: 537,
                tensorTypes: ["Q6_K": 29, "Q4_K": 169, "F32": 141], fileType: "Q4_K_M",
                contextLength: 32768, embeddingLength: 1536, blockCount: 28, headCount: 12, headCountKV: 2,
                tokenizerModel: "gpt2", tokenizerPre: "qwen2", vocabularySize: 151_936, hasChatTemplate: true,
                sampleTokens: ["!", "\"", "[PAD151935]"], sampleTokenTypes: [1, 1, 5],
                secondTensor: ("token_embd.weight", [1536, 151_936], .q4_K, 197_389_888, 131_272_704))
        }
    }
}

@Suite("Real models")
struct RealModelTests {
    @Test("header, tensor table and summary match gguf-py", arguments: RealModel.allCases)
    func parsesLikeTheReference(model: RealModel) throws {
        guard let path = model.locate() else { return }
        let expected = ReferenceFacts.of(model)
        let file = try GGUFFile(path: path)

        #expect(file.version == 3)
        #expect(file.fileSize == expected.fileSize)
        #expect(file.alignment == 32)
        #expect(file.dataOffset == expected.dataOffset)
        #expect(file.metadataKeys.count == expected.keyValueCount)
        #expect(try file.requiredString("general.architecture") == expected.architecture)
        #expect(file.tensors.count == expected.tensorCount)
        #expect(file.tensors.reduce(0) { $0 + $1.byteCount } == expected.totalBytes)
        #expect(file.tensors.reduce(0) { $0 + $1.fileOffset } == expected.totalFileOffsets)
        #expect(file.tensors.reduce(0) { $0 + $1.dimensions.count } == expected.totalDimensions)
        #expect(file.tensors.allSatisfy { $0.fileOffset == file.dataOffset + $0.offset })
        #expect(file.tensors.map(\.fileOffset).max().map { $0 > 0 } == true)

        let (name, dimensions, type, fileOffset, byteCount) = expected.secondTensor
        let second = try #require(file.tensor(named: name))
        #expect(second == file.tensors[1])
        #expect(second.dimensions == dimensions)
        #expect(second.type == type)
        #expect(second.fileOffset == fileOffset)
        #expect(second.byteCount == byteCount)
        #expect(file.data(for: second).count == byteCount)

        // The last tensor ends exactly at the end of the file in all four models.
        let last = try #require(file.tensors.max { $0.fileOffset < $1.fileOffset })
        #expect(last.fileOffset + last.byteCount == file.fileSize)

        let tokens = try #require(try file.array("tokenizer.ggml.tokens"))
        let strings = try #require(tokens.asStrings)
        #expect(strings.count == expected.vocabularySize)
        #expect([strings[0], strings[1], strings[strings.count - 1]] == expected.sampleTokens)
        let tokenTypes = try #require(try file.array("tokenizer.ggml.token_type")?.asInt32s)
        #expect([tokenTypes[0], tokenTypes[1], tokenTypes[tokenTypes.count - 1]] == expected.sampleTokenTypes)

        let summary = GGUFSummary(file)
        #expect(summary.architecture == expected.architecture)
        #expect(summary.name?.isEmpty == false)
        #expect(summary.parameterCount == expected.parameterCount)
        #expect(summary.fileType == expected.fileType)
        #expect(summary.tensorTypes == expected.tensorTypes)
        #expect(summary.contextLength == expected.contextLength)
        #expect(summary.embeddingLength == expected.embeddingLength)
        #expect(summary.blockCount == expected.blockCount)
        #expect(summary.headCount == expected.headCount)
        #expect(summary.headCountKV == expected.headCountKV)
        #expect(summary.tokenizerModel == expected.tokenizerModel)
        #expect(summary.tokenizerPre == expected.tokenizerPre)
        #expect(summary.vocabularySize == expected.vocabularySize)
        #expect(summary.hasChatTemplate == expected.hasChatTemplate)
        #expect(summary.fileSize == expected.fileSize)
        #expect(summary.version == 3)
        #expect(summary.tensorCount == expected.tensorCount)
    }

    @Test("smollm2 details: floats, bools, merges, a string array and tensor bytes")
    func smollm2Details() throws {
        guard let path = RealModel.smollm2.locate() else { return }
        let file = try GGUFFile(path: path)
        #expect(file["llama.rope.freq_base"] == .float32(100_000))
        #expect(try file.requiredFloat("llama.attention.layer_norm_rms_epsilon") == Double(Float(1e-5)))
        #expect(try file.bool("tokenizer.ggml.add_bos_token") == false)
        #expect(file["general.languages"]?.asArray?.asStrings == ["en"])
        #expect(try file.requiredInt("general.file_type") == 3)
        let merges = try #require(try file.array("tokenizer.ggml.merges")?.asStrings)
        #expect(merges.count == 48_900)
        #expect(merges.first == "Ġ t" && merges.last == "ect able")
        #expect(try file.requiredString("tokenizer.chat_template").utf8.count == 368)

        // output_norm.weight is F32 and ends the file: its bytes are plausible floats.
        let norm = try #require(file.tensor(named: "output_norm.weight"))
        let raw = file.data(for: norm)
        let floats = (0..<raw.count / 4).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        #expect(floats.count == 576)
        #expect(floats.allSatisfy { $0.isFinite && abs($0) < 100 })
    }

    @Test("gemma3 scores array is parsed as compact floats")
    func gemma3Scores() throws {
        guard let path = RealModel.gemma3.locate() else { return }
        let file = try GGUFFile(path: path)
        let scores = try #require(try file.array("tokenizer.ggml.scores"))
        #expect(scores.elementType == .float32)
        let floats = try #require(scores.asFloats)
        #expect(floats.count == 262_144)
        #expect([floats[0], floats[1], floats[1000], floats[262_143]] == [-1000, -1000, -506, -1000])
    }

    @Test("opening the 1.5B model (151k-token vocabulary) is fast")
    func headerParseSpeed() throws {
        guard let path = RealModel.qwen15.locate() else { return }
        _ = try GGUFFile(path: path)  // warm the page cache
        let clock = ContinuousClock()
        var file: GGUFFile?
        let open = try clock.measure { file = try GGUFFile(path: path) }
        var tokens: [String]?
        let decode = clock.measure { tokens = file?["tokenizer.ggml.tokens"]?.asArray?.asStrings }
        print("qwen2.5-coder:1.5b: open + parse header \(open), decode 151936 token strings \(decode)")
        #expect(tokens?.count == 151_936)
        // "Well under a second" on an idle machine; the bound leaves room for a loaded CI box.
        #expect(open < .seconds(1), "opening took \(open)")
    }
}
