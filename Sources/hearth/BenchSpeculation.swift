import Advisor
import ArgumentParser
import Engine
import Foundation
import Sampling
import Store

/// `hearth bench --ngram` / `--draft`: the same request decoded with speculation and without.
extension BenchCommand {
    func benchmarkSpeculation(loaded: LoadedModel, draft: DraftModel?, sampling: SamplingParameters) throws -> SpeculationBenchmarkResult {
        let request = try promptFile.map { try RunCommand.readText($0, option: "--prompt-file") }
            ?? "Write a Python function that reads a CSV file and returns its rows as dictionaries, "
            + "with error handling, a docstring and three unit tests."
        let prompt: [Int32]
        if let format = try? loaded.chatFormat() {
            prompt = format.tokens(forRendered: try format.render([.user(request)], addGenerationPrompt: true))
        } else {
            prompt = loaded.tokenizer.encode(request)
        }
        return try loaded.benchmarkSpeculation(prompt: prompt, speculation: draft == nil ? NGramSpeculation(maximumDraft: draftMax ?? 63) : nil,
                                               draft: draft, sampling: sampling, maxTokens: tg, repetitions: reps)
    }

    /// Keeps a draft run in `<store>/cache/drafts.json`: the automatic draft choice of `hearth run`
    /// and `hearth serve` uses a draft only where such a run measured it to pay. A cache that
    /// cannot be written costs only that choice, so it warns, not fails.
    func saveDraftRecord(_ result: SpeculationBenchmarkResult, target: (name: String, model: LoadedModel), draft: (name: String, model: LoadedModel),
                         threads: Int, store: ModelStore) {
        do {
            let record = DraftRecord(
                model: target.name, modelSHA256: try store.sha256(ofFileAt: URL(fileURLWithPath: target.model.file.path)),
                draft: draft.name, draftSHA256: try store.sha256(ofFileAt: URL(fileURLWithPath: draft.model.file.path)),
                host: HostDevice.current().signature, threads: threads,
                plainTokensPerSecond: Self.meanAndDeviation(result.plainRates).0,
                draftedTokensPerSecond: Self.meanAndDeviation(result.speculativeRates).0,
                acceptance: result.statistics.acceptance, identical: result.identical)
            try DraftCache(file: store.root.appendingPathComponent("cache/drafts.json")).save(record)
        } catch {
            FileHandle.standardError.write(Data("warning: draft result not saved for the automatic draft choice: \(error)\n".utf8))
        }
    }

    func speculationFields(_ result: SpeculationBenchmarkResult, into object: inout [String: Any]) {
        object["spec_plain_tps"] = Self.meanAndDeviation(result.plainRates).0
        object["spec_tg_tps"] = Self.meanAndDeviation(result.speculativeRates).0
        object["spec_tokens"] = result.generatedTokens
        object["acceptance"] = result.statistics.acceptance
        object["spec_passes"] = result.statistics.passes
        object["identical"] = result.identical
    }

    func printSpeculation(_ result: SpeculationBenchmarkResult) {
        let (plain, plainDeviation) = Self.meanAndDeviation(result.plainRates)
        let (speculative, deviation) = Self.meanAndDeviation(result.speculativeRates)
        let statistics = result.statistics
        print(String(format: "%@: %d tokens, plain %.2f ± %.2f tokens/s, speculative %.2f ± %.2f tokens/s (%.2f×); %d of %d proposed tokens kept (%.0f%%) in %d passes; %@",
                     draft.explicit.map { "draft \($0)" } ?? "ngram", result.generatedTokens, plain, plainDeviation, speculative, deviation, plain > 0 ? speculative / plain : 0,
                     statistics.accepted, statistics.proposed, 100 * statistics.acceptance, statistics.passes,
                     result.identical ? "same tokens as without speculation" : "DIFFERENT tokens from decoding without speculation"))
    }
}
