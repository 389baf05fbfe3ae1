import Engine
import Foundation
import Sampling
import Testing

/// Chat turns on the real models: the prompt is the model's own template, generation stops at
/// its end-of-turn token, and the answer carries no template tokens.
@Suite(.serialized) struct ChatTests {
    static let templateMarkers = ["<|im_start|>", "<|im_end|>", "<start_of_turn>", "<end_of_turn>", "<|endoftext|>", "<eos>"]

    func answer(_ model: String, _ messages: [ChatMessage], maxTokens: Int = 96) throws -> (GenerationResult, ChatFormat) {
        let loaded = try LoadedModel(path: try testModelPath(model), threads: 2)
        let format = try loaded.chatFormat()
        let session = try loaded.makeSession(contextLength: 1024)
        let prompt = try format.tokens(for: messages, addGenerationPrompt: true)
        let result = try session.generate(prompt: prompt, options: GenerationOptions(maxTokens: maxTokens, sampling: .greedy))
        return (result, format)
    }

    @Test func qwenCoderAnswersWithCode() throws {
        let (result, format) = try answer("qwen2.5-coder:0.5b", [.user("Write a Python function that reverses a string")], maxTokens: 128)
        #expect(format.origin == "tokenizer.chat_template")
        #expect(result.text.contains("def "), "answer: \(result.text)")
        #expect(result.text.contains("[::-1]") || result.text.contains("reversed"), "answer: \(result.text)")
        for marker in Self.templateMarkers { #expect(!result.text.contains(marker)) }
    }

    @Test func qwenPromptIsChatML() throws {
        let loaded = try LoadedModel(path: try testModelPath("qwen2.5-coder:0.5b"), threads: 2)
        let rendered = try loaded.chatFormat().render([.system("Be brief."), .user("Hi")], addGenerationPrompt: true)
        #expect(rendered == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        let tokens = try loaded.chatFormat().tokens(for: [.user("Hi")], addGenerationPrompt: true)
        #expect(tokens.first == loaded.tokenizer.tokenID(forText: "<|im_start|>"), "special-token text becomes the special token")
    }

    /// gemma3:270m is a base model whose file has no template: it gets llama.cpp's gemma turn
    /// format, one BOS, and its answers never show template tokens.
    @Test func gemmaWithoutTemplateUsesTheBuiltInGemmaFormat() throws {
        let loaded = try LoadedModel(path: try testModelPath("gemma3:270m"), threads: 2)
        let format = try loaded.chatFormat()
        #expect(format.origin == "built-in (gemma3)")
        let rendered = try format.render([.system("Be brief."), .user("Hi")], addGenerationPrompt: true)
        #expect(rendered == "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n")
        let tokens = try format.tokens(for: [.user("Hi")], addGenerationPrompt: true)
        let bos = try #require(loaded.tokenizer.bosTokenID)
        #expect(tokens.first == bos && tokens.dropFirst().allSatisfy { $0 != bos }, "exactly one BOS: \(tokens)")
        #expect(tokens[1] == loaded.tokenizer.tokenID(forText: "<start_of_turn>"))
        let (result, _) = try answer("gemma3:270m", [.user("What is the capital of France?")], maxTokens: 32)
        for marker in Self.templateMarkers { #expect(!result.text.contains(marker)) }
    }

    @Test func smolLMHoldsAMultiTurnConversation() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        let format = try loaded.chatFormat()
        let session = try loaded.makeSession(contextLength: 1024)
        var messages: [ChatMessage] = [.user("My name is Ada. Please remember it.")]
        let options = GenerationOptions(maxTokens: 48, sampling: .greedy)
        _ = try session.generate(prompt: try format.tokens(for: messages, addGenerationPrompt: true), options: options)
        // The history holds a fixed reply rather than the generated one: whether a 135M model's own
        // first answer repeats the name turns on near-ties in its logits, not on the template.
        messages += [.assistant("Nice to meet you, Ada! I will remember your name."), .user("What is my name?")]
        let secondPrompt = try format.tokens(for: messages, addGenerationPrompt: true)
        let second = try session.generate(prompt: secondPrompt, options: options)
        #expect(second.reusedPromptTokens > 10, "the first turn stays in the cache")
        #expect(second.text.contains("Ada"), "answer: \(second.text)")
        for marker in Self.templateMarkers { #expect(!second.text.contains(marker)) }
    }

    @Test func logprobsAreAValidDistribution() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        let session = try loaded.makeSession(contextLength: 256)
        let prompt = loaded.tokenizer.encode("The capital of France is", addSpecial: true, parseSpecial: false)
        let result = try session.generate(prompt: prompt, options: GenerationOptions(maxTokens: 4, sampling: .greedy, logprobs: 3))
        #expect(result.logprobs.count == result.tokens.count)
        for entry in result.logprobs {
            #expect(entry.logprob <= 0)
            #expect(entry.top.count == 3)
            // Greedy: the chosen token is the most likely one.
            #expect(entry.top[0].token == entry.token)
            #expect(entry.top[0].logprob >= entry.top[1].logprob && entry.top[1].logprob >= entry.top[2].logprob)
        }
    }

    @Test func embeddingsAreUnitLengthAndDistinguishTexts() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        let (a, count) = try loaded.embedding(of: "The cat sat on the mat.", maximumTokens: 512)
        let (b, _) = try loaded.embedding(of: "Quarterly revenue grew by four percent.", maximumTokens: 512)
        let (a2, _) = try loaded.embedding(of: "The cat sat on the mat.", maximumTokens: 512)
        #expect(a.count == 576 && count > 3)
        let norm = a.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(norm - 1) < 1e-3)
        #expect(a == a2, "the same text gives the same vector")
        let cosine = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(cosine < 0.999, "different texts give different vectors")
        #expect(throws: EngineError.self) { try loaded.embedding(of: String(repeating: "word ", count: 600), maximumTokens: 512) }
    }
}
