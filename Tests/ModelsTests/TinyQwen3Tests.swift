import Foundation
import GGUF
import Kernels
import Models
import Testing

/// No qwen3 model is in the catalog: a tiny random-weight one (scripts/reference/make-qwen3-fixture.py)
/// checks the architecture against llama.cpp's logits for it. A second one, with its matrices in
/// IQ4_NL (attention), IQ4_XS (gate, up) and MXFP4 (down), checks those formats in a forward pass.
@Suite struct TinyQwen3Tests {
    @Test(arguments: ["tiny-qwen3", "tiny-qwen3-nonlinear4"])
    func logitsMatchLlamaCpp(fixture: String) throws {
        let path = try #require(Bundle.module.url(forResource: "Fixtures/\(fixture)", withExtension: "gguf")).path
        let reference = try ReferenceRun(model: fixture)
        let model = try TransformerModel.load(try GGUFFile(path: path), threads: 2)
        #expect(model.hyperparameters.architecture == "qwen3")
        let cache = try model.makeCache(capacity: 32)
        var worst: Double = 0
        for (index, token) in reference.ids.enumerated() {
            let logits = try model.forward([token], cache: cache)
            let expected = reference.positions[index]
            for pair in expected.top {
                worst = max(worst, abs(Double(logits[Int(pair[0])]) - pair[1]))
            }
            let best = logits.indices.max { logits[$0] < logits[$1] }!
            #expect(best == Int(expected.top[0][0]) || expected.top[0][1] - expected.top[1][1] < 0.05,
                    "position \(index): \(best) vs \(expected.top[0][0])")
        }
        print("\(fixture): worst top-5 logit difference \(worst)")
        // Logits have a standard deviation of about 1 here; F16 weights and F32 activations (or
        // the same 8-bit activations, whose integer sums are exact) leave only rounding between
        // the two engines.
        #expect(worst < 0.05)
    }

    @Test func missingQueryNormIsAnErrorNamingTheTensor() throws {
        let path = try #require(Bundle.module.url(forResource: "Fixtures/tiny-qwen3", withExtension: "gguf")).path
        let original = try GGUFFile(path: path)
        var writer = GGUFWriter()
        for key in original.metadataKeys { writer.add(key: key, original[key]!) }
        for tensor in original.tensors where tensor.name != "blk.1.attn_q_norm.weight" {
            writer.add(tensor: tensor.name, type: tensor.type, dimensions: tensor.dimensions,
                       data: Array(original.data(for: tensor)))
        }
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("qwen3-no-qnorm-\(UUID()).gguf").path
        try writer.write(to: broken)
        defer { try? FileManager.default.removeItem(atPath: broken) }
        #expect(throws: ModelError.missingTensor("blk.1.attn_q_norm.weight")) {
            try TransformerModel.load(try GGUFFile(path: broken), threads: 1)
        }
    }

    @Test func unsupportedArchitectureIsAClearError() throws {
        var writer = GGUFWriter()
        writer.add(key: "general.architecture", .string("mamba"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mamba-\(UUID()).gguf").path
        try writer.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try TransformerModel.load(try GGUFFile(path: path), threads: 1)
            Issue.record("loading a mamba file should fail")
        } catch let error as ModelError {
            #expect(error.description.contains("unsupported architecture 'mamba'"))
        }
    }

    @Test func missingHyperparameterNamesTheKey() throws {
        let path = try #require(Bundle.module.url(forResource: "Fixtures/tiny-qwen3", withExtension: "gguf")).path
        let original = try GGUFFile(path: path)
        var writer = GGUFWriter()
        for key in original.metadataKeys where key != "qwen3.block_count" { writer.add(key: key, original[key]!) }
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("qwen3-nokey-\(UUID()).gguf").path
        try writer.write(to: broken)
        defer { try? FileManager.default.removeItem(atPath: broken) }
        #expect(throws: ModelError.missingKey("qwen3.block_count")) {
            try TransformerModel.load(try GGUFFile(path: broken), threads: 1)
        }
    }
}

/// YaRN RoPE scaling (`rope.scaling.type` yarn) on a tiny qwen3 whose matrices are all Q8_0
/// (scripts/reference/make-qwen3-fixture.py --yarn): factor 4 over an original context of 64, so
/// ten of the 32 pairs of each head sit on the ramp between extrapolated and interpolated angles.
@Suite struct TinyYaRNTests {
    @Test func logitsMatchLlamaCpp() throws {
        let model = try TransformerModel.load(try GGUFFile(path: try tinyFixturePath("tiny-qwen3-yarn")), threads: 2)
        #expect(model.hyperparameters.ropeUsesYaRN && model.hyperparameters.ropeFrequencyScale == 0.25)
        let worst = try worstDifference(model, try ReferenceRun(model: "tiny-qwen3-yarn"), capacity: 32)
        print("tiny-qwen3-yarn: worst top-5 logit difference \(worst)")
        // Logits have a standard deviation of about 1. Integer sums of 8-bit weights and
        // activations leave only the order of float additions: none where the products round as
        // llama.cpp's x86 build does (AVX-512 VNNI builds, measured 4.9e-7); elsewhere the other
        // order can flip an activation's 8-bit rounding, which this random model amplifies
        // (measured 0.021 on an AVX2 build).
        #expect(worst < 0.05)
        if productsRoundAsLlamaCppX86 { #expect(worst < 1e-5) }
    }

    /// The same file read as linear scaling (every angle interpolated, no magnitude) is far from
    /// llama.cpp's logits: the fixture tests YaRN's ramp, not just the scale.
    @Test func linearScalingWouldDiffer() throws {
        let path = try rewrittenFixture("tiny-qwen3-yarn", setting: ["qwen3.rope.scaling.type": .string("linear")])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try TransformerModel.load(try GGUFFile(path: path), threads: 2)
        #expect(!model.hyperparameters.ropeUsesYaRN)
        let reference = try ReferenceRun(model: "tiny-qwen3-yarn")
        let cache = try model.makeCache(capacity: 32)
        var worst: Double = 0
        for (index, token) in reference.ids.enumerated() {
            let logits = try model.forward([token], cache: cache)
            for pair in reference.positions[index].top { worst = max(worst, abs(Double(logits[Int(pair[0])]) - pair[1])) }
        }
        print("tiny-qwen3-yarn read as linear: worst top-5 logit difference \(worst)")
        // Measured 0.76: far outside the 0.05 that rounding leaves on any build.
        #expect(worst > 0.2)
    }

    @Test func unknownScalingTypeIsRefused() throws {
        let path = try rewrittenFixture("tiny-qwen3-yarn", setting: ["qwen3.rope.scaling.type": .string("dynamic")])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ModelError.unsupported("qwen3.rope.scaling.type", "'dynamic' (supported: none, linear, yarn)")) {
            try TransformerModel.load(try GGUFFile(path: path), threads: 1)
        }
    }
}
