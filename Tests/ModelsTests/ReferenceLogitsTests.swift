import Foundation
import GGUF
import Kernels
import Models
import Testing

/// One position of llama.cpp's output for a fixed text (scripts/reference/make-logit-fixtures.sh).
struct ReferencePosition: Decodable {
    let pos: Int
    let mean: Double
    let std: Double
    let top: [[Double]]
}

struct ReferenceRun {
    let ids: [Int32]
    let positions: [ReferencePosition]

    /// `variant`: "" for llama.cpp's default cache, ".q8_0-cache" for `-ctk q8_0 -ctv q8_0`.
    init(model: String, variant: String = "") throws {
        let name = model.replacingOccurrences(of: ":", with: "_")
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)\(variant).logits", withExtension: "jsonl"))
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        struct Header: Decodable { let ids: [Int32] }
        ids = try JSONDecoder().decode(Header.self, from: Data(lines[0].utf8)).ids
        positions = try lines.dropFirst().map { try JSONDecoder().decode(ReferencePosition.self, from: Data($0.utf8)) }
    }
}

/// Hearth's logits agree with llama.cpp's on the four catalog models, position by position.
@Suite(.serialized) struct ReferenceLogitsTests {
    @Test(arguments: ["smollm2:135m", "gemma3:270m", "qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"])
    func logitsMatchLlamaCpp(model name: String) throws {
        try compare(name, with: try ReferenceRun(model: name), cacheType: .f16)
    }

    /// With a Q8_0 KV cache, against llama.cpp's `-ctk q8_0 -ctv q8_0` (flash attention on).
    @Test(arguments: ["smollm2:135m", "qwen2.5-coder:0.5b"])
    func quantisedCacheLogitsMatchLlamaCpp(model name: String) throws {
        try compare(name, with: try ReferenceRun(model: name, variant: ".q8_0-cache"), cacheType: .q8_0)
    }

    /// The model's cache is a Q8_0 one and holds 34 bytes per 32 values.
    @Test func quantisedCacheSize() throws {
        let model = try TransformerModel.load(try GGUFFile(path: try testModelPath("qwen2.5-coder:0.5b")), threads: 2)
        let half = try model.makeCache(capacity: 1024)
        model.cacheType = .q8_0
        let quantised = try model.makeCache(capacity: 1024)
        #expect(quantised.type == .q8_0)
        #expect(quantised.byteCount * 64 == half.byteCount * 34)
        #expect(quantised.byteCount == KVCacheType.q8_0.cacheBytes(model.hyperparameters, capacity: 1024))
        #expect(half.byteCount == KVCacheType.f16.cacheBytes(model.hyperparameters, capacity: 1024))
    }

    private func compare(_ name: String, with reference: ReferenceRun, cacheType: KVCacheType) throws {
        let model = try TransformerModel.load(try GGUFFile(path: try testModelPath(name)), threads: 2)
        model.cacheType = cacheType
        let cache = try model.makeCache(capacity: 64)
        #expect(cache.type == cacheType)
        var topAgreements = 0
        var worstDifference: Double = 0
        for (index, token) in reference.ids.enumerated() {
            let logits = try model.forward([token], cache: cache)
            let expected = reference.positions[index]
            // The reference's top-5 logits, compared value by value.
            for pair in expected.top {
                let difference = abs(Double(logits[Int(pair[0])]) - pair[1])
                worstDifference = max(worstDifference, difference)
            }
            if ProcessInfo.processInfo.environment["HEARTH_DEBUG_LOGITS"] != nil {
                let diffs = expected.top.map { abs(Double(logits[Int($0[0])]) - $0[1]) }
                print("\(name) pos \(index): max top-5 diff \(diffs.max()!)")
            }
            let best = logits.indices.max { logits[$0] < logits[$1] }!
            let expectedBest = Int(expected.top[0][0])
            if best == expectedBest {
                topAgreements += 1
            } else {
                // A different winner is acceptable only at a near-tie in the reference: Hearth's
                // pick is one of llama.cpp's top five, within 0.5 of llama.cpp's own winner there.
                let gap = expected.top[0][1] - Double(logits[expectedBest])
                #expect(gap < 1.0, "position \(index): Hearth picks \(best), llama.cpp \(expectedBest)")
                let referenceGap = expected.top.first { Int($0[0]) == best }.map { expected.top[0][1] - $0[1] }
                #expect(referenceGap.map { $0 < 0.5 } == true,
                        "position \(index): Hearth picks \(best), llama.cpp \(expectedBest) (llama.cpp's gap \(String(describing: referenceGap)))")
            }
            let mean = logits.reduce(0.0) { $0 + Double($1) } / Double(logits.count)
            #expect(abs(mean - expected.mean) < 0.35 * expected.std + 0.1, "position \(index): mean \(mean) vs \(expected.mean)")
        }
        print("\(name): top-1 agrees at \(topAgreements)/\(reference.ids.count) positions, worst top-5 logit difference \(worstDifference)")
        // Which near-ties flip depends on rounding details (measured: 36-38 of 37-40 positions as
        // the summation order of the kernels changed); each flip is checked above.
        #expect(topAgreements * 10 >= reference.ids.count * 9)
        // Hearth and ggml differ in rounding only (summation order, then the int8 rounding of
        // activations it flips, which small models amplify): measured, the worst top-5 logit stays
        // within 0.6 standard deviations of the logits; a wrong RoPE, norm or mask moves them by several.
        #expect(worstDifference < 0.75 * (reference.positions.map(\.std).min() ?? 1))
        // With the products in llama.cpp's x86 float order every operation rounds as llama.cpp's
        // does: measured, the logits agree to the fixture's printed precision (< 5e-7).
        if productsRoundAsLlamaCppX86 {
            #expect(topAgreements == reference.ids.count)
            #expect(worstDifference < 1e-5, "worst top-5 logit difference \(worstDifference)")
        }
    }
}
