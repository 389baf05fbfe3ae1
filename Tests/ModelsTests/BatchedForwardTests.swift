import GGUF
import Models
import Testing

/// Continuous batching runs many sequences in one pass; each must get exactly the logits it
/// would get alone, or the same seed would give different answers under load.
@Suite(.serialized) struct BatchedForwardTests {
    func check(_ name: String) throws {
        let model = try TransformerModel.load(try GGUFFile(path: try testModelPath(name)), threads: 2)
        let vocabulary = Int32(model.hyperparameters.vocabularySize)
        let promptA: [Int32] = (0..<37).map { Int32(($0 * 7919 + 11) % Int(vocabulary)) }
        let promptB: [Int32] = (0..<5).map { Int32(($0 * 104_729 + 3) % Int(vocabulary)) }
        let steps: [Int32] = [42, 1000, 7]

        // Alone: A's prompt, then three decode steps.
        let alone = try model.makeCache(capacity: 64)
        var aloneLogits = [try model.forward(promptA, cache: alone)]
        for token in steps { aloneLogits.append(try model.forward([token], cache: alone)) }

        // Together: A's prompt beside B's prompt, then A's steps beside B's decode steps.
        let cacheA = try model.makeCache(capacity: 64)
        let cacheB = try model.makeCache(capacity: 64)
        var together: [[Float]] = []
        let first = try model.forward([SequenceInput(tokens: promptB, cache: cacheB, wantsLogits: true),
                                       SequenceInput(tokens: promptA, cache: cacheA, wantsLogits: true)])
        together.append(try #require(first[1]))
        for (index, token) in steps.enumerated() {
            let results = try model.forward([SequenceInput(tokens: [token], cache: cacheA, wantsLogits: true),
                                             SequenceInput(tokens: [Int32(index + 5)], cache: cacheB, wantsLogits: index % 2 == 0)])
            together.append(try #require(results[0]))
            #expect((results[1] != nil) == (index % 2 == 0))
        }
        #expect(cacheA.count == promptA.count + steps.count && cacheB.count == promptB.count + steps.count)
        for (index, (a, b)) in zip(aloneLogits, together).enumerated() {
            #expect(a == b, "\(name): step \(index) differs (max |Δ| \(zip(a, b).map { abs($0 - $1) }.max() ?? 0))")
        }
    }

    @Test func llamaRowsAreIndependentOfTheBatch() throws { try check("smollm2:135m") }
    @Test func gemmaRowsAreIndependentOfTheBatch() throws { try check("gemma3:270m") }

    @Test func badBatchesAreRefused() throws {
        let model = try TransformerModel.load(try GGUFFile(path: try testModelPath("smollm2:135m")), threads: 2)
        let cache = try model.makeCache(capacity: 8)
        #expect(throws: ModelError.self) {
            try model.forward([SequenceInput(tokens: [1], cache: cache, wantsLogits: true),
                               SequenceInput(tokens: [2], cache: cache, wantsLogits: true)])
        }
        #expect(throws: ModelError.self) {
            try model.forward([SequenceInput(tokens: Array(repeating: 1, count: 9), cache: cache, wantsLogits: true)])
        }
        #expect(throws: ModelError.self) {
            try model.forward([SequenceInput(tokens: [-1], cache: cache, wantsLogits: true)])
        }
        let big = try model.makeCache(capacity: 512)
        #expect(throws: ModelError.self) {
            try model.forward([SequenceInput(tokens: Array(repeating: 1, count: TransformerModel.maximumBatch + 1), cache: big, wantsLogits: true)])
        }
        #expect(cache.count == 0 && big.count == 0, "a refused batch leaves the caches untouched")
    }
}
