import Foundation
import JSON
import Testing
import Ledger

/// A fresh folder for one test's ledger, deleted afterwards.
final class LedgerFolder {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-test-\(UUID().uuidString)")
    init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(at: url) }
}

final class Messages: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ message: String) { lock.withLock { list.append(message) } }
    var all: [String] { lock.withLock { list } }
}

@Suite struct LedgerTests {
    @Test func everyRecordIsARowAndTheTotalsAreTheirSums() async throws {
        let folder = try LedgerFolder()
        let ledger = Ledger(directory: folder.url)
        let day = 86_400.0
        let start = Date(timeIntervalSince1970: 1_780_000_000)
        let entries = (0..<25).map { index in
            LedgerEntry(time: start.addingTimeInterval(Double(index % 3) * day), route: "/v1/chat/completions",
                        model: index % 2 == 0 ? "qwen2.5-coder:0.5b" : "smollm2:135m", promptTokens: 10 + index,
                        completionTokens: 3 * index, cachedTokens: index % 4, promptSeconds: 0.01, generationSeconds: 0.1)
        }
        for entry in entries { await ledger.record(entry) }
        let report = try ledger.usage()
        #expect(report.total.requests == 25)
        #expect(report.total.promptTokens == entries.reduce(0) { $0 + $1.promptTokens })
        #expect(report.total.completionTokens == entries.reduce(0) { $0 + $1.completionTokens })
        #expect(report.total.cachedTokens == entries.reduce(0) { $0 + $1.cachedTokens })
        let prices = PriceTable.builtIn
        let expected = entries.reduce(0.0) { sum, entry in
            sum + prices.cost(of: prices.cloudModel(standingInFor: entry.model)!, promptTokens: entry.promptTokens,
                              completionTokens: entry.completionTokens)
        }
        #expect(abs(report.total.cloudCostUSD - expected) < 1e-12)
        #expect(report.byModel.map(\.model) == ["qwen2.5-coder:0.5b", "smollm2:135m"])
        #expect(report.byModel.map(\.totals.requests) == [13, 12])
        #expect(report.byDay.count == 3)
        #expect(report.byDay.map(\.totals.requests).reduce(0, +) == 25)

        // --since keeps the later days only.
        let later = try ledger.usage(since: start.addingTimeInterval(day))
        #expect(later.total.requests == entries.filter { $0.time >= start.addingTimeInterval(day) }.count)

        // The JSON has the fields `hearth usage --json` and GET /api/usage promise.
        guard case .object(let object) = report.json else { Issue.record("not an object"); return }
        #expect(object["requests"] == .int(25))
        #expect(object["prompt_tokens"] == .int(report.total.promptTokens))
        #expect(object["completion_tokens"] == .int(report.total.completionTokens))
        #expect(object["cloud_cost_usd"] == .double(report.total.cloudCostUSD))
        guard case .array(let byModel)? = object["by_model"] else { Issue.record("no by_model"); return }
        #expect(byModel.count == 2)
    }

    @Test func aSecondLedgerOnTheSameFolderSeesTheRows() async throws {
        let folder = try LedgerFolder()
        await Ledger(directory: folder.url).record(LedgerEntry(route: "hearth run", model: "m", promptTokens: 5, completionTokens: 7))
        Ledger(directory: folder.url).recordNow(LedgerEntry(route: "hearth run", model: "m", promptTokens: 1, completionTokens: 2))
        let report = try Ledger(directory: folder.url).usage()
        #expect(report.total.requests == 2)
        #expect(report.total.promptTokens == 6)
        #expect(report.total.completionTokens == 9)
    }

    @Test func thePriceTableIsWrittenForTheUserAndTheirEditsAreUsed() throws {
        let folder = try LedgerFolder()
        let file = folder.url.appendingPathComponent("prices.json")
        #expect(Ledger(directory: folder.url).prices == PriceTable.builtIn)
        #expect(FileManager.default.fileExists(atPath: file.path), "written for the user to edit")
        let edited = """
            {"as_of": "2026-12-01", "source": "my contract", "models": {"big": {"input": 1, "output": 2}},
             "stand_ins": {"*": "big"}}
            """
        try Data(edited.utf8).write(to: file)
        let ledger = Ledger(directory: folder.url)
        #expect(ledger.prices.asOf == "2026-12-01")
        #expect(ledger.prices.cloudModel(standingInFor: "anything") == "big")
        #expect(ledger.prices.cost(of: "big", promptTokens: 1_000_000, completionTokens: 500_000) == 2)

        // A table that makes no sense is named in the log, and the built-in one is used.
        try Data(#"{"as_of": "x", "source": "y", "models": {}, "stand_ins": {"*": "missing"}}"#.utf8).write(to: file)
        let messages = Messages()
        #expect(Ledger(directory: folder.url, log: messages.append).prices == PriceTable.builtIn)
        #expect(messages.all.contains { $0.contains("stand_ins.*") })
        try Data("not json".utf8).write(to: file)
        #expect(Ledger(directory: folder.url, log: messages.append).prices == PriceTable.builtIn)
    }

    @Test func embeddingsAndRemoteAnswersArePricedAsWhatTheyAre() async throws {
        let folder = try LedgerFolder()
        let ledger = Ledger(directory: folder.url)
        await ledger.record(LedgerEntry(kind: .embedding, route: "/v1/embeddings", model: "nomic", promptTokens: 1_000_000, completionTokens: 0))
        await ledger.record(LedgerEntry(kind: .remote, route: "/v1/chat/completions", model: "gpt-4o", promptTokens: 1_000_000,
                                        completionTokens: 1_000_000, decision: "auto: remote"))
        await ledger.record(LedgerEntry(kind: .remote, route: "/v1/chat/completions", model: "unpriced-model", promptTokens: 10, completionTokens: 10))
        await ledger.record(LedgerEntry(route: "/api/chat", model: "qwen2.5-coder:0.5b", promptTokens: 1_000_000, completionTokens: 0))
        let report = try ledger.usage()
        #expect(report.total.requests == 4)
        #expect(report.total.embeddingRequests == 1 && report.total.remoteRequests == 2)
        // Saved: the embeddings at text-embedding-3-small, the local answer at gpt-4o-mini; paid: gpt-4o.
        #expect(abs(report.total.cloudCostUSD - (0.02 + 0.15)) < 1e-12)
        #expect(abs(report.total.paidUSD - 12.5) < 1e-12)
        #expect(report.total.cloudModels.sorted() == ["gpt-4o-mini", "text-embedding-3-small"])
        guard case .object(let object) = report.json else { Issue.record("not an object"); return }
        #expect(object["paid_usd"] == .double(12.5) && object["remote_requests"] == .int(2) && object["embedding_requests"] == .int(1))
        #expect(report.text(byDay: false).contains("paid $12.50 for 2 answers from remote endpoints"))
    }

    @Test func aPriceTableWrittenBeforeEmbeddingsGetsTheirBuiltInPrice() throws {
        let folder = try LedgerFolder()
        try Data(#"{"as_of": "2025-06-01", "source": "old", "models": {"big": {"input": 1, "output": 2}}, "stand_ins": {"*": "big"}}"#.utf8)
            .write(to: folder.url.appendingPathComponent("prices.json"))
        let prices = Ledger(directory: folder.url).prices
        #expect(prices.cloudModel(standingInFor: "any", embeddings: true) == "text-embedding-3-small")
        #expect(prices.cloudModel(standingInFor: "any") == "big")
    }

    @Test func aCorruptDatabaseIsMovedAsideAndANewOneStarted() async throws {
        let folder = try LedgerFolder()
        let database = folder.url.appendingPathComponent("ledger.sqlite")
        try Data(repeating: 0x5A, count: 8192).write(to: database)
        let messages = Messages()
        let ledger = Ledger(directory: folder.url, log: messages.append)
        await ledger.record(LedgerEntry(route: "/api/chat", model: "m", promptTokens: 3, completionTokens: 4))
        #expect(try ledger.usage().total.requests == 1)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.url.path)
        #expect(names.contains { $0.hasPrefix("ledger.sqlite.corrupt-") }, "\(names)")
        #expect(messages.all.contains { $0.contains("corrupt") })
    }

    @Test(arguments: [("30m", -1800.0), ("24h", -86_400.0), ("7d", -604_800.0), ("2w", -1_209_600.0)])
    func sinceTakesSpans(text: String, offset: Double) {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(UsageReport.parseSince(text, now: now) == now.addingTimeInterval(offset))
    }

    @Test func sinceTakesDaysAndMomentsAndRefusesTheRest() {
        #expect(UsageReport.parseSince("2026-12-01") == Date(timeIntervalSince1970: 1_796_083_200))
        #expect(UsageReport.parseSince("2026-12-01T12:00:00Z") == Date(timeIntervalSince1970: 1_796_126_400))
        for bad in ["yesterday", "7x", "", "-3d", "2026-13-45"] { #expect(UsageReport.parseSince(bad) == nil, "\(bad)") }
    }
}
