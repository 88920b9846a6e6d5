#!/usr/bin/env bash
# How often a run opens the model's files: `strace -e openat` over `lorikeet train` (LoRA and
# QLoRA, one step) and `lorikeet merge`, for the SmolLM2 GGUF and for a Hugging Face folder made
# from it. Each model file should appear once per command.
#     bash scripts/count-opens.sh [LORIKEET_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v strace > /dev/null || { echo "installing strace …" >&2; apt-get install -y -qq strace > /dev/null; }
bin="${1:-$(swift build -c release --show-bin-path)/lorikeet}"
gguf="$(bash scripts/fetch-smollm2.sh)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" train --model "$gguf" --data examples/veloria --out "$work/seed" --max-steps 1 --batch-size 2 --rank 2 --quiet > /dev/null
"$bin" merge --model "$gguf" --adapter "$work/seed/adapter" --out "$work/folder" > /dev/null
count() {  # count LABEL COMMAND… — the input files COMMAND opened (its outputs left out)
    local label="$1"; shift
    strace -f -e trace=openat -o "$work/trace" "$@" > /dev/null 2>&1
    echo "== $label"
    grep -v ENOENT "$work/trace" | grep -oE '"[^"]*(config\.json|\.gguf|\.safetensors|tokenizer[^"]*\.json)"' \
        | grep -v -e "$work/run" -e "$work/\.out" -e "$work/out" | sed "s#$work/##" | sort | uniq -c || true
    rm -rf "$work/run" "$work/out"
}
for model in "$gguf" "$work/folder"; do
    for method in lora qlora; do
        count "train --method $method on $(basename "$model")" "$bin" train --model "$model" --method "$method" --data examples/veloria --out "$work/run" --max-steps 1 --batch-size 2 --rank 2 --quiet
    done
    count "merge on $(basename "$model")" "$bin" merge --model "$model" --adapter "$work/seed/adapter" --out "$work/out"
done
