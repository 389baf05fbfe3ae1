#!/usr/bin/env bash
# Regenerates Tests/EngineTests/Fixtures/perplexity/reference.json: llama-perplexity's final
# estimate (ctx 512) for each catalog model on each text in that folder, and with a Q8_0 KV cache
# (`-ctk q8_0 -ctv q8_0`) for two of them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
llama_build="${LLAMA_BUILD:-/work/llamacpp/build}"
models="${HEARTH_TEST_HOME:-$HOME/.cache/hearth-test}/models"
dir="$repo/Tests/EngineTests/Fixtures/perplexity"
{
    echo "{"
    first=1
    for model in smollm2:135m gemma3:270m qwen2.5-coder:0.5b qwen2.5-coder:1.5b; do
        for text in prose code; do
            ppl=$("$llama_build/bin/llama-perplexity" -m "$models/$model.gguf" -f "$dir/$text.txt" -c 512 -b 512 -t 2 2>&1 \
                | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
            [ -n "$ppl" ] || { echo "no estimate for $model $text" >&2; exit 1; }
            [ $first = 1 ] || echo ","
            first=0
            printf '  "%s/%s": %s' "$model" "$text" "$ppl"
        done
    done
    # With a Q8_0 KV cache (hearth's --cache-type q8_0), for two of the models.
    for model in smollm2:135m qwen2.5-coder:0.5b; do
        for text in prose code; do
            ppl=$("$llama_build/bin/llama-perplexity" -m "$models/$model.gguf" -f "$dir/$text.txt" -c 512 -b 512 -t 2 \
                -ctk q8_0 -ctv q8_0 -fa on 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
            [ -n "$ppl" ] || { echo "no estimate for $model $text (q8_0 cache)" >&2; exit 1; }
            printf ',\n  "%s/%s/q8_0": %s' "$model" "$text" "$ppl"
        done
    done
    echo
    echo "}"
} > "$dir/reference.json"
cat "$dir/reference.json"
