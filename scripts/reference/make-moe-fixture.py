#!/usr/bin/env python3
"""Writes a tiny random-weight qwen3moe GGUF (mixture of experts; no MoE model is in the
catalog) and llama.cpp's logits for it, for Tests/ModelsTests.

Usage: make-moe-fixture.py OUT_DIR DUMP_LOGITS_BINARY [--q8_0]
       make-moe-fixture.py OUT_DIR --bench
Produces OUT_DIR/tiny-qwen3moe.gguf and OUT_DIR/tiny-qwen3moe.logits.jsonl (same format as
make-logit-fixtures.sh). Deterministic: fixed seed.

20 experts, 4 used per token: the router's softmax takes one sixteen-lane group and a tail
(ggml computes them differently). The router (ffn_gate_inp) is F32, as converters write it;
the other matrices are F16, or all Q8_0 with --q8_0 (tiny-qwen3moe-q8_0.*).

--bench writes OUT_DIR/bench-qwen3moe-f16.gguf instead, for speed comparisons (BENCHMARKS.md):
Qwen3-30B-A3B's proportions scaled down (64 experts, 8 per token, 8 layers of width 1024,
0.65B parameters of which 0.1B active), to be quantised with llama-quantize. No logits.
"""
import subprocess
import sys

import numpy as np
import gguf
from gguf.quants import quantize

from tiny_fixture_common import add_vocabulary

out_dir = sys.argv[1]
bench = sys.argv[2:] == ["--bench"]
dump_logits = None if bench else sys.argv[2]
q8 = sys.argv[3:] == ["--q8_0"]
name = "bench-qwen3moe-f16" if bench else "tiny-qwen3moe-q8_0" if q8 else "tiny-qwen3moe"
rng = np.random.default_rng(4321)
if bench:
    embd, heads, kv_heads, head_dim, layers = 1024, 16, 4, 64, 8
    experts, used, expert_ffn = 64, 8, 384
else:
    embd, heads, kv_heads, head_dim, layers = 64, 4, 2, 16, 2
    experts, used, expert_ffn = 20, 4, 32
T = gguf.GGMLQuantizationType

writer = gguf.GGUFWriter(f"{out_dir}/{name}.gguf", "qwen3moe")
writer.add_name("tiny random qwen3moe for tests")
writer.add_context_length(256)
writer.add_embedding_length(embd)
writer.add_block_count(layers)
writer.add_feed_forward_length(expert_ffn * used)
writer.add_expert_feed_forward_length(expert_ffn)
writer.add_expert_count(experts)
writer.add_expert_used_count(used)
writer.add_head_count(heads)
writer.add_head_count_kv(kv_heads)
writer.add_key_length(head_dim)
writer.add_value_length(head_dim)
writer.add_layer_norm_rms_eps(1e-6)
writer.add_rope_freq_base(1000000.0)
writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if q8 else gguf.LlamaFileType.MOSTLY_F16)
vocab = add_vocabulary(writer)

def matrix(rows, cols, scale=None):
    scale = scale or 1.0 / np.sqrt(cols)
    return (rng.standard_normal((rows, cols)) * scale).astype(np.float16)

def add_matrix(name, values):
    """F16, or Q8_0 with --q8_0 (every matrix but the router: the whole file in one 8-bit format)."""
    if q8:
        writer.add_tensor(name, quantize(values.astype(np.float32), T.Q8_0), raw_dtype=T.Q8_0)
    else:
        writer.add_tensor(name, values)

def norm(n):
    return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

def expert_stack(rows, cols):
    """`experts` matrices of rows x cols: GGUF dimensions [cols, rows, experts]."""
    values = (rng.standard_normal((experts, rows, cols)) / np.sqrt(cols)).astype(np.float32)
    if q8:
        return quantize(values.reshape(experts * rows, cols), T.Q8_0).reshape(experts, rows, -1), T.Q8_0
    return values.astype(np.float16), None

add_matrix("token_embd.weight", matrix(vocab, embd, 1.0))
writer.add_tensor("output_norm.weight", norm(embd))
add_matrix("output.weight", matrix(vocab, embd))
for i in range(layers):
    p = f"blk.{i}."
    writer.add_tensor(p + "attn_norm.weight", norm(embd))
    add_matrix(p + "attn_q.weight", matrix(heads * head_dim, embd))
    add_matrix(p + "attn_k.weight", matrix(kv_heads * head_dim, embd))
    add_matrix(p + "attn_v.weight", matrix(kv_heads * head_dim, embd))
    writer.add_tensor(p + "attn_q_norm.weight", norm(head_dim))
    writer.add_tensor(p + "attn_k_norm.weight", norm(head_dim))
    add_matrix(p + "attn_output.weight", matrix(embd, heads * head_dim))
    writer.add_tensor(p + "ffn_norm.weight", norm(embd))
    # A router with logits of spread ~2, so the softmax is neither flat nor one-hot.
    writer.add_tensor(p + "ffn_gate_inp.weight", (rng.standard_normal((experts, embd)) * 2 / np.sqrt(embd)).astype(np.float32))
    for part, (rows, cols) in [("gate", (expert_ffn, embd)), ("up", (expert_ffn, embd)), ("down", (embd, expert_ffn))]:
        data, raw = expert_stack(rows, cols)
        if raw is None:
            writer.add_tensor(p + f"ffn_{part}_exps.weight", data)
        else:
            writer.add_tensor(p + f"ffn_{part}_exps.weight", data, raw_dtype=raw)
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
if bench:
    print(f"{name}: written")
    sys.exit(0)

ids = [int(x) for x in rng.integers(0, vocab, 24)]
lines = subprocess.run([dump_logits, f"{out_dir}/{name}.gguf", "5"] + [str(i) for i in ids],
                       check=True, capture_output=True, text=True).stdout
with open(f"{out_dir}/{name}.logits.jsonl", "w") as f:
    f.write('{"ids": [%s]}\n' % ",".join(map(str, ids)))
    f.write(lines)
print(f"{name}: {vocab} tokens, {len(ids)} positions")
