import Foundation
import GGUF
import Models
import Testing

/// No mixture-of-experts model is in the catalog: tiny random-weight qwen3moe files
/// (scripts/reference/make-moe-fixture.py: 20 experts, 4 per token; F16 or Q8_0 experts) check
/// the router and the experts against llama.cpp's logits for them.
@Suite struct TinyMixtureOfExpertsTests {
    static let fixtures = ["tiny-qwen3moe", "tiny-qwen3moe-q8_0"]

    func load(_ fixture: String) throws -> TransformerModel {
        let path = try #require(Bundle.module.url(forResource: "Fixtures/\(fixture)", withExtension: "gguf")).path
        return try TransformerModel.load(try GGUFFile(path: path), threads: 2)
    }

    /// The worst difference over each position's reference top 5, and whether the best token agrees.
    func compare(_ logits: [Float], with expected: ReferencePosition, position: Int) -> Double {
        var worst: Double = 0
        for pair in expected.top { worst = max(worst, abs(Double(logits[Int(pair[0])]) - pair[1])) }
        let best = logits.indices.max { logits[$0] < logits[$1] }!
        #expect(best == Int(expected.top[0][0]) || expected.top[0][1] - expected.top[1][1] < 0.05,
                "position \(position): \(best) vs \(expected.top[0][0])")
        return worst
    }

    /// One token at a time: each expert runs one row.
    @Test(arguments: fixtures)
    func decodedLogitsMatchLlamaCpp(fixture: String) throws {
        let model = try load(fixture)
        #expect(model.hyperparameters.architecture == "qwen3moe")
        #expect(model.hyperparameters.expertCount == 20 && model.hyperparameters.expertsUsed == 4)
        let reference = try ReferenceRun(model: fixture)
        let cache = try model.makeCache(capacity: 32)
        var worst: Double = 0
        for (index, token) in reference.ids.enumerated() {
            worst = max(worst, compare(try model.forward([token], cache: cache), with: reference.positions[index], position: index))
        }
        print("\(fixture) decoded: worst top-5 logit difference \(worst)")
        // Logits have a standard deviation of about 1; only rounding separates the engines.
        #expect(worst < 0.05)
    }

    /// The whole prompt in one pass: rows routed to the same expert run together.
    @Test(arguments: fixtures)
    func promptLogitsMatchLlamaCpp(fixture: String) throws {
        let model = try load(fixture)
        let reference = try ReferenceRun(model: fixture)
        let cache = try model.makeCache(capacity: 32)
        let vocabulary = model.hyperparameters.vocabularySize
        let logits = try model.forward(reference.ids, cache: cache, logits: .all)
        var worst: Double = 0
        for index in reference.ids.indices {
            let row = Array(logits[index * vocabulary..<(index + 1) * vocabulary])
            worst = max(worst, compare(row, with: reference.positions[index], position: index))
        }
        print("\(fixture) prompt: worst top-5 logit difference \(worst)")
        #expect(worst < 0.05)
    }

    /// A batch of rows gives each row what it gives alone: routing one row never depends on another.
    @Test func batchedRowsEqualRowsAlone() throws {
        let model = try load("tiny-qwen3moe")
        let reference = try ReferenceRun(model: "tiny-qwen3moe")
        let first = Array(reference.ids.prefix(6)), second = Array(reference.ids.suffix(5))
        let alone = try model.forward(second, cache: try model.makeCache(capacity: 16))
        let together = try model.forward([
            SequenceInput(tokens: first, cache: try model.makeCache(capacity: 16), wantsLogits: true),
            SequenceInput(tokens: second, cache: try model.makeCache(capacity: 16), wantsLogits: true),
        ])
        #expect(together[1] == alone)
    }

    /// A few rows run every expert's products in one parallel pass, more rows each expert in
    /// turn: the two give the same bits.
    @Test func fewRowsAndManyRowsGiveTheSameBits() throws {
        let model = try load("tiny-qwen3moe-q8_0")
        let reference = try ReferenceRun(model: "tiny-qwen3moe-q8_0")
        let first = Array(reference.ids.prefix(4)), second = Array(reference.ids.suffix(4))
        let alone = try model.forward(second, cache: try model.makeCache(capacity: 16))
        let together = try model.forward([
            SequenceInput(tokens: first, cache: try model.makeCache(capacity: 16), wantsLogits: false),
            SequenceInput(tokens: second, cache: try model.makeCache(capacity: 16), wantsLogits: true),
        ])
        #expect(together[1] == alone)
    }

    @Test func missingExpertTensorIsAnErrorNamingIt() throws {
        try expectLoadFailure(without: "blk.1.ffn_down_exps.weight", throws: .missingTensor("blk.1.ffn_down_exps.weight"))
        try expectLoadFailure(without: "blk.0.ffn_gate_inp.weight", throws: .missingTensor("blk.0.ffn_gate_inp.weight"))
    }

    @Test func expertCountsAreChecked() throws {
        try expectLoadFailure(setting: "qwen3moe.expert_used_count", to: 21,
                              throws: .invalidKey("qwen3moe.expert_used_count", "21 is outside 0...20"))
        try expectLoadFailure(setting: "qwen3moe.expert_count", to: 16,
                              throws: .tensorShape("blk.0.ffn_gate_inp.weight", expected: [64, 16], found: [64, 20]))
        try expectLoadFailure(setting: "qwen3moe.expert_feed_forward_length", to: 48,
                              throws: .tensorShape("blk.0.ffn_gate_exps.weight", expected: [64, 48, 20], found: [64, 32, 20]))
    }

    private func expectLoadFailure(without removed: String = "", setting key: String = "", to value: UInt32 = 0,
                                   throws expected: ModelError) throws {
        let path = try #require(Bundle.module.url(forResource: "Fixtures/tiny-qwen3moe", withExtension: "gguf")).path
        let original = try GGUFFile(path: path)
        var writer = GGUFWriter()
        for name in original.metadataKeys { writer.add(key: name, name == key ? .uint32(value) : original[name]!) }
        for tensor in original.tensors where tensor.name != removed {
            writer.add(tensor: tensor.name, type: tensor.type, dimensions: tensor.dimensions, data: Array(original.data(for: tensor)))
        }
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("moe-broken-\(UUID()).gguf").path
        try writer.write(to: broken)
        defer { try? FileManager.default.removeItem(atPath: broken) }
        #expect(throws: expected) { try TransformerModel.load(try GGUFFile(path: broken), threads: 1) }
    }
}
