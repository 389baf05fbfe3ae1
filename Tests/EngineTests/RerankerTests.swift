import Foundation
import Testing

import Engine

/// The test reranker (scripts/make-reranker-fixture.py: all-MiniLM-L6-v2's encoder under a
/// classification head) against llama-server's `--reranking` scores of the same file
/// (Fixtures/reranker-scores.json, written by scripts/reference/make-reranker-golden.py).
/// scripts/test writes the model with scripts/fetch-embedding-model.
@Suite(.serialized) struct RerankerTests {
    struct Pair {
        let query: String
        let document: String
        let score: Float
        let tokens: Int
    }

    static func golden() throws -> (sha256: String, pairs: [Pair]) {
        let url = Bundle.module.url(forResource: "Fixtures/reranker-scores", withExtension: "json")!
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let pairs = (object?["pairs"] as? [[String: Any]] ?? []).compactMap { entry -> Pair? in
            guard let query = entry["query"] as? String, let document = entry["document"] as? String,
                let score = entry["score"] as? Double, let tokens = entry["tokens"] as? Int
            else { return nil }
            return Pair(query: query, document: document, score: Float(score), tokens: tokens)
        }
        return (object?["sha256"] as? String ?? "", pairs)
    }

    static func modelPath() throws -> String { try embeddingFixturePath("minilm-reranker.f16.gguf") }

    @Test func matchesLlamaServerScores() throws {
        let path = try Self.modelPath()
        let golden = try Self.golden()
        #expect(golden.pairs.count == 28)
        let made = "(the golden scores are of the file whose sha256 is \(golden.sha256))"
        let model = try EmbeddingModel(path: path, threads: 2)
        #expect(model.ranks)
        var worst: Float = 0
        for pair in golden.pairs {
            let (score, tokens) = try model.relevance(query: pair.query, document: pair.document)
            #expect(tokens == pair.tokens, "\(pair.query) / \(pair.document.prefix(40)): \(tokens) tokens, llama.cpp \(pair.tokens) \(made)")
            let error = abs(score - pair.score)
            worst = max(worst, error)
            #expect(error < 0.01, "\(pair.query) / \(pair.document.prefix(40)): \(score), llama.cpp \(pair.score) \(made)")
        }
        // The order of each query's documents is llama.cpp's wherever its scores are apart.
        for query in Set(golden.pairs.map(\.query)) {
            let pairs = golden.pairs.filter { $0.query == query }
            let ours = try pairs.map { try model.relevance(query: $0.query, document: $0.document).score }
            for i in pairs.indices {
                for j in pairs.indices where pairs[i].score > pairs[j].score + 0.05 {
                    #expect(ours[i] > ours[j], "\(query): \(pairs[i].document.prefix(30)) above \(pairs[j].document.prefix(30))")
                }
            }
        }
        print("minilm-reranker f16: largest score difference from llama-server over \(golden.pairs.count) pairs: \(worst)")
        // All pairs scored together in packed passes (as the server scores a request's documents)
        // give each pair's own score.
        let packed = try model.relevances(ofInputs: golden.pairs.map { try model.rankingTokens(query: $0.query, document: $0.document) })
        for (pair, score) in zip(golden.pairs, packed) {
            #expect(abs(score - pair.score) < 0.01, "packed: \(pair.query) / \(pair.document.prefix(40)): \(score), llama.cpp \(pair.score)")
        }
    }

    /// `[CLS] query [SEP] document [SEP]`: the file says add_bos, add_eos (EOS is [SEP]), no add_sep.
    @Test func pairTokensFollowTheVocabulary() throws {
        let model = try EmbeddingModel(path: try Self.modelPath(), threads: 2)
        let query = model.tokenizer.encode("capital of France", addSpecial: false)
        let document = model.tokenizer.encode("Paris is the capital.", addSpecial: false)
        let (tokens, range) = model.pairTokens(query: "capital of France", document: "Paris is the capital.")
        #expect(tokens == [101] + query + [102] + document + [102])
        #expect(range == (query.count + 2)..<(query.count + 2 + document.count))
    }

    @Test func longDocumentsAreCutToTheContext() throws {
        let model = try EmbeddingModel(path: try Self.modelPath(), threads: 2)
        let long = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 80)
        let (score, tokens) = try model.relevance(query: "fox", document: long)
        #expect(tokens == model.contextLength)
        #expect(score.isFinite)
        #expect(throws: EngineError.self) { try model.relevance(query: "fox", document: long, truncate: false) }
        // Cohere's max_tokens_per_doc: the document's first 10 tokens.
        let (_, short) = try model.relevance(query: "fox", document: long, documentTokenLimit: 10)
        #expect(short == 1 + 1 + 1 + 10 + 1)
        let cut = model.tokenizer.encode(long, addSpecial: false).prefix(10)
        let (tokens10, _) = model.pairTokens(query: "fox", document: long)
        #expect(Array(tokens10.prefix(13).suffix(10)) == Array(cut))
        // A query that leaves no room for any document is refused, naming the query.
        let hugeQuery = String(repeating: "fox ", count: 600)
        #expect(throws: EngineError.self) { try model.relevance(query: hugeQuery, document: "dog") }
    }

    /// The reranker's file has no pooling type (as llama.cpp's converter writes a cross-encoder),
    /// so it also embeds (mean); an embedding model without a head does not rank.
    @Test func embeddingModelsDoNotRank() throws {
        let reranker = try EmbeddingModel(path: try Self.modelPath(), threads: 2)
        #expect(reranker.embeds && reranker.pooling == .mean)
        #expect(try reranker.embedding(of: "hello").vector.count == 384)
        let embedder = try EmbeddingModel(path: try EmbeddingModelTests.modelPath("f16"), threads: 2)
        #expect(!embedder.ranks)
        #expect(throws: (any Error).self) { try embedder.relevance(query: "a", document: "b") }
    }
}
