#!/usr/bin/env python3
"""Writes tiny random-weight phi3 GGUFs (no phi3 model is in the catalog) and llama.cpp's
logits for them, for Tests/ModelsTests.

Usage: make-phi3-fixture.py OUT_DIR DUMP_LOGITS_BINARY
Produces, in OUT_DIR, each with NAME.logits.jsonl:
  tiny-phi3-q8_0.gguf — Q8_0 matrices (whose products Hearth rounds exactly as llama.cpp on
    x86); rope.scaling.original_context_length 128, so llama.cpp's context of 256 (dump_logits
    asks for 40 tokens, rounded up to 256) selects the LONG LongRoPE factors;
  tiny-phi3.gguf — F16 matrices; original context 256, so the SHORT factors.
Both have a fused attn_qkv, a fused gate+up ffn_up (2 × feed_forward_length rows), partial
RoPE (24 of 32 dimensions), short and long factors far apart, rope.scaling.attn_factor as the
converter computes it, and attention.sliding_window 8 (which llama.cpp ignores for phi3).
Deterministic seeds.
"""
import math
import sys

import numpy as np
import gguf

from tiny_fixture_common import Tensors, add_vocabulary, dump, finish

out_dir, dump_logits = sys.argv[1], sys.argv[2]
embd, heads, kv_heads, ffn, layers, rope_dims = 64, 2, 1, 128, 2, 24
head_dim = embd // heads
context = 4096

for name, q8_0, original in [("tiny-phi3", False, 256), ("tiny-phi3-q8_0", True, 128)]:
    writer = gguf.GGUFWriter(f"{out_dir}/{name}.gguf", "phi3")
    # Not "phi3" in the name: llama.cpp then expects Phi-3's special tokens (</s>, <s>).
    writer.add_name("tiny random model for tests")
    writer.add_context_length(context)
    writer.add_rope_scaling_orig_ctx_len(original)
    writer.add_embedding_length(embd)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(rope_dims)
    writer.add_rope_freq_base(10000.0)
    writer.add_sliding_window(8)
    scale = context / original
    writer.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(original)))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if q8_0 else gguf.LlamaFileType.MOSTLY_F16)
    vocab = add_vocabulary(writer)

    t = Tensors(writer, 3141, q8_0)
    t.matrix("token_embd.weight", vocab, embd, 1.0)
    t.norm("output_norm.weight", embd)
    t.matrix("output.weight", vocab, embd)
    # Factors as in Phi-3's config: short near 1, long from 3 to 40 (so even the fast pairs turn differently).
    rng = np.random.default_rng(7)
    t.vector("rope_factors_short.weight", 1.0 + 0.2 * rng.random(rope_dims // 2))
    t.vector("rope_factors_long.weight", np.geomspace(3.0, 40.0, rope_dims // 2) * (1 + 0.1 * rng.random(rope_dims // 2)))
    for i in range(layers):
        p = f"blk.{i}."
        t.norm(p + "attn_norm.weight", embd)
        t.matrix(p + "attn_qkv.weight", (heads + 2 * kv_heads) * head_dim, embd, 2.0 / np.sqrt(embd))
        t.matrix(p + "attn_output.weight", embd, heads * head_dim)
        t.norm(p + "ffn_norm.weight", embd)
        t.matrix(p + "ffn_up.weight", 2 * ffn, embd)
        t.matrix(p + "ffn_down.weight", embd, ffn)
    finish(writer)

    ids = [int(x) for x in np.random.default_rng(42).integers(0, vocab, 24)]
    dump(dump_logits, out_dir, name, ids)
    print(f"{name}: {vocab} tokens, {len(ids)} positions, original context {original}")
