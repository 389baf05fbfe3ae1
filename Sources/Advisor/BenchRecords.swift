import Foundation

/// One `hearth bench` run, kept so `hearth fit` can derive its speed factors from measurements.
public struct BenchRecord: KeyedRecord, Equatable {
    public var model: String
    /// sha256 of the model file when known (the store's manifest), else nil.
    public var sha256: String?
    /// The machine it ran on (``HostDevice/signature``): records from elsewhere are ignored.
    public var host: String
    public var threads: Int
    public var promptTokens: Int
    public var generatedTokens: Int
    public var promptTokensPerSecond: Double
    public var generatedTokensPerSecond: Double
    /// Bytes of all tensors.
    public var weightBytes: Double
    /// Read bandwidth measured right after the run, bytes per second.
    public var readBandwidth: Double
    public var shape: ModelShape
    public var date: Date

    public init(model: String, sha256: String?, host: String, threads: Int, promptTokens: Int, generatedTokens: Int,
                promptTokensPerSecond: Double, generatedTokensPerSecond: Double, weightBytes: Double,
                readBandwidth: Double, shape: ModelShape, date: Date = Date()) {
        self.model = model
        self.sha256 = sha256
        self.host = host
        self.threads = threads
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.promptTokensPerSecond = promptTokensPerSecond
        self.generatedTokensPerSecond = generatedTokensPerSecond
        self.weightBytes = weightBytes
        self.readBandwidth = readBandwidth
        self.shape = shape
        self.date = date
    }

    /// One record per model and thread count: a new run replaces the old one.
    public var key: String { "\(sha256 ?? model)@\(threads)" }
}

/// Records kept by a key in a JSON file, replaced atomically on every write so a concurrent
/// reader sees the old or the new file, never half of one.
public protocol KeyedRecord: Codable, Sendable {
    /// One record per key: a new run replaces the old one.
    var key: String { get }
}

/// A JSON file of keyed records (`<store>/cache/*.json`): a cache, not a source of truth.
public struct RecordFile<Record: KeyedRecord>: Sendable {
    public let file: URL

    public init(file: URL) { self.file = file }

    private struct Contents: Encodable {
        var version = 1
        var records: [String: Record] = [:]
    }

    /// Reads records one by one, so a record an older Hearth wrote (other fields) is dropped
    /// alone instead of taking the whole file with it.
    private struct LenientContents: Decodable {
        var records: [String: Record] = [:]

        private struct Entry: Decodable {
            let record: Record?
            init(from decoder: Decoder) throws { record = try? Record(from: decoder) }
        }
        private enum Keys: String, CodingKey { case records }

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            let entries = try container.decodeIfPresent([String: Entry].self, forKey: .records) ?? [:]
            records = entries.compactMapValues(\.record)
        }
    }

    /// The records by key, or none when the file is missing or unreadable.
    public func recordsByKey() -> [String: Record] {
        guard let data = try? Data(contentsOf: file), let contents = try? Self.decoder.decode(LenientContents.self, from: data) else { return [:] }
        return contents.records
    }

    public func save(_ record: Record) throws {
        var contents = Contents()
        contents.records = recordsByKey()
        contents.records[record.key] = record
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try encoder.encode(contents).write(to: file, options: .atomic)
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// `hearth bench` runs (`<store>/cache/bench.json`).
public struct BenchCache: Sendable {
    private let storage: RecordFile<BenchRecord>

    public init(file: URL) { storage = RecordFile(file: file) }

    /// The records, or none when the file is missing or unreadable.
    public func records() -> [BenchRecord] { storage.recordsByKey().values.sorted { $0.model < $1.model } }

    public func save(_ record: BenchRecord) throws { try storage.save(record) }
}

extension Efficiency {
    /// Fits the speed factors to bench records of this machine.
    ///
    /// Decode: a token costs `bytesPerToken / (η · bandwidth) + c · layers` seconds; η (the share
    /// of the measured read bandwidth decoding reaches) and c (fixed per-layer cost) are the least
    /// squares fit of that line to the measured tg rates, in relative error so small and large
    /// models count alike. Prompt: `2 · activeParameters / F + d · layers` likewise gives the
    /// compute throughput F. With one record only η (and F) are fitted, with c = d = 0.
    public static func fitted(to records: [BenchRecord], host: String) -> Efficiency {
        let mine = records.filter { $0.host == host && $0.readBandwidth > 0 }
        // Prefer runs with the most threads: `hearth run` uses all cores by default.
        guard let threads = mine.map(\.threads).max() else { return .unmeasured }
        let runs = mine.filter { $0.threads == threads }

        let decodeRuns = runs.filter { $0.generatedTokensPerSecond > 0 }
        guard !decodeRuns.isEmpty else { return .unmeasured }
        let decode = fitLine(decodeRuns.map { run in
            let position = Double(run.generatedTokens) / 2
            let bytes = run.shape.bytesPerToken + CostModel.kvCacheBytes(run.shape, context: 1) * position
            return (bytes / run.readBandwidth, Double(run.shape.layers), 1 / run.generatedTokensPerSecond)
        })
        let promptRuns = runs.filter { $0.promptTokensPerSecond > 0 }
        let prompt = promptRuns.isEmpty ? nil : fitLine(promptRuns.map { run in
            (2 * run.shape.activeParameters, Double(run.shape.layers), 1 / run.promptTokensPerSecond)
        })
        let names = runs.map(\.model).sorted().joined(separator: ", ")
        return Efficiency(
            bandwidthFraction: 1 / decode.perUnit, decodeSecondsPerLayer: decode.perLayer,
            promptFlops: prompt.map { 1 / $0.perUnit }, promptSecondsPerLayer: prompt?.perLayer ?? 0,
            basis: "fitted to \(runs.count) `hearth bench` run\(runs.count == 1 ? "" : "s") with \(threads) threads (\(names))",
            measured: true)
    }

    /// Least squares for `seconds ≈ a · units + b · layers` with a > 0, b ≥ 0, each point weighted
    /// by 1/seconds (relative error). Falls back to b = 0 when the fit would make b negative or
    /// the points cannot tell a and b apart.
    static func fitLine(_ points: [(units: Double, layers: Double, seconds: Double)]) -> (perUnit: Double, perLayer: Double) {
        var sxx = 0.0, sxl = 0.0, sll = 0.0, sxy = 0.0, sly = 0.0
        for point in points {
            let w = 1 / (point.seconds * point.seconds)
            sxx += w * point.units * point.units
            sxl += w * point.units * point.layers
            sll += w * point.layers * point.layers
            sxy += w * point.units * point.seconds
            sly += w * point.layers * point.seconds
        }
        let determinant = sxx * sll - sxl * sxl
        if points.count >= 2, determinant > 1e-12 * sxx * sll {
            let a = (sxy * sll - sly * sxl) / determinant
            let b = (sxx * sly - sxl * sxy) / determinant
            if a > 0, b >= 0 { return (a, b) }
        }
        return (sxy / sxx, 0)
    }
}
