#!/usr/bin/env python3
"""Writes tiny random-weight gemma2 GGUFs (no gemma2 model is in the catalog) and llama.cpp's
logits for them, for Tests/ModelsTests.

Usage: make-gemma2-fixture.py OUT_DIR DUMP_LOGITS_BINARY
Produces, in OUT_DIR:
  tiny-gemma2.gguf (F16 matrices) with tiny-gemma2.logits.jsonl (f16 KV cache) and
  tiny-gemma2.q8_0-cache.logits.jsonl (q8_0 KV cache);
  tiny-gemma2-q8_0.gguf (Q8_0 matrices) with tiny-gemma2-q8_0.logits.jsonl and
  tiny-gemma2-q8_0.q8_0-cache.logits.jsonl.
Two layers: layer 0 uses a sliding window of 6 tokens over 24 positions, layer 1 is global.
The soft caps are small (attention 2.5, final 15) and Q/K larger than usual so tanh bends the
scores and logits: a forward pass that skipped either would not match. The post-norms are
large (≈8, as the √d-scaled embeddings) so the layers, not the tied embedding, decide the top
token. Deterministic seeds.
"""
import sys

import numpy as np
import gguf

from tiny_fixture_common import Tensors, add_vocabulary, dump, finish

out_dir, dump_logits = sys.argv[1], sys.argv[2]
embd, heads, kv_heads, head_dim, ffn, layers = 64, 4, 2, 32, 128, 2

for name, q8_0 in [("tiny-gemma2", False), ("tiny-gemma2-q8_0", True)]:
    writer = gguf.GGUFWriter(f"{out_dir}/{name}.gguf", "gemma2")
    writer.add_name("tiny random gemma2 for tests")
    writer.add_context_length(256)
    writer.add_embedding_length(embd)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(10000.0)
    writer.add_sliding_window(6)
    writer.add_attn_logit_softcapping(2.5)
    writer.add_final_logit_softcapping(15.0)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if q8_0 else gguf.LlamaFileType.MOSTLY_F16)
    vocab = add_vocabulary(writer)

    t = Tensors(writer, 2024, q8_0)
    # Tied output (gemma2 has no output.weight): the embedding is the LM head too.
    t.matrix("token_embd.weight", vocab, embd, 1.0)
    t.norm("output_norm.weight", embd)
    for i in range(layers):
        p = f"blk.{i}."
        t.norm(p + "attn_norm.weight", embd)
        t.matrix(p + "attn_q.weight", heads * head_dim, embd, 3.0 / np.sqrt(embd))
        t.matrix(p + "attn_k.weight", kv_heads * head_dim, embd, 3.0 / np.sqrt(embd))
        t.matrix(p + "attn_v.weight", kv_heads * head_dim, embd)
        t.matrix(p + "attn_output.weight", embd, heads * head_dim)
        t.norm(p + "post_attention_norm.weight", embd, 8.0)
        t.norm(p + "ffn_norm.weight", embd)
        t.matrix(p + "ffn_gate.weight", ffn, embd)
        t.matrix(p + "ffn_up.weight", ffn, embd)
        t.matrix(p + "ffn_down.weight", embd, ffn)
        t.norm(p + "post_ffw_norm.weight", embd, 8.0)
    finish(writer)

    ids = [int(x) for x in np.random.default_rng(99).integers(0, vocab, 24)]
    dump(dump_logits, out_dir, name, ids)
    dump(dump_logits, out_dir, name, ids, suffix=".q8_0-cache", cache_type="q8_0")
    print(f"{name}: {vocab} tokens, {len(ids)} positions")
