#!/usr/bin/env python3
"""Write Tests/EngineTests/Fixtures/reranker-scores.json: llama-server's rerank scores of the test
reranker (scripts/make-reranker-fixture.py) for a set of queries and documents.

llama-server runs the GGUF with `--reranking` (pooling rank: the first token's state through the
classification head, the raw score) and each (query, document) pair is posted to its /v1/rerank
alone, so its usage gives that pair's token count (llama-server's `format_prompt_rerank`).

Usage:
  scripts/reference/make-reranker-golden.py --server "$(scripts/build-llama-server.sh)" \\
      --gguf ~/.cache/hearth-test/embedding/minilm-reranker.f16.gguf [--label "llama.cpp <commit>"]
"""

import argparse
import hashlib
import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

QUERIES = [
    "How do I bake sourdough bread at home?",
    "What is the capital of France?",
    "Café prices in Zürich — are they high?",
    "python list comprehension",
]
DOCUMENTS = [
    "A recipe for homemade bread made with a sourdough starter.",
    "Paris is the capital and most populous city of France.",
    "Stock markets fell sharply after the central bank raised interest rates.",
    "In Python, [x * x for x in range(10)] builds a list of squares.",
    "Espresso in Zürich costs about 4.50 CHF; a café crème slightly more.",
    "",
    "The quick brown fox jumps over the lazy dog. " * 6,
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="llama-server binary")
    parser.add_argument("--gguf", required=True, type=Path)
    parser.add_argument("--label", default="llama.cpp (scripts/fetch-llamacpp-source.py's pinned source)")
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen([args.server, "-m", str(args.gguf), "--reranking", "--port", str(port), "-t", "2",
                               "-c", "512", "-np", "1", "--no-webui"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("llama-server did not start")
            time.sleep(0.2)
        pairs = []
        for query in QUERIES:
            for document in DOCUMENTS:
                answer = post(port, "/v1/rerank", {"model": "reranker", "query": query, "documents": [document]})
                pairs.append({"query": query, "document": document,
                              "score": answer["results"][0]["relevance_score"],
                              "tokens": answer["usage"]["prompt_tokens"]})
    finally:
        server.terminate()
        server.wait()

    golden = {
        "reference": f"{args.label}: llama-server --reranking -c 512, one pair per /v1/rerank request",
        "model": "scripts/make-reranker-fixture.py's minilm-reranker.f16.gguf",
        "sha256": hashlib.sha256(args.gguf.read_bytes()).hexdigest(),
        "pairs": pairs,
    }
    out = ROOT / "Tests/EngineTests/Fixtures/reranker-scores.json"
    out.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(pairs)} pairs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
