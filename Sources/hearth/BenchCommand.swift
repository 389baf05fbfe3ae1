import Advisor
import ArgumentParser
import Engine
import Foundation
import GGUF
import Kernels
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

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Option(help: "Timed repetitions of each test.")
    var reps: Int = 3

    @Option(help: "Also measure batched decode: this many sequences (each after a 128-token prompt) decode --tg tokens together, one forward pass per step, as llama-batched-bench's S_TG.")
    var parallel: Int = 1

    @Flag(name: .customLong("block-sums"), help: "Multiply in `hearth serve`'s float order (block sums) instead of llama.cpp's.")
    var blockSums = false

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard pp >= 0, tg >= 0, pp + tg > 0 else { throw ValidationError("--pp and --tg must be ≥ 0 and not both 0") }
        guard pp <= 16384, tg <= 16384 else { throw ValidationError("--pp and --tg must be ≤ 16384") }
        guard reps >= 1, reps <= 100 else { throw ValidationError("--reps must be in 1...100, got \(reps)") }
        guard parallel >= 1, parallel <= 128 else { throw ValidationError("--parallel must be in 1...128, got \(parallel)") }
        if parallel > 1, tg < 1 { throw ValidationError("--parallel needs --tg ≥ 1") }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
    }

    func run() async throws {
        let store = try ModelStore(root: ModelStore.defaultRoot())
        let located = try await ModelLocator(store: store).locate(model, pullIfMissing: true, loadsWeights: true)
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let loaded = try LoadedModel(path: located.path, threads: threadCount, productOrder: blockSums ? .blockSums : .llamaCpp)
        let result = try loaded.benchmark(promptTokens: pp, generatedTokens: tg, repetitions: reps)
        let parallelRates = parallel > 1
            ? try loaded.benchmarkParallelGeneration(sequences: parallel, contextTokens: 128, generatedTokens: tg, repetitions: reps)
            : []
        let (parallelMean, parallelDeviation) = Self.meanAndDeviation(parallelRates)
        let (ppMean, ppDeviation) = Self.meanAndDeviation(result.promptRates)
        let (tgMean, tgDeviation) = Self.meanAndDeviation(result.generationRates)
        // Decode reads every weight once per token: the file's tensor bytes bound its speed.
        let weightBytes = loaded.file.tensors.reduce(0) { $0 + $1.byteCount }
        let bandwidth = MemoryBandwidth.measureRead(threads: threadCount)
        let roofline = bandwidth / Double(weightBytes)
        let name = located.name ?? located.path
        saveRecord(name: name, file: loaded.file, threads: threadCount, result: result,
                   rates: (ppMean, tgMean), weightBytes: weightBytes, bandwidth: bandwidth, store: store)
        if json {
            var object: [String: Any] = [
                "model": name, "threads": threadCount, "pp": pp, "tg": tg, "reps": reps,
                "pp_tps": ppMean, "pp_tps_stddev": ppDeviation, "tg_tps": tgMean, "tg_tps_stddev": tgDeviation,
                "weight_bytes": weightBytes, "read_bandwidth_gbps": bandwidth / 1e9, "tg_roofline_tps": roofline,
            ]
            if parallel > 1 {
                object["parallel"] = parallel
                object["parallel_tg_tps"] = parallelMean
                object["parallel_tg_tps_stddev"] = parallelDeviation
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("model \(name), \(threadCount) threads, \(reps) repetitions")
        if pp > 0 { print(String(format: "pp%-5d %8.2f ± %.2f tokens/s", pp, ppMean, ppDeviation)) }
        if tg > 0 { print(String(format: "tg%-5d %8.2f ± %.2f tokens/s", tg, tgMean, tgDeviation)) }
        if parallel > 1 {
            print(String(format: "tg%-5d x%d %8.2f ± %.2f tokens/s in all (%d sequences decoding together, %.2f× one)",
                         tg, parallel, parallelMean, parallelDeviation, parallel, tgMean > 0 ? parallelMean / tgMean : 0))
        }
        print(String(format: "roofline: %.1f MB of weights per token, read bandwidth %.1f GB/s → at most %.1f tokens/s (tg at %.0f%%)",
                     Double(weightBytes) / 1e6, bandwidth / 1e9, roofline, roofline > 0 ? 100 * tgMean / roofline : 0))
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

    static func meanAndDeviation(_ values: [Double]) -> (Double, Double) {
        guard !values.isEmpty else { return (0, 0) }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, values.count - 1))
        return (mean, variance.squareRoot())
    }
}
