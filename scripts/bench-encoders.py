#!/usr/bin/env python3
"""Times an encoder's requests on two servers side by side: `/v1/rerank` (a reranker) or
`/v1/embeddings` (an embedding model), one request of 32 texts at a time, alternating between
the servers, and prints each time, the best of each and their ratio (BENCHMARKS.md).

  scripts/bench-encoders.py rerank URL_A MODEL_A URL_B MODEL_B [--rounds 3]
  scripts/bench-encoders.py embed  URL_A MODEL_A URL_B MODEL_B [--rounds 3]

e.g. URL_A = a `hearth serve` holding the model (installed with `hearth create`), URL_B =
`llama-server -m FILE --reranking` (or `--embedding --pooling mean`) `-t 2 -c 8192 -np 1 -ub 512
-b 8192`. Standard library only.
"""

import argparse
import json
import time
import urllib.request

SENTENCE = "The quick brown fox jumps over the lazy dog while the rain in Spain falls mainly on the plain. "
QUERY = "Where does the rain fall in Spain?"


def post(url, path, body):
    request = urllib.request.Request(url.rstrip("/") + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["rerank", "embed"])
    parser.add_argument("url_a")
    parser.add_argument("model_a")
    parser.add_argument("url_b")
    parser.add_argument("model_b")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    texts = [f"Text {i}: " + SENTENCE * 2 for i in range(32)]

    def run(url, model, count=32):
        if args.kind == "rerank":
            answer = post(url, "/v1/rerank", {"model": model, "query": QUERY, "documents": texts[:count]})
        else:
            answer = post(url, "/v1/embeddings", {"model": model, "input": texts[:count]})
        return answer["usage"]["prompt_tokens"]

    servers = [("A", args.url_a, args.model_a), ("B", args.url_b, args.model_b)]
    for _, url, model in servers:
        run(url, model, count=2)  # loads the model
    times = {name: [] for name, _, _ in servers}
    for round_index in range(args.rounds):
        for name, url, model in servers:
            start = time.perf_counter()
            tokens = run(url, model)
            elapsed = time.perf_counter() - start
            times[name].append(elapsed)
            print(f"{name} round {round_index}: {elapsed:.3f} s, {tokens} tokens")
    best = {name: min(values) for name, values in times.items()}
    print(f"best: A {best['A']:.3f} s, B {best['B']:.3f} s; B's time / A's time = {best['B'] / best['A']:.2f}")


if __name__ == "__main__":
    main()
