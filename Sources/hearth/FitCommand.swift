import JSON
import Advisor
import ArgumentParser
import Foundation
import GGUF
import Store

/// `hearth fit`: which models this machine (or another) can run, how much memory each needs and
/// how fast it would decode, from first principles with every assumption printed.
struct FitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Predict which models fit this machine (or a named one) and how fast they run.",
        discussion: """
            Memory = weights (parameters × bits per weight) + KV cache (layers × context × KV heads × \
            head size × 2 × 2 bytes, or 34 per 32 values with --cache-type q8_0) + scratch buffers + runtime, against the usable share of memory. \
            Decode tokens/s = η × read bandwidth ÷ bytes read per token (+ a per-layer cost on this \
            machine); η and the prompt compute rate are fitted to `hearth bench` runs on this machine.

            Devices: \(DeviceProfile.names.joined(separator: ", ")).
            Set \(FitGate.overrideVariable)=1 to load a model the memory check refuses.
            """)

    @Option(help: "A device profile instead of this machine (see the list below).")
    var device: String?

    @Option(help: "Memory in GB: a custom device (with --bandwidth), or one of a profile's sizes.")
    var memory: Double?

    @Option(help: "Memory bandwidth in GB/s for a custom device (with --memory).")
    var bandwidth: Double?

    @Option(help: "Context length in tokens the KV cache is sized for.")
    var ctx: Int = 4096

    @Option(name: .customLong("min-speed"), help: "Decode tokens/s a model must reach to count as usable.")
    var minSpeed: Double = 10

    @Flag(help: "Re-measure this machine's read bandwidth instead of using the cached probe.")
    var measure = false

    @Flag(name: .customLong("seed-table"), help: "Compare the published largest-usable-model estimates per Apple machine with Hearth's.")
    var seedTable = false

    @OptionGroup var kvCache: CacheTypeOption

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard ctx > 0, ctx <= 16_777_216 else { throw ValidationError("--ctx must be in 1...16777216, got \(ctx)") }
        guard minSpeed.isFinite, minSpeed > 0, minSpeed <= 100_000 else {
            throw ValidationError("--min-speed must be a positive number of tokens/s, got \(minSpeed)")
        }
        if let memory, !(memory.isFinite && memory > 0 && memory <= 1_000_000) {
            throw ValidationError("--memory must be a positive number of GB, got \(memory)")
        }
        if let bandwidth, !(bandwidth.isFinite && bandwidth > 0 && bandwidth <= 1_000_000) {
            throw ValidationError("--bandwidth must be a positive number of GB/s, got \(bandwidth)")
        }
        if let device {
            guard let profile = DeviceProfile.named(device) else {
                throw ValidationError("unknown device '\(device)'; known: \(DeviceProfile.names.joined(separator: ", "))")
            }
            if bandwidth != nil { throw ValidationError("--bandwidth is for a custom device; \(profile.name) has its own") }
            if let memory, !profile.memoryOptionsGB.value.contains(Int(memory)) || memory != memory.rounded() {
                let options = profile.memoryOptionsGB.value.map(String.init).joined(separator: ", ")
                throw ValidationError("\(profile.title) comes with \(options) GB, not \(Self.number(memory))")
            }
        } else if (memory == nil) != (bandwidth == nil) {
            throw ValidationError("a custom device needs both --memory GB and --bandwidth GBps")
        }
        if seedTable && (device != nil || memory != nil) {
            throw ValidationError("--seed-table compares its own seven machines; drop --device/--memory/--bandwidth")
        }
    }

    func run() async throws {
        let store = try ModelStore(root: ModelStore.defaultRoot())
        let host = HostDevice.current()
        let cache = store.root.appendingPathComponent("cache", isDirectory: true)
        let efficiency = Efficiency.fitted(to: BenchCache(file: cache.appendingPathComponent("bench.json")).records(),
                                           host: host.signature)
        if seedTable {
            try printSeedTable(efficiency: efficiency)
            return
        }
        let target = resolveTarget(host: host, cache: cache)
        let models = modelRows(store: store, target: target, efficiency: efficiency)
        let generic = GenericModel.listed.map { model in
            (model, Quantization.common.map { CostModel.predict(model.shape($0), on: target, efficiency: efficiency, context: ctx, cacheType: kvCache.cacheType) })
        }
        let largest = Quantization.common.map {
            ($0, LargestModel.find(on: target, quantization: $0, efficiency: efficiency, context: ctx, minimumSpeed: minSpeed, cacheType: kvCache.cacheType))
        }
        if json {
            try printJSON([
                "target": targetJSON(target, host: target.isThisMachine ? host : nil),
                "efficiency": efficiencyJSON(efficiency),
                "context": ctx, "min_speed_tps": minSpeed, "cache_type": kvCache.cacheType.rawValue,
                "models": models.map(rowJSON),
                "generic": generic.map { model, predictions in
                    [
                        "name": model.name, "parameters_b": model.billions, "active_parameters_b": model.activeBillions,
                        "source": model.source,
                        "quantizations": zip(Quantization.common, predictions).map { quantization, prediction in
                            predictionJSON(prediction).merging(["quantization": quantization.name]) { $1 }
                        },
                    ] as [String: Any]
                },
                "largest_usable": largest.map { quantization, result in
                    ["quantization": quantization.name, "parameters_b": result.billions,
                     "memory_limit_b": result.memoryBillions, "speed_limit_b": result.speedBillions,
                     "limited_by": result.limit.rawValue] as [String: Any]
                },
                "bits_per_weight_source": Quantization.source,
            ])
            return
        }
        printTarget(target, host: target.isThisMachine ? host : nil, efficiency: efficiency)
        printModels(models)
        printGeneric(generic)
        print("\nLargest usable dense model (fits, and decodes at ≥ \(Self.number(minSpeed)) tokens/s, ctx \(ctx)):")
        for (quantization, result) in largest {
            let other = result.limit == .memory
                ? "speed would allow \(Self.billions(result.speedBillions))"
                : "memory would allow \(Self.billions(result.memoryBillions))"
            print("  \(Self.pad(quantization.name, 7)) \(Self.pad(Self.billions(result.billions), 8)) limited by \(result.limit.rawValue); \(other)")
        }
        print("\nBits per weight: \(Quantization.source)")
    }

    // MARK: - Target

    private func resolveTarget(host: HostDevice, cache: URL) -> Target {
        if let device, let profile = DeviceProfile.named(device) {
            return UsableMemory.target(profile, memoryGB: memory.map { Int($0) } ?? profile.largestMemoryGB)
        }
        if let memory, let bandwidth {
            let total = memory * 1_073_741_824
            return Target(title: "custom device, \(Self.number(memory)) GB at \(Self.number(bandwidth)) GB/s",
                          totalMemoryBytes: total, usableMemoryBytes: total * UsableMemory.systemFraction,
                          usableReason: UsableMemory.reason(for: .systemRAM, memoryGB: memory),
                          bandwidth: bandwidth * 1e9, bandwidthSource: "given with --bandwidth", isThisMachine: false)
        }
        let threads = host.cores
        if measure || !FileManager.default.fileExists(atPath: cache.appendingPathComponent("device.json").path) {
            if !json { FileHandle.standardError.write(Data("measuring read bandwidth (\(threads) threads)…\n".utf8)) }
        }
        let (probe, fresh) = BandwidthProbe.load(cache: cache.appendingPathComponent("device.json"), host: host,
                                                 threads: threads, remeasure: measure)
        let when = ISO8601DateFormatter().string(from: probe.date)
        let source = "measured here with \(threads) threads (512 MiB read, best of 5)\(fresh ? "" : ", cached \(when); --measure re-measures")"
        return host.target(bandwidth: probe.bandwidth, bandwidthSource: source)
    }

    // MARK: - Models of the store and the catalog

    struct ModelRow {
        let name: String
        let installed: Bool
        /// Estimated from the download size (catalog model not installed yet).
        let estimated: Bool
        let shape: ModelShape
        let prediction: Prediction
    }

    private func modelRows(store: ModelStore, target: Target, efficiency: Efficiency) -> [ModelRow] {
        var rows: [ModelRow] = []
        let installed = (try? store.list()) ?? []
        for model in installed {
            guard let file = try? GGUFFile(path: model.path), let shape = try? ModelShape(file: file) else { continue }
            rows.append(ModelRow(name: model.name, installed: true, estimated: false, shape: shape,
                                 prediction: CostModel.predict(shape, on: target, efficiency: efficiency, context: ctx, cacheType: kvCache.cacheType)))
        }
        for entry in store.catalog.entries where !installed.contains(where: { $0.name == entry.name }) {
            let shape = FitGate.estimatedShape(fileBytes: Double(entry.size))
            rows.append(ModelRow(name: entry.name, installed: false, estimated: true, shape: shape,
                                 prediction: CostModel.predict(shape, on: target, efficiency: efficiency, context: ctx, cacheType: kvCache.cacheType)))
        }
        return rows
    }

    // MARK: - Text output

    private func printTarget(_ target: Target, host: HostDevice?, efficiency: Efficiency) {
        print("Target: \(target.title)")
        if let host {
            print("  cores \(host.cores); SIMD \(host.simdFeatures.isEmpty ? "none reported" : host.simdFeatures.joined(separator: " "))")
            let available = host.availableMemoryBytes.map { ", \(Self.gb($0)) available now" } ?? ""
            print("  memory \(Self.gb(target.totalMemoryBytes)) total\(available)")
        } else {
            print("  memory \(Self.gb(target.totalMemoryBytes))")
        }
        print("  usable \(Self.gb(target.usableMemoryBytes)): \(target.usableReason)")
        print("  read bandwidth \(Self.number(target.bandwidth / 1e9)) GB/s: \(target.bandwidthSource)")
        print("Speed factors: \(efficiency.basis)")
        var factors = "  decode reaches η = \(String(format: "%.2f", efficiency.bandwidthFraction)) of read bandwidth"
        if target.isThisMachine, efficiency.decodeSecondsPerLayer > 0 {
            factors += String(format: ", plus %.1f µs per layer per token", efficiency.decodeSecondsPerLayer * 1e6)
        }
        print(factors)
        if !target.isThisMachine {
            print("  η is applied to this device's bandwidth: it assumes Hearth reaches the same share of it there;")
            print("  the per-layer cost and the prompt rate were measured on this CPU only, so they are not applied")
        } else if let flops = efficiency.promptFlops {
            print(String(format: "  prompt: %.1f GFLOP/s (2 per active parameter per token)", flops / 1e9)
                  + (efficiency.promptSecondsPerLayer > 0 ? String(format: " + %.1f µs per layer per token", efficiency.promptSecondsPerLayer * 1e6) : ""))
        }
        if !efficiency.measured {
            print("  no `hearth bench` result on this machine yet: decode uses the default η above and prompt speed is not")
            print("  predicted; run `hearth bench MODEL` (each run is saved) to replace the default with measurements")
        }
    }

    private func printModels(_ rows: [ModelRow]) {
        guard !rows.isEmpty else { return }
        print("\nModels (ctx \(ctx), capped at each model's trained context):")
        let header = [Self.pad("model", 22), Self.pad("params", 9), Self.pad("memory", 10), Self.pad("fits", 5),
                      Self.pad("decode t/s", 11), Self.pad("at full ctx", 12), "prompt t/s"]
        print("  " + header.joined(separator: " "))
        for row in rows {
            let p = row.prediction
            let name = row.name + (row.installed ? "" : " *")
            print("  " + [
                Self.pad(name, 22), Self.pad((row.estimated ? "~" : "") + Self.billions(row.shape.parameters / 1e9), 9),
                Self.pad(Self.gb(p.memory.total), 10), Self.pad(p.fits ? "yes" : "NO", 5),
                Self.pad(Self.number(p.decodeTokensPerSecond), 11), Self.pad(Self.number(p.decodeTokensPerSecondFullContext), 12),
                p.promptTokensPerSecond.map(Self.number) ?? "—",
            ].joined(separator: " "))
        }
        if rows.contains(where: { !$0.installed }) {
            print("  * not installed: estimated from the catalog's download size (parameters at 4.89 bits, shape of a typical model)")
        }
    }

    private func printGeneric(_ generic: [(GenericModel, [Prediction])]) {
        print("\nGeneric sizes: memory needed / decode tokens/s (✗ = does not fit; ctx \(ctx)):")
        print("  " + Self.pad("model", 30) + Quantization.common.map { Self.pad($0.name, 19) }.joined())
        for (model, predictions) in generic {
            let cells = predictions.map { p in
                let speed = Self.number(p.decodeTokensPerSecond)
                return Self.pad((p.fits ? "" : "✗ ") + "\(Self.gb(p.memory.total)) / \(speed)", 19)
            }
            print("  " + Self.pad(model.name, 30) + cells.joined())
        }
        print("  MoE: all experts in memory, only the active parameters read per token; shapes from each model's config.json")
    }

    private func printSeedTable(efficiency: Efficiency) throws {
        let q4 = Quantization.common[0]
        let rows = SeedComparison.all(quantization: q4, efficiency: efficiency, context: ctx, minimumSpeed: minSpeed)
        if json {
            try printJSON([
                "quantization": q4.name, "context": ctx, "min_speed_tps": minSpeed,
                "efficiency": efficiencyJSON(efficiency),
                "rows": rows.map { row in
                    [
                        "year": row.seed.year, "device": row.profile.name, "title": row.profile.title,
                        "projected": row.seed.projected, "memory_gb": row.memoryGB,
                        "usable_memory_bytes": row.target.usableMemoryBytes, "usable_reason": row.target.usableReason,
                        "bandwidth_gbps": row.profile.bandwidthGBps.value, "bandwidth_source": row.profile.bandwidthGBps.source,
                        "memory_source": row.profile.memoryOptionsGB.source,
                        "published_b": row.seed.publishedBillions, "hearth_b": row.estimate.billions,
                        "memory_limit_b": row.estimate.memoryBillions, "speed_limit_b": row.estimate.speedBillions,
                        "published_decode_tps": row.publishedPrediction.decodeTokensPerSecond,
                        "why": row.explanation,
                    ] as [String: Any]
                },
            ])
            return
        }
        print("Largest usable model per Apple machine: published estimate vs Hearth's (\(q4.name), ctx \(ctx), ≥ \(Self.number(minSpeed)) t/s,")
        print("each chip at its largest memory option, η = \(String(format: "%.2f", efficiency.bandwidthFraction)) from \(efficiency.measured ? "this machine's bench runs" : "the default");")
        print("GB = 10⁹ bytes: Apple's \"16GB\" is 16 GiB = 17.2 GB)\n")
        print("  " + [Self.pad("year", 5), Self.pad("machine", 26), Self.pad("memory", 7), Self.pad("GB/s", 7),
                      Self.pad("usable", 10), Self.pad("published", 10), Self.pad("Hearth", 8), Self.pad("mem cap", 8),
                      "speed cap"].joined(separator: " "))
        for row in rows {
            print("  " + [
                Self.pad(String(row.seed.year), 5), Self.pad(row.profile.title, 26), Self.pad("\(row.memoryGB)GB", 7),
                Self.pad(Self.bandwidth(row.profile.bandwidthGBps.value), 7), Self.pad(Self.gb(row.target.usableMemoryBytes), 10),
                Self.pad(Self.billions(row.seed.publishedBillions), 10), Self.pad(Self.billions(row.estimate.billions), 8),
                Self.pad(Self.billions(row.estimate.memoryBillions), 8), Self.billions(row.estimate.speedBillions),
            ].joined(separator: " "))
            print("        why: \(row.explanation)")
        }
        print("\nSources of every hardware number used:")
        var seen = Set<String>()
        for row in rows where seen.insert(row.profile.name).inserted {
            print("  \(row.profile.title): bandwidth \(Self.bandwidth(row.profile.bandwidthGBps.value)) GB/s — \(row.profile.bandwidthGBps.source)")
            if row.profile.memoryOptionsGB.source != row.profile.bandwidthGBps.source {
                print("    memory \(row.memoryGB)GB — \(row.profile.memoryOptionsGB.source)")
            }
        }
        print("  usable share: \(UsableMemory.appleSource)")
        print("  bits per weight: \(Quantization.source)")
        print("  speed: decode = η × bandwidth ÷ bytes per token; \(efficiency.basis)")
    }

    // MARK: - JSON

    private func targetJSON(_ target: Target, host: HostDevice?) -> [String: Any] {
        var object: [String: Any] = [
            "title": target.title, "total_memory_bytes": target.totalMemoryBytes,
            "usable_memory_bytes": target.usableMemoryBytes, "usable_reason": target.usableReason,
            "read_bandwidth_gbps": target.bandwidth / 1e9, "bandwidth_source": target.bandwidthSource,
            "this_machine": target.isThisMachine,
        ]
        if let host {
            object["cpu"] = host.cpuName
            object["cores"] = host.cores
            object["simd"] = host.simdFeatures
            if let available = host.availableMemoryBytes { object["available_memory_bytes"] = available }
        }
        return object
    }

    private func efficiencyJSON(_ efficiency: Efficiency) -> [String: Any] {
        var object: [String: Any] = [
            "bandwidth_fraction": efficiency.bandwidthFraction, "decode_seconds_per_layer": efficiency.decodeSecondsPerLayer,
            "prompt_seconds_per_layer": efficiency.promptSecondsPerLayer, "basis": efficiency.basis, "measured": efficiency.measured,
        ]
        if let flops = efficiency.promptFlops { object["prompt_flops"] = flops }
        return object
    }

    private func predictionJSON(_ p: Prediction) -> [String: Any] {
        var object: [String: Any] = [
            "fits": p.fits, "memory_bytes": p.memory.total, "weights_bytes": p.memory.weights,
            "kv_cache_bytes": p.memory.kvCache, "buffers_bytes": p.memory.buffers, "runtime_bytes": p.memory.runtime,
            "context": p.context, "decode_tps": p.decodeTokensPerSecond,
            "decode_tps_full_context": p.decodeTokensPerSecondFullContext,
        ]
        if let prompt = p.promptTokensPerSecond { object["prompt_tps"] = prompt }
        return object
    }

    private func rowJSON(_ row: ModelRow) -> [String: Any] {
        predictionJSON(row.prediction).merging([
            "name": row.name, "installed": row.installed, "estimated": row.estimated,
            "parameters": row.shape.parameters, "bytes_per_token": row.shape.bytesPerToken,
        ]) { $1 }
    }

    private func printJSON(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    // MARK: - Formatting

    static func gb(_ bytes: Double) -> String { String(format: "%.2f GB", bytes / 1e9) }

    static func billions(_ value: Double) -> String {
        if value >= 10_000 { return "≥10000B" }
        if value >= 100 { return String(format: "%.0fB", value) }
        if value >= 1 { return String(format: "%.1fB", value) }
        return String(format: "%.0fM", value * 1000)
    }

    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "—" }
        return value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }

    /// 68.25 → "68.25", 200 → "200": published figures as published.
    static func bandwidth(_ value: Double) -> String {
        value == value.rounded() ? String(format: "%.0f", value) : String(format: "%g", value)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
