"""Reranking served the way RAG apps call it: the official `cohere` client (`ClientV2.rerank`,
POST /v2/rerank) and llama-server's own routes and shapes (Jina's `documents`, TEI's `texts`).

The model is the test reranker scripts/make-reranker-fixture.py writes (all-MiniLM-L6-v2's encoder
under a classification head; no wheel on PyPI carries a trained cross-encoder), installed with
`hearth create`. Every score must be llama-server's for the same file
(Tests/EngineTests/Fixtures/reranker-scores.json, scripts/reference/make-reranker-golden.py):
raw on llama-server's routes, through a sigmoid on Cohere's (whose scores lie in [0, 1]).
"""

import json
import math
import unittest

import cohere

from hearth_process import REPO
from test_clients import request
from test_embeddings import NAME as EMBEDDER, ServedEncoders

RERANKER = "minilm-reranker"
GOLDEN = json.loads((REPO / "Tests/EngineTests/Fixtures/reranker-scores.json").read_text(encoding="utf-8"))
QUERY = GOLDEN["pairs"][0]["query"]
PAIRS = [pair for pair in GOLDEN["pairs"] if pair["query"] == QUERY]
DOCUMENTS = [pair["document"] for pair in PAIRS]
# llama-server's scores differ from Hearth's by the rounding of f16 products; Tests/EngineTests/
# RerankerTests.swift holds the engine to the same bound.
TOLERANCE = 0.01


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


class RerankTests(ServedEncoders, unittest.TestCase):
    MODELS = {EMBEDDER: "all-minilm-l6-v2.f16.gguf", RERANKER: "minilm-reranker.f16.gguf"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cohere = cohere.ClientV2(api_key="unused", base_url=f"http://127.0.0.1:{cls.port}", timeout=120)

    def post(self, path, body):
        status, _, raw = request(self.port, "POST", path, body)
        return status, json.loads(raw)

    def test_cohere_client_ranks_as_llama_server_scores(self):
        answer = self.cohere.rerank(model=RERANKER, query=QUERY, documents=DOCUMENTS, top_n=3)
        self.assertEqual(len(answer.results), 3)
        expected = sorted(range(len(PAIRS)), key=lambda i: -PAIRS[i]["score"])[:3]
        self.assertEqual([result.index for result in answer.results], expected)
        for result in answer.results:
            self.assertAlmostEqual(result.relevance_score, sigmoid(PAIRS[result.index]["score"]), delta=TOLERANCE)
            self.assertTrue(0 <= result.relevance_score <= 1)
        scores = [result.relevance_score for result in answer.results]
        self.assertEqual(scores, sorted(scores, reverse=True))

    def test_llama_server_routes_return_raw_scores_and_usage(self):
        for path in ("/v1/rerank", "/rerank", "/v1/reranking", "/reranking"):
            status, answer = self.post(path, {"model": RERANKER, "query": QUERY, "documents": DOCUMENTS})
            self.assertEqual(status, 200, answer)
            self.assertEqual(answer["object"], "list")
            self.assertEqual(answer["model"], RERANKER)
            self.assertEqual(answer["usage"]["prompt_tokens"], sum(pair["tokens"] for pair in PAIRS))
            self.assertEqual(sorted(result["index"] for result in answer["results"]), list(range(len(PAIRS))))
            for result in answer["results"]:
                self.assertAlmostEqual(result["relevance_score"], PAIRS[result["index"]]["score"], delta=TOLERANCE)
                self.assertNotIn("document", result)
        # Jina's `return_documents` and documents given as {"text": ...} objects.
        status, answer = self.post("/v1/rerank", {"model": RERANKER, "query": QUERY, "top_n": 1, "return_documents": True,
                                                  "documents": [{"text": document} for document in DOCUMENTS]})
        self.assertEqual(status, 200, answer)
        best = max(range(len(PAIRS)), key=lambda i: PAIRS[i]["score"])
        self.assertEqual(answer["results"], [{"index": best, "relevance_score": answer["results"][0]["relevance_score"],
                                              "document": {"text": DOCUMENTS[best]}}])

    def test_tei_shape(self):
        status, answer = self.post("/rerank", {"model": RERANKER, "query": QUERY, "texts": DOCUMENTS[:3], "return_text": True})
        self.assertEqual(status, 200, answer)
        self.assertIsInstance(answer, list)
        for item in answer:
            self.assertEqual(item["text"], DOCUMENTS[item["index"]])
            self.assertAlmostEqual(item["score"], PAIRS[item["index"]]["score"], delta=TOLERANCE)
        status, sigmoided = self.post("/rerank", {"model": RERANKER, "query": QUERY, "texts": DOCUMENTS[:3], "raw_scores": False})
        self.assertEqual(status, 200, sigmoided)
        for item in sigmoided:
            self.assertAlmostEqual(item["score"], sigmoid(PAIRS[item["index"]]["score"]), delta=TOLERANCE)

    def test_long_documents_are_truncated_unless_refused(self):
        long = "The quick brown fox jumps over the lazy dog. " * 80
        status, answer = self.post("/v1/rerank", {"model": RERANKER, "query": "fox", "documents": [long, "dog"]})
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["usage"]["prompt_tokens"], 512 + 5)
        status, refused = self.post("/v1/rerank", {"model": RERANKER, "query": "fox", "documents": ["dog", long], "truncate": False})
        self.assertEqual(status, 400, refused)
        self.assertEqual(refused["error"]["param"], "documents[1]")
        # Cohere's max_tokens_per_doc keeps the document's first tokens.
        answer = self.cohere.rerank(model=RERANKER, query="fox", documents=[long], max_tokens_per_doc=20)
        self.assertEqual(len(answer.results), 1)
        status, cut = self.post("/v2/rerank", {"model": RERANKER, "query": "fox", "documents": [long], "max_tokens_per_doc": 20})
        self.assertEqual(status, 200, cut)
        self.assertEqual(cut["usage"]["prompt_tokens"], 1 + 1 + 1 + 20 + 1)

    def test_bad_requests_name_the_field(self):
        cases = [
            ({"model": RERANKER, "documents": ["a"]}, "query"),
            ({"model": RERANKER, "query": "q", "documents": []}, "documents"),
            ({"model": RERANKER, "query": "q"}, "documents"),
            ({"model": RERANKER, "query": "q", "documents": ["a", 3]}, "documents[1]"),
            ({"model": RERANKER, "query": "q", "documents": ["a"], "top_n": 0}, "top_n"),
            ({"model": RERANKER, "query": "q", "documents": ["a"], "relevant_spans": {"max_spans": 2}}, "relevant_spans"),
            ({"model": RERANKER, "query": "q", "documents": ["a"], "temperature": 0.5}, "temperature"),
            ({"model": RERANKER, "query": "q", "texts": ["a"], "return_documents": True}, "return_documents"),
            ({"model": RERANKER, "query": "q", "documents": ["a"], "return_text": True}, "return_text"),
        ]
        for body, field in cases:
            status, answer = self.post("/v1/rerank", body)
            self.assertEqual(status, 400, (body, answer))
            self.assertEqual(answer["error"]["param"], field, answer)
        with self.assertRaises(cohere.BadRequestError):
            self.cohere.rerank(model=RERANKER, query="q", documents=[])

    def test_an_embedding_model_cannot_rerank_and_a_reranker_says_so(self):
        status, answer = self.post("/v1/rerank", {"model": EMBEDDER, "query": "q", "documents": ["a"]})
        self.assertEqual(status, 400)
        self.assertIn("classification head", answer["error"]["message"])
        status, answer = self.post("/v1/rerank", {"model": "no-such-model", "query": "q", "documents": ["a"]})
        self.assertEqual(status, 404, answer)
        self.assertEqual(list(self.ollama.show(RERANKER).capabilities), ["embedding", "rerank"])
        self.assertEqual(list(self.ollama.show(EMBEDDER).capabilities), ["embedding"])


if __name__ == "__main__":
    unittest.main()
