import Foundation
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

    public init(maxTokens: Int = 256, sampling: SamplingParameters = SamplingParameters(), stop: [String] = [], logprobs: Int? = nil) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stop = stop
        self.logprobs = logprobs
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
    public var tokens: [Int32] = []
    public var promptTokens = 0
    /// Prompt tokens found already in the cache (not recomputed).
    public var reusedPromptTokens = 0
    public var promptSeconds: Double = 0
    public var generationSeconds: Double = 0
    public var finishReason: FinishReason = .length
    /// Every generated token's log-probability, when asked for (`GenerationOptions.logprobs`).
    public var logprobs: [TokenLogprob] = []

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
        if let count = options.logprobs, !(0...20).contains(count) {
            throw EngineError.invalidOption("logprobs", "must be in 0...20, got \(count)")
        }
        guard !prompt.isEmpty else { throw EngineError.emptyPrompt }
        guard options.maxTokens >= 0 else {
            throw EngineError.invalidOption("max tokens", "must be ≥ 0, got \(options.maxTokens)")
        }
        guard prompt.count < cache.capacity else {
            throw EngineError.promptTooLong(tokens: prompt.count, context: cache.capacity)
        }
        let tokenizer = model.tokenizer
        var sampler = try Sampler(parameters: options.sampling, vocabularySize: model.model.hyperparameters.vocabularySize)
        var result = GenerationResult()
        result.promptTokens = prompt.count

        // Reuse the longest cached prefix, but always recompute at least the last prompt token:
        // its logits are what the first sampled token comes from.
        var shared = zip(cachedTokens, prompt).prefix { $0 == $1 }.count
        shared = min(shared, prompt.count - 1)
        cache.truncate(to: shared)
        cachedTokens.removeSubrange(shared...)
        result.reusedPromptTokens = shared
        for token in prompt { sampler.accept(token) }

        let promptStart = Date()
        var logits = try model.model.forward(Array(prompt[shared...]), cache: cache)
        cachedTokens.append(contentsOf: prompt[shared...])
        result.promptSeconds = Date().timeIntervalSince(promptStart)

        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var stopMatcher = StopMatcher(stops: options.stop)
        let generationStart = Date()
        defer { result.generationSeconds = Date().timeIntervalSince(generationStart) }
        var pendingLogprobs: [TokenLogprob] = []
        func emit(_ text: String) -> Bool {
            guard !text.isEmpty else { return true }
            result.text += text
            defer { pendingLogprobs.removeAll() }
            return onPiece(GeneratedPiece(text: text, logprobs: pendingLogprobs))
        }
        while true {
            if result.tokens.count >= options.maxTokens || cachedTokens.count >= cache.capacity {
                result.finishReason = .length
                break
            }
            let distribution = options.logprobs.map { _ in Self.logSoftmax(logits) }
            let token = sampler.sample(logits: &logits)
            if let distribution, let count = options.logprobs, !tokenizer.isEndOfGeneration(token) {
                let described = describe(token, in: distribution, alternatives: count)
                pendingLogprobs.append(described)
                result.logprobs.append(described)
            }
            if tokenizer.isEndOfGeneration(token) {
                result.finishReason = .stop
                break
            }
            result.tokens.append(token)
            sampler.accept(token)
            let step = stopMatcher.feed(decoder.append(token))
            if !emit(step.text) {
                result.finishReason = .cancelled
                break
            }
            if step.stopped {
                result.finishReason = .stop
                break
            }
            if cachedTokens.count + 1 > cache.capacity {
                result.finishReason = .length
                break
            }
            logits = try model.model.forward([token], cache: cache)
            cachedTokens.append(token)
        }
        if result.finishReason != .cancelled {
            let tail = stopMatcher.feed(decoder.finish())
            _ = emit(result.finishReason == .stop && tail.stopped ? tail.text : tail.text + stopMatcher.flush())
        }
        result.generationSeconds = Date().timeIntervalSince(generationStart)
        return result
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

    func describe(_ token: Int32, in distribution: [Float], alternatives: Int) -> TokenLogprob {
        let tokenizer = model.tokenizer
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

    /// Logits after running `tokens` from an empty cache (diagnostics and tests).
    public func logits(after tokens: [Int32]) throws -> [Float] {
        reset()
        let logits = try model.model.forward(tokens, cache: cache)
        cachedTokens = tokens
        return logits
    }
}
