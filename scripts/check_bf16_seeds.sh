#!/usr/bin/env bash
# The README's fine-tune (scripts/demo.sh's settings) in f32 and in bf16 compute at several
# seeds, to set the bf16-vs-f32 gap in validation loss beside how far the seed alone moves it.
# Prints one line per run: seed, dtype, the validation loss at each evaluation, seconds.
#
#     bash scripts/check_bf16_seeds.sh [SEEDS…]      (default 0 1 2; needs a CPU with AVX512_BF16)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${LORIKEET:-.build/release/lorikeet}"
model="${MODEL:-cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
out="${OUT:-/tmp/lorikeet-bf16-seeds}"
seeds=("$@"); [ ${#seeds[@]} -gt 0 ] || seeds=(0 1 2)
mkdir -p "$out"
for seed in "${seeds[@]}"; do
    for dtype in f32 bf16; do
        run="$out/seed$seed-$dtype"
        rm -rf "$run"
        start=$(date +%s)
        "$bin" train --model "$model" --data examples/veloria --out "$run" --quiet \
            --method lora --rank 16 --alpha 32 --targets all-linear --learning-rate 1e-3 \
            --epochs 2 --batch-size 8 --warmup 5 --eval-every 25 --seed "$seed" --compute-dtype "$dtype"
        seconds=$(( $(date +%s) - start ))
        echo "seed $seed $dtype: validation loss $(python3 - "$run" <<'PY'
import json, sys, pathlib
rows = [json.loads(l) for l in pathlib.Path(sys.argv[1], "metrics.jsonl").read_text().splitlines() if l.strip()]
print(" ".join(f"{r['step']}:{r['loss']:.4f}" for r in rows if r.get("kind") == "valid"))
PY
) (${seconds} s)"
    done
done
