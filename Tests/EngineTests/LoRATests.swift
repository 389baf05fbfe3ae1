import Engine
import Foundation
import GGUF
import Kernels
import Models
import Testing

/// LoRA adapters (`--lora`) on smollm2:135m: llama.cpp's greedy continuations with the same
/// adapter, an adapter that adds nothing changes nothing, and bad adapters are refused by name.
@Suite(.serialized) struct LoRATests {
    struct Golden: Decodable {
        struct Case: Decodable {
            let prompt: String
            let llama_cpp: String
            let tie_after: String?
        }
        let cases: [Case]
    }

    /// The adapter `scripts/test` writes with scripts/make-lora-adapter.py (see the fixture).
    func goldenAdapter() throws -> String {
        let home = try #require(ProcessInfo.processInfo.environment["HEARTH_TEST_HOME"], "HEARTH_TEST_HOME is not set (run scripts/test)")
        let path = home + "/smollm2-lora.gguf"
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: scripts/test writes it with scripts/make-lora-adapter.py")
        return path
    }

    func continuation(_ loaded: LoadedModel, _ prompt: String, tokens: Int = 24) throws -> String {
        let session = try loaded.makeSession(contextLength: 256)
        let result = try session.generate(prompt: loaded.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true),
                                          options: GenerationOptions(maxTokens: tokens, sampling: .greedy))
        return result.text
    }

    @Test func greedyContinuationsAreLlamaCppsWithTheSameAdapter() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/lora-golden", withExtension: "json"))
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
        let model = try testModelPath("smollm2:135m")
        let adapted = try LoadedModel(path: model, threads: 2, adapters: [LoRAAdapter(path: try goldenAdapter())])
        let plain = try LoadedModel(path: model, threads: 2)
        for item in golden.cases {
            let ours = try continuation(adapted, item.prompt)
            if let tie = item.tie_after {
                #expect(ours.hasPrefix(tie) && item.llama_cpp.hasPrefix(tie), "\(item.prompt): \(ours.debugDescription)")
            } else {
                #expect(ours == item.llama_cpp, "\(item.prompt)")
            }
            #expect(try continuation(plain, item.prompt) != ours, "the adapter changes the answer to \(item.prompt.debugDescription)")
        }
    }

    /// A GGUF adapter for smollm2 written here: `pairs` of (tensor, lora_a dims, lora_b dims).
    func writeAdapter(_ pairs: [(String, [Int], [Int])], type: String = "adapter", architecture: String = "llama",
                      tensorType: GGUFTensorType = .f32, zeroB: Bool = false) throws -> String {
        var writer = GGUFWriter()
        writer.add(key: "general.architecture", .string(architecture))
        writer.add(key: "general.type", .string(type))
        writer.add(key: "adapter.type", .string("lora"))
        writer.add(key: "adapter.lora.alpha", .float32(8))
        func values(_ count: Int, zero: Bool) -> [UInt8] {
            var bytes: [UInt8] = []
            for index in 0..<count {
                let value: Float = zero ? 0 : Float((index * 7919) % 13) / 13 - 0.5
                if tensorType == .f16 {
                    withUnsafeBytes(of: floatToHalf(value).littleEndian) { bytes += $0 }
                } else {
                    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
                }
            }
            return bytes
        }
        for (name, a, b) in pairs {
            if !a.isEmpty { writer.add(tensor: name + ".lora_a", type: tensorType, dimensions: a, data: values(a.reduce(1, *), zero: false)) }
            if !b.isEmpty { writer.add(tensor: name + ".lora_b", type: tensorType, dimensions: b, data: values(b.reduce(1, *), zero: zeroB)) }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lora-\(UUID().uuidString).gguf").path
        try writer.write(to: path)
        return path
    }

    @Test func anAdapterThatAddsNothingChangesNoLogit() throws {
        let path = try writeAdapter([("blk.0.attn_q.weight", [576, 8], [8, 576]), ("blk.3.ffn_down.weight", [1536, 8], [8, 576])],
                                    zeroB: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try testModelPath("smollm2:135m")
        let tokens: [Int32] = [1, 504, 3458, 282, 4649, 314]
        let plain = try LoadedModel(path: model, threads: 2)
        let adapted = try LoadedModel(path: model, threads: 2, adapters: [LoRAAdapter(path: path)])
        let expected = try plain.model.forward(tokens, cache: plain.model.makeCache(capacity: 16))
        let got = try adapted.model.forward(tokens, cache: adapted.model.makeCache(capacity: 16))
        #expect(got == expected)
    }

    @Test func anF16AdapterLoadsAndChangesTheAnswer() throws {
        let path = try writeAdapter([("blk.0.attn_q.weight", [576, 4], [4, 576]), ("blk.1.ffn_up.weight", [576, 4], [4, 1536])],
                                    tensorType: .f16)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try testModelPath("smollm2:135m")
        let tokens: [Int32] = [1, 504, 3458, 282, 4649, 314]
        let plain = try LoadedModel(path: model, threads: 2)
        let adapted = try LoadedModel(path: model, threads: 2, adapters: [LoRAAdapter(path: path, scale: 0.5)])
        #expect(try adapted.model.forward(tokens, cache: adapted.model.makeCache(capacity: 16))
            != plain.model.forward(tokens, cache: plain.model.makeCache(capacity: 16)))
    }

    @Test(arguments: [
        ([("blk.0.attn_q.weight", [576, 4], [4, 576])], "checkpoint", "llama", "not an adapter"),
        ([("blk.0.attn_q.weight", [576, 4], [4, 576])], "adapter", "qwen2", "made for qwen2"),
        ([("blk.0.attn_q.weight", [576, 4], [Int]())], "adapter", "llama", "has no 'blk.0.attn_q.weight.lora_b'"),
        ([("blk.0.attn_q.weight", [Int](), [4, 576])], "adapter", "llama", "has no 'blk.0.attn_q.weight.lora_a'"),
        ([("blk.0.attn_q.weight", [576, 4], [8, 576])], "adapter", "llama", "do not share a rank"),
        ([("blk.0.attn_q.weight", [512, 4], [4, 576])], "adapter", "llama", "is 576 × 576 in the model"),
        ([("blk.99.attn_q.weight", [576, 4], [4, 576])], "adapter", "llama", "which the model does not have"),
        ([("token_embd.weight", [576, 4], [4, 49152])], "adapter", "llama", "token embedding"),
    ])
    func badAdaptersAreRefusedByName(pairs: [(String, [Int], [Int])], type: String, architecture: String, expected: String) throws {
        let path = try writeAdapter(pairs, type: type, architecture: architecture)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try testModelPath("smollm2:135m")
        #expect {
            _ = try LoadedModel(path: model, threads: 1, adapters: [LoRAAdapter(path: path)])
        } throws: { error in
            "\(error)".contains(expected) && "\(error)".contains(path)
        }
    }
}
