import Kernels

/// Mirostat (Basu et al., 2021) as llama.cpp implements it (`llama_sampler_mirostat` with
/// m = 100 and `llama_sampler_mirostat_v2`): instead of fixed top-k / top-p cut-offs, each draw's
/// truncation follows `mirostatMu`, and `mu` is corrected after every draw by how far the drawn
/// token's surprise was from the target `mirostatTau`. That keeps the text's perplexity near a
/// chosen level however peaked or flat the model's distributions are.
extension Sampler {
    /// How many of the most likely tokens Mirostat v1 fits its Zipf exponent to (the paper's m).
    static let mirostatFittedTokens = 100

    /// t_i = ln((i + 2) / (i + 1)), the log rank ratios of the least-squares fit, computed once.
    private static let mirostatRankLogRatios: [Float] = (0..<(mirostatFittedTokens - 1)).map {
        (Float($0 + 2) / Float($0 + 1)).log()
    }

    /// Mirostat v1: the top-m tokens give the distribution's Zipf exponent s, and from s and mu
    /// follows the k for which top-k sampling's expected surprise is mu; then a top-k draw.
    /// Only the m best are sorted; a k beyond m selects the k best without sorting them.
    mutating func chooseMirostat(_ logits: [Float]) -> Int32 {
        let temperature = parameters.temperature
        selectBest(Self.mirostatFittedTokens, of: logits)
        if candidates.isEmpty { return Self.argmax(logits) }
        CandidateHeap.sortBestFirst(&candidates)
        let bestLogit = candidates[0].logit

        // Least squares through the origin of b_i = ln(p_i / p_{i+1}) against t_i; for a Zipf
        // law p_i ∝ 1 / i^s, b_i = s·t_i exactly. b_i comes from the logits, so no probability
        // has to be formed (or can underflow) for it.
        var sumTB: Float = 0
        var sumTT: Float = 0
        for index in 0..<(candidates.count - 1) {
            let t = Self.mirostatRankLogRatios[index]
            let b = (candidates[index].logit - candidates[index + 1].logit) / temperature
            sumTB += t * b
            sumTT += t * t
        }
        let k = candidates.count < 2
            ? 1
            : Self.mirostatTopK(zipfExponent: sumTB / sumTT, mu: mirostatMu, vocabularySize: vocabularySize,
                                available: candidates.count < Self.mirostatFittedTokens ? candidates.count : Self.finiteCount(logits))

        if k <= candidates.count {
            candidates.removeSubrange(k...)
            softmaxCandidates(temperature: temperature)
        } else {
            selectBest(k, of: logits)
            softmaxCandidates(temperature: temperature, maxLogit: bestLogit)
        }
        return drawLearningMu()
    }

    /// k = (ε·2^mu / (1 − N^−ε))^(1/s) with ε = s − 1: the top-k size whose expected surprise
    /// under a Zipf law of exponent s over N tokens is mu. Clamped to 1…available, because the
    /// formula leaves that range (or is 0/0) for flat or odd distributions.
    static func mirostatTopK(zipfExponent s: Float, mu: Float, vocabularySize: Int, available: Int) -> Int {
        let exponent = Double(s)
        let epsilon = exponent - 1
        let twoToMu = pow(2, Double(mu))
        // As ε → 0 the fraction tends to 2^mu / ln N; computed as written it would be 0/0.
        let scale = epsilon == 0
            ? twoToMu / log(Double(vocabularySize))
            : epsilon * twoToMu / (1 - pow(Double(vocabularySize), -epsilon))
        let k = pow(scale, 1 / exponent)
        guard !k.isNaN, k < Double(available) else { return available }
        return max(1, Int(k))
    }

    /// How many logits are finite (the tokens Mirostat v1's k may reach).
    private static func finiteCount(_ logits: [Float]) -> Int {
        var count = 0
        for logit in logits where logit.isFinite { count += 1 }
        return count
    }

    /// Mirostat 2.0: drop every token whose surprise −log2 p exceeds mu, then draw. The kept set
    /// is a threshold on the logit, so it takes vector scans of the vocabulary and no sort.
    mutating func chooseMirostatV2(_ logits: [Float]) -> Int32 {
        let temperature = parameters.temperature
        return logits.withUnsafeBufferPointer { row in
            let bestLogit = largestFinite(row)
            guard bestLogit > -.infinity else { return Self.argmax(logits) }
            let sum = sumOfExponentials(row, subtracting: bestLogit, dividingBy: temperature)

            // −log2 p ≤ mu  ⇔  (logit − best) / T ≥ ln(sum) − mu·ln 2, with p the softmax over all.
            let lowestKept = sum.log() - mirostatMu * Float.ln2
            candidates.removeAll(keepingCapacity: true)
            // The scan's threshold is loose by far more than rounding (the exact test is below),
            // and never above the best logit, which the fallback needs found.
            let loose = bestLogit + lowestKept * temperature - 1e-3 * (1 + abs(bestLogit))
            let threshold = loose.isNaN ? -.infinity : min(loose, bestLogit.nextDown)
            var bestIndex = -1
            visitElements(of: row, above: threshold) { index, logit in
                if logit.isFinite {
                    if bestIndex < 0, logit == bestLogit { bestIndex = index }
                    if (logit - bestLogit) / temperature >= lowestKept {
                        candidates.append(Candidate(token: Int32(index), logit: logit, probability: 0))
                    }
                }
                return threshold
            }
            // Even the best token is more surprising than mu: it alone is kept, as llama.cpp does.
            if candidates.isEmpty {
                candidates.append(Candidate(token: Int32(bestIndex), logit: bestLogit, probability: 0))
            }
            softmaxCandidates(temperature: temperature, maxLogit: bestLogit)
            return drawLearningMu()
        }
    }

    /// Draws among the truncated candidates and moves mu against the error of the draw's surprise
    /// (measured in the truncated, renormalised distribution, as the paper and llama.cpp do).
    private mutating func drawLearningMu() -> Int32 {
        let index = drawIndex()
        let observedSurprise = -candidates[index].probability.log2()
        mirostatMu -= parameters.mirostatEta * (observedSurprise - parameters.mirostatTau)
        return candidates[index].token
    }
}

extension Float {
    fileprivate static let ln2: Float = 0.693_147_18
}

#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif
