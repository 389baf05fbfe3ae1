import AsyncHTTPClient
import Foundation
import Remote

/// One item's outcome.
public struct ItemResult: Sendable, Equatable {
    public var id: String
    public var grade: Grade
    public var answer: ChatEndpoint.Answer
}

/// One model's run of a suite.
public struct EvalRun: Sendable {
    /// The model's name as the report shows it.
    public var model: String
    /// The endpoint's URL; nil for a model run on this machine (through a `hearth serve` of the run's own).
    public var endpoint: String?
    public var suite: String
    public var results: [ItemResult]
    public var wallSeconds: Double
    public var started: Date

    public var passed: Int { results.filter(\.grade.passed).count }
    public var total: Int { results.count }
    public var promptTokens: Int { results.reduce(0) { $0 + $1.answer.promptTokens } }
    public var completionTokens: Int { results.reduce(0) { $0 + $1.answer.completionTokens } }
    /// Generated tokens per second of wall time, all requests together.
    public var tokensPerSecond: Double { wallSeconds > 0 ? Double(completionTokens) / wallSeconds : 0 }
    public var interval: (lower: Double, upper: Double) { Wilson.interval(passed: passed, total: total) }
    public var isLocal: Bool { endpoint == nil }
}

/// Runs a suite against an endpoint, `parallel` requests at a time (each judged as it arrives).
public struct EvalRunner: Sendable {
    public var parallel: Int
    public var client: HTTPClient

    public init(parallel: Int, client: HTTPClient) {
        self.parallel = parallel
        self.client = client
    }

    public func run(_ suite: EvalSuite, on endpoint: ChatEndpoint, model: String, local: Bool,
                    progress: @escaping @Sendable (_ done: Int, _ total: Int, _ passed: Int) -> Void = { _, _, _ in }) async throws -> EvalRun {
        let started = Date()
        let clock = ContinuousClock.now
        var results = [ItemResult?](repeating: nil, count: suite.items.count)
        var passed = 0
        var done = 0
        try await withThrowingTaskGroup(of: (Int, ItemResult).self) { group in
            var next = 0
            func start() {
                guard next < suite.items.count else { return }
                let index = next
                let item = suite.items[index]
                next += 1
                group.addTask {
                    let answer = try await endpoint.answer(item.messages, maxTokens: item.maxTokens, logprobs: suite.wantsLogprobs, client: client)
                    return (index, ItemResult(id: item.id, grade: await item.grade(answer.text), answer: answer))
                }
            }
            for _ in 0..<max(1, parallel) { start() }
            while let (index, result) = try await group.next() {
                results[index] = result
                done += 1
                if result.grade.passed { passed += 1 }
                progress(done, suite.items.count, passed)
                start()
            }
        }
        let elapsed = ContinuousClock.now - clock
        return EvalRun(model: model, endpoint: local ? nil : endpoint.baseURL, suite: suite.name, results: results.compactMap { $0 },
                       wallSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, started: started)
    }
}

/// The Wilson score interval: a 95% interval for a pass rate that stays inside [0, 1] and is
/// honest at small counts (where the normal approximation is not).
public enum Wilson {
    public static func interval(passed: Int, total: Int, z: Double = 1.959964) -> (lower: Double, upper: Double) {
        guard total > 0 else { return (0, 1) }
        let n = Double(total)
        let p = Double(passed) / n
        let denominator = 1 + z * z / n
        let centre = (p + z * z / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot() / denominator
        return (max(0, centre - half), min(1, centre + half))
    }
}

/// McNemar's exact test for two runs over the same problems: under "the two are equally good",
/// each problem only one of them passed is a fair coin; the p-value is the two-sided binomial
/// probability of a split at least this uneven.
public enum McNemar {
    public static func pValue(_ onlyFirst: Int, _ onlySecond: Int) -> Double {
        let n = onlyFirst + onlySecond
        guard n > 0 else { return 1 }
        var term = pow(0.5, Double(n))  // C(n, 0) / 2^n
        var tail = 0.0
        for i in 0...min(onlyFirst, onlySecond) {
            if i > 0 { term *= Double(n - i + 1) / Double(i) }
            tail += term
        }
        return min(1, 2 * tail)
    }
}
