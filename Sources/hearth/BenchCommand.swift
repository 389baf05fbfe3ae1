import JSON
import Advisor
import ArgumentParser
import Engine
import Foundation
import GGUF
import Grammar
import Kernels
import Sampling
import Store

/// `hearth bench MODEL`: llama-bench's pp and tg tests, and the decode roofline.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prompt processing (pp) and generation (tg) speed, as llama-bench does.")

    @Argument(help: "Catalog name, installed name, or path to a .gguf file.")
    var model: String

    @Option(help: "Prompt tokens processed as one batch (0 skips pp).")
    var pp: Int = 512

    @Option(help: "Tokens generated one at a time (0 skips tg).")
    var tg: Int = 128

    @Option(help: "Tokens already in the context before each pp and tg test (llama-bench's -d): speed at depth.")
    var depth: Int = 0

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Option(help: "Timed repetitions of each test.")
    var reps: Int = 3

    @Option(help: "Also measure batched decode: this many sequences (each after a 128-token prompt) decode --tg tokens together, one forward pass per step, as llama-batched-bench's S_TG.")
    var parallel: Int = 1

    @Flag(name: .customLong("block-sums"), help: "Multiply in `hearth serve`'s float order (block sums) instead of llama.cpp's.")
    var blockSums = false

    @Option(help: "Also measure decoding under a JSON Schema (a file): tokens/s with and without the grammar on the same prompt, and the time per token spent sampling under it (p50/p99).")
    var schema: String?

    @Flag(help: "Also decode a chat prompt with the sampler chain (--temp, --top-k, --top-p, --min-p and the penalties) and greedily, alternating: tokens/s of each and the sampler's time per token.")
    var sampled = false

    @Flag(help: "Also decode a prompt with prompt-lookup speculation and without, alternating: tokens/s of each, the proposals' acceptance, and whether both gave the same tokens.")
    var ngram = false

    @OptionGroup(title: "Draft model (--draft: decode the prompt with its proposals and without, alternating)")
    var draft: DraftOptions

    @Option(name: .customLong("draft-max"), help: "With --ngram or --draft: most tokens proposed at once (1...64; default 63 with --ngram, 16 with --draft).")
    var draftMax: Int?

    @Option(name: .customLong("prompt-file"), help: "With --ngram: the request (a user message, sent through the chat template) to decode; default: a coding request.")
    var promptFile: String?

    @OptionGroup(title: "Sampling (--sampled, --schema and --ngram runs)")
    var sampling: SamplingOptions

    @OptionGroup var lora: LoRAOptions

    @OptionGroup var cache: CacheTypeOption

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard pp >= 0, tg >= 0, pp + tg > 0 else { throw ValidationError("--pp and --tg must be ≥ 0 and not both 0") }
        guard pp <= 16384, tg <= 16384 else { throw ValidationError("--pp and --tg must be ≤ 16384") }
        guard (0...131_072).contains(depth) else { throw ValidationError("--depth must be in 0...131072, got \(depth)") }
        guard reps >= 1, reps <= 100 else { throw ValidationError("--reps must be in 1...100, got \(reps)") }
        guard parallel >= 1, parallel <= 128 else { throw ValidationError("--parallel must be in 1...128, got \(parallel)") }
        if parallel > 1, tg < 1 { throw ValidationError("--parallel needs --tg ≥ 1") }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
        if let draftMax, !(1...64).contains(draftMax) { throw ValidationError("--draft-max must be in 1...64, got \(draftMax)") }
        let speculating = ngram || draft.explicit != nil
        if draft.draft != nil && draft.explicit == nil { throw ValidationError("--draft on bench needs the draft model's name (it measures that draft)") }
        if ngram && draft.explicit != nil { throw ValidationError("--ngram and --draft are measured one at a time; give one") }
        if draftMax != nil && !speculating { throw ValidationError("--draft-max is for --ngram or --draft runs") }
        if promptFile != nil && !speculating { throw ValidationError("--prompt-file is for --ngram or --draft runs") }
        if speculating && tg < 1 { throw ValidationError("--ngram and --draft need --tg ≥ 1") }
        // Before any model is loaded or timed, not after minutes of benchmarking.
        _ = try sampling.parameters()
    }

    func run() async throws {
        let store = try ModelStore(root: ModelStore.defaultRoot())
        let located = try await ModelLocator(store: store).locate(model, pullIfMissing: true, loadsWeights: true)
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let loaded = try LoadedModel(path: located.path, threads: threadCount, productOrder: blockSums ? .blockSums : .llamaCpp,
                                     adapters: try lora.adapters(), cacheType: cache.cacheType)
        let result = try loaded.benchmark(promptTokens: pp, generatedTokens: tg, repetitions: reps, depth: depth)
        let parallelRates = parallel > 1
            ? try loaded.benchmarkParallelGeneration(sequences: parallel, contextTokens: 128, generatedTokens: tg, repetitions: reps)
            : []
        let schemaResult = try schema.map { try benchmarkSchema($0, loaded: loaded) }
        let chain = try benchmarkSampling()
        let sampledResult = sampled ? try benchmarkSampled(loaded: loaded, sampling: chain) : nil
        let draftModel = try await draft.load(for: loaded, store: store, threads: threadCount, contextLength: 16384 + 64,
                                              maximumDraft: draftMax ?? 16)
        let speculationResult = ngram || draftModel != nil
            ? try benchmarkSpeculation(loaded: loaded, draft: draftModel, sampling: chain) : nil
        if let draftModel, let speculationResult {
            saveDraftRecord(speculationResult, target: (located.name ?? located.path, loaded), draft: (draft.explicit ?? "", draftModel.model),
                            threads: threadCount, store: store)
        }
        let (parallelMean, parallelDeviation) = Self.meanAndDeviation(parallelRates)
        let (ppMean, ppDeviation) = Self.meanAndDeviation(result.promptRates)
        let (tgMean, tgDeviation) = Self.meanAndDeviation(result.generationRates)
        // Decode reads every weight it multiplies with once per token (of a mixture of experts,
        // only the routed experts' share): those bytes bound its speed.
        let weightBytes = loaded.file.tensors.reduce(0) { $0 + $1.byteCount }
        let bytesPerToken = (try? ModelShape(file: loaded.file).bytesPerToken) ?? Double(weightBytes)
        let bandwidth = MemoryBandwidth.measureRead(threads: threadCount)
        let roofline = bandwidth / bytesPerToken
        let name = located.name ?? located.path
        // `hearth fit` models speed from an empty context; a run at depth would skew its fit.
        if depth == 0 {
            saveRecord(name: name, file: loaded.file, threads: threadCount, result: result,
                       rates: (ppMean, tgMean), weightBytes: weightBytes, bandwidth: bandwidth, store: store)
        }
        if json {
            var object: [String: Any] = [
                "model": name, "threads": threadCount, "pp": pp, "tg": tg, "reps": reps, "depth": depth,
                "pp_tps": ppMean, "pp_tps_stddev": ppDeviation, "tg_tps": tgMean, "tg_tps_stddev": tgDeviation,
                "weight_bytes": weightBytes, "bytes_per_token": bytesPerToken, "read_bandwidth_gbps": bandwidth / 1e9,
                "tg_roofline_tps": roofline,
                "kernels": KernelVariant.name, "cache_type": cache.cacheType.rawValue,
            ]
            if parallel > 1 {
                object["parallel"] = parallel
                object["parallel_tg_tps"] = parallelMean
                object["parallel_tg_tps_stddev"] = parallelDeviation
            }
            if let schemaResult {
                let times = schemaResult.constrainedSamplingSeconds.sorted()
                object["schema_free_tps"] = Self.meanAndDeviation(schemaResult.freeRates).0
                object["schema_constrained_tps"] = Self.meanAndDeviation(schemaResult.constrainedRates).0
                object["schema_sampling_ms_p50"] = Self.percentile(times, 0.5) * 1e3
                object["schema_sampling_ms_p99"] = Self.percentile(times, 0.99) * 1e3
                object["schema_temperature"] = Double(chain.temperature)
            }
            if let sampledResult {
                let sampler = sampledResult.samplerSeconds.sorted()
                let meanSampler = sampler.reduce(0, +) / Double(max(1, sampler.count))
                let meanStep = sampledResult.stepSeconds.reduce(0, +) / Double(max(1, sampledResult.stepSeconds.count))
                object["sampled_tps"] = Self.meanAndDeviation(sampledResult.sampledRates).0
                object["sampled_greedy_tps"] = Self.meanAndDeviation(sampledResult.greedyRates).0
                object["sampler_ms_mean"] = meanSampler * 1e3
                object["sampler_ms_p50"] = Self.percentile(sampler, 0.5) * 1e3
                object["sampler_ms_p99"] = Self.percentile(sampler, 0.99) * 1e3
                object["sampler_step_share"] = meanStep > 0 ? meanSampler / meanStep : 0
                object["sampling"] = chain.summary
            }
            if let speculationResult { speculationFields(speculationResult, into: &object) }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("model \(name), \(threadCount) threads, \(reps) repetitions")
        print("kernels: \(KernelVariant.name) — \(KernelVariant.summary)")
        let atDepth = depth > 0 ? " @ d\(depth)" : ""
        if pp > 0 { print(String(format: "pp%-5d%@ %8.2f ± %.2f tokens/s", pp, atDepth, ppMean, ppDeviation)) }
        if tg > 0 { print(String(format: "tg%-5d%@ %8.2f ± %.2f tokens/s", tg, atDepth, tgMean, tgDeviation)) }
        if parallel > 1 {
            print(String(format: "tg%-5d x%d %8.2f ± %.2f tokens/s in all (%d sequences decoding together, %.2f× one)",
                         tg, parallel, parallelMean, parallelDeviation, parallel, tgMean > 0 ? parallelMean / tgMean : 0))
        }
        if let schemaResult {
            let (free, freeDeviation) = Self.meanAndDeviation(schemaResult.freeRates)
            let (constrained, constrainedDeviation) = Self.meanAndDeviation(schemaResult.constrainedRates)
            let times = schemaResult.constrainedSamplingSeconds.sorted()
            print(String(format: "schema (temp %.2f): free %.2f ± %.2f tokens/s, under the grammar %.2f ± %.2f tokens/s (%.2f×, %@ tokens); sampling + grammar per token p50 %.3f ms, p99 %.3f ms",
                         chain.temperature, free, freeDeviation, constrained, constrainedDeviation, free > 0 ? constrained / free : 0,
                         schemaResult.constrainedTokens.map(String.init).joined(separator: "/"),
                         Self.percentile(times, 0.5) * 1e3, Self.percentile(times, 0.99) * 1e3))
        }
        if let sampledResult {
            let (rate, deviation) = Self.meanAndDeviation(sampledResult.sampledRates)
            let (greedy, greedyDeviation) = Self.meanAndDeviation(sampledResult.greedyRates)
            let sampler = sampledResult.samplerSeconds.sorted()
            let meanSampler = sampler.reduce(0, +) / Double(max(1, sampler.count))
            let meanStep = sampledResult.stepSeconds.reduce(0, +) / Double(max(1, sampledResult.stepSeconds.count))
            print(String(format: "sampled tg%-5d %8.2f ± %.2f tokens/s (%@), greedy on the same prompt %.2f ± %.2f tokens/s (%.3f×)",
                         tg, rate, deviation, chain.summary, greedy, greedyDeviation, greedy > 0 ? rate / greedy : 0))
            print(String(format: "sampler per token: mean %.3f ms, p50 %.3f ms, p99 %.3f ms — %.2f%% of a decode step",
                         meanSampler * 1e3, Self.percentile(sampler, 0.5) * 1e3, Self.percentile(sampler, 0.99) * 1e3,
                         meanStep > 0 ? 100 * meanSampler / meanStep : 0))
        }
        if let speculationResult { printSpeculation(speculationResult) }
        print(String(format: "roofline: %.1f MB of weights per token, read bandwidth %.1f GB/s → at most %.1f tokens/s (tg at %.0f%%)",
                     bytesPerToken / 1e6, bandwidth / 1e9, roofline, roofline > 0 ? 100 * tgMean / roofline : 0))
    }

    /// Keeps the run in `<store>/cache/bench.json`: `hearth fit` fits its speed factors to these
    /// runs. A cache that cannot be written costs only the calibration, so it warns, not fails.
    private func saveRecord(name: String, file: GGUFFile, threads: Int, result: BenchmarkResult,
                            rates: (prompt: Double, generation: Double), weightBytes: Int, bandwidth: Double,
                            store: ModelStore) {
        do {
            let record = BenchRecord(
                model: name, sha256: nil, host: HostDevice.current().signature, threads: threads,
                promptTokens: result.promptTokens, generatedTokens: result.generatedTokens,
                promptTokensPerSecond: rates.prompt, generatedTokensPerSecond: rates.generation,
                weightBytes: Double(weightBytes), readBandwidth: bandwidth, shape: try ModelShape(file: file))
            try BenchCache(file: store.root.appendingPathComponent("cache/bench.json")).save(record)
        } catch {
            FileHandle.standardError.write(Data("warning: bench result not saved for `hearth fit`: \(error)\n".utf8))
        }
    }

    /// Decodes a request for JSON matching the schema in `path`, with and without its grammar.
    private func benchmarkSchema(_ path: String, loaded: LoadedModel) throws -> ConstrainedBenchmarkResult {
        let text = try RunCommand.readText(path, option: "--schema")
        let grammar: Grammar
        do {
            grammar = try Grammar.jsonSchema(try JSONParser.parse(Array(text.utf8)))
        } catch {
            throw ValidationErrorMessage("--schema \(path): \(error)")
        }
        let format = try loaded.chatFormat()
        let request = "Reply with one JSON object that matches this JSON Schema, and nothing else:\n\(text)"
        let prompt = format.tokens(forRendered: try format.render([.user(request)], addGenerationPrompt: true))
        return try loaded.benchmarkConstrained(prompt: prompt, constraint: GenerationConstraint(grammar: grammar),
                                               sampling: try benchmarkSampling(), maxTokens: max(tg, 1), repetitions: reps)
    }

    /// The chain from the sampling flags, seeded (42 unless --seed) so repetitions compare.
    private func benchmarkSampling() throws -> SamplingParameters {
        var parameters = try sampling.parameters()
        parameters.seed = parameters.seed ?? 42
        return parameters
    }

    /// A coding request as a chat (the raw text for a model without a chat template): decoding
    /// it gives the sampler a model's real distributions, peaked and open.
    private func benchmarkSampled(loaded: LoadedModel, sampling: SamplingParameters) throws -> SampledBenchmarkResult {
        let request = "Write a Python function that reads a CSV file and returns its rows as dictionaries, "
            + "with error handling, a docstring and three unit tests. Explain each part."
        let prompt: [Int32]
        if let format = try? loaded.chatFormat() {
            prompt = format.tokens(forRendered: try format.render([.user(request)], addGenerationPrompt: true))
        } else {
            prompt = loaded.tokenizer.encode(request)
        }
        return try loaded.benchmarkSampled(prompt: prompt, sampling: sampling, generatedTokens: max(tg, 1), repetitions: reps)
    }


    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
    }

    static func meanAndDeviation(_ values: [Double]) -> (Double, Double) {
        guard !values.isEmpty else { return (0, 0) }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, values.count - 1))
        return (mean, variance.squareRoot())
    }
}
