import Foundation
@testable import Sampling
import Testing

@Suite struct MirostatTests {
    static func logits(_ probabilities: [Double]) -> [Float] { probabilities.map { Float(log($0)) } }

    /// Draws once from a fresh sampler per seed; returns (token, mu after the draw) for each.
    static func firstDraws(_ parameters: SamplingParameters, logits: [Float], seeds: Range<UInt64> = 0..<300) throws -> [(Int32, Float)] {
        try seeds.map { seed in
            var seeded = parameters
            seeded.seed = seed
            var sampler = try Sampler(parameters: seeded, vocabularySize: logits.count)
            #expect(sampler.mirostatMu == 2 * parameters.mirostatTau)
            var values = logits
            let token = sampler.sample(logits: &values)
            return (token, sampler.mirostatMu)
        }
    }

    /// p ∝ 1/(i+1)², an exact Zipf law with s = 2 over N = 4 tokens, so the fit gives ŝ = 2,
    /// ε = 1 and, with tau = 1.5 (mu = 3), k = (1·2³ / (1 − 4⁻¹))^(1/2) = 3.266 → top 3.
    /// Renormalised p = 0.7347, 0.1837, 0.0816; surprise 0.4448, 2.4448, 3.6147 bits;
    /// mu' = 3 − 0.1·(surprise − 1.5).
    @Test func versionOneTruncatesAndUpdatesMuAsComputedByHand() throws {
        let parameters = SamplingParameters(temperature: 1, mirostat: 1, mirostatTau: 1.5, mirostatEta: 0.1)
        let expectedMu: [Int32: Float] = [0: 3.105_521_5, 1: 2.905_521_5, 2: 2.788_529_0]
        let draws = try Self.firstDraws(parameters, logits: Self.logits([1, 1.0 / 4, 1.0 / 9, 1.0 / 16]))
        for (token, mu) in draws {
            guard let expected = expectedMu[token] else {
                Issue.record("token \(token) is outside the top 3")
                continue
            }
            #expect(abs(mu - expected) < 1e-4, "token \(token): mu \(mu), expected \(expected)")
        }
        #expect(Set(draws.map(\.0)) == [0, 1, 2])
    }

    @Test func versionOneTopKFormula() {
        // The worked example above, and the ε = 0 limit 2^mu / ln N (here (2⁴ / ln 100)^1 = 3.47).
        #expect(Sampler.mirostatTopK(zipfExponent: 2, mu: 3, vocabularySize: 4, available: 4) == 3)
        #expect(Sampler.mirostatTopK(zipfExponent: 1, mu: 4, vocabularySize: 100, available: 100) == 3)
        // A flat top (ŝ = 0) over a large vocabulary: (2^mu / (N − 1))^∞ → 0, clamped to 1.
        #expect(Sampler.mirostatTopK(zipfExponent: 0, mu: 10, vocabularySize: 32000, available: 32000) == 1)
        // A huge mu asks for more tokens than there are.
        #expect(Sampler.mirostatTopK(zipfExponent: 1.1, mu: 200, vocabularySize: 32000, available: 500) == 500)
    }

    /// p = 1/2, 1/4, 1/8, 1/8: surprises 1, 2, 3, 3 bits. tau = 1.25 → mu = 2.5 keeps tokens 0
    /// and 1, renormalised to 2/3 and 1/3 (surprise 0.585, 1.585): mu' = 2.5665 or 2.4665.
    @Test func versionTwoTruncatesAndUpdatesMuAsComputedByHand() throws {
        let parameters = SamplingParameters(temperature: 1, mirostat: 2, mirostatTau: 1.25, mirostatEta: 0.1)
        let expectedMu: [Int32: Float] = [0: 2.566_503_7, 1: 2.466_503_7]
        let draws = try Self.firstDraws(parameters, logits: Self.logits([0.5, 0.25, 0.125, 0.125]))
        for (token, mu) in draws {
            guard let expected = expectedMu[token] else {
                Issue.record("token \(token) has surprise 3 > mu 2.5 and should have been cut")
                continue
            }
            #expect(abs(mu - expected) < 1e-4, "token \(token): mu \(mu), expected \(expected)")
        }
        #expect(Set(draws.map(\.0)) == [0, 1])
    }

    /// Temperature comes first: at T = 0.5 p ∝ p², i.e. 0.727, 0.182, 0.045, 0.045 (surprise
    /// 0.459, 2.459, 4.459, 4.459). mu = 2.5 keeps 0 and 1 as 0.8 / 0.2 (0.322, 2.322 bits).
    @Test func versionTwoAppliesTheTemperatureFirst() throws {
        let parameters = SamplingParameters(temperature: 0.5, mirostat: 2, mirostatTau: 1.25, mirostatEta: 0.1)
        let expectedMu: [Int32: Float] = [0: 2.592_807_2, 1: 2.392_807_2]
        let draws = try Self.firstDraws(parameters, logits: Self.logits([0.5, 0.25, 0.125, 0.125]))
        for (token, mu) in draws {
            guard let expected = expectedMu[token] else {
                Issue.record("token \(token) should have been cut")
                continue
            }
            #expect(abs(mu - expected) < 1e-4)
        }
        #expect(Set(draws.map(\.0)) == [0, 1])
    }

    /// With eta = 1 the first draw moves the cut: after token 0 (surprise 0.585) mu = 3.165 keeps
    /// all four tokens, so the second draw's surprise is the full distribution's 1, 2, 3, 3;
    /// after token 1 (1.585) mu = 2.165 still keeps only 0 and 1 (0.585, 1.585 again).
    @Test func versionTwoFeedsMuBackIntoTheCut() throws {
        let logits = Self.logits([0.5, 0.25, 0.125, 0.125])
        let afterFirst: [Int32: Float] = [0: 3.165_037_5, 1: 2.165_037_5]
        let secondSurprise: [Int32: [Int32: Float]] = [
            0: [0: 1, 1: 2, 2: 3, 3: 3],
            1: [0: 0.584_962_5, 1: 1.584_962_5],
        ]
        var pairs = Set<[Int32]>()
        for seed: UInt64 in 0..<400 {
            var sampler = try Sampler(
                parameters: SamplingParameters(temperature: 1, seed: seed, mirostat: 2, mirostatTau: 1.25, mirostatEta: 1),
                vocabularySize: 4)
            var values = logits
            let first = sampler.sample(logits: &values)
            let mu1 = sampler.mirostatMu
            values = logits
            let second = sampler.sample(logits: &values)
            guard let expectedMu1 = afterFirst[first], let surprise = secondSurprise[first]?[second] else {
                Issue.record("impossible pair \(first), \(second)")
                continue
            }
            #expect(abs(mu1 - expectedMu1) < 1e-4)
            #expect(abs(sampler.mirostatMu - (expectedMu1 - (surprise - 1.25))) < 1e-4)
            pairs.insert([first, second])
        }
        // Tokens 2 and 3 come out only once token 0 has raised mu.
        #expect(pairs.contains([0, 2]) || pairs.contains([0, 3]))
        #expect(!pairs.contains([1, 2]) && !pairs.contains([1, 3]))
    }

    @Test(arguments: [1, 2])
    func resetRestoresMu(version: Int) throws {
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 1, seed: 3, mirostat: version, mirostatTau: 1.25),
            vocabularySize: 4)
        var values = Self.logits([0.5, 0.25, 0.125, 0.125])
        _ = sampler.sample(logits: &values)
        #expect(sampler.mirostatMu != 2.5)
        sampler.reset()
        #expect(sampler.mirostatMu == 2.5)
    }

    @Test(arguments: [1, 2])
    func temperatureZeroStaysGreedy(version: Int) throws {
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 0, seed: 3, mirostat: version, mirostatTau: 5),
            vocabularySize: 4)
        for _ in 0..<50 {
            var values: [Float] = [0.1, 2, 1.9, -1]
            #expect(sampler.sample(logits: &values) == 1)
        }
        #expect(sampler.mirostatMu == 10)
    }

    /// As in llama.cpp, Mirostat replaces the truncation samplers: top-k 1, top-p and min-p that
    /// would each leave only token 0 are not applied.
    @Test(arguments: [1, 2])
    func truncationSamplersAreNotUsed(version: Int) throws {
        let parameters = SamplingParameters(
            temperature: 1, topK: 1, topP: 0.1, minP: 0.9, seed: 8, typicalP: 0.1, mirostat: version, mirostatTau: 10)
        var sampler = try Sampler(parameters: parameters, vocabularySize: 4)
        var seen = Set<Int32>()
        for _ in 0..<300 {
            var values = Self.logits([0.4, 0.3, 0.2, 0.1])
            seen.insert(sampler.sample(logits: &values))
        }
        #expect(seen == [0, 1, 2, 3])
    }

    /// Token 2 (3 bits) is above mu = 2.5 unmasked, so the first draw is always refused; the
    /// masked redraw has token 2 alone (surprise 0) and mu must learn from that draw only:
    /// 2.5 − 0.1·(0 − 1.25) = 2.625.
    @Test func aRefusedDrawDoesNotMoveMu() throws {
        struct OnlyTokenTwo: TokenConstraint {
            func allows(_ token: Int32) -> Bool { token == 2 }
            func maskLogits(_ logits: inout [Float]) {
                for index in logits.indices where index != 2 { logits[index] = -.infinity }
            }
        }
        for seed: UInt64 in 0..<20 {
            var sampler = try Sampler(
                parameters: SamplingParameters(temperature: 1, seed: seed, mirostat: 2, mirostatTau: 1.25, mirostatEta: 0.1),
                vocabularySize: 4)
            var values = Self.logits([0.5, 0.25, 0.125, 0.125])
            #expect(sampler.sample(logits: &values, constraint: OnlyTokenTwo()) == 2)
            #expect(abs(sampler.mirostatMu - 2.625) < 1e-6)
        }
    }

    /// A Zipf-like distribution (s = 1.05 over 4096 tokens, entropy 8.27 bits), the ranks scattered
    /// over the token ids. The surprise of each draw is read back from mu's update
    /// (s_t = tau + (mu_t − mu_{t+1}) / eta) and checked against the drawn token: it can only be
    /// lower than the token's surprise in the full distribution, since truncating raises p. For
    /// Mirostat 2.0 it is also recomputed from scratch. Mirostat must hold its mean near tau,
    /// far below the entropy an untruncated draw would average.
    @Test(arguments: [1, 2])
    func holdsTheObservedSurpriseNearTau(version: Int) throws {
        let vocabulary = 4096
        let tau: Float = 3
        let eta: Float = 0.1
        var probabilities = [Double](repeating: 0, count: vocabulary)
        for rank in 0..<vocabulary {
            probabilities[(rank * 1237 + 11) % vocabulary] = 1 / pow(Double(rank + 1), 1.05)
        }
        let total = probabilities.reduce(0, +)
        probabilities = probabilities.map { $0 / total }
        let logits = probabilities.map { Float(log($0)) }
        let fullSurprise = probabilities.map { -log2($0) }

        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 1, seed: 2024, mirostat: version, mirostatTau: tau, mirostatEta: eta),
            vocabularySize: vocabulary)
        var observed: [Double] = []
        var drawnFullSurprise: [Double] = []
        for _ in 0..<2000 {
            let muBefore = sampler.mirostatMu
            var values = logits
            let token = Int(sampler.sample(logits: &values))
            let surprise = Double(tau + (muBefore - sampler.mirostatMu) / eta)
            #expect(surprise > -1e-3 && surprise <= fullSurprise[token] + 1e-3)
            if version == 2 {
                var kept = 0.0
                for index in 0..<vocabulary where fullSurprise[index] <= Double(muBefore) { kept += probabilities[index] }
                let independent = kept > 0 ? -log2(probabilities[token] / kept) : 0
                #expect(abs(surprise - independent) < 2e-3)
            }
            observed.append(surprise)
            drawnFullSurprise.append(fullSurprise[token])
        }
        let settled = observed.dropFirst(500)
        let meanSurprise = settled.reduce(0, +) / Double(settled.count)
        #expect(abs(meanSurprise - Double(tau)) < 0.25, "mean observed surprise \(meanSurprise)")
        let meanFull = drawnFullSurprise.dropFirst(500).reduce(0, +) / Double(settled.count)
        #expect(meanFull < Double(tau) + 2, "the drawn tokens average \(meanFull) bits in the full distribution")
        #expect(abs(sampler.mirostatMu - 2 * tau) < 5)
    }
}
