import Foundation
import GGUF
import Models
import Testing

/// No gpt-oss model ships in a wheel (the smallest is 12 GB): tiny random-weight gpt-oss files
/// (scripts/reference/make-gptoss-fixture.py: attention sinks, biases everywhere, a sliding
/// window on layer 0, YaRN, 12 experts with 4 per token weighted by a softmax over the chosen,
/// the clamped SwiGLU; F16, or MXFP4 experts) check the architecture against llama.cpp's logits.
@Suite struct TinyGptOssTests {
    static let fixtures = ["tiny-gptoss", "tiny-gptoss-mxfp4"]

    func load(_ path: String) throws -> TransformerModel {
        try TransformerModel.load(try GGUFFile(path: path), threads: 2)
    }

    @Test func readsTheArchitecture() throws {
        let hp = try load(try tinyFixturePath("tiny-gptoss")).hyperparameters
        #expect(hp.architecture == "gpt-oss" && hp.expertCount == 12 && hp.expertsUsed == 4)
        #expect(hp.slidingWindow == 6 && hp.slidingLayers == [true, false])
        #expect(hp.ropeUsesYaRN && hp.ropeStyle == .neox && hp.queryLength == 128 && hp.embeddingLength == 64)
    }

    /// One token at a time (decode), the 24 positions crossing the sliding window.
    @Test(arguments: fixtures)
    func decodedLogitsMatchLlamaCpp(fixture: String) throws {
        let worst = try worstDifference(try load(try tinyFixturePath(fixture)), try ReferenceRun(model: fixture), capacity: 32)
        print("\(fixture) decoded: worst top-5 logit difference \(worst)")
        // Logits have a standard deviation of about 1; only rounding separates the engines.
        #expect(worst < 0.05)
    }

    /// The whole prompt in one pass: rows routed to the same expert run together.
    @Test(arguments: fixtures)
    func promptLogitsMatchLlamaCpp(fixture: String) throws {
        let model = try load(try tinyFixturePath(fixture))
        let reference = try ReferenceRun(model: fixture)
        let logits = try model.forward(reference.ids, cache: try model.makeCache(capacity: 32), logits: .all)
        let vocabulary = model.hyperparameters.vocabularySize
        var worst: Double = 0
        for index in reference.ids.indices {
            worst = max(worst, try compare(logits[index * vocabulary..<(index + 1) * vocabulary], reference.positions[index], position: index))
        }
        print("\(fixture) prompt: worst top-5 logit difference \(worst)")
        #expect(worst < 0.05)
    }

    /// The fixture's sinks take a real share of the softmax: with sinks of -1e30 (no share at
    /// all) the logits move far from llama.cpp's, so the match above checks them.
    @Test func sinksMatter() throws {
        let original = try GGUFFile(path: try tinyFixturePath("tiny-gptoss"))
        let names = original.tensors.map(\.name).filter { $0.hasSuffix("attn_sinks.weight") }
        let silent = (0..<4).flatMap { _ in withUnsafeBytes(of: Float(-1e30).bitPattern.littleEndian, Array.init) }
        let path = try rewrittenFixture("tiny-gptoss", dropping: Set(names),
                                        adding: names.map { ($0, GGUFTensorType.f32, [4], silent) })
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reference = try ReferenceRun(model: "tiny-gptoss")
        let model = try load(path)
        let cache = try model.makeCache(capacity: 32)
        var worst: Double = 0
        for (index, token) in reference.ids.enumerated() {
            let logits = try model.forward([token], cache: cache)
            for pair in reference.positions[index].top { worst = max(worst, abs(Double(logits[Int(pair[0])]) - pair[1])) }
        }
        #expect(worst > 0.2, "without sinks the worst difference is only \(worst)")
    }

    @Test func missingBiasesAndSinksAreNamed() throws {
        for tensor in ["blk.0.attn_output.bias", "blk.1.attn_sinks.weight", "blk.0.ffn_down_exps.bias", "blk.1.ffn_gate_inp.bias"] {
            let path = try rewrittenFixture("tiny-gptoss", dropping: [tensor])
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(throws: ModelError.missingTensor(tensor)) { try load(path) }
        }
    }
}
