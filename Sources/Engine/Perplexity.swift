import Foundation
import Models

/// Perplexity of a text, measured the way `llama-perplexity` does.
public struct PerplexityResult: Sendable, Codable {
    public var ppl: Double
    /// Tokens in the whole text.
    public var tokens: Int
    /// Windows of `context` tokens scored.
    public var chunks: Int
    /// Tokens whose probability was scored (second half of each window).
    public var scored: Int
    public var seconds: Double
}

extension LoadedModel {
    /// Cuts `tokens` into non-overlapping windows of `context` tokens, replaces each window's
    /// first token with BOS when the model adds BOS, evaluates each window from an empty cache,
    /// and scores only the second half of each window (those tokens have seen at least half a
    /// window of context) — llama-perplexity's method.
    public func perplexity(
        of tokens: [Int32], context: Int, progress: (Int, Int, Double) -> Void = { _, _, _ in }
    ) throws -> PerplexityResult {
        guard context >= 16 else { throw EngineError.invalidOption("context", "must be ≥ 16, got \(context)") }
        let chunks = tokens.count / context
        guard chunks > 0 else {
            throw EngineError.invalidOption(
                "text", "has \(tokens.count) tokens; at least \(context) (one window) are needed")
        }
        let vocabulary = model.hyperparameters.vocabularySize
        let cache = try model.makeCache(capacity: context)
        let firstScored = context / 2
        var negativeLogLikelihood: Double = 0
        var scored = 0
        let start = Date()
        for chunk in 0..<chunks {
            var window = Array(tokens[(chunk * context)..<((chunk + 1) * context)])
            if tokenizer.addsBOS, let bos = tokenizer.bosTokenID { window[0] = bos }
            cache.truncate(to: 0)
            let logits = try model.forward(window, cache: cache, logits: .all)
            for position in firstScored..<(context - 1) {
                let row = logits[(position * vocabulary)..<((position + 1) * vocabulary)]
                let maximum = row.max() ?? 0
                var sum: Double = 0
                for value in row { sum += Foundation.exp(Double(value - maximum)) }
                let target = Double(row[row.startIndex + Int(tokens[chunk * context + position + 1])] - maximum)
                negativeLogLikelihood += Foundation.log(sum) - target
                scored += 1
            }
            progress(chunk + 1, chunks, Foundation.exp(negativeLogLikelihood / Double(scored)))
        }
        return PerplexityResult(
            ppl: Foundation.exp(negativeLogLikelihood / Double(scored)), tokens: tokens.count, chunks: chunks,
            scored: scored, seconds: Date().timeIntervalSince(start))
    }
}
