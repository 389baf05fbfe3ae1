import Foundation
import GGUF
import Kernels
import Models
import Testing

/// No gemma2 model is in the catalog: tiny random-weight ones (scripts/reference/make-gemma2-fixture.py)
/// check the architecture against llama.cpp's logits — attention and final soft-capping small
/// enough to bend, a sliding window shorter than the sequence on layer 0, F16 and Q8_0 weights,
/// f16 and q8_0 KV caches.
@Suite struct TinyGemma2Tests {
    @Test(arguments: [("tiny-gemma2", ""), ("tiny-gemma2", ".q8_0-cache"), ("tiny-gemma2-q8_0", ""),
                      ("tiny-gemma2-q8_0", ".q8_0-cache")])
    func logitsMatchLlamaCpp(fixture: String, variant: String) throws {
        let model = try TransformerModel.load(try GGUFFile(path: try tinyFixturePath(fixture)), threads: 2)
        if variant == ".q8_0-cache" { model.cacheType = .q8_0 }
        let worst = try worstDifference(model, try ReferenceRun(model: fixture, variant: variant), capacity: 32)
        print("\(fixture)\(variant): worst top-5 logit difference \(worst)")
        // Logits have a standard deviation of about 7 here, capped at 15. F16 weights leave
        // rounding between the two engines (measured 0.010, and 0.043 once a Q8_0 cache rounds
        // the keys: 0.6% of a standard deviation); Q8_0 ones, whose products Hearth rounds as
        // llama.cpp does on x86, leave none: the logits agree to the fixture's printed precision.
        #expect(worst < 0.1)
        if fixture.hasSuffix("q8_0") && productsRoundAsLlamaCppX86 { #expect(worst < 1e-5) }
    }

    /// A prompt in one batch (multi-row attention with the cap and the window) agrees too.
    @Test func batchedPromptMatchesLlamaCpp() throws {
        let model = try TransformerModel.load(try GGUFFile(path: try tinyFixturePath("tiny-gemma2")), threads: 2)
        let reference = try ReferenceRun(model: "tiny-gemma2")
        let vocabulary = model.hyperparameters.vocabularySize
        let logits = try model.forward(reference.ids, cache: try model.makeCache(capacity: 32), logits: .all)
        var worst: Double = 0
        for index in reference.ids.indices {
            let row = logits[(index * vocabulary)..<((index + 1) * vocabulary)]
            worst = max(worst, try compare(row, reference.positions[index], position: index))
        }
        print("tiny-gemma2 batched: worst top-5 logit difference \(worst)")
        #expect(worst < 0.05)
    }

    @Test func readsTheCapsAndTheWindow() throws {
        let model = try TransformerModel.load(try GGUFFile(path: try tinyFixturePath("tiny-gemma2")), threads: 1)
        #expect(model.hyperparameters.architecture == "gemma2")
        #expect(model.recipe.attentionLogitSoftCap == 2.5)
        #expect(model.recipe.finalLogitSoftCap == 15)
        #expect(model.recipe.queryScale == 1 / Float(32).squareRoot())
        #expect(model.hyperparameters.slidingWindow == 6)
        #expect(model.hyperparameters.slidingLayers == [true, false])
        // Every logit lies strictly inside the final cap.
        let logits = try model.forward([1, 2, 3], cache: try model.makeCache(capacity: 8), logits: .all)
        #expect(logits.allSatisfy { abs($0) < 15 })
        #expect(logits.contains { abs($0) > 10 })
    }

    /// Without the keys, llama.cpp's defaults: caps 50 and 30, a window of 4096.
    @Test func defaultsWithoutTheKeys() throws {
        let path = try rewrittenFixture("tiny-gemma2", setting: [
            "gemma2.attn_logit_softcapping": nil, "gemma2.final_logit_softcapping": nil, "gemma2.attention.sliding_window": nil,
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try TransformerModel.load(try GGUFFile(path: path), threads: 1)
        #expect(model.recipe.attentionLogitSoftCap == 50)
        #expect(model.recipe.finalLogitSoftCap == 30)
        #expect(model.hyperparameters.slidingWindow == 4096)
    }

    /// gemma3 takes the same final soft cap when its file has the key (llama.cpp applies it when
    /// non-zero): the tiny gemma2 relabelled as a gemma3 (unit Q/K norms added) gives, with a cap
    /// of 5, cap · tanh(logit / cap) of its logits without one.
    @Test func gemma3AppliesAFinalSoftCap() throws {
        let original = try GGUFFile(path: try tinyFixturePath("tiny-gemma2"))
        func gemma3(cap: Float?) throws -> String {
            var writer = GGUFWriter()
            for key in original.metadataKeys where !key.hasSuffix("softcapping") {
                let renamed = key.hasPrefix("gemma2.") ? "gemma3." + key.dropFirst(7) : key
                writer.add(key: renamed, key == "general.architecture" ? .string("gemma3") : original[key]!)
            }
            if let cap { writer.add(key: "gemma3.final_logit_softcapping", .float32(cap)) }
            for tensor in original.tensors {
                writer.add(tensor: tensor.name, type: tensor.type, dimensions: tensor.dimensions,
                           data: Array(original.data(for: tensor)))
            }
            let ones = [Float](repeating: 1, count: 32).withUnsafeBytes { Array($0) }
            for layer in 0..<2 {
                for norm in ["attn_q_norm", "attn_k_norm"] {
                    writer.add(tensor: "blk.\(layer).\(norm).weight", type: .f32, dimensions: [32], data: ones)
                }
            }
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("gemma3-cap-\(UUID()).gguf").path
            try writer.write(to: path)
            return path
        }
        let plainPath = try gemma3(cap: nil), cappedPath = try gemma3(cap: 5)
        defer {
            try? FileManager.default.removeItem(atPath: plainPath)
            try? FileManager.default.removeItem(atPath: cappedPath)
        }
        let plain = try TransformerModel.load(try GGUFFile(path: plainPath), threads: 1)
        let capped = try TransformerModel.load(try GGUFFile(path: cappedPath), threads: 1)
        #expect(plain.recipe.finalLogitSoftCap == nil && capped.recipe.finalLogitSoftCap == 5)
        let tokens: [Int32] = [7, 70, 170]
        let raw = try plain.forward(tokens, cache: try plain.makeCache(capacity: 8), logits: .all)
        let bent = try capped.forward(tokens, cache: try capped.makeCache(capacity: 8), logits: .all)
        #expect(raw.contains { abs($0) > 6 })
        for (r, b) in zip(raw, bent) { #expect(abs(b - 5 * tanh(r / 5)) < 1e-5) }
    }

    @Test func missingPostNormIsAnErrorNamingTheTensor() throws {
        let path = try rewrittenFixture("tiny-gemma2", dropping: ["blk.1.post_ffw_norm.weight"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ModelError.missingTensor("blk.1.post_ffw_norm.weight")) {
            try TransformerModel.load(try GGUFFile(path: path), threads: 1)
        }
    }

    @Test func zeroSoftCapIsAnErrorNamingTheKey() throws {
        let path = try rewrittenFixture("tiny-gemma2", setting: ["gemma2.attn_logit_softcapping": .float32(0)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ModelError.invalidKey("gemma2.attn_logit_softcapping", "expected a positive number, got 0.0")) {
            try TransformerModel.load(try GGUFFile(path: path), threads: 1)
        }
    }
}
