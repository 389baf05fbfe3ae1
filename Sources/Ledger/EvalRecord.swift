import Foundation
import GRDB

/// One model's run of an evaluation suite (`hearth eval`), kept in the ledger's database so runs
/// can be compared over time: the score, its 95% interval, what it cost, and every item's outcome.
public struct EvalRecord: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var id: String
        public var passed: Bool
        public var completionTokens: Int
        /// Mean log-probability of the answer's tokens, when the endpoint returned them.
        public var meanLogprob: Double?
        /// Why it was judged so (the failing assertion, "timed out"…).
        public var detail: String

        public init(id: String, passed: Bool, completionTokens: Int, meanLogprob: Double?, detail: String = "") {
            self.id = id
            self.passed = passed
            self.completionTokens = completionTokens
            self.meanLogprob = meanLogprob
            self.detail = detail
        }
    }

    public var time: Date
    public var suite: String
    public var model: String
    /// The endpoint's URL; nil for a model run on this machine.
    public var endpoint: String?
    public var passed: Int
    public var total: Int
    public var lowerBound: Double
    public var upperBound: Double
    public var promptTokens: Int
    public var completionTokens: Int
    public var wallSeconds: Double
    /// The cloud model whose prices priced the tokens, and that price.
    public var cloudModel: String?
    public var cloudCostUSD: Double
    public var items: [Item]

    public init(time: Date, suite: String, model: String, endpoint: String?, passed: Int, total: Int, lowerBound: Double,
                upperBound: Double, promptTokens: Int, completionTokens: Int, wallSeconds: Double, cloudModel: String?,
                cloudCostUSD: Double, items: [Item]) {
        self.time = time
        self.suite = suite
        self.model = model
        self.endpoint = endpoint
        self.passed = passed
        self.total = total
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.wallSeconds = wallSeconds
        self.cloudModel = cloudModel
        self.cloudCostUSD = cloudCostUSD
        self.items = items
    }

    static func createTables(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE eval_runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                time DOUBLE NOT NULL,
                suite TEXT NOT NULL,
                model TEXT NOT NULL,
                endpoint TEXT,
                passed INTEGER NOT NULL,
                total INTEGER NOT NULL,
                lower_bound DOUBLE NOT NULL,
                upper_bound DOUBLE NOT NULL,
                prompt_tokens INTEGER NOT NULL,
                completion_tokens INTEGER NOT NULL,
                wall_seconds DOUBLE NOT NULL,
                cloud_model TEXT,
                cloud_cost_usd DOUBLE NOT NULL
            );
            CREATE INDEX eval_runs_suite_time ON eval_runs (suite, time);
            CREATE TABLE eval_items (
                run_id INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
                item TEXT NOT NULL,
                passed INTEGER NOT NULL,
                completion_tokens INTEGER NOT NULL,
                mean_logprob DOUBLE,
                detail TEXT NOT NULL,
                PRIMARY KEY (run_id, item)
            );
            """)
    }
}

extension Ledger {
    /// Keeps `record` (the run and its items, in one transaction). Unlike a request's row, an
    /// evaluation that cannot be kept is an error the caller reports.
    public func recordEval(_ record: EvalRecord) throws {
        try withDatabase { database in
            guard let database else { throw LedgerError("cannot open \(databaseURL.path)") }
            try database.write { db in
                try db.execute(sql: """
                    INSERT INTO eval_runs (time, suite, model, endpoint, passed, total, lower_bound, upper_bound, prompt_tokens,
                        completion_tokens, wall_seconds, cloud_model, cloud_cost_usd)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [record.time.timeIntervalSince1970, record.suite, record.model, record.endpoint, record.passed,
                                     record.total, record.lowerBound, record.upperBound, record.promptTokens,
                                     record.completionTokens, record.wallSeconds, record.cloudModel, record.cloudCostUSD])
                let runID = db.lastInsertedRowID
                for item in record.items {
                    try db.execute(sql: """
                        INSERT INTO eval_items (run_id, item, passed, completion_tokens, mean_logprob, detail) VALUES (?, ?, ?, ?, ?, ?)
                        """, arguments: [runID, item.id, item.passed, item.completionTokens, item.meanLogprob, item.detail])
                }
            }
        }
    }

    /// Earlier runs, oldest first (of one suite when `suite` is given); with their items.
    public func evalHistory(suite: String? = nil) throws -> [EvalRecord] {
        try withDatabase { database in
            guard let database else { throw LedgerError("cannot open \(databaseURL.path)") }
            return try database.read { db in
                let runs = try Row.fetchAll(db, sql: """
                    SELECT * FROM eval_runs WHERE ? IS NULL OR suite = ? ORDER BY time, id
                    """, arguments: [suite, suite])
                return try runs.map { run in
                    let items = try Row.fetchAll(db, sql: "SELECT * FROM eval_items WHERE run_id = ? ORDER BY rowid",
                                                 arguments: [run["id"] as Int64]).map { row in
                        EvalRecord.Item(id: row["item"], passed: row["passed"], completionTokens: row["completion_tokens"],
                                        meanLogprob: row["mean_logprob"], detail: row["detail"])
                    }
                    return EvalRecord(time: Date(timeIntervalSince1970: run["time"]), suite: run["suite"], model: run["model"],
                                      endpoint: run["endpoint"], passed: run["passed"], total: run["total"],
                                      lowerBound: run["lower_bound"], upperBound: run["upper_bound"],
                                      promptTokens: run["prompt_tokens"], completionTokens: run["completion_tokens"],
                                      wallSeconds: run["wall_seconds"], cloudModel: run["cloud_model"],
                                      cloudCostUSD: run["cloud_cost_usd"], items: items)
                }
            }
        }
    }
}

/// The ledger's database could not be used for something that must not be lost silently.
public struct LedgerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
