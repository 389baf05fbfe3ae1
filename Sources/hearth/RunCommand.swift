import ArgumentParser
import Engine
import Foundation
import Sampling
import Store

/// `hearth run MODEL [PROMPT]`: generate text, streamed to stdout as it comes.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Generate text with a model (pulled on first use).",
        discussion: """
            The answer streams to stdout; timings go to stderr.
            --raw continues PROMPT as plain text (no chat template).
            """)

    @Argument(help: "Catalog name, installed name, or path to a .gguf file.")
    var model: String

    @Argument(help: "The prompt.")
    var prompt: String?

    @Flag(help: "Continue the prompt as plain text instead of formatting it as a chat turn.")
    var raw = false

    @Option(name: [.customShort("n"), .customLong("max-tokens")], help: "Most tokens to generate.")
    var maxTokens: Int = 256

    @OptionGroup var sampling: SamplingOptions

    @Option(help: "Context length in tokens (capped at the model's trained context).")
    var ctx: Int = 4096

    @Option(help: "Threads for the forward pass (default: all cores).")
    var threads: Int?

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("-n must be ≥ 0, got \(maxTokens)") }
        guard ctx > 0 else { throw ValidationError("--ctx must be > 0, got \(ctx)") }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
        try sampling.parameters().validate()
    }

    func run() async throws {
        let store = try ModelStore(root: ModelStore.defaultRoot())
        let located = try await ModelLocator(store: store).locate(model, pullIfMissing: true)
        let loaded = try LoadedModel(path: located.path, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let session = try loaded.makeSession(contextLength: ctx)
        guard let prompt else {
            throw ValidationErrorMessage("a PROMPT is required (interactive chat arrives with chat templates)")
        }
        guard raw else {
            throw ValidationErrorMessage("chat formatting is not available yet; pass --raw to continue the prompt as plain text")
        }
        let tokens = loaded.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
        let options = GenerationOptions(maxTokens: maxTokens, sampling: try sampling.parameters())
        let output = FileHandle.standardOutput
        output.write(Data(prompt.utf8))
        let result = try session.generate(prompt: tokens, options: options) { text in
            output.write(Data(text.utf8))
            return true
        }
        output.write(Data("\n".utf8))
        let stats = String(
            format: "prompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s | stop: %@\n",
            result.promptTokens, result.promptTokensPerSecond, result.tokens.count,
            result.generationTokensPerSecond, result.finishReason.rawValue)
        FileHandle.standardError.write(Data(stats.utf8))
    }
}

/// Sampler flags shared by the commands that generate.
struct SamplingOptions: ParsableArguments {
    @Option(name: .customLong("temp"), help: "Temperature; 0 is greedy.")
    var temperature: Float = 0.8
    @Option(name: .customLong("top-k"), help: "Keep the K most likely tokens (0 disables).")
    var topK: Int = 40
    @Option(name: .customLong("top-p"), help: "Nucleus sampling threshold (1 disables).")
    var topP: Float = 0.95
    @Option(name: .customLong("min-p"), help: "Drop tokens below this fraction of the best (0 disables).")
    var minP: Float = 0.05
    @Option(name: .customLong("repeat-penalty"), help: "Penalty for recently seen tokens (1 disables).")
    var repeatPenalty: Float = 1.0
    @Option(name: .customLong("seed"), help: "Random seed; the same seed gives the same output.")
    var seed: UInt64?

    func parameters() throws -> SamplingParameters {
        let parameters = SamplingParameters(
            temperature: temperature, topK: topK, topP: topP, minP: minP, repeatPenalty: repeatPenalty, seed: seed)
        do {
            try parameters.validate()
        } catch {
            throw ValidationError(error.description)
        }
        return parameters
    }
}
