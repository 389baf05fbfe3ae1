import Foundation
import Sampling
import Testing

/// Draws many tokens from one fixed distribution per chain and checks the frequencies against
/// the chain's distribution worked out here in Double, with a chi-squared test: a sampler that
/// reads the wrong candidates, renormalises wrongly or draws with a bias fails it.
@Suite struct SamplingStatisticsTests {
    static let vocabulary = 4096
    static let draws = 100_000

    /// A Zipf-like spread with ties, plus tokens that must never come out.
    static let logits: [Float] = (0..<vocabulary).map { index in
        if index % 1000 == 999 { return -.infinity }
        if index == 2500 { return .nan }
        let rank = Float((index * 2654435761) % vocabulary + 1)
        return 9 - 2.2 * log(rank) + (index % 7 == 0 ? 0.5 : 0)
    }

    /// Tokens seen before the draws, for the penalties (never updated, so the distribution holds).
    static let history: [Int32] = [0, 1, 1, 2, 3, 3, 3, 5, 8, 13, 21, 34, 55, 89, 144]

    /// The chain's distribution: penalties, best first, top-k, top-p, min-p, temperature.
    static func expected(_ p: SamplingParameters) -> [Double] {
        var logits = Self.logits.map(Double.init)
        var counts: [Int32: Int] = [:]
        for token in history { counts[token, default: 0] += 1 }
        if p.repeatPenalty != 1 || p.presencePenalty != 0 || p.frequencyPenalty != 0 {
            for (token, count) in counts {
                var logit = logits[Int(token)]
                logit = logit <= 0 ? logit * Double(p.repeatPenalty) : logit / Double(p.repeatPenalty)
                logits[Int(token)] = logit - Double(count) * Double(p.frequencyPenalty) - Double(p.presencePenalty)
            }
        }
        var order = logits.indices.filter { logits[$0].isFinite }
        order.sort { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        func softmax(_ tokens: [Int], _ temperature: Double) -> [Double] {
            let exps = tokens.map { Foundation.exp((logits[$0] - logits[tokens[0]]) / temperature) }
            let sum = exps.reduce(0, +)
            return exps.map { $0 / sum }
        }
        if p.mirostat == 2 {
            // Mirostat 2.0 with eta 0 keeps mu = 2·tau: the tokens whose surprise is at most mu.
            let whole = softmax(order, Double(p.temperature))
            order = zip(order, whole).filter { -log2($0.1) <= Double(2 * p.mirostatTau) }.map(\.0)
        } else {
            if p.topK > 0 { order = Array(order.prefix(p.topK)) }
            var probabilities = softmax(order, 1)
            if p.topP < 1 {
                var cumulative = 0.0
                let cut = probabilities.firstIndex { cumulative += $0; return cumulative >= Double(p.topP) } ?? order.count - 1
                order = Array(order.prefix(cut + 1))
                probabilities = Array(probabilities.prefix(cut + 1))
            }
            if p.minP > 0 {
                order = Array(order.prefix(probabilities.prefix { $0 >= probabilities[0] * Double(p.minP) }.count))
            }
        }
        var distribution = [Double](repeating: 0, count: vocabulary)
        let kept = order.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        for (token, probability) in zip(kept, softmax(kept, Double(p.temperature))) { distribution[token] = probability }
        return distribution
    }

    static let chains: [(String, SamplingParameters)] = [
        ("OpenAI defaults, temperature 0.8", SamplingParameters(temperature: 0.8, topK: 0, topP: 1, minP: 0, seed: 11)),
        ("top-p 0.9", SamplingParameters(temperature: 1, topK: 0, topP: 0.9, minP: 0, seed: 12)),
        ("top-k 40, top-p 0.95, min-p 0.05", SamplingParameters(temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 13)),
        ("min-p 0.02, temperature 1.2", SamplingParameters(temperature: 1.2, topK: 0, topP: 1, minP: 0.02, seed: 14)),
        ("penalties", SamplingParameters(temperature: 1, topK: 0, topP: 0.95, minP: 0, repeatPenalty: 1.3, repeatLastN: 64,
                                         presencePenalty: 0.5, frequencyPenalty: 0.2, seed: 15)),
        ("Mirostat 2.0, fixed mu", SamplingParameters(temperature: 1, seed: 16, mirostat: 2, mirostatTau: 3, mirostatEta: 0)),
    ]

    @Test(arguments: 0..<chains.count)
    func frequenciesFollowTheChain(chain: Int) throws {
        let (name, parameters) = Self.chains[chain]
        let distribution = Self.expected(parameters)
        var sampler = try Sampler(parameters: parameters, vocabularySize: Self.vocabulary)
        for token in Self.history { sampler.accept(token) }
        var counts = [Int](repeating: 0, count: Self.vocabulary)
        for _ in 0..<Self.draws {
            var row = Self.logits
            counts[Int(sampler.sample(logits: &row))] += 1
        }
        let impossible = counts.indices.filter { distribution[$0] == 0 && counts[$0] > 0 }
        #expect(impossible.isEmpty, "\(name): drew tokens the chain excludes: \(impossible.prefix(5))")

        // Cells with an expected count of at least 5; the rest pooled into one.
        var statistic = 0.0
        var cells = 0
        var pooledExpected = 0.0
        var pooledObserved = 0
        for token in counts.indices where distribution[token] > 0 {
            let expected = distribution[token] * Double(Self.draws)
            if expected >= 5 {
                statistic += (Double(counts[token]) - expected) * (Double(counts[token]) - expected) / expected
                cells += 1
            } else {
                pooledExpected += expected
                pooledObserved += counts[token]
            }
        }
        if pooledExpected >= 5 {
            statistic += (Double(pooledObserved) - pooledExpected) * (Double(pooledObserved) - pooledExpected) / pooledExpected
            cells += 1
        }
        #expect(cells >= 3, "\(name): too few cells to test (\(cells))")
        let critical = Self.chiSquaredCritical(degreesOfFreedom: cells - 1)
        #expect(statistic < critical, "\(name): χ² \(statistic) over \(cells - 1) degrees of freedom, critical \(critical)")
    }

    /// The χ² value exceeded with probability 1e-4 (Wilson–Hilferty; z = 3.719).
    static func chiSquaredCritical(degreesOfFreedom k: Int) -> Double {
        let df = Double(k)
        let a = 2 / (9 * df)
        return df * pow(1 - a + 3.719 * a.squareRoot(), 3)
    }
}
