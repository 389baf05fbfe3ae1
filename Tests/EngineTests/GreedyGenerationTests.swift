import Engine
import Kernels
import Foundation
import Models
import Sampling
import Testing

/// llama.cpp's greedy continuation of one prompt (scripts/reference/make-generation-fixtures.sh).
struct GreedyCase: Decodable {
    let prompt: String
    let prompt_ids: [Int32]
    let ids: [Int32]
}

/// `hearth run --raw --temp 0 -n 32` against `llama-simple -n 32`, token by token.
@Suite(.serialized) struct GreedyGenerationTests {
    @Test(arguments: ["smollm2:135m", "gemma3:270m", "qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"])
    func greedyContinuationsMatchLlamaCpp(model name: String) throws {
        let fixture = try #require(
            Bundle.module.url(forResource: "Fixtures/\(name.replacingOccurrences(of: ":", with: "_")).greedy", withExtension: "json"))
        let cases = try JSONDecoder().decode([GreedyCase].self, from: Data(contentsOf: fixture))
        let loaded = try LoadedModel(path: try testModelPath(name), threads: 2)
        var identical = 0
        for reference in cases {
            // The prompt tokenises exactly as llama.cpp's (special tokens added and parsed).
            let prompt = loaded.tokenizer.encode(reference.prompt, addSpecial: true, parseSpecial: true)
            #expect(prompt == reference.prompt_ids, "prompt \(reference.prompt.debugDescription)")
            let session = try loaded.makeSession(contextLength: 128)
            let result = try session.generate(
                prompt: reference.prompt_ids, options: GenerationOptions(maxTokens: 32, sampling: .greedy))
            if result.tokens == reference.ids {
                identical += 1
                continue
            }
            // A divergence is acceptable only where llama.cpp's choice was a near-tie for us.
            let divergence = zip(result.tokens, reference.ids).prefix { $0 == $1 }.count
            let replay = try loaded.makeSession(contextLength: 128)
            let logits = try replay.logits(after: reference.prompt_ids + reference.ids.prefix(divergence))
            if divergence < min(result.tokens.count, reference.ids.count) {
                let ours = result.tokens[divergence]
                let theirs = reference.ids[divergence]
                let gap = logits[Int(ours)] - logits[Int(theirs)]
                print("\(name) \(reference.prompt.debugDescription): diverges at token \(divergence): ours \(ours), llama.cpp \(theirs), logit gap \(gap)")
                // Hearth and llama.cpp round differently in the last bits (summation order, the
                // int8 rounding of activations that follows): only a near-tie may flip.
                #expect(gap < 0.5, "divergence at token \(divergence) is not a near-tie (gap \(gap))")
            }
        }
        print("\(name): \(identical)/\(cases.count) greedy continuations identical to llama.cpp")
        // With the kernels in llama.cpp's x86 float order every logit is llama.cpp's, bit for bit
        // (measured: 12 of 12 on all four models); in another order, 3–9 of 12. A wrong model
        // diverges at once and by far.
        #expect(identical >= (productsRoundAsLlamaCppX86 ? cases.count : 3), "\(identical)/\(cases.count) identical")
    }
}
