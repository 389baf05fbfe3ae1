import Foundation
import Testing

import Engine

/// all-MiniLM-L6-v2 (BERT, mean pooling) converted by scripts/convert-bert-to-gguf.py against
/// llama.cpp's vectors for the same file (Fixtures/all-minilm-embeddings.json, written by
/// scripts/reference/make-embedding-fixtures.py). scripts/test fetches and converts the model.
@Suite(.serialized) struct EmbeddingModelTests {
    struct Golden {
        let text: String
        let tokens: [Int32]
        let embedding: [Float]
    }

    static func golden() throws -> [Golden] {
        let url = Bundle.module.url(forResource: "Fixtures/all-minilm-embeddings", withExtension: "json")!
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let sentences = object?["sentences"] as? [[String: Any]] ?? []
        return sentences.compactMap { entry in
            guard let text = entry["text"] as? String, let tokens = entry["tokens"] as? [Int],
                let embedding = entry["embedding"] as? [Double]
            else { return nil }
            return Golden(text: text, tokens: tokens.map(Int32.init), embedding: embedding.map(Float.init))
        }
    }

    /// The converted model scripts/test writes: `$HEARTH_TEST_HOME/embedding/all-minilm-l6-v2.NAME.gguf`.
    static func modelPath(_ type: String) throws -> String {
        try embeddingFixturePath("all-minilm-l6-v2.\(type).gguf")
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, aa = 0.0, bb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y)
            aa += Double(x) * Double(x)
            bb += Double(y) * Double(y)
        }
        return dot / (aa.squareRoot() * bb.squareRoot())
    }

    @Test func matchesLlamaCppTokensAndVectors() throws {
        let model = try EmbeddingModel(path: try Self.modelPath("f16"), threads: 2)
        #expect(model.pooling == .mean && model.dimensions == 384 && model.contextLength == 512)
        let golden = try Self.golden()
        #expect(golden.count == 8)
        var worst = 1.0
        for sentence in golden {
            #expect(model.tokenizer.encode(sentence.text) == sentence.tokens, "\(sentence.text)")
            let (vector, count) = try model.embedding(of: sentence.text)
            #expect(count == sentence.tokens.count)
            #expect(vector.count == 384)
            let norm = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
            let similarity = Self.cosine(vector, sentence.embedding)
            worst = min(worst, similarity)
            #expect(similarity >= 0.999, "\(sentence.text): cosine \(similarity)")
        }
        print("all-minilm f16: worst cosine with llama.cpp over \(golden.count) sentences: \(worst)")
    }

    /// Near meanings score higher than unrelated sentences.
    @Test func similarSentencesAreCloser() throws {
        let model = try EmbeddingModel(path: try Self.modelPath("f16"), threads: 2)
        func vector(_ text: String) throws -> [Float] { try model.embedding(of: text).vector }
        let cat = try vector("The cat sits on the mat."), kitten = try vector("A kitten is resting on a rug.")
        let bread = try vector("How do I bake sourdough bread at home?")
        let recipe = try vector("A recipe for homemade bread made with a sourdough starter.")
        let markets = try vector("Stock markets fell sharply after the central bank raised interest rates.")
        #expect(Self.cosine(cat, kitten) > Self.cosine(cat, markets) + 0.2)
        #expect(Self.cosine(bread, recipe) > Self.cosine(bread, cat) + 0.2)
        #expect(Self.cosine(bread, recipe) > Self.cosine(recipe, markets) + 0.2)
    }

    /// q8_0 weights (--outtype q8_0) stay close to llama.cpp's f16 vectors.
    @Test func quantisedWeightsStayClose() throws {
        let model = try EmbeddingModel(path: try Self.modelPath("q8_0"), threads: 2)
        for sentence in try Self.golden() {
            let similarity = Self.cosine(try model.embedding(of: sentence.text).vector, sentence.embedding)
            #expect(similarity >= 0.995, "\(sentence.text): cosine \(similarity)")
        }
    }

    @Test func truncatesOrRefusesLongInputs() throws {
        let model = try EmbeddingModel(path: try Self.modelPath("f16"), threads: 2)
        let long = String(repeating: "word ", count: 600)
        #expect(throws: EngineError.promptTooLong(tokens: 602, context: 512)) { try model.embedding(of: long) }
        let (vector, count) = try model.embedding(of: long, truncate: true)
        #expect(count == 512 && vector.count == 384)
        #expect(throws: EngineError.emptyPrompt) { try model.embedding(ofTokens: []) }
        #expect(throws: EngineError.invalidToken(40000, vocabularySize: 30522)) { try model.embedding(ofTokens: [101, 40000, 102]) }
        // Token ids are embedded as given.
        let ids = model.tokenizer.encode("The cat sits on the mat.")
        #expect(try model.embedding(ofTokens: ids).vector == (try model.embedding(of: "The cat sits on the mat.").vector))
    }
}

/// A file scripts/fetch-embedding-model writes into `$HEARTH_TEST_HOME/embedding/` (scripts/test
/// runs it); a missing one is a recorded issue naming the script.
func embeddingFixturePath(_ name: String) throws -> String {
    let home = ProcessInfo.processInfo.environment["HEARTH_TEST_HOME"] ?? NSHomeDirectory() + "/.cache/hearth-test"
    let path = "\(home)/embedding/\(name)"
    guard FileManager.default.fileExists(atPath: path) else {
        Issue.record("\(path) not found; run scripts/fetch-embedding-model (scripts/test does)")
        throw CancellationError()
    }
    return path
}
