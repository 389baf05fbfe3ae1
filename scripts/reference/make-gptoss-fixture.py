#!/usr/bin/env python3
"""Writes tiny random-weight gpt-oss GGUFs (no gpt-oss model ships in a wheel: the smallest is
12 GB) and llama.cpp's logits for them, for Tests/ModelsTests.

Usage: make-gptoss-fixture.py OUT_DIR DUMP_LOGITS_BINARY
Produces, in OUT_DIR:
  tiny-gptoss.gguf (F16 matrices) with tiny-gptoss.logits.jsonl;
  tiny-gptoss-mxfp4.gguf (the experts in MXFP4, as gpt-oss ships them; the rest Q8_0) with
  tiny-gptoss-mxfp4.logits.jsonl.

gpt-oss's layout at a small scale: 2 layers of width 64, 4 query heads of 32 (queries wider than
the model, as gpt-oss's 64 × 64 over 2880) sharing 2 key/value heads; Q/K/V and the attention
output with biases; a learned sink per head in the softmax's denominator; layer 0 with a
sliding window of 6 tokens over 24 positions, layer 1 global; YaRN RoPE (NeoX, factor 32 over
4096 original positions, base 150000, as gpt-oss); `post_attention_norm` as the feed-forward's
norm; 12 experts, 4 per token, chosen by the router's biased logits and weighted by a softmax
over the chosen four; expert biases; the clamped SwiGLU (alpha 1.702, limit 7) with gate and up
values spread wide enough (≈ 4) that the clamps bite. Deterministic seeds.
"""
import sys

import numpy as np
import gguf

from tiny_fixture_common import T, add_vocabulary, dump, finish

out_dir, dump_logits = sys.argv[1], sys.argv[2]
embd, heads, kv_heads, head_dim, layers = 64, 4, 2, 32, 2
experts, used, expert_ffn = 12, 4, 64

for name, mxfp4 in [("tiny-gptoss", False), ("tiny-gptoss-mxfp4", True)]:
    rng = np.random.default_rng(2026)
    writer = gguf.GGUFWriter(f"{out_dir}/{name}.gguf", "gpt-oss")
    writer.add_name("tiny random gpt-oss for tests")
    writer.add_context_length(256)
    writer.add_embedding_length(embd)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(expert_ffn)
    writer.add_expert_feed_forward_length(expert_ffn)
    writer.add_expert_count(experts)
    writer.add_expert_used_count(used)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(150000.0)
    writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    writer.add_rope_scaling_factor(32.0)
    writer.add_rope_scaling_orig_ctx_len(4096)
    writer.add_sliding_window(6)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if mxfp4 else gguf.LlamaFileType.MOSTLY_F16)
    vocab = add_vocabulary(writer)

    def values(rows, cols, scale=None):
        return rng.standard_normal((rows, cols)) * (scale or 1.0 / np.sqrt(cols))

    def matrix(tensor, rows, cols, scale=None):
        data = values(rows, cols, scale)
        if mxfp4:
            writer.add_tensor(tensor, gguf.quants.quantize(data.astype(np.float32), T.Q8_0), raw_dtype=T.Q8_0)
        else:
            writer.add_tensor(tensor, data.astype(np.float16))

    def vector(tensor, n, scale, offset=0.0):
        writer.add_tensor(tensor, (offset + scale * rng.standard_normal(n)).astype(np.float32))

    def expert_stack(tensor, rows, cols, scale):
        """`experts` matrices of rows x cols: GGUF dimensions [cols, rows, experts]."""
        data = (rng.standard_normal((experts, rows, cols)) * scale).astype(np.float32)
        if mxfp4:
            quantised = gguf.quants.quantize(data.reshape(experts * rows, cols), T.MXFP4)
            writer.add_tensor(tensor, quantised.reshape(experts, rows, -1), raw_dtype=T.MXFP4)
        else:
            writer.add_tensor(tensor, data.astype(np.float16))

    matrix("token_embd.weight", vocab, embd, 1.0)
    vector("output_norm.weight", embd, 0.1, 1.0)
    matrix("output.weight", vocab, embd)
    for i in range(layers):
        p = f"blk.{i}."
        vector(p + "attn_norm.weight", embd, 0.1, 1.0)
        matrix(p + "attn_q.weight", heads * head_dim, embd, 2 / np.sqrt(embd))
        vector(p + "attn_q.bias", heads * head_dim, 0.2)
        matrix(p + "attn_k.weight", kv_heads * head_dim, embd, 2 / np.sqrt(embd))
        vector(p + "attn_k.bias", kv_heads * head_dim, 0.2)
        matrix(p + "attn_v.weight", kv_heads * head_dim, embd)
        vector(p + "attn_v.bias", kv_heads * head_dim, 0.2)
        matrix(p + "attn_output.weight", embd, heads * head_dim)
        vector(p + "attn_output.bias", embd, 0.2)
        # Sinks near the scores' scale, so they take a real share of the softmax.
        vector(p + "attn_sinks.weight", heads, 1.0, 1.0)
        vector(p + "post_attention_norm.weight", embd, 0.1, 1.0)
        # Router logits of spread ~2 and a bias, so the choice is neither fixed nor uniform.
        writer.add_tensor(p + "ffn_gate_inp.weight", values(experts, embd, 2 / np.sqrt(embd)).astype(np.float32))
        vector(p + "ffn_gate_inp.bias", experts, 0.5)
        expert_stack(p + "ffn_gate_exps.weight", expert_ffn, embd, 4 / np.sqrt(embd))
        expert_stack(p + "ffn_up_exps.weight", expert_ffn, embd, 4 / np.sqrt(embd))
        expert_stack(p + "ffn_down_exps.weight", embd, expert_ffn, 0.3 / np.sqrt(expert_ffn))
        writer.add_tensor(p + "ffn_gate_exps.bias", (rng.standard_normal((experts, expert_ffn)) * 0.5).astype(np.float32))
        writer.add_tensor(p + "ffn_up_exps.bias", (rng.standard_normal((experts, expert_ffn)) * 0.5).astype(np.float32))
        writer.add_tensor(p + "ffn_down_exps.bias", (rng.standard_normal((experts, embd)) * 0.2).astype(np.float32))
    finish(writer)

    ids = [int(x) for x in rng.integers(0, vocab, 24)]
    dump(dump_logits, out_dir, name, ids)
    print(f"{name}: {vocab} tokens, {len(ids)} positions")
