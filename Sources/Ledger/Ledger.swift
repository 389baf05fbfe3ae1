import Foundation
import GRDB

/// One answered request, as the ledger keeps it.
public struct LedgerEntry: Sendable, Equatable {
    /// What kind of work the request was, which decides how it is priced.
    public enum Kind: String, Sendable {
        /// Text generated locally: priced at the cloud model the local model stands in for (saved).
        case generation
        /// Embeddings computed locally: priced at the cloud embedding model it stands in for (saved).
        case embedding
        /// Answered by a remote endpoint (the router's last tier): priced as itself, and paid.
        case remote
    }

    public var time: Date
    public var kind: Kind
    /// The API route (`/v1/chat/completions`, `/api/chat`…) or the command (`hearth run`).
    public var route: String
    public var model: String
    /// A LoRA adapter applied to the model, if any.
    public var adapter: String?
    public var promptTokens: Int
    public var completionTokens: Int
    /// Prompt tokens served from the prompt cache (not computed again).
    public var cachedTokens: Int
    public var promptSeconds: Double
    public var generationSeconds: Double
    /// From the request's arrival to its answer.
    public var totalSeconds: Double
    /// Why this model answered, when a router chose it.
    public var decision: String?

    public init(time: Date = Date(), kind: Kind = .generation, route: String, model: String, adapter: String? = nil,
                promptTokens: Int, completionTokens: Int, cachedTokens: Int = 0, promptSeconds: Double = 0,
                generationSeconds: Double = 0, totalSeconds: Double = 0, decision: String? = nil) {
        self.time = time
        self.kind = kind
        self.route = route
        self.model = model
        self.adapter = adapter
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.promptSeconds = promptSeconds
        self.generationSeconds = generationSeconds
        self.totalSeconds = totalSeconds
        self.decision = decision
    }
}

/// What local work saved: every answered request (server and command line) in SQLite under
/// `HEARTH_HOME` (`ledger.sqlite`, WAL), priced at the cloud model it stands in for.
///
/// The ledger never fails a request: a database it cannot open or write is logged; a corrupt one
/// is moved aside (`ledger.sqlite.corrupt-TIME`) and started again; a locked one is waited for
/// briefly, then the row is skipped and logged.
public final class Ledger: Sendable {
    public let databaseURL: URL
    public let prices: PriceTable
    /// Where the ledger's own failures are told (they never reach a request).
    private let log: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "hearth.ledger")
    private let state = LedgerState()

    /// Opens (creating if needed) the ledger in `directory`; prices come from
    /// `directory/prices.json`, written with the built-in table when absent.
    public init(directory: URL, log: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data("\($0)\n".utf8)) }) {
        databaseURL = directory.appendingPathComponent("ledger.sqlite")
        self.log = log
        prices = PriceTable.load(from: directory.appendingPathComponent(PriceTable.fileName), log: log)
    }

    /// Records `entry` before returning (on the ledger's own thread, never a cooperative one), so
    /// an answer sent after this is in the ledger even if the process is killed next.
    public func record(_ entry: LedgerEntry) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.write(entry)
                continuation.resume()
            }
        }
    }

    /// `record` for callers outside Swift concurrency (the command line).
    public func recordNow(_ entry: LedgerEntry) {
        queue.sync { write(entry) }
    }

    /// Totals since `since` (nil: everything), grouped by model and by day.
    public func usage(since: Date? = nil) throws -> UsageReport {
        try queue.sync { () throws -> UsageReport in
            guard let database = try openDatabase() else { return UsageReport(rows: [], since: since, prices: prices) }
            let rows = try database.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT time, kind, model, prompt_tokens, completion_tokens, cached_tokens, cloud_model, cloud_cost_usd,
                           paid_usd, prompt_seconds + generation_seconds AS busy
                    FROM requests WHERE time >= ? ORDER BY time
                    """, arguments: [since?.timeIntervalSince1970 ?? 0])
            }
            return UsageReport(rows: rows.map { row in
                UsageReport.Row(time: Date(timeIntervalSince1970: row["time"]), kind: LedgerEntry.Kind(rawValue: row["kind"]) ?? .generation,
                                model: row["model"], promptTokens: row["prompt_tokens"],
                                completionTokens: row["completion_tokens"], cachedTokens: row["cached_tokens"],
                                cloudModel: row["cloud_model"], cloudCostUSD: row["cloud_cost_usd"], paidUSD: row["paid_usd"],
                                busySeconds: row["busy"])
            }, since: since, prices: prices)
        }
    }

    // MARK: - the database (only ever touched on `queue`)

    /// The cloud model a row is priced at, what that saved, and what was paid.
    public func pricing(of entry: LedgerEntry) -> (cloudModel: String?, savedUSD: Double, paidUSD: Double) {
        let cloud: String? = switch entry.kind {
        case .generation: prices.cloudModel(standingInFor: entry.model)
        case .embedding: prices.cloudModel(standingInFor: entry.model, embeddings: true)
        case .remote: prices.models[entry.model] != nil ? entry.model : nil
        }
        let cost = cloud.map { prices.cost(of: $0, promptTokens: entry.promptTokens, completionTokens: entry.completionTokens) } ?? 0
        return entry.kind == .remote ? (cloud, 0, cost) : (cloud, cost, 0)
    }

    private func write(_ entry: LedgerEntry) {
        let (cloud, saved, paid) = pricing(of: entry)
        for attempt in 0..<2 {
            do {
                guard let database = try openDatabase() else { return }
                try database.write { db in
                    try db.execute(sql: """
                        INSERT INTO requests (time, kind, route, model, adapter, prompt_tokens, completion_tokens, cached_tokens,
                            prompt_seconds, generation_seconds, total_seconds, decision, cloud_model, cloud_cost_usd, paid_usd)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [entry.time.timeIntervalSince1970, entry.kind.rawValue, entry.route, entry.model, entry.adapter,
                                         entry.promptTokens, entry.completionTokens, entry.cachedTokens, entry.promptSeconds,
                                         entry.generationSeconds, entry.totalSeconds, entry.decision, cloud, saved, paid])
                }
                return
            } catch let error as DatabaseError where attempt == 0 && Self.isCorruption(error) {
                moveAside(error)
            } catch {
                log("ledger: the request was not recorded: \(error)")
                return
            }
        }
    }

    /// Runs `body` on the ledger's queue with the open database (nil when it cannot be opened).
    func withDatabase<T>(_ body: (DatabaseQueue?) throws -> T) rethrows -> T {
        try queue.sync { try body(try? openDatabase()) }
    }

    /// The open database, opening (and migrating) it on first use; nil when it cannot be opened
    /// (logged once per failure).
    private func openDatabase() throws -> DatabaseQueue? {
        if let database = state.database { return database }
        do {
            try FileManager.default.createDirectory(at: databaseURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            let database = try Self.open(databaseURL)
            state.database = database
            return database
        } catch let error as DatabaseError where Self.isCorruption(error) {
            moveAside(error)
            let database = try Self.open(databaseURL)
            state.database = database
            return database
        } catch {
            log("ledger: cannot open \(databaseURL.path): \(error)")
            return nil
        }
    }

    static func open(_ url: URL) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.journalMode = .wal
        // Another process (a second server, `hearth usage`) holding the write lock is waited for.
        configuration.busyMode = .timeout(2)
        configuration.prepareDatabase { db in
            // In WAL mode a committed row survives the process being killed without an fsync per
            // commit (only a power cut can lose the last ones).
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let database = try DatabaseQueue(path: url.path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE requests (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    time DOUBLE NOT NULL,
                    route TEXT NOT NULL,
                    model TEXT NOT NULL,
                    adapter TEXT,
                    prompt_tokens INTEGER NOT NULL,
                    completion_tokens INTEGER NOT NULL,
                    cached_tokens INTEGER NOT NULL,
                    prompt_seconds DOUBLE NOT NULL,
                    generation_seconds DOUBLE NOT NULL,
                    total_seconds DOUBLE NOT NULL,
                    decision TEXT,
                    cloud_model TEXT,
                    cloud_cost_usd DOUBLE NOT NULL
                );
                CREATE INDEX requests_time ON requests (time);
                """)
        }
        migrator.registerMigration("v2-eval") { db in
            try EvalRecord.createTables(db)
        }
        migrator.registerMigration("v3-kinds") { db in
            // Embeddings and remote answers are kept too; a remote answer's price is paid, not saved.
            try db.execute(sql: """
                ALTER TABLE requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'generation';
                ALTER TABLE requests ADD COLUMN paid_usd DOUBLE NOT NULL DEFAULT 0;
                """)
        }
        try migrator.migrate(database)
        return database
    }

    static func isCorruption(_ error: DatabaseError) -> Bool {
        error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
    }

    /// A corrupt database (and its WAL) is kept beside, renamed, for whoever wants to look; a
    /// new one starts.
    private func moveAside(_ error: DatabaseError) {
        state.database = nil
        let stamp = Int(Date().timeIntervalSince1970)
        for suffix in ["", "-wal", "-shm"] {
            let source = databaseURL.path + suffix
            guard FileManager.default.fileExists(atPath: source) else { continue }
            try? FileManager.default.moveItem(atPath: source, toPath: "\(databaseURL.path).corrupt-\(stamp)\(suffix)")
        }
        log("ledger: \(databaseURL.path) was corrupt (\(error.resultCode)); moved aside, starting a new ledger")
    }
}

/// The open database, touched only on the ledger's queue.
private final class LedgerState: @unchecked Sendable {
    var database: DatabaseQueue?
}
