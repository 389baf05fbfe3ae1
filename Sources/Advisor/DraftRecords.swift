import Foundation

/// One `hearth bench MODEL --draft DRAFT` run: whether the draft paid on this machine. The
/// automatic draft choice (``DraftAdvice``) reads these, so a draft is only used where it was
/// measured to make decoding faster.
public struct DraftRecord: KeyedRecord, Equatable {
    /// The models' names as given and the sha256 of their files (what the choice matches on).
    public var model: String
    public var modelSHA256: String
    public var draft: String
    public var draftSHA256: String
    /// The machine it ran on (``HostDevice/signature``) and its threads.
    public var host: String
    public var threads: Int
    /// Decoding tokens/s without and with the draft, and the share of proposals kept.
    public var plainTokensPerSecond: Double
    public var draftedTokensPerSecond: Double
    public var acceptance: Double
    /// Whether the drafted run gave the plain run's tokens (it always should).
    public var identical: Bool
    public var date: Date

    public init(model: String, modelSHA256: String, draft: String, draftSHA256: String, host: String, threads: Int,
                plainTokensPerSecond: Double, draftedTokensPerSecond: Double, acceptance: Double, identical: Bool, date: Date = Date()) {
        self.model = model
        self.modelSHA256 = modelSHA256
        self.draft = draft
        self.draftSHA256 = draftSHA256
        self.host = host
        self.threads = threads
        self.plainTokensPerSecond = plainTokensPerSecond
        self.draftedTokensPerSecond = draftedTokensPerSecond
        self.acceptance = acceptance
        self.identical = identical
        self.date = date
    }

    public var speedup: Double { plainTokensPerSecond > 0 ? draftedTokensPerSecond / plainTokensPerSecond : 0 }

    public var key: String { "\(modelSHA256)+\(draftSHA256)@\(threads)@\(host)" }
}

/// Draft runs (`<store>/cache/drafts.json`).
public typealias DraftCache = RecordFile<DraftRecord>

/// The automatic draft choice: an installed model whose drafting was measured on this machine,
/// with these threads, to decode this model at least ``minimumSpeedup`` times faster.
public enum DraftAdvice {
    /// Below this a measured gain is within run-to-run spread (a few percent on a busy machine),
    /// and a draft also costs memory and the draft's steps on a shared machine.
    public static let minimumSpeedup = 1.1

    public struct Choice: Sendable, Equatable {
        /// The installed draft's name, and the record that chose it.
        public var draft: String
        public var record: DraftRecord
    }

    /// The fastest measured draft for the model with `modelSHA256`, among `installed` models
    /// (name and sha256), or nil with why not.
    public static func choose(modelSHA256: String, installed: [(name: String, sha256: String)], records: [DraftRecord],
                              host: String, threads: Int) -> Result<Choice, Reason> {
        let measured = records.filter { $0.host == host && $0.threads == threads && $0.modelSHA256 == modelSHA256 && $0.identical }
        guard !measured.isEmpty else { return .failure(.unmeasured) }
        let candidates = measured.compactMap { record in
            installed.first { $0.sha256 == record.draftSHA256 && $0.sha256 != modelSHA256 }.map { Choice(draft: $0.name, record: record) }
        }
        guard let best = candidates.max(by: { $0.record.speedup < $1.record.speedup }) else { return .failure(.notInstalled) }
        guard best.record.speedup >= minimumSpeedup else { return .failure(.doesNotPay(best.record)) }
        return .success(best)
    }

    public enum Reason: Error, Equatable, CustomStringConvertible {
        /// No draft was benchmarked for this model here.
        case unmeasured
        /// The drafts measured are no longer installed.
        case notInstalled
        /// The best measured draft was too slow (its record says by how much).
        case doesNotPay(DraftRecord)

        public var description: String {
            switch self {
            case .unmeasured: "no draft measured for it on this machine (`hearth bench MODEL --draft DRAFT` measures one)"
            case .notInstalled: "the drafts measured for it are no longer installed"
            case .doesNotPay(let record):
                String(format: "%@ as draft measured %.2f× here (%.0f%% of proposals kept), below %.2f×",
                       record.draft, record.speedup, 100 * record.acceptance, DraftAdvice.minimumSpeedup)
            }
        }
    }
}
