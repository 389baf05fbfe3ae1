import Foundation

/// Cloud list prices (US dollars per million tokens) and which cloud model each local model
/// stands in for: `HEARTH_HOME/prices.json`, written with the table below on first use and the
/// user's to edit. Dated and sourced, since cloud prices change.
public struct PriceTable: Codable, Sendable, Equatable {
    public struct Price: Codable, Sendable, Equatable {
        public var input: Double
        public var output: Double
    }

    /// When the prices were read from their source.
    public var asOf: String
    public var source: String
    public var models: [String: Price]
    /// Local model name → cloud model; `*` for every model not named.
    public var standIns: [String: String]
    /// Local model name → the cloud embedding model its embeddings stand in for; `*` for the rest.
    public var embeddingStandIns: [String: String]

    enum CodingKeys: String, CodingKey {
        case asOf = "as_of", source, models, standIns = "stand_ins", embeddingStandIns = "embedding_stand_ins"
    }

    public init(asOf: String, source: String, models: [String: Price], standIns: [String: String], embeddingStandIns: [String: String]) {
        self.asOf = asOf
        self.source = source
        self.models = models
        self.standIns = standIns
        self.embeddingStandIns = embeddingStandIns
    }

    /// A table written before embeddings were priced (no `embedding_stand_ins`) gets the built-in
    /// embedding prices, so the user's edits are kept and embeddings are still priced.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        asOf = try container.decode(String.self, forKey: .asOf)
        source = try container.decode(String.self, forKey: .source)
        models = try container.decode([String: Price].self, forKey: .models)
        standIns = try container.decode([String: String].self, forKey: .standIns)
        if let embedding = try container.decodeIfPresent([String: String].self, forKey: .embeddingStandIns) {
            embeddingStandIns = embedding
        } else {
            embeddingStandIns = Self.builtIn.embeddingStandIns
            for cloud in Set(embeddingStandIns.values) where models[cloud] == nil { models[cloud] = Self.builtIn.models[cloud] }
        }
    }

    public static let fileName = "prices.json"

    /// The built-in table: list prices of the standard tier as OpenAI and Anthropic published
    /// them. The small catalog models stand in for the cheapest cloud tier that does the same
    /// everyday work (a summary, an extraction, a commit message).
    public static let builtIn = PriceTable(
        asOf: "2025-06-01",
        source: "https://openai.com/api/pricing and https://www.anthropic.com/pricing (standard tier, per million tokens)",
        models: [
            "gpt-4.1-nano": Price(input: 0.10, output: 0.40),
            "gpt-4o-mini": Price(input: 0.15, output: 0.60),
            "gpt-4.1-mini": Price(input: 0.40, output: 1.60),
            "gpt-4.1": Price(input: 2.00, output: 8.00),
            "gpt-4o": Price(input: 2.50, output: 10.00),
            "claude-3-5-haiku": Price(input: 0.80, output: 4.00),
            "claude-sonnet-4": Price(input: 3.00, output: 15.00),
            "text-embedding-3-small": Price(input: 0.02, output: 0),
        ],
        standIns: [
            "smollm2:135m": "gpt-4.1-nano",
            "gemma3:270m": "gpt-4.1-nano",
            "qwen2.5-coder:0.5b": "gpt-4o-mini",
            "qwen2.5-coder:1.5b": "gpt-4o-mini",
            "*": "gpt-4o-mini",
        ],
        embeddingStandIns: ["*": "text-embedding-3-small"])

    /// The cloud model `model` stands in for (its own entry, else `*`), if it is priced; for
    /// `embeddings`, the cloud embedding model.
    public func cloudModel(standingInFor model: String, embeddings: Bool = false) -> String? {
        let table = embeddings ? embeddingStandIns : standIns
        let untagged = model.hasSuffix(":latest") ? String(model.dropLast(":latest".count)) : model
        guard let cloud = table[model] ?? table[untagged] ?? table["*"], models[cloud] != nil else { return nil }
        return cloud
    }

    /// What `cloud` would have charged for the tokens.
    public func cost(of cloud: String, promptTokens: Int, completionTokens: Int) -> Double {
        guard let price = models[cloud] else { return 0 }
        return (Double(promptTokens) * price.input + Double(completionTokens) * price.output) / 1_000_000
    }

    /// Problems that make a table unusable, named.
    func problems() -> [String] {
        var problems: [String] = []
        for (name, price) in models.sorted(by: { $0.key < $1.key })
        where !(price.input.isFinite && price.input >= 0 && price.output.isFinite && price.output >= 0) {
            problems.append("models.\(name): prices must be numbers ≥ 0")
        }
        for (local, cloud) in standIns.sorted(by: { $0.key < $1.key }) where models[cloud] == nil {
            problems.append("stand_ins.\(local): '\(cloud)' is not in models")
        }
        for (local, cloud) in embeddingStandIns.sorted(by: { $0.key < $1.key }) where models[cloud] == nil {
            problems.append("embedding_stand_ins.\(local): '\(cloud)' is not in models")
        }
        return problems
    }

    /// The table at `url`; written there from ``builtIn`` when the file is absent. A file that
    /// cannot be read or makes no sense is logged and the built-in table is used.
    static func load(from url: URL, log: @Sendable (String) -> Void) -> PriceTable {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            if let encoded = try? encoder.encode(builtIn) {
                try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try? encoded.write(to: url, options: .atomic)
            }
            return builtIn
        }
        do {
            let table = try JSONDecoder().decode(PriceTable.self, from: data)
            let problems = table.problems()
            guard problems.isEmpty else {
                log("ledger: \(url.path): \(problems.joined(separator: "; ")); using the built-in prices")
                return builtIn
            }
            return table
        } catch {
            log("ledger: \(url.path) is not a price table (\(error)); using the built-in prices")
            return builtIn
        }
    }
}
