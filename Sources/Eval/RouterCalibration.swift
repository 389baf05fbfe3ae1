import Foundation

/// The router's threshold from measured answers: among a small model's answers, those whose mean
/// token log-probability is at least the threshold stay with it; the threshold is the lowest
/// (keeping the most answers local) at which the kept answers are right at least as often as the
/// target — by default, the largest model's accuracy on the whole suite.
public struct RouterCalibration: Sendable, Equatable {
    public var threshold: Double
    /// Answers kept by the small model, and how many of those were right.
    public var kept: Int
    public var keptPassed: Int
    public var total: Int
    public var target: Double

    public var keptAccuracy: Double { kept > 0 ? Double(keptPassed) / Double(kept) : 0 }

    /// Nil when no threshold reaches the target (or no answer carried log-probabilities).
    public static func calibrate(_ results: [ItemResult], target: Double) -> RouterCalibration? {
        let scored = results.compactMap { result in result.answer.meanLogprob.map { ($0, result.grade.passed) } }
            .sorted { $0.0 > $1.0 }
        var best: RouterCalibration?
        var kept = 0
        var keptPassed = 0
        for (index, (logprob, passed)) in scored.enumerated() {
            kept += 1
            if passed { keptPassed += 1 }
            // A threshold lies between distinct values only.
            if index + 1 < scored.count && scored[index + 1].0 == logprob { continue }
            if Double(keptPassed) / Double(kept) >= target {
                // Rounded down, so the answer at the edge is still kept by the rounded threshold.
                let threshold = (logprob * 1000 + 1e-9).rounded(.down) / 1000
                best = RouterCalibration(threshold: min(0, threshold), kept: kept, keptPassed: keptPassed, total: results.count, target: target)
            }
        }
        return best
    }
}
