import ArgumentParser
import Engine
import Foundation
import Grammar
import JSON
import Ledger
import Sampling
import Server
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

    @Option(name: [.customShort("n"), .customLong("max-tokens")], parsing: .unconditional, help: "Most tokens to generate per answer (default 1024).")
    var maxTokens: Int?

    @OptionGroup var sampling: SamplingOptions

    @OptionGroup var lora: LoRAOptions

    @OptionGroup var cache: CacheTypeOption

    @Option(help: "Context length in tokens (capped at the model's trained context; default 4096).")
    var ctx: Int?

    @Option(help: "Threads for the forward pass (default: all cores).")
    var threads: Int?

    @Flag(inversion: .prefixedNo, exclusivity: .exclusive, help: "Speculate by prompt lookup (default: on unless a draft model is used): propose the tokens that followed the answer's last tokens where they occurred before (in the prompt or the answer), and check them in one pass. Same output, faster when the answer repeats its input (an edit, a rename, a style fix). --ngram also turns the automatic draft off and prints how the proposals fared.")
    var ngram: Bool?

    @OptionGroup var draft: DraftOptions

    @Option(name: .customLong("draft-max"), help: "With --draft or --ngram: most tokens proposed at once (1...64; default 16 with --draft, 63 with --ngram).")
    var draftMax: Int?

    @Flag(help: "Print timings after each answer in the interactive chat.")
    var verbose = false

    @Option(help: "Constrain the answer: `json` (any JSON object) or a JSON Schema file.")
    var format: String?

    @Option(help: "Constrain the answer with a GBNF grammar file (llama.cpp's format).")
    var grammar: String?

    func validate() throws {
        if let maxTokens, maxTokens < 0 { throw ValidationError("-n must be ≥ 0, got \(maxTokens)") }
        if let ctx, ctx <= 0 { throw ValidationError("--ctx must be > 0, got \(ctx)") }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
        if raw && system != nil { throw ValidationError("--system has no meaning with --raw (no chat template is used)") }
        try sampling.parameters().validate()
        if format != nil && grammar != nil { throw ValidationError("--format and --grammar are two constraints; give one") }
        if ngram == true && draft.explicit != nil { throw ValidationError("--ngram and --draft are two ways to propose tokens; give one") }
        if let draftMax, !(1...64).contains(draftMax) { throw ValidationError("--draft-max must be in 1...64, got \(draftMax)") }
        if draftMax != nil && ngram != true && draft.explicit == nil { throw ValidationError("--draft-max is for --draft or --ngram") }
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
        // A created model's Modelfile: its template and system prompt, and its PARAMETERs as the
        // defaults the flags override.
        let customization = located.customization
        let defaults = try customization.map { try HearthServer.defaults(of: $0) } ?? ModelDefaults()
        let loaded = try LoadedModel(path: located.path, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                     customization: customization?.chat ?? ChatCustomization(),
                                     adapters: try (customization?.adapters ?? []).map { try LoRAAdapter(path: store.adapterURL($0).path, scale: $0.scale) }
                                         + lora.adapters(), cacheType: cache.cacheType)
        let contextLength = ctx ?? defaults.contextLength ?? 4096
        let session = try loaded.makeSession(contextLength: contextLength)
        let draftModel = ngram == true ? nil : try await draft.choose(
            for: loaded, named: located.name, customization: customization, store: store,
            threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, contextLength: contextLength, maximumDraft: draftMax ?? 16)
        let options = GenerationOptions(maxTokens: maxTokens ?? defaults.maxTokens ?? 1024, sampling: try sampling.parameters(over: defaults.sampling),
                                        stop: defaults.stop, constraint: constraint,
                                        speculation: draftModel == nil && ngram != false ? NGramSpeculation(maximumDraft: draftMax ?? 63) : nil,
                                        draft: draftModel)
        // How the proposals fared is printed when speculation was asked for (or a draft ran).
        let reportsSpeculation = ngram == true || draftModel != nil

        let ledger = Ledger(directory: store.root)
        let modelName = located.name ?? URL(fileURLWithPath: located.path).deletingPathExtension().lastPathComponent
        let record = { (result: GenerationResult) in
            ledger.recordNow(LedgerEntry(route: "hearth run", model: modelName, promptTokens: result.promptTokens,
                                         completionTokens: result.tokens.count, cachedTokens: result.reusedPromptTokens,
                                         promptSeconds: result.promptSeconds, generationSeconds: result.generationSeconds,
                                         totalSeconds: result.promptSeconds + result.generationSeconds))
        }

        if raw, let prompt {
            let tokens = loaded.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
            FileHandle.standardOutput.write(Data(prompt.utf8))
            let result = try session.generate(prompt: tokens, options: options) { text in
                FileHandle.standardOutput.write(Data(text.utf8))
                return true
            }
            FileHandle.standardOutput.write(Data("\n".utf8))
            record(result)
            Self.printStats(result, speculation: reportsSpeculation)
            return
        }

        let chat = try ChatLoop(session: session, format: loaded.chatFormat(), options: options, system: system, verbose: verbose)
        chat.onAnswer = record
        if let prompt {
            let result = try chat.answer(prompt)
            Self.printStats(result, speculation: reportsSpeculation)
        } else {
            try chat.runInteractive(modelName: located.name ?? located.path)
        }
    }

    static func printStats(_ result: GenerationResult, speculation reportsSpeculation: Bool = true) {
        let stats = String(
            format: "prompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s | stop: %@\n",
            result.promptTokens, result.promptTokensPerSecond, result.tokens.count,
            result.generationTokensPerSecond, result.finishReason.rawValue)
        FileHandle.standardError.write(Data(stats.utf8))
        if reportsSpeculation, let speculation = result.speculation {
            FileHandle.standardError.write(Data(String(format: "speculation: %d of %d proposed tokens kept (%.0f%%) in %d passes\n",
                                                       speculation.accepted, speculation.proposed, 100 * speculation.acceptance,
                                                       speculation.passes).utf8))
        }
    }
}

/// Sampler flags shared by the commands that generate. A flag left out takes the model's
/// default (a created model's PARAMETER) or else the built-in one (`SamplingParameters()`).
struct SamplingOptions: ParsableArguments {
    @Option(name: .customLong("temp"), parsing: .unconditional, help: "Temperature; 0 is greedy (default 0.8).")
    var temperature: Float?
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Keep the K most likely tokens (0 disables; default 40).")
    var topK: Int?
    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Nucleus sampling threshold (1 disables; default 0.95).")
    var topP: Float?
    @Option(name: .customLong("min-p"), parsing: .unconditional, help: "Drop tokens below this fraction of the best (0 disables; default 0.05).")
    var minP: Float?
    @Option(name: .customLong("repeat-penalty"), parsing: .unconditional, help: "Penalty for recently seen tokens (1 disables; default 1).")
    var repeatPenalty: Float?
    @Option(name: .customLong("repeat-last-n"), parsing: .unconditional, help: "How many recent tokens the penalties look at (0 disables, -1 the whole context; default 64).")
    var repeatLastN: Int?
    @Option(name: .customLong("presence-penalty"), parsing: .unconditional, help: "Subtracted from the logit of every token already seen (0 disables; default 0).")
    var presencePenalty: Float?
    @Option(name: .customLong("frequency-penalty"), parsing: .unconditional, help: "Subtracted from a token's logit per time it was seen (0 disables; default 0).")
    var frequencyPenalty: Float?
    @Option(name: .customLong("typical-p"), parsing: .unconditional, help: "Locally typical sampling threshold (1 disables; default 1).")
    var typicalP: Float?
    @Option(name: .customLong("mirostat"), parsing: .unconditional, help: "Mirostat: 0 off, 1 Mirostat, 2 Mirostat 2.0 (default 0).")
    var mirostat: Int?
    @Option(name: .customLong("seed"), parsing: .unconditional, help: "Random seed; the same seed gives the same output.")
    var seed: UInt64?

    /// The flags over `base`: each flag given replaces its setting.
    func parameters(over base: SamplingParameters = SamplingParameters()) throws -> SamplingParameters {
        var parameters = base
        if let temperature { parameters.temperature = temperature }
        if let topK { parameters.topK = topK }
        if let topP { parameters.topP = topP }
        if let minP { parameters.minP = minP }
        if let repeatPenalty { parameters.repeatPenalty = repeatPenalty }
        if let repeatLastN { parameters.repeatLastN = repeatLastN }
        if let presencePenalty { parameters.presencePenalty = presencePenalty }
        if let frequencyPenalty { parameters.frequencyPenalty = frequencyPenalty }
        if let typicalP { parameters.typicalP = typicalP }
        if let mirostat { parameters.mirostat = mirostat }
        if let seed { parameters.seed = seed }
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
