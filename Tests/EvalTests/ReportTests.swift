import Foundation
import Ledger
import Testing

@testable import Eval

@Suite struct QuickSuiteTests {
    @Test func judgesNumbersByTheLastOne() {
        #expect(QuickSuite.grade("17 * 23 = 391.", .number(391)).passed)
        #expect(QuickSuite.grade("The total is 1,024", .number(1024)).passed)
        #expect(QuickSuite.grade("$49.99", .number(49.99)).passed)
        #expect(QuickSuite.grade("-5", .number(-5)).passed)
        #expect(!QuickSuite.grade("10-5", .number(-5)).passed)
        #expect(!QuickSuite.grade("391 is wrong, it is 301", .number(391)).passed)
        #expect(!QuickSuite.grade("no idea", .number(3)).passed)
    }

    @Test func judgesTextNormalised() {
        #expect(QuickSuite.grade("  **Negative.** ", .text(["negative"])).passed)
        #expect(QuickSuite.grade("`help@shop.example.org`", .text(["help@shop.example.org"])).passed)
        #expect(!QuickSuite.grade("It is negative", .text(["negative"])).passed)
    }

    @Test func judgesJSONAsJSON() {
        #expect(QuickSuite.grade("```json\n{\"age\": 31, \"name\": \"Tom\"}\n```", .json(#"{"name": "Tom", "age": 31}"#)).passed)
        #expect(QuickSuite.grade("Here it is: [8, 10, 12]", .json("[8, 10, 12]")).passed)
        #expect(!QuickSuite.grade("{\"name\": \"Tom\", \"age\": \"31\"}", .json(#"{"name": "Tom", "age": 31}"#)).passed)
        #expect(!QuickSuite.grade("{\"name\": \"Tom\"", .json(#"{"name": "Tom"}"#)).passed)
        #expect(QuickSuite.grade("{\"valid\": true}", .json(#"{"valid": true}"#)).passed)
        #expect(!QuickSuite.grade("{\"valid\": 1}", .json(#"{"valid": true}"#)).passed)
        #expect(!QuickSuite.grade("{\"valid\": false}", .json(#"{"valid": true}"#)).passed)
        #expect(QuickSuite.grade("{\"age\": 31.0}", .json(#"{"age": 31}"#)).passed)
    }

    @Test func everyProblemHasAUniqueIDAndAnswersItsOwnExpectation() {
        let ids = QuickSuite.problems.map(\.id)
        #expect(Set(ids).count == ids.count)
        for problem in QuickSuite.problems {
            let expected: String
            switch problem.check {
            case .text(let accepted): expected = accepted[0]
            case .number(let value): expected = value == value.rounded() ? String(Int(value)) : String(value)
            case .json(let json): expected = json
            }
            #expect(QuickSuite.grade(expected, problem.check).passed, "\(problem.id)")
        }
    }
}

@Suite struct StatisticsTests {
    @Test func wilsonIntervalMatchesPublishedValues() {
        // Reference values from the closed form (e.g. statsmodels proportion_confint, method="wilson").
        let half = Wilson.interval(passed: 5, total: 10)
        #expect(abs(half.lower - 0.2366) < 1e-4 && abs(half.upper - 0.7634) < 1e-4)
        let none = Wilson.interval(passed: 0, total: 10)
        #expect(none.lower == 0 && abs(none.upper - 0.2775) < 1e-4)
        let most = Wilson.interval(passed: 100, total: 164)
        #expect(abs(most.lower - 0.5334) < 1e-4 && abs(most.upper - 0.6811) < 1e-4)
        #expect(Wilson.interval(passed: 0, total: 0) == (0, 1))
    }

    @Test func mcNemarMatchesTheBinomialTail() {
        // Two-sided binomial tails, 2 * sum(C(n, i) for i <= min) / 2^n: (1, 8) -> 10/256, (5, 10) -> 0.3017578125.
        #expect(abs(McNemar.pValue(1, 8) - 0.0390625) < 1e-12)
        #expect(abs(McNemar.pValue(5, 10) - 0.3017578125) < 1e-10)
        #expect(McNemar.pValue(3, 3) == 1)
        #expect(McNemar.pValue(0, 0) == 1)
        #expect(McNemar.pValue(0, 12) < 0.001)
    }

    static func result(_ id: String, _ passed: Bool, _ logprob: Double?, tokens: Int = 10) -> ItemResult {
        ItemResult(id: id, grade: Grade(passed: passed, detail: passed ? "passed" : "wrong"),
                   answer: .init(text: "", promptTokens: 100, completionTokens: tokens, meanLogprob: logprob, finishReason: "stop"))
    }

    @Test func calibrationKeepsTheMostAnswersAtTheTarget() throws {
        let results = [Self.result("a", true, -0.01), Self.result("b", true, -0.05), Self.result("c", false, -0.2),
                       Self.result("d", true, -0.3), Self.result("e", false, -0.9), Self.result("f", false, nil)]
        let strict = try #require(RouterCalibration.calibrate(results, target: 1.0))
        #expect(strict.threshold == -0.05 && strict.kept == 2 && strict.keptPassed == 2)
        let loose = try #require(RouterCalibration.calibrate(results, target: 0.75))
        #expect(loose.threshold == -0.3 && loose.kept == 4 && loose.keptPassed == 3)
        #expect(RouterCalibration.calibrate([Self.result("x", false, -0.1)], target: 0.5) == nil)
        #expect(RouterCalibration.calibrate([Self.result("x", true, nil)], target: 0.5) == nil)
    }
}

@Suite struct ReportTests {
    let suite = EvalSuite(name: "quick", summary: "Quick", items: [], wantsLogprobs: true)

    func run(_ model: String, endpoint: String?, _ outcomes: [Bool]) -> EvalRun {
        EvalRun(model: model, endpoint: endpoint, suite: "quick",
                results: outcomes.enumerated().map { StatisticsTests.result("p\($0.offset)", $0.element, $0.element ? -0.05 : -0.8, tokens: 1000) },
                wallSeconds: 4, started: Date(timeIntervalSince1970: 1_800_000_000))
    }

    @Test func aRoutedRunShowsWhichModelsAnsweredAndHowWell() throws {
        var routed = run("auto", endpoint: nil, [true, true, false, true])
        for (index, model) in ["small", "small", "small", "large"].enumerated() { routed.results[index].answer.model = model }
        let report = EvalReport(suite: suite, runs: [routed], prices: .builtIn, setting: "test machine")
        #expect(report.text().contains("auto (local) was answered by small on 3 (2 right, 66.7%), large on 1 (1 right, 100.0%)."))
        let json = try #require(try JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        let runs = try #require(json["runs"] as? [[String: Any]])
        let split = try #require(runs[0]["answered_by"] as? [[String: Any]])
        #expect(split.map { $0["model"] as? String } == ["small", "large"])
        // A routed run calibrates nothing (its answers come from several models).
        #expect(report.calibration == nil && !report.text().contains("Router calibration"))
        // A run answered by the model it asked for says nothing more.
        #expect(!EvalReport(suite: suite, runs: [run("m", endpoint: nil, [true])], prices: .builtIn, setting: "x").text().contains("answered by"))
    }

    @Test func pricesEndpointsAsPaidAndLocalModelsAsSaved() {
        let local = run("qwen2.5-coder:0.5b", endpoint: nil, [true, false])
        let cloud = run("gpt-4.1", endpoint: "https://api.example.com/v1", [true, true])
        let unknown = run("mystery", endpoint: "http://127.0.0.1:9/v1", [true, true])
        let report = EvalReport(suite: suite, runs: [local, cloud, unknown], prices: .builtIn, setting: "test machine")
        // 200 prompt and 2000 completion tokens each.
        #expect(report.money(local) == .init(cloudModel: "gpt-4o-mini", dollars: (200 * 0.15 + 2000 * 0.60) / 1e6, paid: false))
        #expect(report.money(cloud) == .init(cloudModel: "gpt-4.1", dollars: (200 * 2.0 + 2000 * 8.0) / 1e6, paid: true))
        #expect(report.money(unknown).cloudModel == "gpt-4o-mini")
        #expect(local.tokensPerSecond == 500)
    }

    @Test func rendersTheTableFindingsAndChart() throws {
        let local = run("qwen2.5-coder:0.5b", endpoint: nil, [true, false, true, true])
        let other = run("qwen2.5-coder:1.5b", endpoint: "http://127.0.0.1:9/v1", [true, true, true, false])
        let report = EvalReport(suite: suite, runs: [local, other], prices: .builtIn, setting: "test machine")
        let text = report.text()
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("qwen2.5-coder:0.5b (local) ") && $0.contains(" 3/4 ") })
        #expect(text.contains("disagree on 2 of 4 problems (McNemar's exact test: p = 1.00, within noise): passed only by the first p3; only by the second p1."))
        // The small model is as right as the last one on all its answers: the threshold keeps them all.
        #expect(text.contains("min_mean_logprob -0.800 keeps 4 of 4 answers with 75.0% (3/4) right, target 75.0%"))
        let markdown = report.markdown()
        #expect(markdown.contains("| qwen2.5-coder:1.5b @ http://127.0.0.1:9/v1 | 3/4 | 75.0% |"))
        let html = report.html()
        #expect(html.contains("<svg") && html.contains("<circle") && html.hasSuffix("</html>\n"))
        let json = try #require(try JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        let runs = try #require(json["runs"] as? [[String: Any]])
        #expect(runs.count == 2 && runs[0]["passed"] as? Int == 3 && runs[1]["endpoint"] as? String == "http://127.0.0.1:9/v1")
        #expect((json["router_calibration"] as? [String: Any])?["min_mean_logprob"] as? Double == -0.8)
    }

    @Test func aRunIsKeptInTheLedgerAndReadBack() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eval-ledger-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ledger = Ledger(directory: directory)
        let report = EvalReport(suite: suite, runs: [run("qwen2.5-coder:0.5b", endpoint: nil, [true, false])], prices: ledger.prices, setting: "")
        try ledger.recordEval(report.record(report.runs[0]))
        try ledger.recordEval(report.record(run("gpt-4.1", endpoint: "https://api.example.com/v1", [true, true])))
        let history = try ledger.evalHistory(suite: "quick")
        #expect(history.count == 2)
        #expect(history[0] == report.record(report.runs[0]))
        #expect(history[1].endpoint == "https://api.example.com/v1" && history[1].passed == 2)
        #expect(try ledger.evalHistory(suite: "humaneval").isEmpty)
    }
}
