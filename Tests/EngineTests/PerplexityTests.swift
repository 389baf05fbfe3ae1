import Engine
import Foundation
import Testing

/// `hearth perplexity` against `llama-perplexity -c 512` on a prose and a code text
/// (scripts/reference/make-perplexity-fixtures.sh): within 1%.
@Suite(.serialized) struct PerplexityTests {
    static let reference: [String: Double] = {
        guard let url = Bundle.module.url(forResource: "Fixtures/perplexity/reference", withExtension: "json"),
            let data = try? Data(contentsOf: url),
            let values = try? JSONDecoder().decode([String: Double].self, from: data)
        else { return [:] }
        return values
    }()

    @Test(arguments: ["smollm2:135m", "gemma3:270m", "qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"])
    func perplexityWithinOnePercentOfLlamaCpp(model name: String) throws {
        try compare(name, cacheType: .f16, referenceSuffix: "")
    }

    /// With a Q8_0 KV cache, against `llama-perplexity -ctk q8_0 -ctv q8_0`: within 1% too.
    @Test(arguments: ["smollm2:135m", "qwen2.5-coder:0.5b"])
    func quantisedCachePerplexityWithinOnePercentOfLlamaCpp(model name: String) throws {
        try compare(name, cacheType: .q8_0, referenceSuffix: "/q8_0")
    }

    /// Both texts scored with `cacheType` against the reference keyed "model/text" + `referenceSuffix`.
    private func compare(_ name: String, cacheType: KVCacheType, referenceSuffix: String) throws {
        let loaded = try LoadedModel(path: try testModelPath(name), threads: 2, cacheType: cacheType)
        for text in ["prose", "code"] {
            let key = "\(name)/\(text)\(referenceSuffix)"
            let expected = try #require(Self.reference[key], "no reference for \(key)")
            let url = try #require(Bundle.module.url(forResource: "Fixtures/perplexity/\(text)", withExtension: "txt"))
            let tokens = loaded.tokenizer.encode(
                try String(contentsOf: url, encoding: .utf8), addSpecial: true, parseSpecial: false)
            let result = try loaded.perplexity(of: tokens, context: 512)
            let relative = abs(result.ppl - expected) / expected
            print(String(format: "%@ (%@ cache): ppl %.4f vs llama.cpp %.4f (%.2f%%), %d chunks", key, cacheType.rawValue, result.ppl, expected, relative * 100, result.chunks))
            #expect(result.chunks >= 2)
            #expect(relative < 0.01, "\(key): \(result.ppl) vs \(expected)")
        }
    }

    @Test func tooShortTextIsAClearError() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        #expect(throws: EngineError.self) { try loaded.perplexity(of: [1, 2, 3], context: 512) }
    }
}
