"""Shared pieces of the tiny random-weight fixture scripts (make-*-fixture.py): a byte-level BPE
vocabulary, random matrices, optional Q8_0 quantisation, and running llama.cpp's dump_logits."""
import os
import subprocess

import numpy as np
import gguf

T = gguf.GGMLQuantizationType


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


def add_vocabulary(writer):
    """The 256 GPT-2 byte characters, a few merges and three specials; returns the vocabulary size."""
    tokens = bytes_to_unicode()
    merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a"]
    tokens += [m.replace(" ", "") for m in merges]
    tokens += ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = len(tokens)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types([1] * (vocab - 3) + [3, 3, 3])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab - 3)
    writer.add_eos_token_id(vocab - 1)
    writer.add_add_bos_token(False)
    return vocab


class Tensors:
    """Random tensors for one fixture; matrices in F16, or Q8_0 when `q8_0`."""

    def __init__(self, writer, seed, q8_0=False):
        self.writer, self.rng, self.q8_0 = writer, np.random.default_rng(seed), q8_0

    def matrix(self, name, rows, cols, scale=None, quantise=True):
        data = self.rng.standard_normal((rows, cols)) * (scale or 1.0 / np.sqrt(cols))
        if self.q8_0 and quantise:
            self.writer.add_tensor(name, gguf.quants.quantize(data.astype(np.float32), T.Q8_0), raw_dtype=T.Q8_0)
        else:
            self.writer.add_tensor(name, data.astype(np.float16))

    def norm(self, name, n, scale=1.0):
        self.writer.add_tensor(name, (scale * (1.0 + 0.1 * self.rng.standard_normal(n))).astype(np.float32))

    def vector(self, name, values):
        self.writer.add_tensor(name, np.asarray(values, dtype=np.float32))


def finish(writer):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def dump(dump_logits, out_dir, name, ids, suffix="", cache_type=None):
    """Writes OUT_DIR/NAME{suffix}.logits.jsonl: the ids, then llama.cpp's top-5 per position."""
    env = dict(os.environ)
    if cache_type:
        env["DUMP_CACHE_TYPE"] = cache_type
    lines = subprocess.run([dump_logits, f"{out_dir}/{name}.gguf", "5"] + [str(i) for i in ids],
                           check=True, capture_output=True, text=True, env=env).stdout
    with open(f"{out_dir}/{name}{suffix}.logits.jsonl", "w") as f:
        f.write('{"ids": [%s]}\n' % ",".join(map(str, ids)))
        f.write(lines)
