import Engine
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
    /// Prompt tokens asked for, and those served from a KV cache (a slot's or the prefix cache),
    /// by model: the prefix-cache hit rate a balancer's prefix affinity is judged by. Kept after
    /// a model unloads, as counters must never go back.
    private var prefixQueried: [String: Int] = [:]
    private var prefixHit: [String: Int] = [:]

    func recordCloudCost(cloudModel: String, usd: Double) {
        lock.withLock { cloudCost[cloudModel, default: 0] += usd }
    }

    func recordPaidCost(model: String, usd: Double) {
        lock.withLock { paidCost[model, default: 0] += usd }
    }

    func recordRequest(route: String, status: Int) {
        lock.withLock { requests["\(route)|\(status)", default: 0] += 1 }
    }

    func recordGeneration(model: String, promptTokens: Int, computedPromptTokens: Int, promptSeconds: Double, generatedTokens: Int,
                          generationSeconds: Double) {
        lock.withLock {
            prefixQueried[model, default: 0] += promptTokens
            prefixHit[model, default: 0] += promptTokens - computedPromptTokens
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
        var slots = 0
        /// KV-cache positions held by the requests generating, and all the slots' positions.
        var heldTokens = 0
        var capacityTokens = 0
    }

    /// Who this replica is and whether it takes traffic (``ReplicaState``).
    struct ReplicaGauge {
        let name: String
        let ready: Bool
        let draining: Bool
    }

    func render(models: [ModelGauge], replica: ReplicaGauge? = nil) -> String {
        lock.withLock {
            var text = PrometheusText()
            text.header("hearth_requests_total", "counter", "HTTP requests by route and status.")
            for key in requests.keys.sorted() {
                let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
                text.out += "hearth_requests_total{route=\"\(Self.escape(parts[0]))\",status=\"\(parts[1])\"} \(requests[key]!)\n"
            }
            text.single("hearth_prompt_tokens_total", "counter", "Prompt tokens received.", promptTokens)
            text.single("hearth_prompt_tokens_computed_total", "counter", "Prompt tokens computed (not served from the prompt cache).", promptTokensComputed)
            text.single("hearth_generated_tokens_total", "counter", "Tokens generated.", generatedTokens)
            text.single("hearth_speculative_tokens_proposed_total", "counter", "Tokens proposed by speculative decoding (a draft model or prompt lookup).", proposedTokens)
            text.single("hearth_speculative_tokens_accepted_total", "counter", "Proposed tokens the model kept (each saves a pass).", acceptedTokens)
            text.header("hearth_cloud_cost_usd_total", "counter", "What the answers would have cost at cloud prices (prices.json), by cloud model.")
            for model in cloudCost.keys.sorted() { text.out += "hearth_cloud_cost_usd_total{cloud_model=\"\(Self.escape(model))\"} \(cloudCost[model]!)\n" }
            text.header("hearth_remote_cost_usd_total", "counter", "What remote endpoints charged for the router's escalated answers (prices.json), by model.")
            for model in paidCost.keys.sorted() { text.out += "hearth_remote_cost_usd_total{model=\"\(Self.escape(model))\"} \(paidCost[model]!)\n" }
            text.single("hearth_prompt_tokens_per_second", "gauge", "Prompt tokens computed per second, over all requests.", promptSeconds > 0 ? Double(promptTokensComputed) / promptSeconds : 0)
            text.single("hearth_generation_tokens_per_second", "gauge", "Tokens generated per second of generation, over all requests.", generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0)
            text.header("hearth_time_to_first_token_seconds", "histogram", "Time from request to first generated text.")
            for (index, bound) in Self.ttftBuckets.enumerated() {
                text.out += "hearth_time_to_first_token_seconds_bucket{le=\"\(bound)\"} \(ttftCounts[index])\n"
            }
            text.out += "hearth_time_to_first_token_seconds_bucket{le=\"+Inf\"} \(ttftTotal)\n"
            text.out += "hearth_time_to_first_token_seconds_sum \(ttftSum)\nhearth_time_to_first_token_seconds_count \(ttftTotal)\n"
            text.single("hearth_queue_depth", "gauge", "Requests waiting for a slot.", models.reduce(0) { $0 + $1.queueDepth })
            text.header("hearth_busy_slots", "gauge", "Slots generating, by model.")
            for model in models { text.out += "hearth_busy_slots{model=\"\(Self.escape(model.name))\"} \(model.busySlots)\n" }
            text.single("hearth_loaded_models", "gauge", "Models in memory.", models.count)
            text.header("hearth_model_memory_bytes", "gauge", "Memory of each loaded model (weights and KV caches).")
            for model in models { text.out += "hearth_model_memory_bytes{model=\"\(Self.escape(model.name))\"} \(model.bytes)\n" }
            text.out += renderRouting(models: models, replica: replica)
            return text.out
        }
    }

    /// What a load balancer or the Gateway API Inference Extension's endpoint picker routes by:
    /// Hearth's own names, then the same facts under the vLLM names the picker reads by default
    /// (its model-server protocol: `vllm:num_requests_waiting`, `vllm:num_requests_running`,
    /// `vllm:kv_cache_usage_perc`, optional `vllm:cache_config_info`, `vllm:lora_requests_info`).
    /// vLLM's "perc" gauges are fractions from 0 to 1, and so are these. Called with the lock held.
    private func renderRouting(models: [ModelGauge], replica: ReplicaGauge?) -> String {
        var text = PrometheusText()
        func usage(_ model: ModelGauge) -> Double {
            model.capacityTokens > 0 ? Double(model.heldTokens) / Double(model.capacityTokens) : 0
        }
        // Counters of models seen since start (loaded now or not), gauges of the loaded ones.
        let counted = Set(prefixQueried.keys).union(models.map(\.name)).sorted()
        if let replica {
            text.header("hearth_replica_info", "gauge", "This replica's name (--replica-name) and version; always 1.")
            text.out += "hearth_replica_info{replica=\"\(Self.escape(replica.name))\",version=\"\(HearthServer.version)\"} 1\n"
            text.single("hearth_ready", "gauge", "1 while /health reports ready, 0 while draining or saturated.", replica.ready ? 1 : 0)
            text.single("hearth_draining", "gauge", "1 after SIGTERM: finishing the requests in flight before exiting.", replica.draining ? 1 : 0)
        }
        text.header("hearth_requests_waiting", "gauge", "Requests waiting for a slot, by model.")
        for model in models { text.out += "hearth_requests_waiting{model=\"\(Self.escape(model.name))\"} \(model.queueDepth)\n" }
        text.header("hearth_requests_running", "gauge", "Requests generating (holding a slot), by model.")
        for model in models { text.out += "hearth_requests_running{model=\"\(Self.escape(model.name))\"} \(model.busySlots)\n" }
        text.header("hearth_slots", "gauge", "Slots (conversations generated side by side), by model.")
        for model in models { text.out += "hearth_slots{model=\"\(Self.escape(model.name))\"} \(model.slots)\n" }
        text.header("hearth_kv_cache_usage_ratio", "gauge", "Fraction of the slots' KV-cache positions held by requests generating, by model.")
        for model in models { text.out += "hearth_kv_cache_usage_ratio{model=\"\(Self.escape(model.name))\"} \(usage(model))\n" }
        text.header("hearth_prefix_cache_queried_tokens_total", "counter", "Prompt tokens looked up in the KV caches, by model.")
        for name in counted { text.out += "hearth_prefix_cache_queried_tokens_total{model=\"\(Self.escape(name))\"} \(prefixQueried[name, default: 0])\n" }
        text.header("hearth_prefix_cache_hit_tokens_total", "counter", "Prompt tokens served from a KV cache instead of computed, by model.")
        for name in counted { text.out += "hearth_prefix_cache_hit_tokens_total{model=\"\(Self.escape(name))\"} \(prefixHit[name, default: 0])\n" }
        text.header("hearth_prefix_cache_hit_ratio", "gauge", "Prompt tokens served from a KV cache over prompt tokens asked for since start, by model.")
        for name in counted {
            let queried = prefixQueried[name, default: 0]
            text.out += "hearth_prefix_cache_hit_ratio{model=\"\(Self.escape(name))\"} \(queried > 0 ? Double(prefixHit[name, default: 0]) / Double(queried) : 0)\n"
        }

        text.header("vllm:num_requests_waiting", "gauge", "Requests waiting for a slot (hearth_requests_waiting).")
        for model in models { text.out += "vllm:num_requests_waiting{model_name=\"\(Self.escape(model.name))\"} \(model.queueDepth)\n" }
        text.header("vllm:num_requests_running", "gauge", "Requests generating (hearth_requests_running).")
        for model in models { text.out += "vllm:num_requests_running{model_name=\"\(Self.escape(model.name))\"} \(model.busySlots)\n" }
        // Both names: vLLM renamed gpu_cache_usage_perc to kv_cache_usage_perc, and endpoint
        // pickers of either age read one of them.
        for name in ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"] {
            text.header(name, "gauge", "KV-cache usage, 1 = full (hearth_kv_cache_usage_ratio).")
            for model in models { text.out += "\(name){model_name=\"\(Self.escape(model.name))\"} \(usage(model))\n" }
        }
        text.header("vllm:cache_config_info", "gauge", "KV-cache layout for prefix-aware scoring: tokens per prefix-cache block, and blocks in all slots.")
        for model in models {
            text.out += "vllm:cache_config_info{model_name=\"\(Self.escape(model.name))\",block_size=\"\(Self.prefixBlockTokens)\",num_gpu_blocks=\"\(model.capacityTokens / Self.prefixBlockTokens)\"} 1\n"
        }
        text.header("vllm:prefix_cache_queries_total", "counter", "Prompt tokens looked up in the KV caches (hearth_prefix_cache_queried_tokens_total).")
        for name in counted { text.out += "vllm:prefix_cache_queries_total{model_name=\"\(Self.escape(name))\"} \(prefixQueried[name, default: 0])\n" }
        text.header("vllm:prefix_cache_hits_total", "counter", "Prompt tokens served from a KV cache (hearth_prefix_cache_hit_tokens_total).")
        for name in counted { text.out += "vllm:prefix_cache_hits_total{model_name=\"\(Self.escape(name))\"} \(prefixHit[name, default: 0])\n" }
        // Hearth applies LoRA adapters when a model loads (a created model or --lora), never per
        // request, so no adapter is ever waiting or swapped in: the picker's LoRA affinity has
        // nothing to prefer, which these labels say. The value is when this was written, as vLLM's.
        text.header("vllm:lora_requests_info", "gauge", "LoRA adapters loaded per request: none (adapters are part of a model's name in Hearth).")
        text.out += "vllm:lora_requests_info{max_lora=\"0\",running_lora_adapters=\"\",waiting_lora_adapters=\"\"} \(Date().timeIntervalSince1970)\n"
        return text.out
    }

    static var prefixBlockTokens: Int { BatchScheduler.prefixBlockTokens }

    static func escape(_ label: String) -> String {
        label.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// Prometheus' text exposition format, written metric by metric.
struct PrometheusText {
    var out = ""

    mutating func header(_ name: String, _ type: String, _ help: String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    /// A metric with one unlabelled sample.
    mutating func single(_ name: String, _ type: String, _ help: String, _ value: some CustomStringConvertible) {
        header(name, type, help)
        out += "\(name) \(value)\n"
    }
}
