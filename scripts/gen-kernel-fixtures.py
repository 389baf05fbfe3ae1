#!/usr/bin/env python3
"""Writes the dequantisation fixtures for KernelsTests (Tests/KernelsTests/Fixtures/).

For every block format the Kernels target reads, this makes a few blocks of data and asks the
`gguf` Python package (gguf-py, llama.cpp's reference implementation of the formats) what they
dequantise to:

  <TYPE>.blocks    raw quantised bytes, exactly as they would sit in a GGUF tensor
  <TYPE>.expected  gguf.quants.dequantize of those bytes, little-endian float32
  Q8_0.input       float32 values whose gguf.quants.quantize(Q8_0) is Q8_0.blocks[:len]
  manifest.json    the list of fixtures, with ggml type ids and value counts

Blocks come from gguf.quants.quantize of random floats where gguf-py can quantise the type, and
from random bytes otherwise (the K-quants); binary16 scale fields of random blocks are then set to
random finite values (never NaN or infinity), including a few subnormals.

Deterministic (fixed seed). Run from the repository root:  python3 scripts/gen-kernel-fixtures.py
"""

import importlib.metadata
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

SEED = 20240611
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "KernelsTests", "Fixtures")

# name -> (type, byte offsets of binary16 scale fields inside one block)
FORMATS = {
    "F32": (T.F32, []),
    "F16": (T.F16, []),
    "BF16": (T.BF16, []),
    "Q4_0": (T.Q4_0, [0]),
    "Q4_1": (T.Q4_1, [0, 2]),
    "Q5_0": (T.Q5_0, [0]),
    "Q5_1": (T.Q5_1, [0, 2]),
    "Q8_0": (T.Q8_0, [0]),
    "Q2_K": (T.Q2_K, [80, 82]),
    "Q3_K": (T.Q3_K, [108]),
    "Q4_K": (T.Q4_K, [0, 2]),
    "Q5_K": (T.Q5_K, [0, 2]),
    "Q6_K": (T.Q6_K, [208]),
    "IQ4_NL": (T.IQ4_NL, [0]),
    "IQ4_XS": (T.IQ4_XS, [0]),
    "MXFP4": (T.MXFP4, []),
}

QUANTISED_ROWS = 4  # blocks made by gguf.quants.quantize (where supported)
RANDOM_BLOCKS = 4   # blocks of random bytes with sane scales


def random_floats(rng, count):
    """Normal values with a spread of magnitudes per 32 values, plus exact zeros."""
    x = rng.standard_normal(count).astype(np.float32)
    scales = np.repeat(10.0 ** rng.uniform(-3, 1, size=(count + 31) // 32), 32)[:count]
    x = (x * scales).astype(np.float32)
    x[rng.integers(0, count, size=max(1, count // 64))] = 0
    return x


def sane_half(rng, count):
    """Random finite binary16 scales: mostly 1e-4..1e-1 of either sign, some subnormal."""
    values = (10.0 ** rng.uniform(-4, -1, size=count)) * rng.choice([-1.0, 1.0], size=count)
    halves = values.astype(np.float16).view(np.uint16)
    subnormal = rng.random(count) < 0.15
    halves[subnormal] = rng.integers(1, 0x400, size=int(subnormal.sum()), dtype=np.uint16) | (
        rng.integers(0, 2, size=int(subnormal.sum()), dtype=np.uint16) << 15)
    assert np.all(np.isfinite(halves.view(np.float16)))
    return halves


def main():
    rng = np.random.default_rng(SEED)
    os.makedirs(OUT, exist_ok=True)
    manifest = []
    for name, (qtype, half_offsets) in FORMATS.items():
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        pieces = []
        # Values per quantised row: a few blocks for the 32-value formats, one for the K-quants.
        row_values = max(block_size, 64) if block_size > 1 else 96
        try:
            x = random_floats(rng, QUANTISED_ROWS * row_values).reshape(QUANTISED_ROWS, row_values)
            q = quants.quantize(x, qtype)
            pieces.append(np.ascontiguousarray(q).view(np.uint8).reshape(-1))
            if name == "Q8_0":
                x.astype("<f4").tofile(os.path.join(OUT, "Q8_0.input"))
                q8_input_bytes = pieces[-1].size
        except NotImplementedError:
            pass
        random_count = RANDOM_BLOCKS * (8 if block_size == 1 else 1) * (32 if block_size == 1 else 1)
        raw = rng.integers(0, 256, size=(random_count, type_size), dtype=np.uint8)
        if name == "F16":
            raw = sane_half(rng, random_count).reshape(random_count, 1).view(np.uint8)
        elif name == "F32":
            raw = random_floats(rng, random_count).reshape(random_count, 1).view(np.uint8)
        elif name == "BF16":
            raw = (random_floats(rng, random_count).view(np.uint32) >> 16).astype(np.uint16).reshape(random_count, 1).view(np.uint8)
        for offset in half_offsets:
            raw[:, offset:offset + 2] = sane_half(rng, random_count).reshape(random_count, 1).view(np.uint8)
        if name == "MXFP4":
            # E8M0 scales whose values stay finite in float32, with the two subnormal ones (0, 1).
            raw[:, 0] = np.concatenate([[0, 1], rng.integers(100, 150, size=random_count - 2)]).astype(np.uint8)
        pieces.append(raw.reshape(-1))
        blocks = np.concatenate(pieces)
        assert blocks.size % type_size == 0
        n_values = blocks.size // type_size * block_size
        if name == "F16":
            expected = quants.dequantize(blocks.view(np.float16), qtype)
        elif name == "F32":
            expected = quants.dequantize(blocks.view(np.float32), qtype)
        else:
            expected = quants.dequantize(blocks.reshape(1, -1), qtype)
        expected = np.asarray(expected, dtype=np.float32).reshape(-1)
        assert expected.size == n_values, (name, expected.size, n_values)
        assert np.all(np.isfinite(expected)), name
        blocks.tofile(os.path.join(OUT, f"{name}.blocks"))
        expected.astype("<f4").tofile(os.path.join(OUT, f"{name}.expected"))
        entry = {"name": name, "ggmlType": int(qtype), "values": int(n_values), "bytes": int(blocks.size)}
        if name == "Q8_0":
            entry["quantizedInputBytes"] = int(q8_input_bytes)
        manifest.append(entry)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"generator": "scripts/gen-kernel-fixtures.py", "gguf": importlib.metadata.version("gguf"),
                   "seed": SEED, "formats": manifest}, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(manifest)} formats, {total} bytes to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
