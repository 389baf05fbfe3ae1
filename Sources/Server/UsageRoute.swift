import Foundation
import Hummingbird
import JSON
import Ledger

extension HearthServer {
    /// `GET /api/usage[?since=7d]`: the ledger's totals, by model and by day, as `hearth usage --json`.
    func usage(_ request: Request) async throws -> Response {
        let query = try Self.queryFields(request, allowed: ["since"])
        guard let ledger else { throw APIError(.notFound, "the ledger is off (hearth serve --no-ledger)") }
        var since: Date?
        if let text = query["since"] {
            guard let date = UsageReport.parseSince(text) else {
                throw APIError.invalidField("since", "expected a day (2026-12-01), an ISO 8601 time or a span (24h, 7d), got '\(text)'")
            }
            since = date
        }
        let start = since
        let report = try await offload { try ledger.usage(since: start) }
        return Reply.json(report.json)
    }
}
