#!/usr/bin/env python3
"""Writes a tiny random-weight qwen3 GGUF (no qwen3 model is in the catalog) and llama.cpp's
logits for it, for Tests/ModelsTests.

Usage: make-qwen3-fixture.py OUT_DIR DUMP_LOGITS_BINARY [--nonlinear4 | --yarn]
Produces OUT_DIR/tiny-qwen3.gguf and OUT_DIR/tiny-qwen3.logits.jsonl (same format as
make-logit-fixtures.sh). Deterministic: fixed seed.

With --nonlinear4: tiny-qwen3-nonlinear4.gguf (and its logits), wider (IQ4_XS takes rows of
256), with the attention matrices in IQ4_NL, ffn_gate/ffn_up in IQ4_XS and ffn_down in MXFP4:
random blocks with scales in the range real weights have (gguf-py cannot quantise the IQ types).

With --yarn: tiny-qwen3-yarn.gguf (and its logits), heads of 64 and every matrix in Q8_0, with
YaRN RoPE scaling (factor 4 over an original context of 64 tokens, base 10000: pairs 0-9 on the
ramp between extrapolation and interpolation).
"""
import subprocess
import sys

import numpy as np
import gguf
from gguf.quants import quantize

out_dir, dump_logits = sys.argv[1], sys.argv[2]
nonlinear4 = sys.argv[3:] == ["--nonlinear4"]
yarn = sys.argv[3:] == ["--yarn"]
name = "tiny-qwen3-nonlinear4" if nonlinear4 else "tiny-qwen3-yarn" if yarn else "tiny-qwen3"
rng = np.random.default_rng(1234)
if nonlinear4:
    embd, heads, kv_heads, head_dim, ffn, layers = 256, 4, 2, 64, 512, 2
elif yarn:
    embd, heads, kv_heads, head_dim, ffn, layers = 128, 2, 1, 64, 256, 2
else:
    embd, heads, kv_heads, head_dim, ffn, layers = 64, 4, 2, 16, 128, 2

# A byte-level BPE vocabulary: the 256 GPT-2 byte characters plus a few merges.
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]

tokens = bytes_to_unicode()
merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a"]
for merge in merges:
    tokens.append(merge.replace(" ", ""))
tokens += ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
vocab = len(tokens)
token_types = [1] * (vocab - 3) + [3, 3, 3]

writer = gguf.GGUFWriter(f"{out_dir}/{name}.gguf", "qwen3")
writer.add_name("tiny random qwen3 for tests")
writer.add_context_length(256)
writer.add_embedding_length(embd)
writer.add_block_count(layers)
writer.add_feed_forward_length(ffn)
writer.add_head_count(heads)
writer.add_head_count_kv(kv_heads)
writer.add_key_length(head_dim)
writer.add_value_length(head_dim)
writer.add_layer_norm_rms_eps(1e-6)
if yarn:
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    writer.add_rope_scaling_factor(4.0)
    writer.add_rope_scaling_orig_ctx_len(64)
else:
    writer.add_rope_freq_base(1000000.0)
writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
writer.add_tokenizer_model("gpt2")
writer.add_tokenizer_pre("qwen2")
writer.add_token_list(tokens)
writer.add_token_types(token_types)
writer.add_token_merges(merges)
writer.add_bos_token_id(vocab - 3)
writer.add_eos_token_id(vocab - 1)
writer.add_add_bos_token(False)

def matrix(rows, cols, scale=None):
    scale = scale or 1.0 / np.sqrt(cols)
    return (rng.standard_normal((rows, cols)) * scale).astype(np.float16)

def norm(n):
    return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

T = gguf.GGMLQuantizationType

def random_blocks(rows, cols, qtype):
    """Random quantised rows whose values have about matrix()'s spread (1/sqrt(cols))."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(rows * cols // block_size, type_size), dtype=np.uint8)
    spread = 1.0 / np.sqrt(cols)
    if qtype == T.IQ4_NL:    # d * kvalues (|kvalues| ~ 64)
        blocks[:, 0:2] = (np.full(len(blocks), spread / 64) * rng.uniform(0.5, 1.5, len(blocks))).astype(np.float16).reshape(-1, 1).view(np.uint8)
    elif qtype == T.IQ4_XS:  # d * (6-bit scale - 32) * kvalues
        blocks[:, 0:2] = (np.full(len(blocks), spread / (64 * 16)) * rng.uniform(0.5, 1.5, len(blocks))).astype(np.float16).reshape(-1, 1).view(np.uint8)
    elif qtype == T.MXFP4:   # 2^(e - 128) * doubled FP4 (|values| ~ 5)
        blocks[:, 0] = np.clip(np.round(128 + np.log2(spread / 5) + rng.uniform(-1, 1, len(blocks))), 1, 254).astype(np.uint8)
    return blocks.reshape(rows, -1)

def weight(name, rows, cols, qtype):
    if nonlinear4:
        writer.add_tensor(name, random_blocks(rows, cols, qtype), raw_dtype=qtype)
    elif yarn:
        writer.add_tensor(name, quantize(matrix(rows, cols).astype(np.float32), T.Q8_0), raw_dtype=T.Q8_0)
    else:
        writer.add_tensor(name, matrix(rows, cols))

def table(name, values):
    if yarn:
        writer.add_tensor(name, quantize(values.astype(np.float32), T.Q8_0), raw_dtype=T.Q8_0)
    else:
        writer.add_tensor(name, values)

table("token_embd.weight", matrix(vocab, embd, 1.0))
writer.add_tensor("output_norm.weight", norm(embd))
table("output.weight", matrix(vocab, embd))
for i in range(layers):
    p = f"blk.{i}."
    writer.add_tensor(p + "attn_norm.weight", norm(embd))
    weight(p + "attn_q.weight", heads * head_dim, embd, T.IQ4_NL)
    weight(p + "attn_k.weight", kv_heads * head_dim, embd, T.IQ4_NL)
    weight(p + "attn_v.weight", kv_heads * head_dim, embd, T.IQ4_NL)
    writer.add_tensor(p + "attn_q_norm.weight", norm(head_dim))
    writer.add_tensor(p + "attn_k_norm.weight", norm(head_dim))
    weight(p + "attn_output.weight", embd, heads * head_dim, T.IQ4_NL)
    writer.add_tensor(p + "ffn_norm.weight", norm(embd))
    weight(p + "ffn_gate.weight", ffn, embd, T.IQ4_XS)
    weight(p + "ffn_up.weight", ffn, embd, T.IQ4_XS)
    weight(p + "ffn_down.weight", embd, ffn, T.MXFP4)
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()

ids = [int(x) for x in rng.integers(0, vocab, 24)]
lines = subprocess.run([dump_logits, f"{out_dir}/{name}.gguf", "5"] + [str(i) for i in ids],
                       check=True, capture_output=True, text=True).stdout
with open(f"{out_dir}/{name}.logits.jsonl", "w") as f:
    f.write('{"ids": [%s]}\n' % ",".join(map(str, ids)))
    f.write(lines)
print(f"{name}: {vocab} tokens, {len(ids)} positions")
