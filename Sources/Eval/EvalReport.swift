import Foundation
import Ledger

/// What a set of runs of one suite shows: each model's score with its 95% interval, tokens,
/// speed, time and money (what an endpoint's tokens cost at its price; what a local model's
/// tokens would have cost at the cloud model it stands in for), how far runs on the same
/// problems agree, and — when answers carried log-probabilities — the router's calibration.
public struct EvalReport: Sendable {
    public struct Money: Sendable, Equatable {
        /// The cloud model whose prices were used; nil when none is priced.
        public var cloudModel: String?
        public var dollars: Double
        /// Whether the dollars were paid (an endpoint) or saved (run on this machine).
        public var paid: Bool
    }

    public var suite: EvalSuite
    public var runs: [EvalRun]
    public var prices: PriceTable
    /// A line about where the runs happened (the CPU, the sandbox's isolation).
    public var setting: String
    public var calibrationTarget: Double?

    public init(suite: EvalSuite, runs: [EvalRun], prices: PriceTable, setting: String, calibrationTarget: Double? = nil) {
        self.suite = suite
        self.runs = runs
        self.prices = prices
        self.setting = setting
        self.calibrationTarget = calibrationTarget
    }

    /// An endpoint's model is priced as itself when the table knows it, else as the cloud model
    /// it stands in for; a local model's tokens by its stand-in.
    public func money(_ run: EvalRun) -> Money {
        let cloud = !run.isLocal && prices.models[run.model] != nil ? run.model : prices.cloudModel(standingInFor: run.model)
        let dollars = cloud.map { prices.cost(of: $0, promptTokens: run.promptTokens, completionTokens: run.completionTokens) } ?? 0
        return Money(cloudModel: cloud, dollars: dollars, paid: !run.isLocal)
    }

    /// The calibration of the router on the first local run answered by its own model (not a
    /// routed one), against the target (the last run's accuracy unless given).
    public var calibration: RouterCalibration? {
        guard suite.wantsLogprobs, let small = runs.first(where: { $0.isLocal && !Self.isRouted($0) }), let last = runs.last else { return nil }
        let target = calibrationTarget ?? Double(last.passed) / Double(max(1, last.total))
        return RouterCalibration.calibrate(small.results, target: target)
    }

    /// Problems two runs judged differently.
    public static func disagreement(_ a: EvalRun, _ b: EvalRun) -> (onlyA: [String], onlyB: [String], shared: Int) {
        let outcomes = Dictionary(b.results.map { ($0.id, $0.grade.passed) }, uniquingKeysWith: { first, _ in first })
        var onlyA: [String] = []
        var onlyB: [String] = []
        var shared = 0
        for result in a.results {
            guard let other = outcomes[result.id] else { continue }
            shared += 1
            if result.grade.passed && !other { onlyA.append(result.id) }
            if !result.grade.passed && other { onlyB.append(result.id) }
        }
        return (onlyA, onlyB, shared)
    }

    // MARK: - rendering

    static func percent(_ value: Double) -> String { String(format: "%.1f%%", value * 100) }
    static func dollars(_ value: Double) -> String { value < 0.01 && value > 0 ? String(format: "$%.5f", value) : String(format: "$%.4f", value) }

    func label(_ run: EvalRun) -> String { run.isLocal ? "\(run.model) (local)" : "\(run.model) @ \(run.endpoint ?? "")" }

    /// The table rows, as text cells.
    func rows() -> [[String]] {
        runs.map { run in
            let interval = run.interval
            let money = money(run)
            let price = money.cloudModel.map { "\(Self.dollars(money.dollars)) \(money.paid ? "paid" : "saved") (\($0))" } ?? "not priced"
            return [label(run), "\(run.passed)/\(run.total)", Self.percent(Double(run.passed) / Double(max(1, run.total))),
                    "\(Self.percent(interval.lower))–\(Self.percent(interval.upper))", "\(run.promptTokens)", "\(run.completionTokens)",
                    String(format: "%.1f", run.tokensPerSecond), String(format: "%.0f s", run.wallSeconds), price]
        }
    }

    static let headers = ["model", "passed", "score", "95% interval", "prompt tokens", "completion tokens", "tokens/s", "wall time", "money"]

    /// Plain text for the terminal.
    public func text() -> String {
        let table = [Self.headers] + rows()
        let widths = Self.headers.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        var lines = ["\(suite.summary)", setting, ""]
        for row in table {
            lines.append(row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        lines += findings()
        return lines.joined(separator: "\n") + "\n"
    }

    /// Agreement between runs and the router's calibration, as sentences.
    func findings() -> [String] {
        var lines: [String] = []
        for (index, a) in runs.enumerated() {
            for b in runs[(index + 1)...] where b.results.count > 0 {
                let (onlyA, onlyB, shared) = Self.disagreement(a, b)
                guard shared > 0 else { continue }
                let differences = onlyA.count + onlyB.count
                let test = String(format: " (McNemar's exact test: p = %.2f%@)", McNemar.pValue(onlyA.count, onlyB.count),
                                  McNemar.pValue(onlyA.count, onlyB.count) >= 0.05 ? ", within noise" : ", a real difference")
                lines.append("\(label(a)) and \(label(b)) disagree on \(differences) of \(shared) problems"
                             + (differences == 0 ? "." : "\(test): passed only by the first \(Self.list(onlyA)); only by the second \(Self.list(onlyB))."))
            }
        }
        for run in runs {
            guard Self.isRouted(run) else { continue }
            lines.append("\(label(run)) was answered by " + Self.answeredBy(run).map { part in
                "\(part.model) on \(part.items) (\(part.passed) right, \(Self.percent(Double(part.passed) / Double(max(1, part.items)))))"
            }.joined(separator: ", ") + ".")
        }
        if let calibration {
            lines.append(String(format: "Router calibration: min_mean_logprob %.3f keeps %d of %d answers with %@ (%d/%d) right, target %@.",
                                calibration.threshold, calibration.kept, calibration.total, Self.percent(calibration.keptAccuracy),
                                calibration.keptPassed, calibration.kept, Self.percent(calibration.target)))
        } else if suite.wantsLogprobs, runs.contains(where: { $0.isLocal && !Self.isRouted($0) }) {
            lines.append("Router calibration: no threshold keeps answers at the target accuracy; every answer would escalate.")
        }
        return lines.isEmpty ? [] : [""] + lines
    }

    /// Whether other models than the one asked answered some of a run's items (a router).
    static func isRouted(_ run: EvalRun) -> Bool {
        let split = answeredBy(run)
        return split.count > 1 || (split.first.map { $0.model != run.model } ?? false)
    }

    /// Which models answered a run's items, as the endpoint named them (the router's split for
    /// `auto`): most items first.
    static func answeredBy(_ run: EvalRun) -> [(model: String, items: Int, passed: Int)] {
        var counts: [String: (items: Int, passed: Int)] = [:]
        for result in run.results {
            let model = result.answer.model ?? run.model
            counts[model, default: (0, 0)].items += 1
            if result.grade.passed { counts[model, default: (0, 0)].passed += 1 }
        }
        return counts.map { (model: $0.key, items: $0.value.items, passed: $0.value.passed) }
            .sorted { ($0.items, $1.model) > ($1.items, $0.model) }
    }

    static func list(_ ids: [String]) -> String { ids.isEmpty ? "none" : ids.prefix(12).joined(separator: ", ") + (ids.count > 12 ? " …" : "") }

    /// Markdown: the table, the findings, and a chart of score against money as text bars.
    public func markdown() -> String {
        var lines = ["# hearth eval: \(suite.name)", "", suite.summary + ".", "", setting, "",
                     "| " + Self.headers.joined(separator: " | ") + " |",
                     "|" + String(repeating: "---|", count: Self.headers.count)]
        lines += rows().map { "| " + $0.joined(separator: " | ") + " |" }
        lines += findings()
        lines += ["", "## Score against money", "", "```"]
        for run in runs {
            let score = Double(run.passed) / Double(max(1, run.total))
            let money = money(run)
            lines.append(label(run).padding(toLength: 48, withPad: " ", startingAt: 0) + " "
                         + String(repeating: "█", count: Int((score * 40).rounded())).padding(toLength: 40, withPad: "·", startingAt: 0)
                         + " " + Self.percent(score) + "  " + (money.paid ? "\(Self.dollars(money.dollars)) paid" : "$0 paid, \(Self.dollars(money.dollars)) saved"))
        }
        lines.append("```")
        return lines.joined(separator: "\n") + "\n"
    }

    /// HTML: the same, with an SVG chart of score (and its interval) against dollars paid.
    public func html() -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                .replacingOccurrences(of: "\"", with: "&quot;")
        }
        let header = "<tr>" + Self.headers.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
        let body = rows().map { "<tr>" + $0.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        let findings = findings().filter { !$0.isEmpty }.map { "<p>\(escape($0))</p>" }.joined(separator: "\n")
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>hearth eval: \(escape(suite.name))</title>
            <style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}
            td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style></head><body>
            <h1>hearth eval: \(escape(suite.name))</h1>
            <p>\(escape(suite.summary)).</p><p>\(escape(setting))</p>
            <table>\(header)
            \(body)</table>
            \(findings)
            <h2>Score against money paid</h2>
            \(chart(escape: escape))
            </body></html>

            """
    }

    func chart(escape: (String) -> String) -> String {
        let width = 640.0, height = 360.0, left = 60.0, bottom = 40.0, top = 20.0, right = 20.0
        let maximum = max(runs.map { money($0).paid ? money($0).dollars : 0 }.max() ?? 0, 0.0001) * 1.1
        func x(_ dollars: Double) -> Double { left + dollars / maximum * (width - left - right) }
        func y(_ score: Double) -> Double { height - bottom - score * (height - bottom - top) }
        var svg = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"score against money paid\">",
                   "<line x1=\"\(left)\" y1=\"\(y(0))\" x2=\"\(width - right)\" y2=\"\(y(0))\" stroke=\"#333\"/>",
                   "<line x1=\"\(left)\" y1=\"\(y(0))\" x2=\"\(left)\" y2=\"\(y(1))\" stroke=\"#333\"/>"]
        for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
            svg.append("<text x=\"\(left - 8)\" y=\"\(y(tick) + 4)\" text-anchor=\"end\" font-size=\"11\">\(Int(tick * 100))%</text>")
        }
        svg.append("<text x=\"\(x(maximum / 1.1))\" y=\"\(height - 12)\" text-anchor=\"end\" font-size=\"11\">\(escape(Self.dollars(maximum / 1.1)))</text>")
        svg.append("<text x=\"\(left)\" y=\"\(height - 12)\" font-size=\"11\">$0</text>")
        for (index, run) in runs.enumerated() {
            let money = money(run)
            let px = x(money.paid ? money.dollars : 0)
            let interval = run.interval
            let score = Double(run.passed) / Double(max(1, run.total))
            let colour = run.isLocal ? "#1a7f37" : "#0969da"
            svg.append("<line x1=\"\(px)\" y1=\"\(y(interval.lower))\" x2=\"\(px)\" y2=\"\(y(interval.upper))\" stroke=\"\(colour)\"/>")
            svg.append("<circle cx=\"\(px)\" cy=\"\(y(score))\" r=\"5\" fill=\"\(colour)\"><title>\(escape(label(run))): \(Self.percent(score))</title></circle>")
            svg.append("<text x=\"\(px + 8)\" y=\"\(y(score) - 6 - Double(index % 3) * 12)\" font-size=\"11\">\(escape(label(run)))</text>")
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n")
    }

    /// JSON for scripts: the suite, the setting, and per run its numbers and every item's outcome.
    public func json() -> Data {
        var encoded: [String: Any] = [
            "suite": suite.name,
            "setting": setting,
            "runs": runs.map { run -> [String: Any] in
                let money = money(run)
                let interval = run.interval
                var entry: [String: Any] = [
                    "model": run.model, "local": run.isLocal, "passed": run.passed, "total": run.total,
                    "score": Double(run.passed) / Double(max(1, run.total)), "ci_low": interval.lower, "ci_high": interval.upper,
                    "prompt_tokens": run.promptTokens, "completion_tokens": run.completionTokens,
                    "tokens_per_second": run.tokensPerSecond, "wall_seconds": run.wallSeconds,
                    (money.paid ? "cost_usd" : "saved_usd"): money.dollars,
                    "items": run.results.map { result -> [String: Any] in
                        var item: [String: Any] = ["id": result.id, "passed": result.grade.passed, "detail": result.grade.detail,
                                                   "completion_tokens": result.answer.completionTokens, "answer": result.answer.text]
                        if let logprob = result.answer.meanLogprob { item["mean_logprob"] = logprob }
                        if let model = result.answer.model { item["answered_by"] = model }
                        return item
                    },
                    "answered_by": Self.answeredBy(run).map { ["model": $0.model, "items": $0.items, "passed": $0.passed] },
                ]
                if let endpoint = run.endpoint { entry["endpoint"] = endpoint }
                if let cloud = money.cloudModel { entry["priced_as"] = cloud }
                return entry
            },
        ]
        if let calibration {
            encoded["router_calibration"] = ["min_mean_logprob": calibration.threshold, "kept": calibration.kept,
                                             "kept_passed": calibration.keptPassed, "target": calibration.target]
        }
        return (try? JSONSerialization.data(withJSONObject: encoded, options: [.prettyPrinted, .sortedKeys])) ?? Data("{}".utf8)
    }

    /// The run as the ledger keeps it.
    public func record(_ run: EvalRun) -> EvalRecord {
        let money = money(run)
        let interval = run.interval
        return EvalRecord(time: run.started, suite: run.suite, model: run.model, endpoint: run.endpoint, passed: run.passed,
                          total: run.total, lowerBound: interval.lower, upperBound: interval.upper, promptTokens: run.promptTokens,
                          completionTokens: run.completionTokens, wallSeconds: run.wallSeconds, cloudModel: money.cloudModel,
                          cloudCostUSD: money.dollars,
                          items: run.results.map { EvalRecord.Item(id: $0.id, passed: $0.grade.passed,
                                                                   completionTokens: $0.answer.completionTokens,
                                                                   meanLogprob: $0.answer.meanLogprob, detail: $0.grade.detail) })
    }
}
