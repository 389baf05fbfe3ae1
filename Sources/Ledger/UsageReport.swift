import Foundation
import JSON

/// The ledger's totals over a period: requests, tokens, and what the cloud would have charged,
/// by model and by day (`hearth usage`, `GET /api/usage`).
public struct UsageReport: Sendable {
    struct Row: Sendable {
        var time: Date
        var kind: LedgerEntry.Kind
        var model: String
        var promptTokens: Int
        var completionTokens: Int
        var cachedTokens: Int
        var cloudModel: String?
        var cloudCostUSD: Double
        var paidUSD: Double
        var busySeconds: Double
    }

    public struct Totals: Sendable, Equatable {
        public var requests = 0
        public var promptTokens = 0
        public var completionTokens = 0
        public var cachedTokens = 0
        /// What local work would have cost at cloud prices (saved).
        public var cloudCostUSD = 0.0
        /// Requests answered by remote endpoints, and what they cost (paid).
        public var remoteRequests = 0
        public var paidUSD = 0.0
        /// Requests for embeddings (their tokens are in `promptTokens`).
        public var embeddingRequests = 0
        /// Seconds the engine spent computing prompts and answers.
        public var busySeconds = 0.0
        /// The cloud models these requests were priced at.
        public var cloudModels: [String] = []

        mutating func add(_ row: Row) {
            requests += 1
            promptTokens += row.promptTokens
            completionTokens += row.completionTokens
            cachedTokens += row.cachedTokens
            cloudCostUSD += row.cloudCostUSD
            paidUSD += row.paidUSD
            if row.kind == .remote { remoteRequests += 1 }
            if row.kind == .embedding { embeddingRequests += 1 }
            busySeconds += row.busySeconds
            if row.kind != .remote, let cloud = row.cloudModel, !cloudModels.contains(cloud) { cloudModels.append(cloud) }
        }
    }

    public let since: Date?
    public let prices: PriceTable
    public private(set) var total = Totals()
    /// By model, most requests first.
    public private(set) var byModel: [(model: String, totals: Totals)] = []
    /// By day (UTC, `YYYY-MM-DD`), oldest first.
    public private(set) var byDay: [(day: String, totals: Totals)] = []

    init(rows: [Row], since: Date?, prices: PriceTable) {
        self.since = since
        self.prices = prices
        var models: [String: Totals] = [:]
        var days: [String: Totals] = [:]
        for row in rows {
            total.add(row)
            models[row.model, default: Totals()].add(row)
            days[Self.day(row.time), default: Totals()].add(row)
        }
        byModel = models.map { ($0.key, $0.value) }.sorted { ($0.totals.requests, $1.model) > ($1.totals.requests, $0.model) }
        byDay = days.map { ($0.key, $0.value) }.sorted { $0.day < $1.day }
    }

    static func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    static func json(_ totals: Totals) -> JSONObject {
        [
            "requests": .int(totals.requests), "prompt_tokens": .int(totals.promptTokens),
            "completion_tokens": .int(totals.completionTokens), "cached_tokens": .int(totals.cachedTokens),
            "cloud_cost_usd": .double(totals.cloudCostUSD), "local_seconds": .double(totals.busySeconds),
            "embedding_requests": .int(totals.embeddingRequests), "remote_requests": .int(totals.remoteRequests),
            "paid_usd": .double(totals.paidUSD),
            "cloud_models": .array(totals.cloudModels.map(JSONValue.string)),
        ]
    }

    /// One object: the totals at the top level, then `by_model` and `by_day` lists and the price
    /// table (its date, source, prices and stand-ins).
    public var json: JSONValue {
        var object = Self.json(total)
        object["since"] = since.map { .string(ISO8601DateFormatter().string(from: $0)) } ?? .null
        object["by_model"] = .array(byModel.map { entry in
            var row = Self.json(entry.totals)
            row["model"] = .string(entry.model)
            return .object(row)
        })
        object["by_day"] = .array(byDay.map { entry in
            var row = Self.json(entry.totals)
            row["day"] = .string(entry.day)
            return .object(row)
        })
        // The whole table, so a client can price one answer as the ledger does (the chat page's
        // "saved" per answer): cloud price × tokens of the cloud model the local one stands in for.
        object["prices"] = .object([
            "as_of": .string(prices.asOf), "source": .string(prices.source),
            "models": .object(JSONObject(prices.models.sorted { $0.key < $1.key }.map { name, price in
                (name, JSONValue.object(["input": .double(price.input), "output": .double(price.output)]))
            })),
            "stand_ins": .object(JSONObject(prices.standIns.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) })),
        ])
        return .object(object)
    }
}

extension UsageReport {
    /// `--since` / `?since=`: a day (`2026-12-01`, UTC), a moment (ISO 8601), or a span back from
    /// `now` (`30m`, `24h`, `7d`).
    public static func parseSince(_ text: String, now: Date = Date()) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let unit = trimmed.last, let amount = Double(trimmed.dropLast()), amount >= 0, amount.isFinite {
            let seconds: Double? = switch unit {
            case "m": 60
            case "h": 3600
            case "d": 86400
            case "w": 7 * 86400
            default: nil
            }
            if let seconds { return now.addingTimeInterval(-amount * seconds) }
        }
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.timeZone = TimeZone(identifier: "UTC")
        day.dateFormat = "yyyy-MM-dd"
        if trimmed.count == 10, let date = day.date(from: trimmed) { return date }
        return ISO8601DateFormatter().date(from: trimmed)
    }

    /// The report for people: totals, then one line per model or day with a bar of its cloud cost.
    public func text(byDay: Bool) -> String {
        func dollars(_ value: Double) -> String {
            value >= 0.01 || value == 0 ? String(format: "$%.2f", value) : value >= 0.0001 ? String(format: "$%.4f", value) : String(format: "$%.6f", value)
        }
        var lines: [String] = []
        let period = since.map { "since \(ISO8601DateFormatter().string(from: $0))" } ?? "all time"
        lines.append("\(total.requests) requests (\(period)): \(total.promptTokens) prompt + \(total.completionTokens) completion tokens"
                     + (total.cachedTokens > 0 ? " (\(total.cachedTokens) prompt tokens from the cache)" : ""))
        lines.append("saved \(dollars(total.cloudCostUSD)) against cloud prices (\(total.cloudModels.joined(separator: ", ")); "
                     + "prices as of \(prices.asOf), edit prices.json in HEARTH_HOME)")
        if total.embeddingRequests > 0 {
            lines.append("\(total.embeddingRequests) of the requests were embeddings")
        }
        if total.remoteRequests > 0 {
            lines.append("paid \(dollars(total.paidUSD)) for \(total.remoteRequests) answers from remote endpoints (the router's last tier)")
        }
        let entries: [(String, Totals)] = byDay ? self.byDay.map { ($0.day, $0.totals) } : byModel.map { ($0.model, $0.totals) }
        guard !entries.isEmpty else { return lines.joined(separator: "\n") }
        lines.append("")
        let width = entries.map(\.0.count).max() ?? 0
        let most = entries.map(\.1.cloudCostUSD).max() ?? 0
        for (label, totals) in entries {
            let bar = most > 0 ? String(repeating: "█", count: max(totals.cloudCostUSD > 0 ? 1 : 0, Int((totals.cloudCostUSD / most * 30).rounded()))) : ""
            let tokens = "\(totals.promptTokens + totals.completionTokens) tokens"
            lines.append("\(label.padding(toLength: width, withPad: " ", startingAt: 0))  \(String(format: "%6d", totals.requests)) req  "
                         + "\(tokens.padding(toLength: 16, withPad: " ", startingAt: 0)) \(dollars(totals.cloudCostUSD).padding(toLength: 10, withPad: " ", startingAt: 0)) \(bar)")
        }
        return lines.joined(separator: "\n")
    }
}
