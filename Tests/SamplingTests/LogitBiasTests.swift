import Sampling
import Testing

@Suite struct LogitBiasTests {
    /// Token 3 best (4), then 7 (3.5), then 1 (2); every other token -5.
    func logits() -> [Float] {
        var values = [Float](repeating: -5, count: 16)
        values[3] = 4
        values[7] = 3.5
        values[1] = 2
        return values
    }

    static let chains: [SamplingParameters] = [
        SamplingParameters(seed: 1),
        SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 2),
        SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: 3, typicalP: 0.9),
        SamplingParameters(temperature: 1, seed: 4, mirostat: 1, mirostatTau: 8),
        SamplingParameters(temperature: 1, seed: 5, mirostat: 2, mirostatTau: 8),
    ]

    @Test func minusHundredBansTheArgmaxWhenGreedy() throws {
        var parameters = SamplingParameters.greedy
        parameters.logitBias = [3: -100]
        var sampler = try Sampler(parameters: parameters, vocabularySize: 16)
        var values = logits()
        #expect(sampler.sample(logits: &values) == 7)
        #expect(values[3] == -96)
    }

    @Test func plusHundredForcesATokenWhenGreedy() throws {
        var parameters = SamplingParameters.greedy
        parameters.logitBias = [12: 100]
        var sampler = try Sampler(parameters: parameters, vocabularySize: 16)
        var values = logits()
        #expect(sampler.sample(logits: &values) == 12)
    }

    @Test(arguments: chains)
    func minusHundredBansWhenSampling(parameters: SamplingParameters) throws {
        var biased = parameters
        biased.logitBias = [3: -100]
        var sampler = try Sampler(parameters: biased, vocabularySize: 16)
        var seen = Set<Int32>()
        for _ in 0..<2000 {
            var values = logits()
            seen.insert(sampler.sample(logits: &values))
        }
        #expect(!seen.contains(3))
        #expect(seen.contains(7))
    }

    @Test(arguments: chains)
    func plusHundredForcesWhenSampling(parameters: SamplingParameters) throws {
        var biased = parameters
        biased.logitBias = [12: 100]
        var sampler = try Sampler(parameters: biased, vocabularySize: 16)
        for _ in 0..<2000 {
            var values = logits()
            #expect(sampler.sample(logits: &values) == 12)
        }
    }

    @Test func smallBiasesShiftTheWinner() throws {
        var parameters = SamplingParameters.greedy
        parameters.logitBias = [1: 2.5, 3: -0.25]
        var sampler = try Sampler(parameters: parameters, vocabularySize: 16)
        var values = logits()
        // 2 + 2.5 = 4.5 beats 4 − 0.25 and 3.5.
        #expect(sampler.sample(logits: &values) == 1)
    }

    /// Allows only the tokens of a set.
    struct SetConstraint: TokenConstraint {
        let allowed: Set<Int32>
        func allows(_ token: Int32) -> Bool { allowed.contains(token) }
        func maskLogits(_ logits: inout [Float]) {
            for index in logits.indices where !allowed.contains(Int32(index)) { logits[index] = -.infinity }
        }
    }

    @Test func appliesUnderAConstraint() throws {
        var parameters = SamplingParameters.greedy
        parameters.logitBias = [3: -100]
        var sampler = try Sampler(parameters: parameters, vocabularySize: 16)
        var values = logits()
        #expect(sampler.sample(logits: &values, constraint: SetConstraint(allowed: [3, 7])) == 7)

        // 12 is drawn first and refused; on the masked redraw token 1's bias (2 + 3 = 5) still counts.
        parameters.logitBias = [12: 100, 1: 3]
        sampler = try Sampler(parameters: parameters, vocabularySize: 16)
        values = logits()
        #expect(sampler.sample(logits: &values, constraint: SetConstraint(allowed: [7, 1])) == 1)
    }

    /// Bias first, then the penalty: (4 − 2) / 2 = 1, where penalty-first would give 4 / 2 − 2 = 0.
    @Test func comesBeforeThePenalties() throws {
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 0, repeatPenalty: 2, logitBias: [3: -2]),
            vocabularySize: 16)
        sampler.accept(3)
        var values = logits()
        _ = sampler.sample(logits: &values)
        #expect(values[3] == 1)
    }

    @Test func tokensOutsideTheVocabularyAreRejected() throws {
        #expect(throws: SamplingError.self) {
            try Sampler(parameters: SamplingParameters(logitBias: [16: 1]), vocabularySize: 16)
        }
        do {
            _ = try Sampler(parameters: SamplingParameters(logitBias: [15: 1, 40_000: -100]), vocabularySize: 16)
            Issue.record("a bias for token 40000 of a 16-token vocabulary was accepted")
        } catch {
            #expect(error.field == "logit_bias")
            #expect(error.reason.contains("40000"))
        }
        _ = try Sampler(parameters: SamplingParameters(logitBias: [15: 1]), vocabularySize: 16)
    }
}
