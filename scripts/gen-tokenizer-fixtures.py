#!/usr/bin/env python3
"""Generate the tokenizer golden fixtures from llama.cpp's `llama-tokenize`.

Writes, under Tests/TokenizersTests/Fixtures/:
  tokenizer-strings.json          the test strings (deterministic; rebuilt with --rebuild-strings)
  tokenizer-expected-NAME.json    for each model, the ids llama-tokenize produces for every string

llama-tokenize is run once per string (tokenization is not compositional, so strings cannot be
batched with a separator), reading the string verbatim from a file (`-f FILE --no-escape`), with
the model's own BOS behaviour (it passes add_special = the model's add_bos_token) and with
special-token parsing on; strings that contain '<' or '[' are also tokenized with
`--no-parse-special`.

Usage:
  scripts/gen-tokenizer-fixtures.py --llama-tokenize /path/to/llama-tokenize \\
      [--model smollm2:135m=/path/to/model.gguf ...] [--label "llama.cpp b1234"] [--jobs 2]

Models default to $HEARTH_TEST_HOME/models/NAME.gguf for the catalog names
smollm2:135m, gemma3:270m and qwen2.5-coder:0.5b.
"""

import argparse
import concurrent.futures
import json
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
STRINGS_FILE = os.path.join(FIXTURES, "tokenizer-strings.json")
DEFAULT_MODELS = ["smollm2:135m", "gemma3:270m", "qwen2.5-coder:0.5b"]

HANDWRITTEN = [
    # prose
    "Hello world", " Hello world", "Hello World!", "The quick brown fox jumps over the lazy dog.",
    "It's a dog's life, isn't it? We'll see. They've gone, I'd say, and you're late.",
    "IT'S LOUD. WE'LL SHOUT! THEY'VE GONE, I'D SAY, YOU'RE LATE.", "don't DON'T Don'T",
    "\"Quoted,\" she said - 'single' and `backticks` ... ellipsis... !!! ??? ?!",
    "Mr. Smith paid $1,234.56 on 2024-01-15 at 10:30am (UTC+2).",
    "e-mail: someone@example.com, https://example.org/path?q=1&x=y#frag",
    # whitespace
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\r\n", " \n", "\n ", "a  b", "a   b", "a\tb", "a\n\nb",
    "  leading", "trailing  ", "    indented line\n        more indented\n", "\t\tx = 1\n\t\ty = 2",
    " " * 40, "\n" * 17, "x" + " " * 33 + "y", "\u00a0nbsp\u00a0", "ideographic\u3000space", "line\u2028sep",
    # numbers
    "0", "7", "42", "123", "1234", "12345", "1234567890", "3.14159265358979", "1,000,000", "-17", "1e-9",
    "٠١٢٣٤٥٦٧٨٩", "²³¹ ½ ¾", "Ⅻ ⅷ", "０１２３", "123abc456", "abc123def",
    # code
    "def add(a, b):\n    return a + b\n",
    "func greet(_ name: String) -> String {\n    return \"Hello, \\(name)!\"\n}\n",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "<div class=\"main\"><p>Hello &amp; welcome</p></div>",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "x = [i**2 for i in range(10) if i % 2 == 0]",
    "    if (x != y && z <= 3) {\n        return;\n    }\n",
    "$ ls -la | grep '^d' > out.txt 2>&1",
    "// TODO: fix this\n/* block */\n# comment\n-- sql comment",
    "a->b::c<T>::d(), x ||= y; z ??= w; p => q",
    # scripts
    "中文字符测试", "你好，世界！", "日本語のテキスト、カタカナとひらがな。", "한국어 텍스트입니다.",
    "Ελληνικά γράμματα", "Русский текст, ёжик.", "مرحبا بالعالم", "שלום עולם",
    "English then العربية then English", "עברית and English mixed", "हिन्दी भाषा", "ภาษาไทย", "Tiếng Việt có dấu",
    "Äpfel Öl Übermut straße", "café naïve résumé", "cafe\u0301 nai\u0308ve",
    # emoji
    "😀", "👍🏽", "🇺🇸🇯🇵", "👨‍👩‍👧‍👦", "I ❤️ Swift 🚀🔥", "😀😀😀😀😀", "🧑🏿‍💻 codes",
    # controls and invisibles
    "zero\u200bwidth", "joiner\u200dhere", "\ufeffBOM", "soft\u00adhyphen", "ctrl\u0001\u001f\u007f",
    "nul\u0000byte", "tab\x0bvt\x0cff", "private\ue000use",
    # special-token text
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|>", "<|im_end|>",
    "text<|im_end|>more", "<|im_start|>", "<|im_sta", "<| im_start |>", "<<|im_start|>>",
    "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", "<bos>", "<eos>", "<pad>", "<unk>",
    "<s>", "</s>", "<s> </s>", "<mask>", "<start_of_image>", "<unused0>", "<unused99>", "[multimodal]",
    "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>", "<|repo_name|>x<|file_sep|>y", "<|fim_pad|>",
    "<tool_call>{}</tool_call>", "<think>hmm</think>", "<0x41>", "<0x0A>", "▁▁", "ĠĊ", "[INST] hi [/INST]",
]

POOLS = [
    "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " ", "  ", "\n", "\t",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "'s'S'll'LL're've'd'm't", "éèàùçÄÖÜßñ", "αβγδεζηθ", "абвгдежз",
    "中文字符测试汉字你好世界", "日本語のテキストカタカナ", "한국어텍스트", "مرحبا بالعالم", "שלום עולם", "😀🎉👍🏽🚀",
    "\u00a0\u2000\u3000\u0085", "\u0301\u0308\u064b", "²³½٣٤০", "…—–“”‘’«»。、", "ｈｅｌｌｏ！１２",
]
SPECIAL_SNIPPETS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<start_of_turn>", "<end_of_turn>", "<bos>",
                    "<eos>", "<s>", "</s>", "<|fim_prefix|>", "<pad>"]


def build_strings():
    rng = random.Random(20240601)
    strings = list(HANDWRITTEN)
    for _ in range(170):
        parts = []
        for _ in range(rng.randint(1, 25)):
            r = rng.random()
            if r < 0.06:
                parts.append(rng.choice(SPECIAL_SNIPPETS))
            elif r < 0.1:
                parts.append(" " * rng.randint(2, 12))
            elif r < 0.14:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 10))))
            else:
                pool = rng.choice(POOLS)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
        strings.append("".join(parts))
    return strings


def tokenize(llama_tokenize, model, text, parse_special):
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as handle:
        handle.write(text.encode("utf-8"))
        path = handle.name
    try:
        command = [llama_tokenize, "-m", model, "--ids", "--log-disable", "--no-escape", "-f", path]
        if not parse_special:
            command.append("--no-parse-special")
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    finally:
        os.unlink(path)
    line = [line for line in result.stdout.splitlines() if line.startswith("[")][-1]
    return json.loads(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-tokenize", required=True)
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH (repeatable)")
    parser.add_argument("--label", default="", help="llama.cpp version label stored in the fixtures")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rebuild-strings", action="store_true")
    args = parser.parse_args()

    os.makedirs(FIXTURES, exist_ok=True)
    if args.rebuild_strings or not os.path.exists(STRINGS_FILE):
        with open(STRINGS_FILE, "w", encoding="utf-8") as handle:
            json.dump(build_strings(), handle, ensure_ascii=False, indent=0)
            handle.write("\n")
    with open(STRINGS_FILE, encoding="utf-8") as handle:
        strings = json.load(handle)

    models = dict(entry.split("=", 1) for entry in args.model)
    if not models:
        home = os.environ.get("HEARTH_TEST_HOME") or os.path.expanduser("~/.hearth")
        models = {name: os.path.join(home, "models", name + ".gguf") for name in DEFAULT_MODELS}

    for name, path in models.items():
        if not os.path.exists(path):
            sys.exit(f"model {name} not found at {path}")
        jobs = [(index, parse) for index, text in enumerate(strings)
                for parse in ([True, False] if ("<" in text or "[" in text) else [True])]
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(lambda job: tokenize(args.llama_tokenize, path, strings[job[0]], job[1]), jobs))
        cases = [{"string": index, "parse_special": parse, "ids": ids} for (index, parse), ids in zip(jobs, results)]
        out = os.path.join(FIXTURES, f"tokenizer-expected-{name.replace(':', '-')}.json")
        with open(out, "w", encoding="utf-8") as handle:
            json.dump({"model": name, "generator": "llama-tokenize", "llama_cpp": args.label,
                       "add_special": "the model's add_bos_token", "cases": cases}, handle)
            handle.write("\n")
        print(f"{name}: {len(cases)} cases -> {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    main()
