#!/usr/bin/env python3
"""Writes a tiny random-weight encoder GGUF and llama.cpp's sentence embeddings of it, for
Tests/ModelsTests (no nomic-embed-text is small enough to fetch in the test run).

Usage: make-encoder-fixture.py OUT_DIR DUMP_EMBEDDINGS_BINARY {nomic-bert|bert-cls}
  nomic-bert  tiny-nomic-bert.gguf: fused QKV, NeoX RoPE (base 1000), SwiGLU, mean pooling,
              f16 matrices (nomic-embed-text's layout in miniature)
  bert-cls    tiny-bert-cls.gguf: BERT with absolute positions, GELU, CLS pooling, q8_0 matrices
Also writes OUT_DIR/NAME.embeddings.json: for each test text, llama.cpp's tokens and its pooled,
L2-normalised embedding (scripts/reference/dump_embeddings.c, flash attention off). Deterministic:
fixed seed.
"""
import json
import os
import subprocess
import sys

import gguf
import numpy as np

out_dir, dump, variant = sys.argv[1], sys.argv[2], sys.argv[3]
if variant not in ("nomic-bert", "bert-cls"):
    sys.exit("variant must be nomic-bert or bert-cls")
arch = "nomic-bert" if variant == "nomic-bert" else "bert"
name = f"tiny-{variant}"
rng = np.random.default_rng(2024 if arch == "nomic-bert" else 7)
embd, heads, ffn, layers, context = (64, 4, 128, 2, 128) if arch == "nomic-bert" else (64, 4, 96, 2, 64)

# A WordPiece vocabulary in llama.cpp's phantom-space form: words "▁word", continuations bare.
words = ["the", "cat", "sat", "on", "mat", "dog", "ran", "a", "red", "ball", "under", "tree", "play", "##ing",
         "##s", "##ed", "quick", "brown", "fox", "jump", "over", "lazy", "cafe", "bread", "bake", "sour", "##dough"]
letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
for piece in ["\u2581" + w if not w.startswith("##") else w[2:] for w in words] + ["\u2581" + c for c in letters] \
        + letters + ["\u2581.", "\u2581,", "\u2581!", "\u2581?"]:
    if piece not in tokens:  # llama.cpp refuses duplicate token texts
        tokens.append(piece)
vocab = len(tokens)
token_types = [3] * 5 + [1] * (vocab - 5)


def matrix(rows, cols, scale=0.15):
    return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)


def vector(length, center=0.0, scale=0.1):
    return (center + rng.standard_normal(length) * scale).astype(np.float32)


writer = gguf.GGUFWriter(f"{out_dir}/{name}.gguf", arch)
writer.add_name(f"tiny random {arch} for tests")
writer.add_context_length(context)
writer.add_embedding_length(embd)
writer.add_block_count(layers)
writer.add_feed_forward_length(ffn)
writer.add_head_count(heads)
writer.add_layer_norm_eps(1e-12)
writer.add_causal_attention(False)
writer.add_pooling_type(gguf.PoolingType.MEAN if arch == "nomic-bert" else gguf.PoolingType.CLS)
if arch == "nomic-bert":
    writer.add_rope_freq_base(1000.0)
writer.add_token_type_count(2)
writer.add_tokenizer_model("bert")
writer.add_tokenizer_pre("default")
writer.add_token_list(tokens)
writer.add_token_types(token_types)
writer.add_bos_token_id(2)
writer.add_eos_token_id(3)
writer.add_unk_token_id(1)
writer.add_sep_token_id(3)
writer.add_pad_token_id(0)
writer.add_mask_token_id(4)
writer.add_uint32("tokenizer.ggml.cls_token_id", 2)

quantized = arch == "bert"


def add_matrix(tensor_name, data):
    if quantized:
        q = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor(tensor_name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        writer.add_tensor(tensor_name, data.astype(np.float16))


writer.add_tensor("token_embd.weight", (rng.standard_normal((vocab, embd)) * 0.5).astype(np.float16))
writer.add_tensor("token_types.weight", matrix(2, embd, 0.3))
if arch == "bert":
    writer.add_tensor("position_embd.weight", matrix(context, embd, 0.3))
writer.add_tensor("token_embd_norm.weight", vector(embd, 1.0))
writer.add_tensor("token_embd_norm.bias", vector(embd))
for layer in range(layers):
    p = f"blk.{layer}."
    if arch == "nomic-bert":
        add_matrix(p + "attn_qkv.weight", matrix(3 * embd, embd, 0.3))
    else:
        for part in ("attn_q", "attn_k", "attn_v"):
            add_matrix(p + part + ".weight", matrix(embd, embd, 0.3))
            writer.add_tensor(p + part + ".bias", vector(embd))
    add_matrix(p + "attn_output.weight", matrix(embd, embd))
    if arch == "bert":
        writer.add_tensor(p + "attn_output.bias", vector(embd))
    writer.add_tensor(p + "attn_output_norm.weight", vector(embd, 1.0))
    writer.add_tensor(p + "attn_output_norm.bias", vector(embd))
    add_matrix(p + "ffn_up.weight", matrix(ffn, embd, 0.3))
    if arch == "nomic-bert":
        add_matrix(p + "ffn_gate.weight", matrix(ffn, embd, 0.3))
    else:
        writer.add_tensor(p + "ffn_up.bias", vector(ffn))
    add_matrix(p + "ffn_down.weight", matrix(embd, ffn))
    if arch == "bert":
        writer.add_tensor(p + "ffn_down.bias", vector(embd))
    writer.add_tensor(p + "layer_output_norm.weight", vector(embd, 1.0))
    writer.add_tensor(p + "layer_output_norm.bias", vector(embd))
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()

texts = [
    "The cat sat on the mat.",
    "A red ball under the tree!",
    "The quick brown fox jumps over the lazy dog",
    "Baking sourdough bread, playing, jumped?",
    "xyzzy unknown words: the cat's cafe",
    "a",
]
payload = b"\0".join(t.encode() for t in texts)
# Flash attention off: llama.cpp's CPU flash attention rounds Q, K and V to binary16, and random
# weights this small make attention sensitive enough that this alone moves the vectors by a cosine
# of 5e-4 (on all-MiniLM it is 2e-7); without it llama.cpp's attention is Hearth's f32 softmax.
result = subprocess.run([dump, f"{out_dir}/{name}.gguf"], input=payload, capture_output=True, check=True,
                        env=dict(os.environ, DUMP_FLASH_ATTN="0"))
rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
assert len(rows) == len(texts)
with open(f"{out_dir}/{name}.embeddings.json", "w", encoding="utf-8") as out:
    json.dump({"source": f"scripts/reference/make-encoder-fixture.py {variant}; llama.cpp 11434.0.0 (dump_embeddings.c)",
               "sentences": [{"text": t, "tokens": r["tokens"], "embedding": r["embedding"]} for t, r in zip(texts, rows)]},
              out)
    out.write("\n")
print(f"wrote {out_dir}/{name}.gguf and {name}.embeddings.json ({vocab} tokens)", file=sys.stderr)
