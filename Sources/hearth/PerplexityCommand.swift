import ArgumentParser
import Engine
import Foundation
import Store

/// `hearth perplexity MODEL --file F`: llama-perplexity's measurement.
struct PerplexityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Measure a model's perplexity on a text (llama-perplexity's method).")

    @Argument(help: "Catalog name, installed name, or path to a .gguf file.")
    var model: String

    @Option(help: "Text file to score.")
    var file: String

    @Option(help: "Window length in tokens; the second half of each window is scored.")
    var ctx: Int = 512

    @Option(help: "Threads for the forward pass (default: all cores).")
    var threads: Int?

    @OptionGroup var cache: CacheTypeOption

    @Flag(help: "Print {\"ppl\": …, \"tokens\": …, \"chunks\": …}.")
    var json = false

    func validate() throws {
        guard ctx >= 16 else { throw ValidationError("--ctx must be ≥ 16, got \(ctx)") }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationErrorMessage("cannot read --file '\(file)'")
        }
        let store = try ModelStore(root: ModelStore.defaultRoot())
        let located = try await ModelLocator(store: store).locate(model, pullIfMissing: true, loadsWeights: true)
        let loaded = try LoadedModel(path: located.path, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                     cacheType: cache.cacheType)
        // As llama-perplexity: BOS added when the model adds it, special-token text not parsed.
        let tokens = loaded.tokenizer.encode(String(decoding: data, as: UTF8.self), addSpecial: true, parseSpecial: false)
        let result = try loaded.perplexity(of: tokens, context: ctx) { done, total, running in
            FileHandle.standardError.write(Data(String(format: "[%d/%d] ppl %.4f\n", done, total, running).utf8))
        }
        if json {
            print(String(format: "{\"ppl\": %.6f, \"tokens\": %d, \"chunks\": %d}", result.ppl, result.tokens, result.chunks))
        } else {
            print(String(format: "perplexity %.4f over %d chunks of %d tokens (%d tokens scored, %.1f s)",
                         result.ppl, result.chunks, ctx, result.scored, result.seconds))
        }
    }
}
