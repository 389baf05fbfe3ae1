import Foundation
import Sampling
import Testing

@Suite struct TypicalPTests {
    /// p = 0.5, 0.2, 0.15, 0.1, 0.05. Entropy H = 1.3331 nats; |−ln p − H| = 0.640, 0.276, 0.564,
    /// 0.970, 1.663, so by typicality the order is token 1, 2, 0, 3, 4 (cumulative 0.2, 0.35,
    /// 0.85, 0.95, 1): the most likely token is the least typical but one.
    static let probabilities: [Double] = [0.5, 0.2, 0.15, 0.1, 0.05]
    static var logits: [Float] { probabilities.map { Float(log($0)) } }

    func seenTokens(_ parameters: SamplingParameters, draws: Int = 3000) throws -> [Int32: Int] {
        var sampler = try Sampler(parameters: parameters, vocabularySize: Self.probabilities.count)
        var counts: [Int32: Int] = [:]
        for _ in 0..<draws {
            var values = Self.logits
            counts[sampler.sample(logits: &values), default: 0] += 1
        }
        return counts
    }

    func typical(_ typicalP: Float, topK: Int = 0, topP: Float = 1, seed: UInt64 = 21) -> SamplingParameters {
        SamplingParameters(temperature: 1, topK: topK, topP: topP, minP: 0, seed: seed, typicalP: typicalP)
    }

    @Test func keepsTheTokensNearestTheEntropyEvenWithoutTheMostLikely() throws {
        // 0.2 ≤ 0.3, 0.35 > 0.3: tokens 1 and 2, renormalised to 0.2/0.35 and 0.15/0.35.
        let counts = try seenTokens(typical(0.3))
        #expect(Set(counts.keys) == [1, 2])
        let share = Double(counts[1] ?? 0) / 3000
        #expect(abs(share - 0.2 / 0.35) < 0.04)
    }

    @Test(arguments: [
        (0, [1]),
        (0.15, [1]),
        (0.5, [1, 2, 0]),
        (0.9, [1, 2, 0, 3]),
        (0.97, [1, 2, 0, 3, 4]),
        (1, [1, 2, 0, 3, 4]),
    ] as [(Float, Set<Int32>)])
    func survivorsForEachThreshold(typicalP: Float, expected: Set<Int32>) throws {
        #expect(Set(try seenTokens(typical(typicalP)).keys) == expected)
    }

    /// top-k first: of tokens 0 and 1 (p = 0.714, 0.286, H = 0.598) token 0 is the more typical
    /// (0.262 vs 0.654) and alone passes 0.5. Typical first would have kept 0, 1 and 2.
    @Test func runsAfterTopK() throws {
        #expect(Set(try seenTokens(typical(0.5, topK: 2)).keys) == [0])
    }

    /// top-p after: typical 0.3 leaves 1 and 2, renormalised to 0.571 and 0.429, and top-p 0.5
    /// keeps token 1. Top-p first would have kept only token 0.
    @Test func runsBeforeTopP() throws {
        #expect(Set(try seenTokens(typical(0.3, topP: 0.5)).keys) == [1])
    }

    @Test func oneDisablesItAndKeepsTheDrawsOfBefore() throws {
        let base = SamplingParameters(temperature: 1, topK: 0, topP: 0.95, minP: 0.01, seed: 4)
        var withTypical = base
        withTypical.typicalP = 1
        var plain = try Sampler(parameters: base, vocabularySize: 5)
        var explicit = try Sampler(parameters: withTypical, vocabularySize: 5)
        for _ in 0..<500 {
            var a = Self.logits
            var b = Self.logits
            #expect(plain.sample(logits: &a) == explicit.sample(logits: &b))
        }
    }
}
