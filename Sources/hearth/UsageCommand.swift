import ArgumentParser
import Foundation
import JSON
import Ledger
import Store

/// `hearth usage`: what local work saved, from the ledger every request is recorded in.
struct UsageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show requests, tokens and what they would have cost in the cloud.",
        discussion: """
            Every answered request — from `hearth serve` and `hearth run` — is recorded in \
            $HEARTH_HOME/ledger.sqlite and priced at the cloud model its local model stands in \
            for, from $HEARTH_HOME/prices.json (dated and sourced; edit it to change prices or \
            stand-ins).
            """)

    @Option(help: "Only requests since: a day (2026-12-01, UTC), an ISO 8601 time, or a span back (30m, 24h, 7d).")
    var since: String?

    @Option(help: "Group by `model` or `day`.")
    var by: String = "model"

    @Flag(help: "Print one JSON object (requests, prompt_tokens, completion_tokens, cloud_cost_usd, by_model, by_day).")
    var json = false

    func validate() throws {
        guard ["model", "day"].contains(by) else { throw ValidationError("--by is `model` or `day`, got '\(by)'") }
        if let since, UsageReport.parseSince(since) == nil {
            throw ValidationError("--since: expected a day (2026-12-01), an ISO 8601 time or a span (24h, 7d), got '\(since)'")
        }
    }

    func run() throws {
        let ledger = Ledger(directory: ModelStore.defaultRoot())
        let report = try ledger.usage(since: since.flatMap { UsageReport.parseSince($0) })
        print(json ? report.json.serialized : report.text(byDay: by == "day"))
    }
}
