import Foundation
import Grammar
import Sampling
import Tokenizers

/// The per-sequence half of generation: the sampler (with its own RNG), the streaming
/// detokenizer, stop strings and counts. Each step turns one row of logits into the next token
/// and the text it completes; the caller owns the KV cache and the forward pass, so the same
/// logic serves one session and a batch of many.
struct GenerationState {
    enum Step {
        /// Feed `token` to the model next; `piece` (if any) is new text to deliver first.
        case next(Int32, GeneratedPiece?)
        /// Generation ended (`result.finishReason` says why); `piece` is the last text.
        case finished(GeneratedPiece?)
    }

    let options: GenerationOptions
    let tokenizer: Tokenizer
    private let model: LoadedModel
    private var sampler: Sampler
    private var decoder: StreamingDecoder
    private var stopMatcher: StopMatcher
    private var pendingLogprobs: [TokenLogprob] = []
    private(set) var result = GenerationResult()
    /// Where the output stands in its grammar, once the grammar holds.
    private var matcher: GrammarMatcher?
    /// A grammar waiting for one of its triggers to appear in the output.
    private var waitingConstraint: GenerationConstraint?
    /// The output's bytes since the last position a trigger could still start at.
    private var triggerWindow: [UInt8] = []

    init(prompt: [Int32], options: GenerationOptions, model: LoadedModel) throws {
        if let count = options.logprobs, !(0...20).contains(count) {
            throw EngineError.invalidOption("logprobs", "must be in 0...20, got \(count)")
        }
        guard !prompt.isEmpty else { throw EngineError.emptyPrompt }
        guard options.maxTokens >= 0 else {
            throw EngineError.invalidOption("max tokens", "must be ≥ 0, got \(options.maxTokens)")
        }
        self.options = options
        self.model = model
        tokenizer = model.tokenizer
        sampler = try Sampler(parameters: options.sampling, vocabularySize: model.model.hyperparameters.vocabularySize)
        decoder = StreamingDecoder(tokenizer: model.tokenizer)
        stopMatcher = StopMatcher(stops: options.stop)
        result.promptTokens = prompt.count
        // Penalties look at the prompt too, as llama.cpp's do.
        for token in prompt { sampler.accept(token) }
        if let constraint = options.constraint {
            if constraint.triggers.isEmpty {
                matcher = GrammarMatcher(grammar: constraint.grammar, vocabulary: model.tokenVocabulary)
            } else {
                waitingConstraint = constraint
            }
        }
    }

    mutating func setTimings(prompt: Double? = nil, generation: Double? = nil, reused: Int? = nil) {
        if let prompt { result.promptSeconds = prompt }
        if let generation { result.generationSeconds = generation }
        if let reused { result.reusedPromptTokens = reused }
    }

    /// One token from `logits`. `cached` is how many positions the sequence's cache holds and
    /// `capacity` how many it can.
    mutating func step(logits: inout [Float], cached: Int, capacity: Int) -> Step {
        if result.tokens.count >= options.maxTokens || cached >= capacity {
            return finish(.length, after: "")
        }
        let distribution = options.logprobs.map { _ in Session.logSoftmax(logits) }
        let token: Int32
        if let matcher {
            let started = DispatchTime.now().uptimeNanoseconds
            // The grammar allows nothing the vocabulary can write: end rather than break it.
            guard let allowed = sampler.sample(logits: &logits, constraint: MatcherConstraint(matcher: matcher)) else {
                return finish(.stop, after: "")
            }
            token = allowed
            self.matcher?.accept(token)
            // Sampling and the grammar together; the sampler alone is a small part of it.
            result.constrainedSamplingSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
        } else {
            token = sampler.sample(logits: &logits)
        }
        if tokenizer.isEndOfGeneration(token) { return finish(.stop, after: "") }
        if let distribution, let count = options.logprobs {
            let described = model.describe(token, in: distribution, alternatives: count)
            pendingLogprobs.append(described)
            result.logprobs.append(described)
        }
        result.tokens.append(token)
        sampler.accept(token)
        if waitingConstraint != nil { watchForTrigger(token) }
        let fed = stopMatcher.feed(decoder.append(token))
        if fed.stopped { return finish(.stop, after: fed.text) }
        // A complete match that nothing can extend: the answer is whole without another pass.
        if let matcher, matcher.mustEnd { return finish(.stop, after: fed.text) }
        // The token must go into the cache before the next step: no room ends here.
        if cached + 1 > capacity { return finish(.length, after: fed.text) }
        return .next(token, piece(fed.text))
    }

    /// Switches the waiting grammar on when the output now contains one of its triggers; the
    /// grammar then reads the output from the trigger's first byte.
    private mutating func watchForTrigger(_ token: Int32) {
        guard let constraint = waitingConstraint else { return }
        triggerWindow.append(contentsOf: tokenizer.piece(token))
        for trigger in constraint.triggers {
            let needle = Array(trigger.utf8)
            guard let start = triggerWindow.firstRange(of: needle)?.lowerBound else { continue }
            var started = GrammarMatcher(grammar: constraint.grammar, vocabulary: model.tokenVocabulary)
            // A token that runs past the trigger into text the grammar refuses leaves the output free.
            if started.accept(bytes: triggerWindow[start...]) { matcher = started }
            waitingConstraint = nil
            triggerWindow = []
            return
        }
        // Keep only what could still be the start of a trigger.
        let longest = constraint.triggers.map(\.utf8.count).max() ?? 0
        if triggerWindow.count > longest { triggerWindow.removeFirst(triggerWindow.count - longest) }
    }

    mutating func recordSpeculation(_ statistics: SpeculationStatistics) {
        result.speculation = statistics
    }

    /// Ends without delivering anything more (the client went away).
    mutating func cancel() {
        result.finishReason = .cancelled
    }

    private mutating func finish(_ reason: FinishReason, after text: String) -> Step {
        result.finishReason = reason
        let tail = stopMatcher.feed(decoder.finish())
        result.stopSequence = stopMatcher.matchedStop
        let rest = reason == .stop && tail.stopped ? tail.text : tail.text + stopMatcher.flush()
        return .finished(piece(text + rest))
    }

    private mutating func piece(_ text: String) -> GeneratedPiece? {
        guard !text.isEmpty else { return nil }
        result.text += text
        defer { pendingLogprobs.removeAll() }
        return GeneratedPiece(text: text, logprobs: pendingLogprobs)
    }
}

/// The sampler's view of a grammar position.
private struct MatcherConstraint: TokenConstraint {
    let matcher: GrammarMatcher
    func allows(_ token: Int32) -> Bool { matcher.allows(token) }
    func maskLogits(_ logits: inout [Float]) { matcher.maskLogits(&logits) }
}
