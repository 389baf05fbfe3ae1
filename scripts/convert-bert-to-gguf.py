#!/usr/bin/env python3
"""Convert a Hugging Face BERT sentence-embedding model (safetensors) to GGUF, as llama.cpp would.

llama.cpp's convert_hf_to_gguf.py needs torch and transformers; this script needs only numpy,
`safetensors` (its numpy API) and `gguf` (pinned in Tests/requirements-fixtures.txt), and writes
the same file for a `BertModel` directory (sentence-transformers/all-MiniLM-L6-v2 and its kind)
or a `BertForSequenceClassification` one (a cross-encoder reranker such as ms-marco-MiniLM):

  * the same tensor names (token_embd, position_embd, token_types, token_embd_norm,
    blk.N.attn_q/k/v, attn_output, attn_output_norm, ffn_up, ffn_down, layer_output_norm; a
    classifier's cls / cls.output),
    with llama.cpp's types: norms, biases, position_embd and token_types in f32; the other
    matrices in f16 (or q8_0 with --outtype q8_0);
  * the same metadata: bert.* hyperparameters, bert.attention.causal = false,
    bert.pooling_type from the sentence-transformers Pooling module, a classifier's
    bert.classifier.output_labels (from id2label), tokenizer.ggml.model =
    "bert" with the vocabulary in llama.cpp's "phantom space" form (a word-initial piece is
    "\u2581" + piece, a "##" continuation loses its "##", special tokens stay as they are),
    token types (the tokenizer's added special tokens are CONTROL), the special token ids and
    the BertNormalizer's lowercase / strip_accents flags.

Usage:
  scripts/convert-bert-to-gguf.py MODEL_DIR OUT.gguf [--outtype f16|q8_0|f32] [--name NAME]

MODEL_DIR holds config.json, model.safetensors, tokenizer.json (and optionally modules.json
with a Pooling module, tokenizer_config.json).
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file

# llama.cpp's converter names the pre-tokenizer by a hash of the ids its check text encodes to
# (convert_hf_to_gguf.py get_vocab_base_pre); WordPiece ignores it, but the file carries it.
CHECK_TEXT = '\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български \'\'\'\'\'\'```````""""......!!!!!!?????? I\'ve been \'told he\'s there, \'RE you sure? \'M not sure I\'ll make it, \'D you like some tea? We\'Ve a\'lL'
KNOWN_PRE_TOKENIZERS = {
    "0876d13b50744004aa9aeae05e7b0647eac9d801b5ba4668afc01e709c15e19f": "bert-bge",
    "8e62295832751ca1e8f92f2226f403dea30dc5165e448b5bfa05af5340c64ec7": "bert-bge-large",
}

LAYER_TENSORS = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
EMBEDDING_TENSORS = {
    "embeddings.word_embeddings": "token_embd",
    "embeddings.position_embeddings": "position_embd",
    "embeddings.token_type_embeddings": "token_types",
    "embeddings.LayerNorm": "token_embd_norm",
}
# Tensors llama.cpp's BertModel drops: the pooler and the masked-LM heads are not used for embeddings.
SKIPPED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


# A cross-encoder's (reranker's) classification head, as llama.cpp names it: BERT's single
# projection (BertForSequenceClassification; its pooler is dropped, as llama.cpp's converter
# drops it) or RoBERTa's dense + tanh + projection.
CLASSIFIER_TENSORS = {
    "classifier.weight": "cls.output.weight",
    "classifier.bias": "cls.output.bias",
    "classifier.dense.weight": "cls.weight",
    "classifier.dense.bias": "cls.bias",
    "classifier.out_proj.weight": "cls.output.weight",
    "classifier.out_proj.bias": "cls.output.bias",
}


def gguf_name(hf_name: str) -> str | None:
    if hf_name in CLASSIFIER_TENSORS:
        return CLASSIFIER_TENSORS[hf_name]
    name = hf_name[5:] if hf_name.startswith("bert.") else hf_name
    if name.endswith(".gamma"):
        name = name[:-6] + ".weight"
    if name.endswith(".beta"):
        name = name[:-5] + ".bias"
    if name in SKIPPED or name.startswith("cls.predictions") or name.startswith("cls.seq_relationship"):
        return None
    stem, _, suffix = name.rpartition(".")
    if stem in EMBEDDING_TENSORS:
        return f"{EMBEDDING_TENSORS[stem]}.{suffix}"
    parts = stem.split(".")
    if len(parts) > 3 and parts[0] == "encoder" and parts[1] == "layer" and parts[2].isdecimal():
        rest = ".".join(parts[3:])
        if rest in LAYER_TENSORS:
            return f"blk.{int(parts[2])}.{LAYER_TENSORS[rest]}.{suffix}"
    raise SystemExit(f"convert-bert-to-gguf: no GGUF name for tensor {hf_name!r}")


def tensor_type(name: str, data: np.ndarray, outtype: str) -> gguf.GGMLQuantizationType:
    """llama.cpp's choice (ModelBase.prepare_tensors): 1-D tensors, norms, biases, position
    and token-type embeddings stay f32; the other matrices take the output type."""
    if data.ndim <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return gguf.GGMLQuantizationType.F32
    if name.startswith("position_embd.") or name.startswith("token_types."):
        return gguf.GGMLQuantizationType.F32
    return {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
            "q8_0": gguf.GGMLQuantizationType.Q8_0}[outtype]


def pooling_type(model_dir: Path) -> gguf.PoolingType | None:
    modules_path = model_dir / "modules.json"
    if not modules_path.is_file():
        return None
    modules = json.loads(modules_path.read_text(encoding="utf-8"))
    pooling_dir = next((m["path"] for m in modules if m["type"].endswith("Pooling")), None)
    if pooling_dir is None:
        return None
    pooling = json.loads((model_dir / pooling_dir / "config.json").read_text(encoding="utf-8"))
    if pooling.get("pooling_mode_mean_tokens"):
        return gguf.PoolingType.MEAN
    if pooling.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    if pooling.get("pooling_mode_lasttoken"):
        return gguf.PoolingType.LAST
    mode = {"mean": gguf.PoolingType.MEAN, "cls": gguf.PoolingType.CLS, "lasttoken": gguf.PoolingType.LAST}
    if pooling.get("pooling_mode") in mode:
        return mode[pooling["pooling_mode"]]
    raise SystemExit("convert-bert-to-gguf: only mean, CLS and last-token pooling are supported")


def vocabulary(model_dir: Path, vocab_size: int) -> tuple[list[str], list[int], str]:
    """Token texts in phantom-space form, their types, and the pre-tokenizer name."""
    from tokenizers import Tokenizer  # only for the pre-tokenizer hash; optional otherwise

    tokenizer_json = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = tokenizer_json["model"]
    if model.get("type") != "WordPiece":
        raise SystemExit(f"convert-bert-to-gguf: tokenizer model {model.get('type')!r} is not WordPiece")
    by_id = {index: text for text, index in model["vocab"].items()}
    special = {}
    for added in tokenizer_json.get("added_tokens", []):
        by_id[added["id"]] = added["content"]
        special[added["id"]] = added.get("special", False)
    if max(by_id) >= vocab_size:
        raise SystemExit(f"convert-bert-to-gguf: token id {max(by_id)} is outside vocab_size {vocab_size}")

    tokens, types = [], []
    for index in range(vocab_size):
        text = by_id.get(index)
        if text is None:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        if index in special:
            token_type = gguf.TokenType.CONTROL if special[index] or looks_special(text) else gguf.TokenType.USER_DEFINED
        else:
            token_type = gguf.TokenType.NORMAL
        if token_type == gguf.TokenType.CONTROL:
            phantom = text
        elif text.startswith("##"):
            phantom = text[2:]
        else:
            phantom = "\u2581" + text
        tokens.append(phantom)
        types.append(token_type)

    # transformers (which llama.cpp's converter calls) neither pads nor truncates by default;
    # a tokenizer.json may ask for both (all-MiniLM-L6-v2's pads to 128).
    hashing = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    hashing.no_padding()
    hashing.no_truncation()
    ids = hashing.encode(CHECK_TEXT).ids
    digest = hashlib.sha256(str(ids).encode()).hexdigest()
    # llama.cpp's converter refuses a hash it has no name for (all-MiniLM-L6-v2's is bert-bge's);
    # its WordPiece tokenizer ignores the name (llama-vocab.cpp sets the default pre-tokenizer for
    # every "bert" vocabulary), so an unlisted one is written as "default" instead.
    return tokens, types, KNOWN_PRE_TOKENIZERS.get(digest, "default")


def looks_special(text: str) -> bool:
    """llama.cpp's does_token_look_special."""
    seems = text in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
    seems = seems or (text.startswith("<|") and text.endswith("|>"))
    seems = seems or (text.startswith("<｜") and text.endswith("｜>"))
    seems = seems or (text.startswith("<") and text.endswith(">"))
    seems = seems or (text.startswith("[") and text.endswith("]"))
    return seems


def normalizer_flags(normalizer: dict | None, flags: dict) -> None:
    """gguf-py's SpecialVocab._parse_normalizer (llama.cpp master)."""
    if not normalizer:
        return
    kind = normalizer.get("type")
    if kind == "Lowercase":
        flags["lowercase"] = True
    elif kind == "StripAccents":
        flags["strip_accents"] = True
    elif kind == "BertNormalizer":
        if normalizer.get("lowercase") is not None:
            flags["lowercase"] = normalizer["lowercase"]
        if normalizer.get("strip_accents") is not None:
            flags["strip_accents"] = normalizer["strip_accents"]
    elif kind == "Sequence":
        for inner in normalizer.get("normalizers", []):
            normalizer_flags(inner, flags)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--outtype", choices=["f16", "q8_0", "f32"], default="f16")
    parser.add_argument("--name", help="general.name (default: the directory's name)")
    args = parser.parse_args()

    config = json.loads((args.model_dir / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute":
        raise SystemExit("convert-bert-to-gguf: only BERT models with absolute position embeddings are supported")
    if config.get("hidden_act") != "gelu":
        raise SystemExit(f"convert-bert-to-gguf: hidden_act {config.get('hidden_act')!r} is not gelu")

    arch = "bert"
    writer = gguf.GGUFWriter(str(args.output), arch)
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[args.outtype]
    writer.add_name(args.name or args.model_dir.name)
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_file_type(file_type)
    writer.add_causal_attention(False)
    if (pooling := pooling_type(args.model_dir)) is not None:
        writer.add_pooling_type(pooling)
    # A classifier's labels, one per output (llama.cpp drops the two dummy labels AutoConfig adds).
    if labels := config.get("id2label"):
        names = [name for _, name in sorted(labels.items(), key=lambda item: int(item[0]))]
        if not (len(names) == 2 and names[0] == "LABEL_0"):
            writer.add_array(f"{arch}.classifier.output_labels", names)

    vocab_size = config["vocab_size"]
    tokens, types, pre = vocabulary(args.model_dir, vocab_size)
    writer.add_token_type_count(config.get("type_vocab_size", 1))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(args.model_dir, n_vocab=len(tokens))
    # The pinned gguf package has no writer for the CLS id (llama.cpp's newer gguf-py writes
    # tokenizer.ggml.cls_token_id); written by hand, as llama.cpp's converter writes it.
    cls_id = special.special_token_ids.pop("cls", None)
    special.add_to_gguf(writer, quiet=True)
    if cls_id is not None:
        writer.add_uint32("tokenizer.ggml.cls_token_id", cls_id)
    flags: dict = {}
    normalizer_flags(json.loads((args.model_dir / "tokenizer.json").read_text(encoding="utf-8")).get("normalizer"), flags)
    if "lowercase" in flags:
        writer.add_bool("tokenizer.ggml.normalizer.lowercase", flags["lowercase"])
    if "strip_accents" in flags:
        writer.add_bool("tokenizer.ggml.normalizer.strip_accents", flags["strip_accents"])

    tensors = load_file(str(args.model_dir / "model.safetensors"))
    for hf_name in tensors:  # the file's order, as llama.cpp's converter writes them
        name = gguf_name(hf_name)
        if name is None:
            continue
        data = tensors[hf_name].astype(np.float32)
        if name == "token_embd.weight" and data.shape[0] != vocab_size:
            raise SystemExit(f"convert-bert-to-gguf: token_embd has {data.shape[0]} rows, vocab_size is {vocab_size}")
        qtype = tensor_type(name, data, args.outtype)
        if qtype == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(name, data)
        elif qtype == gguf.GGMLQuantizationType.F16:
            writer.add_tensor(name, data.astype(np.float16))
        else:
            quantized = gguf.quants.quantize(data, qtype)
            writer.add_tensor(name, quantized, raw_shape=quantized.shape, raw_dtype=qtype)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"wrote {args.output} ({len(tokens)} tokens, {args.outtype})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
