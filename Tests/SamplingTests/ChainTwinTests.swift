import Foundation
import Sampling
import Testing

/// The chain as it was written before it learned to read only the head of the vocabulary: sort
/// every finite candidate, softmax, top-k, top-p, min-p, softmax at the temperature, one draw.
/// Its denominators are summed in Double; the sampler's in Float (16 partial sums; the old
/// sampler summed one candidate after another), so a boundary may move in the last bits.
struct FullSortChain {
    let parameters: SamplingParameters
    var generator: SeededGenerator
    var history: [Int32] = []
    /// The last draw's target and each survivor's slice [start, end) of the cumulative probability.
    var lastTarget: Float = 0
    var lastSlices: [Int32: (start: Float, end: Float)] = [:]

    init(parameters: SamplingParameters) {
        self.parameters = parameters
        generator = SeededGenerator(seed: parameters.seed!)
    }

    mutating func accept(_ token: Int32) { history.append(token) }

    mutating func sample(_ logits: [Float]) -> Int32 {
        var logits = logits
        let p = parameters
        let window = p.repeatLastN < 0 ? history[...] : history.suffix(p.repeatLastN)
        var counts: [Int32: Int] = [:]
        for token in window { counts[token, default: 0] += 1 }
        if p.repeatPenalty != 1 || p.presencePenalty != 0 || p.frequencyPenalty != 0 {
            for (token, count) in counts {
                var logit = logits[Int(token)]
                logit = logit <= 0 ? logit * p.repeatPenalty : logit / p.repeatPenalty
                logit -= Float(count) * p.frequencyPenalty + p.presencePenalty
                logits[Int(token)] = logit
            }
        }
        var candidates = logits.enumerated().filter { $0.element.isFinite }.map { (token: Int32($0.offset), logit: $0.element) }
        candidates.sort { $0.logit != $1.logit ? $0.logit > $1.logit : $0.token < $1.token }
        if p.topK > 0 { candidates = Array(candidates.prefix(p.topK)) }
        func softmax(_ temperature: Float) -> [Float] {
            let exps = candidates.map { expf(($0.logit - candidates[0].logit) / temperature) }
            let sum = Float(exps.reduce(0.0) { $0 + Double($1) })
            return exps.map { $0 / sum }
        }
        var probabilities = softmax(1)
        if p.topP < 1 {
            var cumulative: Float = 0
            for index in probabilities.indices {
                cumulative += probabilities[index]
                if cumulative >= p.topP {
                    candidates.removeSubrange((index + 1)...)
                    probabilities.removeSubrange((index + 1)...)
                    break
                }
            }
        }
        if p.minP > 0 {
            let keep = probabilities.prefix { $0 >= probabilities[0] * p.minP }.count
            candidates.removeSubrange(keep...)
        }
        probabilities = softmax(p.temperature)
        let target = generator.nextUnitFloat()
        lastTarget = target
        lastSlices = [:]
        var cumulative: Float = 0
        var drawn: Int32?
        var lastPossible = 0
        for index in probabilities.indices {
            lastSlices[candidates[index].token] = (cumulative, cumulative + probabilities[index])
            cumulative += probabilities[index]
            if drawn == nil, target < cumulative { drawn = candidates[index].token }
            if probabilities[index] > 0 { lastPossible = index }
        }
        return drawn ?? candidates[lastPossible].token
    }
}

/// Rows of logits shaped like a language model's over a 150k vocabulary: a broad low mass, a
/// few hundred plausible tokens and a handful of strong ones, different every step.
func modelLikeLogits(step: Int, vocabulary: Int = 151_936) -> [Float] {
    var generator = SeededGenerator(seed: UInt64(step) &* 0x9E37_79B9 &+ 17)
    func uniform() -> Float { generator.nextUnitFloat() }
    var logits = (0..<vocabulary).map { _ in (uniform() + uniform() + uniform() - 1.5) * 4 - 2 }
    for _ in 0..<300 { logits[Int(generator.next() % UInt64(vocabulary))] += 6 + 6 * uniform() }
    // Peaked steps (one clear choice) and open steps (several near the top) alternate.
    let strong = step % 3 == 0 ? 1 : 6
    for rank in 0..<strong { logits[Int(generator.next() % UInt64(vocabulary))] = 17 - Float(rank) * (0.3 + uniform()) }
    return logits
}

@Suite struct ChainTwinTests {
    static let chains: [(String, SamplingParameters)] = [
        ("OpenAI defaults, temperature 0.8", SamplingParameters(temperature: 0.8, topK: 0, topP: 1, minP: 0, seed: 1)),
        ("temperature 1.5, nothing truncates", SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: 2)),
        ("top-p 0.9", SamplingParameters(temperature: 1, topK: 0, topP: 0.9, minP: 0, seed: 3)),
        ("min-p 0.05 alone", SamplingParameters(temperature: 0.7, topK: 0, topP: 1, minP: 0.05, seed: 4)),
        ("top-p 0.95 and min-p 0.05", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0.05, seed: 5)),
        ("Ollama's and llama.cpp's defaults", SamplingParameters(temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 6)),
        ("penalties", SamplingParameters(temperature: 0.9, topK: 0, topP: 0.95, minP: 0, repeatPenalty: 1.1, repeatLastN: 64,
                                         presencePenalty: 0.5, frequencyPenalty: 0.3, seed: 7)),
        ("penalties over the whole context", SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, repeatPenalty: 1.3,
                                                                repeatLastN: -1, seed: 8)),
    ]

    /// Every draw of 80 steps over 151,936 tokens, against the full sort, for each chain. A draw
    /// may differ only where rounding moved a boundary: the sampler's token must then lie within
    /// 1e-3 of the target on the twin's own cumulative scale.
    @Test(arguments: 0..<chains.count)
    func drawsTheSameTokensAsTheFullSort(chain: Int) throws {
        let (name, parameters) = Self.chains[chain]
        var sampler = try Sampler(parameters: parameters, vocabularySize: 151_936)
        var twin = FullSortChain(parameters: parameters)
        var differences = 0
        for step in 0..<80 {
            let logits = modelLikeLogits(step: step)
            var row = logits
            let token = sampler.sample(logits: &row)
            let expected = twin.sample(logits)
            if token != expected {
                differences += 1
                let slice = try #require(twin.lastSlices[token], "\(name), step \(step): token \(token) is not among the survivors")
                let distance = max(slice.start - twin.lastTarget, twin.lastTarget - slice.end, 0)
                #expect(distance < 1e-3, "\(name), step \(step): drew \(token) [\(slice.start), \(slice.end)) for target \(twin.lastTarget)")
            }
            // Both continue from the twin's token, so one difference does not carry on.
            sampler.accept(expected)
            twin.accept(expected)
        }
        #expect(differences <= 8, "\(name): \(differences) of 80 draws differ")
    }
}
