import Foundation
import GGUF
import Kernels
import Models
import Testing

/// No phi3 model is in the catalog: tiny random-weight ones (scripts/reference/make-phi3-fixture.py)
/// check the architecture against llama.cpp's logits — fused QKV and gate-up, partial NeoX RoPE,
/// LongRoPE's long factors (tiny-phi3-q8_0: Q8_0 weights, original context 128) and short ones
/// (tiny-phi3: F16 weights, original context 256), and the rotation's attention factor.
@Suite struct TinyPhi3Tests {
    /// llama.cpp's context was 256 (rounded up from 40), so a cache of 256 chooses as it did.
    @Test(arguments: ["tiny-phi3", "tiny-phi3-q8_0"])
    func logitsMatchLlamaCpp(fixture: String) throws {
        let model = try TransformerModel.load(try GGUFFile(path: try tinyFixturePath(fixture)), threads: 2)
        #expect(model.hyperparameters.architecture == "phi3")
        let worst = try worstDifference(model, try ReferenceRun(model: fixture), capacity: 256)
        print("\(fixture): worst top-5 logit difference \(worst)")
        // Logits have a standard deviation of about 1 here. F16 weights leave rounding between
        // the two engines; Q8_0 ones, whose products Hearth rounds as llama.cpp does on x86,
        // leave none: the logits agree to the fixture's printed precision.
        #expect(worst < 0.05)
        if fixture.hasSuffix("q8_0") && productsRoundAsLlamaCppX86 { #expect(worst < 1e-5) }
    }

    /// A prompt in one batch (long factors) agrees too.
    @Test func batchedPromptMatchesLlamaCpp() throws {
        let model = try TransformerModel.load(try GGUFFile(path: try tinyFixturePath("tiny-phi3-q8_0")), threads: 2)
        let reference = try ReferenceRun(model: "tiny-phi3-q8_0")
        let vocabulary = model.hyperparameters.vocabularySize
        let logits = try model.forward(reference.ids, cache: try model.makeCache(capacity: 256), logits: .all)
        var worst: Double = 0
        for index in reference.ids.indices {
            let row = logits[(index * vocabulary)..<((index + 1) * vocabulary)]
            worst = max(worst, try compare(row, reference.positions[index], position: index))
        }
        print("tiny-phi3-q8_0 batched: worst top-5 logit difference \(worst)")
        #expect(worst < 0.05)
    }

    /// The factor set follows the cache's context, rounded up to 256 as llama.cpp rounds it:
    /// with an original context of 256, capacities up to 256 take the short factors and 257 the
    /// long ones, which turn the same tokens differently.
    @Test func longFactorsBeyondTheOriginalContext() throws {
        let model = try TransformerModel.load(try GGUFFile(path: try tinyFixturePath("tiny-phi3")), threads: 2)
        #expect(model.hyperparameters.ropeOriginalContextLength == 256)
        let ids = try ReferenceRun(model: "tiny-phi3").ids
        func logits(capacity: Int) throws -> [Float] {
            try model.forward(ids, cache: try model.makeCache(capacity: capacity), logits: .all)
        }
        let short = try logits(capacity: 256)
        #expect(try logits(capacity: 30) == short)
        let long = try logits(capacity: 257)
        let difference = zip(short, long).map { abs($0 - $1) }.max()!
        #expect(difference > 0.1)
    }

    @Test func readsTheRopeScaling() throws {
        let model = try TransformerModel.load(try GGUFFile(path: try tinyFixturePath("tiny-phi3-q8_0")), threads: 1)
        let hp = model.hyperparameters
        #expect(hp.ropeDimensions == 24)
        #expect(hp.ropeOriginalContextLength == 128)
        // The converter's √(1 + ln(4096/128) / ln 128).
        #expect(abs(hp.ropeAttentionFactor - (1 + log(32) / log(128)).squareRoot()) < 1e-6)
        // llama.cpp ignores phi3's sliding window, and so does Hearth.
        #expect(hp.slidingWindow == nil)
        #expect(model.recipe.queryScale == 1 / Float(32).squareRoot())
    }

    /// An `output.bias` is added to every logit row.
    @Test func outputBiasIsAdded() throws {
        let model = try TransformerModel.load(try GGUFFile(path: try tinyFixturePath("tiny-phi3")), threads: 1)
        let vocabulary = model.hyperparameters.vocabularySize
        let bias = (0..<vocabulary).map { Float($0 % 7) - 3 }
        let bytes = bias.withUnsafeBytes { Array($0) }
        let path = try rewrittenFixture("tiny-phi3", adding: [("output.bias", .f32, [vocabulary], bytes)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let biased = try TransformerModel.load(try GGUFFile(path: path), threads: 1)
        let plain = try model.forward([5, 6, 7], cache: try model.makeCache(capacity: 8))
        let shifted = try biased.forward([5, 6, 7], cache: try biased.makeCache(capacity: 8))
        for i in 0..<vocabulary { #expect(abs(shifted[i] - (plain[i] + bias[i])) < 1e-5) }
    }

    @Test func unsupportedRopeScalingIsAClearError() throws {
        let path = try rewrittenFixture("tiny-phi3", setting: ["phi3.rope.scaling.type": .string("longrope")])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ModelError.unsupported("phi3.rope.scaling.type", "'longrope' (supported: none, linear, yarn)")) {
            try TransformerModel.load(try GGUFFile(path: path), threads: 1)
        }
    }

    @Test func missingFusedProjectionIsAnErrorNamingTheTensor() throws {
        let path = try rewrittenFixture("tiny-phi3", dropping: ["blk.1.attn_qkv.weight"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ModelError.missingTensor("blk.1.attn_q.weight")) {
            try TransformerModel.load(try GGUFFile(path: path), threads: 1)
        }
    }

    /// An `ffn_up` that is not the gate and up rows together is a shape error naming it.
    @Test func unfusedUpIsAShapeError() throws {
        let path = try rewrittenFixture("tiny-phi3", setting: ["phi3.feed_forward_length": .uint32(256)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ModelError.tensorShape("blk.0.ffn_up.weight", expected: [64, 512], found: [64, 256])) {
            try TransformerModel.load(try GGUFFile(path: path), threads: 1)
        }
    }

    @Test func wrongRopeFactorLengthIsAnError() throws {
        let path = try rewrittenFixture("tiny-phi3", setting: ["phi3.rope.dimension_count": .uint32(32)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ModelError.tensorShape("rope_factors_short.weight", expected: [16], found: [12])) {
            try TransformerModel.load(try GGUFFile(path: path), threads: 1)
        }
    }
}
