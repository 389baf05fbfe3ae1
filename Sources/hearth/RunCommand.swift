import ArgumentParser
import Engine
import Foundation
import Grammar
import JSON
import Sampling
import Store

/// `hearth run MODEL [PROMPT]`: chat with a model, or continue plain text with `--raw`.
///
/// With a PROMPT (or text piped on stdin) it answers one turn and exits; without one it opens an
/// interactive chat that keeps the conversation.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Chat with a model (pulled on first use), or continue text with --raw.",
        discussion: """
            With PROMPT: one chat turn, the answer streamed to stdout. Without PROMPT on a terminal: an
            interactive chat (/? lists its commands; Ctrl-C stops an answer, Ctrl-D or /bye leaves).
            Text piped on stdin is the prompt. --raw continues PROMPT as plain text (no chat template).
            Timings go to stderr.
            """)

    @Argument(help: "Catalog name, installed name, or path to a .gguf file.")
    var model: String

    @Argument(help: "The prompt (omit for an interactive chat).")
    var prompt: String?

    @Flag(help: "Continue the prompt as plain text instead of formatting it as a chat turn.")
    var raw = false

    @Option(help: "System message for the chat.")
    var system: String?

    @Option(name: [.customShort("n"), .customLong("max-tokens")], parsing: .unconditional, help: "Most tokens to generate per answer.")
    var maxTokens: Int = 1024

    @OptionGroup var sampling: SamplingOptions

    @Option(help: "Context length in tokens (capped at the model's trained context).")
    var ctx: Int = 4096

    @Option(help: "Threads for the forward pass (default: all cores).")
    var threads: Int?

    @Flag(help: "Print timings after each answer in the interactive chat.")
    var verbose = false

    @Option(help: "Constrain the answer: `json` (any JSON object) or a JSON Schema file.")
    var format: String?

    @Option(help: "Constrain the answer with a GBNF grammar file (llama.cpp's format).")
    var grammar: String?

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("-n must be ≥ 0, got \(maxTokens)") }
        guard ctx > 0 else { throw ValidationError("--ctx must be > 0, got \(ctx)") }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
        if raw && system != nil { throw ValidationError("--system has no meaning with --raw (no chat template is used)") }
        try sampling.parameters().validate()
        if format != nil && grammar != nil { throw ValidationError("--format and --grammar are two constraints; give one") }
    }

    /// The grammar `--format` or `--grammar` asks for; compiled before the model loads, so a
    /// bad schema or grammar fails fast.
    func constraint() throws -> GenerationConstraint? {
        do {
            if let grammar {
                return GenerationConstraint(grammar: try Grammar(gbnf: try Self.readText(grammar, option: "--grammar")))
            }
            guard let format else { return nil }
            if format == "json" { return GenerationConstraint(grammar: Grammar.jsonObject()) }
            let text = try Self.readText(format, option: "--format")
            let schema: JSONValue
            do {
                schema = try JSONParser.parse(Array(text.utf8))
            } catch {
                throw ValidationErrorMessage("--format \(format): not JSON: \(error)")
            }
            return GenerationConstraint(grammar: try Grammar.jsonSchema(schema))
        } catch let error as GrammarError {
            throw ValidationErrorMessage("\(grammar != nil ? "--grammar" : "--format"): \(error)")
        }
    }

    static func readText(_ path: String, option: String) throws -> String {
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        // Schemas and grammars are small; a huge file is a mistake, not an input.
        if let size = attributes?[.size] as? Int, size > 4 << 20 {
            throw ValidationErrorMessage("\(option) \(path): \(size) bytes; at most 4 MiB")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ValidationErrorMessage("\(option) \(path): cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ValidationErrorMessage("\(option) \(path): not UTF-8 text") }
        return text
    }

    func run() async throws {
        let interactive = prompt == nil && isatty(STDIN_FILENO) == 1
        var prompt = self.prompt
        if prompt == nil && !interactive {
            prompt = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        if raw && prompt == nil { throw ValidationErrorMessage("--raw needs a PROMPT (or text on stdin)") }
        let constraint = try constraint()

        let store = try ModelStore(root: ModelStore.defaultRoot())
        let located = try await ModelLocator(store: store).locate(model, pullIfMissing: true, loadsWeights: true)
        let loaded = try LoadedModel(path: located.path, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let session = try loaded.makeSession(contextLength: ctx)
        let options = GenerationOptions(maxTokens: maxTokens, sampling: try sampling.parameters(), constraint: constraint)

        if raw, let prompt {
            let tokens = loaded.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
            FileHandle.standardOutput.write(Data(prompt.utf8))
            let result = try session.generate(prompt: tokens, options: options) { text in
                FileHandle.standardOutput.write(Data(text.utf8))
                return true
            }
            FileHandle.standardOutput.write(Data("\n".utf8))
            Self.printStats(result)
            return
        }

        let chat = try ChatLoop(session: session, format: loaded.chatFormat(), options: options, system: system, verbose: verbose)
        if let prompt {
            let result = try chat.answer(prompt)
            Self.printStats(result)
        } else {
            try chat.runInteractive(modelName: located.name ?? located.path)
        }
    }

    static func printStats(_ result: GenerationResult) {
        let stats = String(
            format: "prompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s | stop: %@\n",
            result.promptTokens, result.promptTokensPerSecond, result.tokens.count,
            result.generationTokensPerSecond, result.finishReason.rawValue)
        FileHandle.standardError.write(Data(stats.utf8))
    }
}

/// Sampler flags shared by the commands that generate.
struct SamplingOptions: ParsableArguments {
    @Option(name: .customLong("temp"), parsing: .unconditional, help: "Temperature; 0 is greedy.")
    var temperature: Float = 0.8
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Keep the K most likely tokens (0 disables).")
    var topK: Int = 40
    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Nucleus sampling threshold (1 disables).")
    var topP: Float = 0.95
    @Option(name: .customLong("min-p"), parsing: .unconditional, help: "Drop tokens below this fraction of the best (0 disables).")
    var minP: Float = 0.05
    @Option(name: .customLong("repeat-penalty"), parsing: .unconditional, help: "Penalty for recently seen tokens (1 disables).")
    var repeatPenalty: Float = 1.0
    @Option(name: .customLong("repeat-last-n"), parsing: .unconditional, help: "How many recent tokens the penalties look at (0 disables, -1 the whole context).")
    var repeatLastN: Int = 64
    @Option(name: .customLong("presence-penalty"), parsing: .unconditional, help: "Subtracted from the logit of every token already seen (0 disables).")
    var presencePenalty: Float = 0
    @Option(name: .customLong("frequency-penalty"), parsing: .unconditional, help: "Subtracted from a token's logit per time it was seen (0 disables).")
    var frequencyPenalty: Float = 0
    @Option(name: .customLong("typical-p"), parsing: .unconditional, help: "Locally typical sampling threshold (1 disables).")
    var typicalP: Float = 1
    @Option(name: .customLong("mirostat"), parsing: .unconditional, help: "Mirostat: 0 off, 1 Mirostat, 2 Mirostat 2.0.")
    var mirostat: Int = 0
    @Option(name: .customLong("seed"), parsing: .unconditional, help: "Random seed; the same seed gives the same output.")
    var seed: UInt64?

    func parameters() throws -> SamplingParameters {
        let parameters = SamplingParameters(
            temperature: temperature, topK: topK, topP: topP, minP: minP, repeatPenalty: repeatPenalty,
            repeatLastN: repeatLastN, presencePenalty: presencePenalty, frequencyPenalty: frequencyPenalty, seed: seed,
            typicalP: typicalP, mirostat: mirostat)
        do {
            try parameters.validate()
        } catch {
            throw ValidationError(error.description)
        }
        return parameters
    }
}

extension SamplingParameters {
    /// The chain in the flags' words, settings at their off value left out (`/show`, `bench`).
    var summary: String {
        var parts = [String(format: "temp %g", temperature)]
        if mirostat > 0 { parts.append("mirostat \(mirostat)") }
        parts.append("top-k \(topK)")
        parts.append(String(format: "top-p %g", topP))
        parts.append(String(format: "min-p %g", minP))
        if typicalP < 1 { parts.append(String(format: "typical-p %g", typicalP)) }
        parts.append(String(format: "repeat-penalty %g", repeatPenalty))
        if presencePenalty != 0 { parts.append(String(format: "presence-penalty %g", presencePenalty)) }
        if frequencyPenalty != 0 { parts.append(String(format: "frequency-penalty %g", frequencyPenalty)) }
        return parts.joined(separator: ", ")
    }
}
