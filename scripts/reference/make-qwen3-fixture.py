#!/usr/bin/env python3
"""Writes a tiny random-weight qwen3 GGUF (no qwen3 model is in the catalog) and llama.cpp's
logits for it, for Tests/ModelsTests.

Usage: make-qwen3-fixture.py OUT_DIR DUMP_LOGITS_BINARY
Produces OUT_DIR/tiny-qwen3.gguf and OUT_DIR/tiny-qwen3.logits.jsonl (same format as
make-logit-fixtures.sh). Deterministic: fixed seed.
"""
import subprocess
import sys

import numpy as np
import gguf

out_dir, dump_logits = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(1234)
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

writer = gguf.GGUFWriter(f"{out_dir}/tiny-qwen3.gguf", "qwen3")
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

writer.add_tensor("token_embd.weight", matrix(vocab, embd, 1.0))
writer.add_tensor("output_norm.weight", norm(embd))
writer.add_tensor("output.weight", matrix(vocab, embd))
for i in range(layers):
    p = f"blk.{i}."
    writer.add_tensor(p + "attn_norm.weight", norm(embd))
    writer.add_tensor(p + "attn_q.weight", matrix(heads * head_dim, embd))
    writer.add_tensor(p + "attn_k.weight", matrix(kv_heads * head_dim, embd))
    writer.add_tensor(p + "attn_v.weight", matrix(kv_heads * head_dim, embd))
    writer.add_tensor(p + "attn_q_norm.weight", norm(head_dim))
    writer.add_tensor(p + "attn_k_norm.weight", norm(head_dim))
    writer.add_tensor(p + "attn_output.weight", matrix(embd, heads * head_dim))
    writer.add_tensor(p + "ffn_norm.weight", norm(embd))
    writer.add_tensor(p + "ffn_gate.weight", matrix(ffn, embd))
    writer.add_tensor(p + "ffn_up.weight", matrix(ffn, embd))
    writer.add_tensor(p + "ffn_down.weight", matrix(embd, ffn))
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()

ids = [int(x) for x in rng.integers(0, vocab, 24)]
lines = subprocess.run([dump_logits, f"{out_dir}/tiny-qwen3.gguf", "5"] + [str(i) for i in ids],
                       check=True, capture_output=True, text=True).stdout
with open(f"{out_dir}/tiny-qwen3.logits.jsonl", "w") as f:
    f.write('{"ids": [%s]}\n' % ",".join(map(str, ids)))
    f.write(lines)
print(f"tiny-qwen3: {vocab} tokens, {len(ids)} positions")
