#!/usr/bin/env python3
"""Writes a random LoRA adapter for a GGUF model, in the format llama.cpp's
convert_lora_to_gguf.py writes (general.type = adapter, adapter.type = lora, adapter.lora.alpha,
NAME.lora_a [columns, rank] and NAME.lora_b [rank, rows] in ggml's dimension order), with the
`gguf` package. Random weights, real shapes: for checking Hearth's `--lora` against llama.cpp's.

    scripts/make-lora-adapter.py MODEL.gguf OUT.gguf [--rank 4] [--alpha 8] [--layers 0-3]
        [--tensors attn_q,attn_v,ffn_down] [--seed 1] [--type f32|f16] [--strength 0.05]

The same arguments give the same bytes (numpy's PCG64 generator, seeded).
"""

import argparse

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("output")
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--alpha", type=float, default=8)
    parser.add_argument("--layers", default="all", help="'all' or a range like 0-3")
    parser.add_argument("--tensors", default="attn_q,attn_v,ffn_down")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--type", choices=["f32", "f16"], default="f32")
    parser.add_argument("--strength", type=float, default=0.05, help="standard deviation of lora_b's values")
    options = parser.parse_args()

    reader = GGUFReader(options.model)
    field = reader.fields["general.architecture"]
    architecture = bytes(field.parts[field.data[0]]).decode()
    shapes = {tensor.name: [int(n) for n in tensor.shape] for tensor in reader.tensors}  # ggml order: [columns, rows]
    blocks = 1 + max(int(name.split(".")[1]) for name in shapes if name.startswith("blk."))
    if options.layers == "all":
        layers = range(blocks)
    else:
        first, last = (int(part) for part in options.layers.split("-"))
        layers = range(first, last + 1)

    rng = np.random.default_rng(options.seed)
    dtype = np.float32 if options.type == "f32" else np.float16
    writer = GGUFWriter(options.output, architecture)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", options.alpha)
    for layer in layers:
        for kind in options.tensors.split(","):
            name = f"blk.{layer}.{kind}.weight"
            if name not in shapes:
                raise SystemExit(f"{options.model} has no tensor {name}")
            columns, rows = shapes[name]
            # numpy shapes are ggml's dimensions reversed.
            a = (rng.standard_normal((options.rank, columns)) / np.sqrt(columns)).astype(dtype)
            b = (rng.standard_normal((rows, options.rank)) * options.strength).astype(dtype)
            writer.add_tensor(name + ".lora_a", a)
            writer.add_tensor(name + ".lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
