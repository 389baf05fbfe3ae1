import Foundation
import Grammar
import Models
import Sampling
import Tokenizers

/// What one generation should do.
public struct GenerationOptions: Sendable {
    /// Most tokens to generate; generation also ends at an end-of-generation token, a stop
    /// string, or a full context.
    public var maxTokens: Int = 256
    public var sampling = SamplingParameters()
    /// Strings that end generation; they are not part of the output.
    public var stop: [String] = []
    /// When set, each generated token reports its log-probability and this many most likely
    /// alternatives (0...20), from the model's distribution before sampling.
    public var logprobs: Int? = nil
    /// A grammar the output must match (structured output, tool calls), or nil.
    public var constraint: GenerationConstraint? = nil
    /// Speculative decoding by prompt lookup (same output, fewer passes when text repeats), or nil.
    public var speculation: NGramSpeculation? = nil
    /// Speculative decoding with a draft model (same output; a ``Session`` only, and it takes
    /// precedence over `speculation`), or nil.
    public var draft: DraftModel? = nil

    public init(maxTokens: Int = 256, sampling: SamplingParameters = SamplingParameters(), stop: [String] = [], logprobs: Int? = nil,
                constraint: GenerationConstraint? = nil, speculation: NGramSpeculation? = nil, draft: DraftModel? = nil) {
        self.draft = draft
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stop = stop
        self.logprobs = logprobs
        self.constraint = constraint
        self.speculation = speculation
    }
}

/// A grammar the generated text must match. With no triggers it holds from the first token;
/// with triggers the text is free until one of them appears in the output, and from there on
/// (the trigger included) the grammar holds — how tool calls are kept valid while the model
/// may also answer in prose.
public struct GenerationConstraint: Sendable {
    public var grammar: Grammar
    public var triggers: [String]

    public init(grammar: Grammar, triggers: [String] = []) {
        self.grammar = grammar
        self.triggers = triggers
    }
}

/// The log-probability of one generated token, and of its most likely alternatives.
public struct TokenLogprob: Sendable {
    public var token: Int32
    public var text: String
    public var logprob: Float
    public var top: [(token: Int32, text: String, logprob: Float)]
}

/// Text that became printable, and the tokens generated since the previous piece.
public struct GeneratedPiece: Sendable {
    public var text: String
    public var logprobs: [TokenLogprob]

    public init(text: String, logprobs: [TokenLogprob] = []) {
        self.text = text
        self.logprobs = logprobs
    }
}

/// Why generation ended.
public enum FinishReason: String, Sendable, Codable {
    /// An end-of-generation token or a stop string.
    case stop
    /// `maxTokens` reached or the context is full.
    case length
    /// The caller asked to stop (Ctrl-C, a disconnected client).
    case cancelled
}

/// Counts and timings of one generation.
public struct GenerationResult: Sendable {
    public var text = ""
    /// The model's reasoning, where the server split it from `text` (gpt-oss's analysis channel).
    public var reasoning = ""
    public var tokens: [Int32] = []
    public var promptTokens = 0
    /// Prompt tokens found already in the cache (not recomputed).
    public var reusedPromptTokens = 0
    public var promptSeconds: Double = 0
    public var generationSeconds: Double = 0
    public var finishReason: FinishReason = .length
    /// The stop string (`GenerationOptions.stop`) that ended the output, when one did.
    public var stopSequence: String?
    /// Every generated token's log-probability, when asked for (`GenerationOptions.logprobs`).
    public var logprobs: [TokenLogprob] = []
    /// Under a grammar: seconds each token spent being sampled and checked against it (the
    /// full mask is computed only when the first draw is refused).
    public var constrainedSamplingSeconds: [Double] = []
    /// With speculation: its passes, and the proposed and accepted tokens.
    public var speculation: SpeculationStatistics?
    /// Tokens counted by another engine, for an answer produced elsewhere (the router's remote
    /// tier): its token ids are not known here.
    public var externalTokenCount: Int?

    /// How many tokens the answer has.
    public var completionTokenCount: Int { externalTokenCount ?? tokens.count }

    public init() {}

    public var promptTokensPerSecond: Double {
        promptSeconds > 0 ? Double(promptTokens - reusedPromptTokens) / promptSeconds : 0
    }
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(tokens.count) / generationSeconds : 0
    }
}

/// One conversation: a KV cache and the tokens in it. Not shared between threads.
public final class Session: @unchecked Sendable {
    public let model: LoadedModel
    let cache: KVCache
    /// Tokens whose keys and values are in the cache, in order.
    public internal(set) var cachedTokens: [Int32] = []

    init(model: LoadedModel, cache: KVCache) {
        self.model = model
        self.cache = cache
    }

    public var contextLength: Int { cache.capacity }

    /// Forgets everything (a new conversation).
    public func reset() {
        cache.truncate(to: 0)
        cachedTokens.removeAll()
    }

    /// Generates a continuation of `prompt`, calling `onText` with each piece of text as soon
    /// as it is complete UTF-8 and clear of stop strings; `onText` returns false to cancel.
    ///
    /// Tokens the cache already holds as a prefix of `prompt` are not recomputed, so a growing
    /// chat only pays for its new turn.
    public func generate(
        prompt: [Int32], options: GenerationOptions, onText: (String) -> Bool = { _ in true }
    ) throws -> GenerationResult {
        try generate(prompt: prompt, options: options, onPiece: { onText($0.text) })
    }

    /// ``generate(prompt:options:onText:)`` with log-probabilities: `onPiece` also receives the
    /// tokens generated since its previous call (when `options.logprobs` is set).
    public func generate(
        prompt: [Int32], options: GenerationOptions, onPiece: (GeneratedPiece) -> Bool
    ) throws -> GenerationResult {
        var state = try GenerationState(prompt: prompt, options: options, model: model)
        guard prompt.count < cache.capacity else {
            throw EngineError.promptTooLong(tokens: prompt.count, context: cache.capacity)
        }

        // Reuse the longest cached prefix, but always recompute at least the last prompt token:
        // its logits are what the first sampled token comes from.
        var shared = zip(cachedTokens, prompt).prefix { $0 == $1 }.count
        shared = min(shared, prompt.count - 1)
        cache.truncate(to: shared)
        cachedTokens.removeSubrange(shared...)

        let promptStart = Date()
        var logits = try model.model.forward(Array(prompt[shared...]), cache: cache)
        cachedTokens.append(contentsOf: prompt[shared...])
        state.setTimings(prompt: Date().timeIntervalSince(promptStart), reused: shared)

        let generationStart = Date()
        if let draft = options.draft {
            try speculate(Speculator(draft: draft), prompt: prompt, logits: &logits, state: &state, onPiece: onPiece)
        } else if let speculation = options.speculation {
            try speculate(Speculator(speculation), prompt: prompt, logits: &logits, state: &state, onPiece: onPiece)
        } else {
            generation: while true {
                switch state.step(logits: &logits, cached: cachedTokens.count, capacity: cache.capacity) {
                case .next(let token, let piece):
                    if let piece, !onPiece(piece) {
                        state.cancel()
                        break generation
                    }
                    logits = try model.model.forward([token], cache: cache)
                    cachedTokens.append(token)
                case .finished(let piece):
                    if let piece { _ = onPiece(piece) }
                    break generation
                }
            }
        }
        state.setTimings(generation: Date().timeIntervalSince(generationStart))
        return state.result
    }

    /// The generation loop with speculation (prompt lookup, see ``NGramSpeculation``, or a
    /// ``DraftModel``): each pass feeds the next token and a proposal; the sampler steps through
    /// the pass's rows while its tokens agree with the proposal, and the cache drops the
    /// positions after the first that does not.
    private func speculate(_ speculator: Speculator, prompt: [Int32], logits: inout [Float], state: inout GenerationState,
                           onPiece: (GeneratedPiece) -> Bool) throws {
        var speculator = speculator
        defer { state.recordSpeculation(speculator.statistics) }
        var step = state.step(logits: &logits, cached: cachedTokens.count, capacity: cache.capacity)
        while true {
            guard case .next(let token, let piece) = step else {
                if case .finished(let piece) = step, let piece { _ = onPiece(piece) }
                return
            }
            if let piece, !onPiece(piece) {
                state.cancel()
                return
            }
            let room = min(cache.capacity - cache.count - 1, state.options.maxTokens - state.result.tokens.count - 1)
            let proposal = speculator.propose(prompt: prompt, generated: state.result.tokens, room: room)
            if proposal.isEmpty {
                logits = try model.model.forward([token], cache: cache)
                cachedTokens.append(token)
                step = state.step(logits: &logits, cached: cachedTokens.count, capacity: cache.capacity)
                continue
            }
            let base = cache.count
            var rows = try model.model.forwardRows([SequenceInput(tokens: [token] + proposal, cache: cache, wantsLogits: true,
                                                                  checksProposal: true)])[0]
            cachedTokens.append(token)
            cachedTokens.append(contentsOf: proposal)
            var kept = 0
            var cancelled = false
            step = state.step(logits: &rows[0], cached: base + 1, capacity: cache.capacity)
            while kept < proposal.count, case .next(let next, let piece) = step, next == proposal[kept] {
                kept += 1
                if let piece, !onPiece(piece) {
                    state.cancel()
                    cancelled = true
                    break
                }
                step = state.step(logits: &rows[kept], cached: base + 1 + kept, capacity: cache.capacity)
            }
            // The positions after the last kept token hold a proposal's guesses: forget them.
            cache.truncate(to: base + 1 + kept)
            cachedTokens.removeSubrange((base + 1 + kept)...)
            speculator.record(proposed: proposal.count, kept: kept)
            if cancelled { return }
        }
    }
}

extension Session {
    static func logSoftmax(_ logits: [Float]) -> [Float] {
        let maximum = logits.max() ?? 0
        var sum: Double = 0
        for value in logits { sum += Double(Foundation.exp(value - maximum)) }
        let logSum = maximum + Float(Foundation.log(sum))
        return logits.map { $0 - logSum }
    }

    /// Logits after running `tokens` from an empty cache (diagnostics and tests).
    public func logits(after tokens: [Int32]) throws -> [Float] {
        reset()
        let logits = try model.model.forward(tokens, cache: cache)
        cachedTokens = tokens
        return logits
    }
}

extension LoadedModel {
    func describe(_ token: Int32, in distribution: [Float], alternatives: Int) -> TokenLogprob {
        func text(_ id: Int32) -> String { String(decoding: tokenizer.piece(id, renderSpecial: true), as: UTF8.self) }
        var top: [(token: Int32, text: String, logprob: Float)] = []
        if alternatives > 0 {
            // A partial selection: the vocabulary is large and only a handful are wanted.
            var best: [(Int32, Float)] = []
            for (index, value) in distribution.enumerated() where best.count < alternatives || value > best[best.count - 1].1 {
                let position = best.firstIndex { value > $0.1 } ?? best.count
                best.insert((Int32(index), value), at: position)
                if best.count > alternatives { best.removeLast() }
            }
            top = best.map { ($0.0, text($0.0), $0.1) }
        }
        return TokenLogprob(token: token, text: text(token), logprob: distribution[Int(token)], top: top)
    }
}
