import Kernels

/// The chain without top-k (the OpenAI APIs have none): top-p, min-p, temperature and a draw
/// over the whole vocabulary. Each step needs the candidates best first, but only down to where
/// it stops: top-p at its cumulative probability, min-p at its threshold, the draw at its target.
/// So the vocabulary is read in passes that are vector scans (the largest logit, the softmax
/// denominator), and the candidates are gathered and sorted in bands of falling logit,
/// [best − d, ∞), [best − 2d, best − d), …, only as far as a step reads them. Each band is
/// sorted on its own and every logit in a band is below every logit in the bands before it,
/// so the candidates read are exactly the first ones of a full sort: the same tokens and the
/// same draws as sorting everything, except where the denominator's summation order moves a
/// cumulative probability across the draw's target in the last bit.
extension Sampler {
    /// Band depths in units of temperature: e^-8 ≈ 3e-4 of the best token's weight, then
    /// doubling, then everything left. Real models put nearly all the mass in the first band.
    private static let bandDepths: [Float] = [8, 16, 32, 64, .infinity]

    mutating func chooseFromWholeVocabulary(_ logits: [Float]) -> Int32 {
        logits.withUnsafeBufferPointer { row in
            let best = largestFinite(row)
            guard best > -.infinity else { return Self.argmax(logits) }
            let temperature = parameters.temperature
            candidates.removeAll(keepingCapacity: true)
            if parameters.topP >= 1, parameters.minP <= 0 {
                return drawFromWholeVocabulary(row, best: best, temperature: temperature)
            }
            truncateByTopPAndMinP(row, best: best)
            softmaxCandidates(temperature: temperature)
            return candidates[drawIndex()].token
        }
    }

    /// Nothing truncates: one draw from the softmax at `temperature` over every finite logit.
    /// The draw walks the candidates best first and stops where the cumulative probability
    /// passes its target, so it gathers bands only until then.
    private mutating func drawFromWholeVocabulary(_ row: UnsafeBufferPointer<Float>, best: Float, temperature: Float) -> Int32 {
        let total = sumOfExponentials(row, subtracting: best, dividingBy: temperature)
        let target = generator.nextUnitFloat()
        var cumulative: Float = 0
        var lastPossible = Int32(-1)
        var band = Band()
        while gatherNextBand(row, best: best, scale: temperature, band: &band) {
            for index in band.range {
                let probability = ((candidates[index].logit - best) / temperature).exp() / total
                cumulative += probability
                if target < cumulative { return candidates[index].token }
                if probability > 0 { lastPossible = candidates[index].token }
            }
        }
        // Rounding left the total just under the target; as `drawIndex`, the last token with a
        // chance (the best one has probability 1 / total > 0, so there is one).
        return lastPossible >= 0 ? lastPossible : candidates[0].token
    }

    /// Leaves in `candidates` (best first, with their probabilities at temperature 1) the tokens
    /// that survive top-p and then min-p.
    private mutating func truncateByTopPAndMinP(_ row: UnsafeBufferPointer<Float>, best: Float) {
        let topP = parameters.topP
        let minP = parameters.minP
        let total = sumOfExponentials(row, subtracting: best, dividingBy: 1)
        // Min-p keeps p ≥ minP · p_best, that is logit ≥ best + ln(minP): no band below that
        // (less a margin far wider than rounding, for the exact test in `applyMinP`) is needed.
        let floor = minP > 0 ? best + minP.log() - 1e-3 : -.infinity
        var cumulative: Float = 0
        var band = Band()
        gathering: while band.lowerBound > floor, gatherNextBand(row, best: best, scale: 1, band: &band) {
            for index in band.range {
                let probability = (candidates[index].logit - best).exp() / total
                candidates[index].probability = probability
                guard topP < 1 else { continue }
                cumulative += probability
                // As `applyTopP`: the smallest prefix whose probability reaches topP.
                if cumulative >= topP {
                    candidates.removeSubrange((index + 1)...)
                    break gathering
                }
            }
        }
        applyMinP()
    }

    /// The bands gathered so far: `candidates[range]` is the last one, and every finite logit
    /// at or above `lowerBound` has been gathered.
    private struct Band {
        var depth = 0
        var lowerBound = Float.infinity
        var range = 0..<0
    }

    /// Appends the next band of candidates, sorted best first, below those already gathered.
    /// Returns false when every finite logit has been gathered. Depths are in units of `scale`,
    /// the temperature the band's probabilities are taken at.
    private mutating func gatherNextBand(_ row: UnsafeBufferPointer<Float>, best: Float, scale: Float, band: inout Band) -> Bool {
        while band.depth < Self.bandDepths.count, band.lowerBound > -.infinity {
            let upperBound = band.lowerBound
            let lowerBound = best - Self.bandDepths[band.depth] * scale
            band.depth += 1
            band.lowerBound = lowerBound.isNaN ? -.infinity : lowerBound
            let start = candidates.count
            // Visits logit ≥ lowerBound (> its predecessor); the last band takes every finite one.
            let threshold = band.lowerBound > -.infinity ? band.lowerBound.nextDown : -.infinity
            visitElements(of: row, above: threshold) { index, logit in
                if logit < upperBound, logit.isFinite {
                    candidates.append(Candidate(token: Int32(index), logit: logit, probability: 0))
                }
                return threshold
            }
            band.range = start..<candidates.count
            if band.range.isEmpty { continue }
            candidates[band.range].sort(by: Self.better)
            return true
        }
        return false
    }
}
