"""A real embedding model served the way RAG apps use it: all-MiniLM-L6-v2 (BERT, mean pooling),
installed with `hearth create all-minilm -f Modelfile` (FROM the GGUF scripts/convert-bert-to-gguf.py
wrote), then driven with the official `ollama` and `openai` clients.

Every vector must match llama.cpp's for the same file (cosine >= 0.999; llama.cpp's vectors are
Tests/EngineTests/Fixtures/all-minilm-embeddings.json, made by
scripts/reference/make-embedding-fixtures.py), similar sentences must score higher than unrelated
ones, and chat or generate on the model must be refused as Ollama refuses them.

The model comes from scripts/fetch-embedding-model (scripts/test runs it) into
$HEARTH_TEST_HOME/embedding/; the server runs on a store of its own in a temporary folder.
"""

import base64
import json
import math
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import ollama
import openai
from openai import OpenAI

from hearth_process import REPO, RUNNING, free_port, hearth_bin, hearth_home
from test_clients import request

NAME = "all-minilm"
GOLDEN = json.loads((REPO / "Tests/EngineTests/Fixtures/all-minilm-embeddings.json").read_text(encoding="utf-8"))
SENTENCES = [entry["text"] for entry in GOLDEN["sentences"]]


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


class ServedEncoders:
    """`hearth serve` on a store of its own holding the encoder models of `MODELS` (name: file
    name in $HEARTH_TEST_HOME/embedding/), each installed with `hearth create NAME -f Modelfile`."""

    MODELS = {NAME: "all-minilm-l6-v2.f16.gguf"}

    @classmethod
    def setUpClass(cls):
        cls.home = Path(tempfile.mkdtemp(prefix="hearth-embed-"))
        cls.addClassCleanup(shutil.rmtree, cls.home, True)
        env = dict(os.environ, HEARTH_HOME=str(cls.home))
        for name, file in cls.MODELS.items():
            model = hearth_home() / "embedding" / file
            if not model.exists():
                raise AssertionError(f"{model} is missing: run scripts/fetch-embedding-model (scripts/test does)")
            modelfile = cls.home / "Modelfile"
            modelfile.write_text(f"FROM {model}\n", encoding="utf-8")
            created = subprocess.run([str(hearth_bin()), "create", name, "-f", str(modelfile)], env=env,
                                     capture_output=True, text=True, timeout=300)
            if created.returncode != 0:
                raise AssertionError(f"hearth create {name} failed ({created.returncode}): {created.stderr}")
        cls.port = free_port()
        cls.stderr = tempfile.TemporaryFile()
        cls.process = subprocess.Popen([str(hearth_bin()), "serve", "--port", str(cls.port)], env=env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=cls.stderr)
        RUNNING.append(cls.process)
        cls.addClassCleanup(cls.stop)
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(cls.port, "GET", "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or cls.process.poll() is not None:
                cls.stderr.seek(0)
                raise AssertionError(f"hearth serve did not start: {cls.stderr.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.1)
        cls.ollama = ollama.Client(host=f"http://127.0.0.1:{cls.port}", timeout=120)
        cls.openai = OpenAI(base_url=f"http://127.0.0.1:{cls.port}/v1", api_key="unused", timeout=120, max_retries=0)

    @classmethod
    def stop(cls):
        if cls.process.poll() is None:
            cls.process.send_signal(signal.SIGTERM)
        code = cls.process.wait(timeout=30)
        cls.stderr.close()
        assert code == 0, f"hearth serve exited with {code}"


class EmbeddingModelTests(ServedEncoders, unittest.TestCase):
    def assertMatchesLlamaCpp(self, vectors):
        self.assertEqual(len(vectors), len(GOLDEN["sentences"]))
        for vector, golden in zip(vectors, GOLDEN["sentences"]):
            self.assertEqual(len(vector), 384)
            self.assertAlmostEqual(math.sqrt(sum(x * x for x in vector)), 1.0, places=4)
            similarity = cosine(vector, golden["embedding"])
            self.assertGreaterEqual(similarity, 0.999, f"{golden['text']!r}: cosine {similarity}")

    def test_ollama_embed_matches_llama_cpp(self):
        answer = self.ollama.embed(model=NAME, input=SENTENCES)
        self.assertMatchesLlamaCpp(answer.embeddings)
        self.assertEqual(answer.prompt_eval_count, sum(len(g["tokens"]) for g in GOLDEN["sentences"]))
        one = self.ollama.embed(model=NAME, input=SENTENCES[0])
        self.assertEqual(one.embeddings[0], answer.embeddings[0])

    def test_openai_embeddings_in_base64_and_float(self):
        # The OpenAI client asks for base64 by default and decodes it to floats itself.
        answer = self.openai.embeddings.create(model=NAME, input=SENTENCES)
        self.assertMatchesLlamaCpp([item.embedding for item in answer.data])
        self.assertEqual([item.index for item in answer.data], list(range(len(SENTENCES))))
        self.assertEqual(answer.usage.prompt_tokens, sum(len(g["tokens"]) for g in GOLDEN["sentences"]))
        floats = self.openai.embeddings.create(model=NAME, input=SENTENCES[:2], encoding_format="float")
        for item, decoded in zip(floats.data, answer.data[:2]):
            self.assertEqual(len(item.embedding), 384)
            self.assertLess(max(abs(x - y) for x, y in zip(item.embedding, decoded.embedding)), 1e-6)
        # The raw base64 is little-endian float32.
        status, _, body = request(self.port, "POST", "/v1/embeddings",
                                  {"model": NAME, "input": SENTENCES[0], "encoding_format": "base64"})
        self.assertEqual(status, 200, body)
        raw = base64.b64decode(json.loads(body)["data"][0]["embedding"])
        self.assertEqual(len(raw), 384 * 4)
        vector = struct.unpack("<384f", raw)
        self.assertGreaterEqual(cosine(vector, GOLDEN["sentences"][0]["embedding"]), 0.999)

    def test_legacy_embeddings_route(self):
        answer = self.ollama.embeddings(model=NAME, prompt=SENTENCES[3])
        self.assertGreaterEqual(cosine(answer.embedding, GOLDEN["sentences"][3]["embedding"]), 0.999)

    def test_similar_sentences_score_higher(self):
        vectors = dict(zip(SENTENCES, self.ollama.embed(model=NAME, input=SENTENCES).embeddings))
        cat, kitten, markets, bread, recipe = (vectors[SENTENCES[i]] for i in (0, 1, 2, 3, 4))
        self.assertGreater(cosine(cat, kitten), cosine(cat, markets) + 0.2)
        self.assertGreater(cosine(bread, recipe), cosine(bread, cat) + 0.2)
        # A query finds its passage among all the others (a two-line RAG retrieval).
        query = self.openai.embeddings.create(model=NAME, input="kitty lying on a carpet").data[0].embedding
        best = max(SENTENCES, key=lambda sentence: cosine(query, vectors[sentence]))
        self.assertEqual(best, SENTENCES[1])

    def test_chat_and_generate_are_refused(self):
        with self.assertRaises(ollama.ResponseError) as chat:
            self.ollama.chat(model=NAME, messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(chat.exception.status_code, 400)
        self.assertEqual(chat.exception.error, f'"{NAME}" does not support chat')
        with self.assertRaises(ollama.ResponseError) as generate:
            self.ollama.generate(model=NAME, prompt="hi")
        self.assertEqual(generate.exception.status_code, 400)
        self.assertEqual(generate.exception.error, f'"{NAME}" does not support generate')
        with self.assertRaises(openai.BadRequestError):
            self.openai.chat.completions.create(model=NAME, messages=[{"role": "user", "content": "hi"}])
        with self.assertRaises(openai.BadRequestError):
            self.openai.completions.create(model=NAME, prompt="hi")

    def test_show_lists_the_embedding_capability(self):
        self.assertEqual(list(self.ollama.show(NAME).capabilities), ["embedding"])

    def test_ps_lists_a_loaded_embedding_model(self):
        self.ollama.embed(model=NAME, input="warm up")
        running = {model.model: model for model in self.ollama.ps().models}
        listed = NAME + ":latest"
        self.assertIn(listed, running)
        self.assertEqual(running[listed].details.family, "bert")
        self.assertEqual(running[listed].context_length, 512)
        self.assertGreater(running[listed].size, 10_000_000)

    def test_long_input_is_truncated_or_refused(self):
        long = "word " * 600
        answer = self.ollama.embed(model=NAME, input=long)
        self.assertEqual(answer.prompt_eval_count, 512)
        with self.assertRaises(ollama.ResponseError) as refused:
            self.ollama.embed(model=NAME, input=long, truncate=False)
        self.assertEqual(refused.exception.status_code, 400)


if __name__ == "__main__":
    unittest.main()
