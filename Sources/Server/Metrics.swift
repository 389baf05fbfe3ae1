import Foundation

/// Counters, gauges and histograms for `GET /metrics`, written in Prometheus' text format.
final class ServerMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [String: Int] = [:]  // "route|status"
    private var promptTokens = 0
    private var generatedTokens = 0
    private var generationSeconds = 0.0
    private var promptSeconds = 0.0
    private var promptTokensComputed = 0
    /// Time to first token, seconds: cumulative bucket counts.
    static let ttftBuckets: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    private var ttftCounts = [Int](repeating: 0, count: ttftBuckets.count)
    private var ttftSum = 0.0
    private var ttftTotal = 0
    /// What the answers would have cost at cloud prices, by cloud model (the ledger's price table).
    private var cloudCost: [String: Double] = [:]

    /// What remote endpoints (the router's last tier) charged, by their model.
    private var paidCost: [String: Double] = [:]
    /// Speculative decoding (a draft model or prompt lookup): tokens proposed and kept.
    private var proposedTokens = 0
    private var acceptedTokens = 0

    func recordSpeculation(proposed: Int, accepted: Int) {
        lock.withLock {
            proposedTokens += proposed
            acceptedTokens += accepted
        }
    }

    func recordCloudCost(cloudModel: String, usd: Double) {
        lock.withLock { cloudCost[cloudModel, default: 0] += usd }
    }

    func recordPaidCost(model: String, usd: Double) {
        lock.withLock { paidCost[model, default: 0] += usd }
    }

    func recordRequest(route: String, status: Int) {
        lock.withLock { requests["\(route)|\(status)", default: 0] += 1 }
    }

    func recordGeneration(promptTokens: Int, computedPromptTokens: Int, promptSeconds: Double, generatedTokens: Int, generationSeconds: Double) {
        lock.withLock {
            self.promptTokens += promptTokens
            self.promptTokensComputed += computedPromptTokens
            self.promptSeconds += promptSeconds
            self.generatedTokens += generatedTokens
            self.generationSeconds += generationSeconds
        }
    }

    func recordTimeToFirstToken(_ seconds: Double) {
        lock.withLock {
            for (index, bound) in Self.ttftBuckets.enumerated() where seconds <= bound { ttftCounts[index] += 1 }
            ttftSum += seconds
            ttftTotal += 1
        }
    }

    struct ModelGauge {
        let name: String
        let bytes: Int64
        let busySlots: Int
        let queueDepth: Int
    }

    func render(models: [ModelGauge]) -> String {
        lock.withLock {
            var out = ""
            func header(_ name: String, _ type: String, _ help: String) {
                out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            }
            header("hearth_requests_total", "counter", "HTTP requests by route and status.")
            for key in requests.keys.sorted() {
                let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
                out += "hearth_requests_total{route=\"\(Self.escape(parts[0]))\",status=\"\(parts[1])\"} \(requests[key]!)\n"
            }
            header("hearth_prompt_tokens_total", "counter", "Prompt tokens received.")
            out += "hearth_prompt_tokens_total \(promptTokens)\n"
            header("hearth_prompt_tokens_computed_total", "counter", "Prompt tokens computed (not served from the prompt cache).")
            out += "hearth_prompt_tokens_computed_total \(promptTokensComputed)\n"
            header("hearth_generated_tokens_total", "counter", "Tokens generated.")
            out += "hearth_generated_tokens_total \(generatedTokens)\n"
            header("hearth_speculative_tokens_proposed_total", "counter", "Tokens proposed by speculative decoding (a draft model or prompt lookup).")
            out += "hearth_speculative_tokens_proposed_total \(proposedTokens)\n"
            header("hearth_speculative_tokens_accepted_total", "counter", "Proposed tokens the model kept (each saves a pass).")
            out += "hearth_speculative_tokens_accepted_total \(acceptedTokens)\n"
            header("hearth_cloud_cost_usd_total", "counter", "What the answers would have cost at cloud prices (prices.json), by cloud model.")
            for model in cloudCost.keys.sorted() { out += "hearth_cloud_cost_usd_total{cloud_model=\"\(Self.escape(model))\"} \(cloudCost[model]!)\n" }
            header("hearth_remote_cost_usd_total", "counter", "What remote endpoints charged for the router's escalated answers (prices.json), by model.")
            for model in paidCost.keys.sorted() { out += "hearth_remote_cost_usd_total{model=\"\(Self.escape(model))\"} \(paidCost[model]!)\n" }
            header("hearth_prompt_tokens_per_second", "gauge", "Prompt tokens computed per second, over all requests.")
            out += "hearth_prompt_tokens_per_second \(promptSeconds > 0 ? Double(promptTokensComputed) / promptSeconds : 0)\n"
            header("hearth_generation_tokens_per_second", "gauge", "Tokens generated per second of generation, over all requests.")
            out += "hearth_generation_tokens_per_second \(generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0)\n"
            header("hearth_time_to_first_token_seconds", "histogram", "Time from request to first generated text.")
            for (index, bound) in Self.ttftBuckets.enumerated() {
                out += "hearth_time_to_first_token_seconds_bucket{le=\"\(bound)\"} \(ttftCounts[index])\n"
            }
            out += "hearth_time_to_first_token_seconds_bucket{le=\"+Inf\"} \(ttftTotal)\n"
            out += "hearth_time_to_first_token_seconds_sum \(ttftSum)\nhearth_time_to_first_token_seconds_count \(ttftTotal)\n"
            header("hearth_queue_depth", "gauge", "Requests waiting for a slot.")
            out += "hearth_queue_depth \(models.reduce(0) { $0 + $1.queueDepth })\n"
            header("hearth_busy_slots", "gauge", "Slots generating, by model.")
            for model in models { out += "hearth_busy_slots{model=\"\(Self.escape(model.name))\"} \(model.busySlots)\n" }
            header("hearth_loaded_models", "gauge", "Models in memory.")
            out += "hearth_loaded_models \(models.count)\n"
            header("hearth_model_memory_bytes", "gauge", "Memory of each loaded model (weights and KV caches).")
            for model in models { out += "hearth_model_memory_bytes{model=\"\(Self.escape(model.name))\"} \(model.bytes)\n" }
            return out
        }
    }

    static func escape(_ label: String) -> String {
        label.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
