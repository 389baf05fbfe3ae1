import Engine
import Testing

/// `hearth bench`'s measurements run the real model and refuse nonsense sizes.
@Suite struct BenchmarkTests {
    @Test func ppTgAndParallelDecodeGiveRates() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        let result = try loaded.benchmark(promptTokens: 16, generatedTokens: 4, repetitions: 2)
        #expect(result.promptRates.count == 2 && result.generationRates.count == 2)
        #expect((result.promptRates + result.generationRates).allSatisfy { $0.isFinite && $0 > 0 })
        let parallel = try loaded.benchmarkParallelGeneration(sequences: 3, contextTokens: 8, generatedTokens: 4, repetitions: 2)
        #expect(parallel.count == 2 && parallel.allSatisfy { $0.isFinite && $0 > 0 })
    }

    @Test func nonsenseSizesAreRefused() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        #expect(throws: EngineError.self) { try loaded.benchmark(promptTokens: 0, generatedTokens: 0, repetitions: 1) }
        #expect(throws: EngineError.self) { try loaded.benchmark(promptTokens: 8, generatedTokens: 0, repetitions: 0) }
        for sequences in [0, 129] {
            #expect(throws: EngineError.self) {
                try loaded.benchmarkParallelGeneration(sequences: sequences, contextTokens: 8, generatedTokens: 4, repetitions: 1)
            }
        }
        #expect(throws: EngineError.self) {
            try loaded.benchmarkParallelGeneration(sequences: 2, contextTokens: 8, generatedTokens: 0, repetitions: 1)
        }
    }
}
