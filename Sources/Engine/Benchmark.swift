import Foundation
import Models
import Sampling

/// llama-bench's two measurements for one model.
public struct BenchmarkResult: Sendable, Codable {
    /// Tokens per second processing a prompt of `promptTokens` as one batch, per repetition.
    public var promptRates: [Double]
    /// Tokens per second generating `generatedTokens` one at a time, per repetition.
    public var generationRates: [Double]
    public var promptTokens: Int
    public var generatedTokens: Int
    /// Tokens already in the context when each test starts (llama-bench's `-d`).
    public var depth: Int = 0
}

extension LoadedModel {
    /// pp: a prompt of `promptTokens` tokens evaluated as one batch after `depth` cached tokens.
    /// tg: `generatedTokens` single-token steps after `depth` cached tokens.
    /// As llama-bench (`-d` for the depth), the tokens are arbitrary (here: a fixed pseudo-random
    /// sequence), the context is filled once and not timed, and one warm-up run of each test
    /// precedes the timed repetitions.
    public func benchmark(promptTokens: Int, generatedTokens: Int, repetitions: Int, depth: Int = 0) throws -> BenchmarkResult {
        guard promptTokens >= 0, generatedTokens >= 0, promptTokens + generatedTokens > 0 else {
            throw EngineError.invalidOption("--pp / --tg", "need a positive number of tokens")
        }
        guard repetitions >= 1 else { throw EngineError.invalidOption("--reps", "must be ≥ 1, got \(repetitions)") }
        guard depth >= 0 else { throw EngineError.invalidOption("--depth", "must be ≥ 0, got \(depth)") }
        let vocabulary = model.hyperparameters.vocabularySize
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func nextToken() -> Int32 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int32(truncatingIfNeeded: (state >> 33) % UInt64(vocabulary))
        }
        let context = (0..<depth).map { _ in nextToken() }
        let prompt = (0..<promptTokens).map { _ in nextToken() }
        let steps = (0..<generatedTokens).map { _ in nextToken() }
        let capacity = depth + max(promptTokens, generatedTokens, 1)
        let cache = try model.makeCache(capacity: capacity)
        _ = try model.forward(context, cache: cache)

        func timePrompt() throws -> Double {
            cache.truncate(to: depth)
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try model.forward(prompt, cache: cache)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        func timeGeneration() throws -> Double {
            cache.truncate(to: depth)
            let start = DispatchTime.now().uptimeNanoseconds
            for token in steps { _ = try model.forward([token], cache: cache) }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var result = BenchmarkResult(promptRates: [], generationRates: [], promptTokens: promptTokens,
                                     generatedTokens: generatedTokens, depth: depth)
        if promptTokens > 0 {
            _ = try timePrompt()
            for _ in 0..<repetitions { result.promptRates.append(Double(promptTokens) / (try timePrompt())) }
        }
        if generatedTokens > 0 {
            _ = try timeGeneration()
            for _ in 0..<repetitions { result.generationRates.append(Double(generatedTokens) / (try timeGeneration())) }
        }
        return result
    }

    /// Batched decode, as llama-batched-bench's S_TG: `sequences` sequences, each first given
    /// `contextTokens` prompt tokens (not timed), then `generatedTokens` steps in which every
    /// sequence decodes one token in one shared forward pass. Aggregate tokens/s per repetition.
    public func benchmarkParallelGeneration(
        sequences: Int, contextTokens: Int, generatedTokens: Int, repetitions: Int
    ) throws -> [Double] {
        guard sequences >= 1, sequences <= TransformerModel.maximumBatch else {
            throw EngineError.invalidOption("--parallel", "must be in 1...\(TransformerModel.maximumBatch), got \(sequences)")
        }
        guard generatedTokens >= 1 else { throw EngineError.invalidOption("--tg", "--parallel needs --tg ≥ 1") }
        guard repetitions >= 1 else { throw EngineError.invalidOption("--reps", "must be ≥ 1, got \(repetitions)") }
        let vocabulary = model.hyperparameters.vocabularySize
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func nextToken() -> Int32 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int32(truncatingIfNeeded: (state >> 33) % UInt64(vocabulary))
        }
        let caches = try (0..<sequences).map { _ in try model.makeCache(capacity: contextTokens + generatedTokens) }
        let prompts = (0..<sequences).map { _ in (0..<contextTokens).map { _ in nextToken() } }
        let steps = (0..<generatedTokens).map { _ in (0..<sequences).map { _ in nextToken() } }
        func timeRun() throws -> Double {
            for (cache, prompt) in zip(caches, prompts) {
                cache.truncate(to: 0)
                var start = 0
                while start < prompt.count {
                    let end = min(prompt.count, start + TransformerModel.maximumBatch)
                    _ = try model.forward(Array(prompt[start..<end]), cache: cache)
                    start = end
                }
            }
            let start = DispatchTime.now().uptimeNanoseconds
            for tokens in steps {
                _ = try model.forward(zip(tokens, caches).map { SequenceInput(tokens: [$0], cache: $1, wantsLogits: true) })
            }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        _ = try timeRun()
        return try (0..<repetitions).map { _ in Double(sequences * generatedTokens) / (try timeRun()) }
    }
}

/// Decode speed with and without a grammar on the same prompt, and the time each constrained
/// token spent in sampling and the grammar.
public struct ConstrainedBenchmarkResult: Sendable {
    /// Tokens/s generating freely, per repetition.
    public var freeRates: [Double] = []
    /// Tokens/s generating under the grammar, per repetition.
    public var constrainedRates: [Double] = []
    /// Per constrained token, over all repetitions: seconds sampling and checking the grammar.
    public var constrainedSamplingSeconds: [Double] = []
    /// Tokens generated per constrained repetition (the grammar may end the output early).
    public var constrainedTokens: [Int] = []
}

extension LoadedModel {
    /// Generates up to `maxTokens` after `prompt` freely and under `constraint`, alternating, one
    /// warm-up of each first. Sampled with `sampling` (a fixed seed keeps repetitions comparable).
    public func benchmarkConstrained(
        prompt: [Int32], constraint: GenerationConstraint, sampling: SamplingParameters, maxTokens: Int, repetitions: Int
    ) throws -> ConstrainedBenchmarkResult {
        guard repetitions >= 1 else { throw EngineError.invalidOption("--reps", "must be ≥ 1, got \(repetitions)") }
        guard maxTokens >= 1 else { throw EngineError.invalidOption("--tg", "--schema needs --tg ≥ 1") }
        let session = try makeSession(contextLength: prompt.count + maxTokens + 1)
        func run(_ constraint: GenerationConstraint?) throws -> GenerationResult {
            session.reset()
            return try session.generate(prompt: prompt, options: GenerationOptions(maxTokens: maxTokens, sampling: sampling, constraint: constraint))
        }
        _ = try run(nil)
        _ = try run(constraint)
        var result = ConstrainedBenchmarkResult()
        for _ in 0..<repetitions {
            let free = try run(nil)
            result.freeRates.append(free.generationTokensPerSecond)
            let constrained = try run(constraint)
            result.constrainedRates.append(constrained.generationTokensPerSecond)
            result.constrainedSamplingSeconds += constrained.constrainedSamplingSeconds
            result.constrainedTokens.append(constrained.tokens.count)
        }
        return result
    }
}

/// Decoding a real prompt with the sampler chain against greedy decoding of the same prompt, and
/// the time the sampler itself takes per token (the rest of a step is the forward pass).
public struct SampledBenchmarkResult: Sendable {
    /// Tokens/s decoding with the chain, per repetition (forward passes and sampling).
    public var sampledRates: [Double] = []
    /// Tokens/s decoding greedily, per repetition.
    public var greedyRates: [Double] = []
    /// Per sampled token, over all repetitions: seconds in `Sampler.sample` (penalties, the
    /// chain and the draw).
    public var samplerSeconds: [Double] = []
    /// Per sampled token: seconds for the whole step (the forward pass and the sampler).
    public var stepSeconds: [Double] = []
}

extension LoadedModel {
    /// Decodes `generatedTokens` after `prompt` greedily and with `sampling`, alternating, one
    /// warm-up of each first. As llama-bench's tg, the decode runs its full length (an end of
    /// generation token does not stop it); the logits are the model's, so the sampler sees the
    /// distributions it sees in use. The penalties look at the prompt as in generation.
    public func benchmarkSampled(
        prompt: [Int32], sampling: SamplingParameters, generatedTokens: Int, repetitions: Int
    ) throws -> SampledBenchmarkResult {
        guard repetitions >= 1 else { throw EngineError.invalidOption("--reps", "must be ≥ 1, got \(repetitions)") }
        guard generatedTokens >= 1 else { throw EngineError.invalidOption("--tg", "--sampled needs --tg ≥ 1") }
        guard !prompt.isEmpty else { throw EngineError.emptyPrompt }
        let vocabulary = model.hyperparameters.vocabularySize
        let cache = try model.makeCache(capacity: prompt.count + generatedTokens)
        var result = SampledBenchmarkResult()

        func run(_ parameters: SamplingParameters, record: Bool) throws -> Double {
            var sampler = try Sampler(parameters: parameters, vocabularySize: vocabulary)
            for token in prompt { sampler.accept(token) }
            cache.truncate(to: 0)
            var logits = try model.forward(prompt, cache: cache)
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<generatedTokens {
                let stepStart = DispatchTime.now().uptimeNanoseconds
                let token = sampler.sample(logits: &logits)
                let sampled = DispatchTime.now().uptimeNanoseconds
                sampler.accept(token)
                logits = try model.forward([token], cache: cache)
                if record {
                    result.samplerSeconds.append(Double(sampled - stepStart) / 1e9)
                    result.stepSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e9)
                }
            }
            return Double(generatedTokens) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        _ = try run(.greedy, record: false)
        _ = try run(sampling, record: false)
        for _ in 0..<repetitions {
            result.greedyRates.append(try run(.greedy, record: false))
            result.sampledRates.append(try run(sampling, record: true))
        }
        return result
    }
}
