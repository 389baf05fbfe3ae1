import Sampling
import Testing

@Suite struct NewParameterValidationTests {
    @Test(arguments: [
        (SamplingParameters(typicalP: 1.5), "typical_p"),
        (SamplingParameters(typicalP: -0.1), "typical_p"),
        (SamplingParameters(typicalP: .nan), "typical_p"),
        (SamplingParameters(mirostat: 3), "mirostat"),
        (SamplingParameters(mirostat: -1), "mirostat"),
        (SamplingParameters(mirostatTau: -1), "mirostat_tau"),
        (SamplingParameters(mirostatTau: .infinity), "mirostat_tau"),
        (SamplingParameters(mirostatEta: 1.5), "mirostat_eta"),
        (SamplingParameters(mirostatEta: .nan), "mirostat_eta"),
        (SamplingParameters(logitBias: [5: 101]), "logit_bias"),
        (SamplingParameters(logitBias: [5: -100.5]), "logit_bias"),
        (SamplingParameters(logitBias: [5: .nan]), "logit_bias"),
        (SamplingParameters(logitBias: [5: -.infinity]), "logit_bias"),
        (SamplingParameters(logitBias: [-1: 1]), "logit_bias"),
    ])
    func nonsenseIsRejected(parameters: SamplingParameters, field: String) {
        #expect(throws: SamplingError.self) { try Sampler(parameters: parameters, vocabularySize: 8) }
        do {
            try parameters.validate()
            Issue.record("\(field) was accepted")
        } catch {
            #expect(error.field == field)
            #expect(error.description.contains(field))
        }
    }

    @Test(arguments: [
        SamplingParameters(typicalP: 0),
        SamplingParameters(typicalP: 1),
        SamplingParameters(mirostat: 1, mirostatTau: 0, mirostatEta: 0),
        SamplingParameters(mirostat: 2, mirostatTau: 100, mirostatEta: 1),
        SamplingParameters(logitBias: [0: -100, 7: 100, 3: 0]),
    ])
    func limitsAreAccepted(parameters: SamplingParameters) throws {
        try parameters.validate()
        _ = try Sampler(parameters: parameters, vocabularySize: 8)
    }

    @Test func defaultsLeaveTheNewSamplersOff() {
        let parameters = SamplingParameters()
        #expect(parameters.typicalP == 1)
        #expect(parameters.mirostat == 0)
        #expect(parameters.mirostatTau == 5)
        #expect(parameters.mirostatEta == 0.1)
        #expect(parameters.logitBias.isEmpty)
    }
}

/// Token sequences recorded from the sampler before typical-p, Mirostat and logit bias were
/// added: the same seeds must keep giving the same tokens for the parameters that existed then.
@Suite struct UnchangedDrawsTests {
    /// 64 distinct-ish logits (a few ties) that rotate every step.
    static func logits(step: Int) -> [Float] {
        (0..<64).map { i in
            let j = (i + step * 5) % 64
            return Float((j * 37) % 64) / 8 - 4 + (j % 5 == 0 ? 2 : 0)
        }
    }

    struct EvenTokens: TokenConstraint {
        func allows(_ token: Int32) -> Bool { token % 2 == 0 }
        func maskLogits(_ logits: inout [Float]) {
            for index in logits.indices where index % 2 != 0 { logits[index] = -.infinity }
        }
    }

    static let recorded: [(SamplingParameters, Bool, [Int32])] = [
        (SamplingParameters(seed: 42), false,
         [50, 0, 0, 16, 16, 13, 53, 41, 62, 10, 24, 14, 61, 4, 13, 4, 58, 55, 57, 52, 14, 9, 23, 4,
          13, 8, 3, 50, 62, 33, 47, 47, 44, 51, 18, 55, 5, 57, 7, 14, 47, 6, 39, 37, 3, 17, 17, 12]),
        (SamplingParameters(temperature: 1.3, topK: 0, topP: 0.9, minP: 0, seed: 7), false,
         [12, 0, 21, 5, 0, 63, 20, 15, 15, 5, 33, 5, 2, 23, 4, 8, 53, 53, 24, 19, 14, 16, 11, 18,
          20, 53, 48, 31, 38, 57, 28, 23, 47, 47, 1, 8, 3, 0, 45, 17, 16, 56, 1, 27, 29, 17, 38, 36]),
        (SamplingParameters(temperature: 0.7, topK: 10, topP: 1, minP: 0.1, seed: 123), false,
         [50, 55, 59, 35, 30, 6, 39, 20, 34, 24, 5, 19, 54, 49, 49, 39, 34, 53, 43, 19, 14, 19, 23, 63,
          58, 8, 8, 48, 7, 52, 47, 23, 37, 20, 8, 3, 17, 45, 52, 2, 2, 37, 32, 27, 41, 17, 36, 26]),
        (SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, repeatPenalty: 1.3, repeatLastN: 16,
                            presencePenalty: 0.4, frequencyPenalty: 0.2, seed: 5), false,
         [5, 33, 28, 16, 54, 51, 44, 60, 29, 38, 59, 14, 23, 11, 32, 44, 22, 3, 48, 0, 19, 28, 4, 42,
          27, 1, 8, 43, 62, 14, 54, 47, 63, 32, 8, 10, 22, 45, 7, 57, 61, 6, 56, 27, 6, 17, 62, 26]),
        (SamplingParameters(seed: 11), true,
         [50, 0, 40, 54, 16, 44, 20, 34, 36, 24, 10, 14, 54, 4, 44, 6, 34, 48, 50, 52, 24, 28, 4, 18,
          58, 58, 36, 62, 38, 38, 16, 52, 18, 46, 32, 8, 22, 62, 52, 12, 42, 56, 32, 46, 46, 46, 36, 14]),
    ]

    @Test(arguments: 0..<recorded.count)
    func sameSeedsGiveTheRecordedTokens(index: Int) throws {
        let (parameters, constrained, expected) = Self.recorded[index]
        var sampler = try Sampler(parameters: parameters, vocabularySize: 64)
        var tokens: [Int32] = []
        for step in 0..<expected.count {
            var values = Self.logits(step: step)
            let token = constrained
                ? try #require(sampler.sample(logits: &values, constraint: EvenTokens()))
                : sampler.sample(logits: &values)
            sampler.accept(token)
            tokens.append(token)
        }
        #expect(tokens == expected)
    }
}
