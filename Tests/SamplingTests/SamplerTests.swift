import Testing
import Sampling

@Suite struct SamplerTests {
    /// A peaked distribution over a small vocabulary: token 3 best, then 7, then 1.
    func logits() -> [Float] {
        var values = [Float](repeating: -5, count: 16)
        values[3] = 4
        values[7] = 3.5
        values[1] = 2
        return values
    }

    @Test func greedyPicksTheArgmax() throws {
        var sampler = try Sampler(parameters: .greedy, vocabularySize: 16)
        var values = logits()
        #expect(sampler.sample(logits: &values) == 3)
    }

    @Test func greedyTieGoesToLowestId() throws {
        var sampler = try Sampler(parameters: .greedy, vocabularySize: 4)
        var values: [Float] = [1, 5, 5, 0]
        #expect(sampler.sample(logits: &values) == 1)
    }

    @Test func sameSeedSameTokens() throws {
        let parameters = SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: 1234)
        func run() throws -> [Int32] {
            var sampler = try Sampler(parameters: parameters, vocabularySize: 16)
            return (0..<200).map { _ in
                var values = logits()
                return sampler.sample(logits: &values)
            }
        }
        let first = try run()
        #expect(first == (try run()))
        // At temperature 1.5 with no truncation, more than one token must appear.
        #expect(Set(first).count > 1)
    }

    @Test func differentSeedsDiffer() throws {
        func run(_ seed: UInt64) throws -> [Int32] {
            var sampler = try Sampler(
                parameters: SamplingParameters(temperature: 2, topK: 0, topP: 1, minP: 0, seed: seed),
                vocabularySize: 16)
            return (0..<100).map { _ in
                var values = logits()
                return sampler.sample(logits: &values)
            }
        }
        #expect(try run(1) != (try run(2)))
    }

    @Test func topKLimitsTheChoice() throws {
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 5, topK: 2, topP: 1, minP: 0, seed: 7),
            vocabularySize: 16)
        for _ in 0..<500 {
            var values = logits()
            let token = sampler.sample(logits: &values)
            #expect(token == 3 || token == 7)
        }
    }

    @Test func topPKeepsTheSmallestNucleus() throws {
        // Probabilities at T=1: token 3 ≈ 0.56, token 7 ≈ 0.34 … top-p 0.5 keeps only token 3.
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 1, topK: 0, topP: 0.5, minP: 0, seed: 9),
            vocabularySize: 16)
        for _ in 0..<200 {
            var values = logits()
            #expect(sampler.sample(logits: &values) == 3)
        }
    }

    @Test func minPDropsUnlikelyTokens() throws {
        // p(1)/p(3) = e^(2-4) ≈ 0.135 < 0.2, p(7)/p(3) ≈ 0.61 ≥ 0.2.
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 3, topK: 0, topP: 1, minP: 0.2, seed: 3),
            vocabularySize: 16)
        var seen = Set<Int32>()
        for _ in 0..<500 {
            var values = logits()
            seen.insert(sampler.sample(logits: &values))
        }
        #expect(seen == [3, 7])
    }

    @Test func repeatPenaltyChangesTheWinner() throws {
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 0, topK: 40, repeatPenalty: 1.5, repeatLastN: 64),
            vocabularySize: 16)
        sampler.accept(3)
        var values = logits()
        // 4 / 1.5 ≈ 2.67 < 3.5, so token 7 wins now.
        #expect(sampler.sample(logits: &values) == 7)
        #expect(abs(values[3] - 4 / 1.5) < 1e-6)
    }

    @Test func negativeLogitsArePenalisedByMultiplying() throws {
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 0, repeatPenalty: 2, repeatLastN: 8),
            vocabularySize: 16)
        sampler.accept(0)
        var values = logits()
        _ = sampler.sample(logits: &values)
        #expect(values[0] == -10)
    }

    @Test func presenceAndFrequencyPenalties() throws {
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 0, presencePenalty: 0.5, frequencyPenalty: 0.25),
            vocabularySize: 16)
        sampler.accept(3)
        sampler.accept(3)
        var values = logits()
        _ = sampler.sample(logits: &values)
        #expect(abs(values[3] - (4 - 0.5 - 2 * 0.25)) < 1e-6)
        #expect(values[7] == 3.5)
    }

    @Test func repeatWindowForgetsOldTokens() throws {
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 0, repeatPenalty: 1.5, repeatLastN: 2),
            vocabularySize: 16)
        sampler.accept(3)
        sampler.accept(5)
        sampler.accept(6)
        var values = logits()
        #expect(sampler.sample(logits: &values) == 3)
    }

    @Test func nonFiniteLogitsNeverWin() throws {
        var sampler = try Sampler(
            parameters: SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 5),
            vocabularySize: 4)
        for _ in 0..<100 {
            var values: [Float] = [.nan, 1, -.infinity, 0.5]
            let token = sampler.sample(logits: &values)
            #expect(token == 1 || token == 3)
        }
    }

    @Test(arguments: [
        (SamplingParameters(temperature: .nan), "temperature"),
        (SamplingParameters(temperature: -1), "temperature"),
        (SamplingParameters(temperature: .infinity), "temperature"),
        (SamplingParameters(topK: -1), "top_k"),
        (SamplingParameters(topP: 1.5), "top_p"),
        (SamplingParameters(topP: .nan), "top_p"),
        (SamplingParameters(minP: -0.1), "min_p"),
        (SamplingParameters(repeatPenalty: 0), "repeat_penalty"),
        (SamplingParameters(repeatLastN: -2), "repeat_last_n"),
        (SamplingParameters(presencePenalty: 3), "presence_penalty"),
        (SamplingParameters(frequencyPenalty: -.infinity), "frequency_penalty"),
    ])
    func nonsenseIsRejected(parameters: SamplingParameters, field: String) {
        #expect(throws: SamplingError.self) { try Sampler(parameters: parameters, vocabularySize: 8) }
        do {
            try parameters.validate()
        } catch {
            #expect(error.field == field)
            #expect(error.description.contains(field))
        }
    }

    @Test func zeroVocabularyIsRejected() {
        #expect(throws: SamplingError.self) { try Sampler(parameters: .greedy, vocabularySize: 0) }
    }

    /// Allows only the tokens of a set, counting how often the full mask is asked for.
    final class SetConstraint: TokenConstraint {
        let allowed: Set<Int32>
        var masks = 0
        init(_ allowed: Set<Int32>) { self.allowed = allowed }
        func allows(_ token: Int32) -> Bool { allowed.contains(token) }
        func maskLogits(_ logits: inout [Float]) {
            masks += 1
            for index in logits.indices where !allowed.contains(Int32(index)) { logits[index] = -.infinity }
        }
    }

    @Test func constraintMasksOnlyWhenTheDrawIsRefused() throws {
        var sampler = try Sampler(parameters: .greedy, vocabularySize: 16)
        let permissive = SetConstraint([3, 7])
        var values = logits()
        #expect(sampler.sample(logits: &values, constraint: permissive) == 3)
        #expect(permissive.masks == 0)
        let strict = SetConstraint([1, 9])
        values = logits()
        #expect(sampler.sample(logits: &values, constraint: strict) == 1)
        #expect(strict.masks == 1)
        values = logits()
        #expect(sampler.sample(logits: &values, constraint: SetConstraint([])) == nil)
    }

    /// Draw-then-check gives the masked distribution: p(t) / p(allowed) for each allowed t.
    @Test func constrainedDrawsFollowTheMaskedDistribution() throws {
        let parameters = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 99)
        var sampler = try Sampler(parameters: parameters, vocabularySize: 16)
        let constraint = SetConstraint([7, 1])
        var counts: [Int32: Int] = [:]
        let draws = 20_000
        for _ in 0..<draws {
            var values = logits()
            counts[sampler.sample(logits: &values, constraint: constraint)!, default: 0] += 1
        }
        #expect(Set(counts.keys) == [7, 1])
        // exp(3.5) / (exp(3.5) + exp(2)) ≈ 0.818
        let share = Double(counts[7] ?? 0) / Double(draws)
        #expect(abs(share - 0.818) < 0.02)
    }
}

@Suite struct StopMatcherTests {
    @Test func holdsBackAPossibleStop() {
        var matcher = StopMatcher(stops: ["\nUser:"])
        let first = matcher.feed("Hello\nUs")
        #expect(first == .init(text: "Hello", stopped: false))
        let second = matcher.feed("er: hi")
        #expect(second == .init(text: "", stopped: true))
    }

    @Test func releasesWhenTheStopCannotMatch() {
        var matcher = StopMatcher(stops: ["STOP"])
        #expect(matcher.feed("ST").text == "")
        #expect(matcher.feed("ay").text == "STay")
        #expect(matcher.feed("ST").text == "")
        #expect(matcher.flush() == "ST")
    }

    @Test func earliestOfSeveralStopsWins() {
        var matcher = StopMatcher(stops: ["b", "ab"])
        #expect(matcher.feed("xxabyy") == .init(text: "xx", stopped: true))
        #expect(matcher.matchedStop == "ab", "the stop that ended the text is the one reported")
    }

    @Test func matchedStopIsNilUntilAStopAppears() {
        var matcher = StopMatcher(stops: ["END", "\n\n"])
        #expect(matcher.feed("one EN") == .init(text: "one ", stopped: false))
        #expect(matcher.matchedStop == nil)
        #expect(matcher.feed("D two") == .init(text: "", stopped: true))
        #expect(matcher.matchedStop == "END")
    }

    /// Matching is linear in the output whatever the stops: a 100,000-character stop that the
    /// output keeps almost completing, fed 200,000 characters in small pieces. Checking every
    /// suffix against every stop prefix on each piece took minutes for this.
    @Test(.timeLimit(.minutes(1))) func longStopsCostLinearTime() {
        let stop = String(repeating: "a", count: 100_000) + "b"
        var matcher = StopMatcher(stops: [stop, "ab"])
        var released = 0
        for _ in 0..<20_000 {
            let step = matcher.feed("aaaaaaaaaa")
            #expect(!step.stopped)
            released += step.text.count
        }
        // Only the last 100,000 characters can still start the long stop.
        #expect(released == 100_000)
        let end = matcher.feed("b")
        #expect(end == .init(text: "", stopped: true))
        #expect(matcher.matchedStop == stop)
    }

    @Test func aStopInsideAPieceEndsTheTextBeforeIt() {
        var matcher = StopMatcher(stops: ["abcab", "cabd"])
        #expect(matcher.feed("xxabcabd") == .init(text: "xx", stopped: true))
        #expect(matcher.matchedStop == "abcab", "the first stop to complete wins")
        var multilingual = StopMatcher(stops: ["ünd", "🛑"])
        #expect(multilingual.feed("grün und 🛑 rest") == .init(text: "grün und ", stopped: true))
    }

    @Test func emptyStopsAreIgnored() {
        var matcher = StopMatcher(stops: [""])
        #expect(matcher.feed("abc") == .init(text: "abc", stopped: false))
    }
}
