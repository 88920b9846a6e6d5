#!/usr/bin/env bash
# Compares lorikeet binaries on this machine: `bench kernels`, `bench train` (LoRA and
# QLoRA) and `bench generate`, the binaries interleaved in each round (the machine's speed
# drifts between runs), then prints the median of the rounds per figure as a Markdown table.
#
#   scripts/bench-compare.sh OLD_BIN NEW_BIN [MORE_BINS...]
#
# Environment: ROUNDS (3), MODEL (the SmolLM2 GGUF from scripts/fetch-smollm2.sh), STEPS (3),
# SECONDS_PER_KERNEL (0.3), THREADS (passed as --threads; default: every core), SKIP
# ("kernels", "train" and/or "generate" to leave out), OUT (a folder for the raw JSON; a
# temporary one by default). On a shared machine THREADS=1 is the steadier comparison.
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 OLD_BIN NEW_BIN [MORE_BINS...]" >&2
    exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${ROUNDS:-3}"
steps="${STEPS:-3}"
seconds="${SECONDS_PER_KERNEL:-0.3}"
skip="${SKIP:-}"
threads=()
if [ -n "${THREADS:-}" ]; then threads=(--threads "$THREADS"); fi
model="${MODEL:-$root/cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
if [[ "$skip" != *train* || "$skip" != *generate* ]] && [ ! -s "$model" ]; then
    model="$(bash "$root/scripts/fetch-smollm2.sh")"
fi
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
bins=("$@")
for b in "${bins[@]}"; do [ -x "$b" ] || { echo "not an executable: $b" >&2; exit 2; }; done

for round in $(seq 1 "$rounds"); do
    for i in "${!bins[@]}"; do
        bin="${bins[$i]}"
        echo "round $round/$rounds, binary $i: $bin" >&2
        if [[ "$skip" != *kernels* ]]; then
            "$bin" bench kernels ${threads[@]+"${threads[@]}"} --seconds "$seconds" --json > "$out/kernels.$i.$round.json"
        fi
        if [[ "$skip" != *train* ]]; then
            for method in lora qlora; do
                "$bin" bench train ${threads[@]+"${threads[@]}"} --model "$model" --method "$method" --steps "$steps" --json > "$out/train-$method.$i.$round.json"
            done
        fi
        if [[ "$skip" != *generate* ]]; then
            "$bin" bench generate ${threads[@]+"${threads[@]}"} --model "$model" --json > "$out/generate.$i.$round.json"
        fi
    done
done

python3 - "$out" "$rounds" "${bins[@]}" <<'PY'
import json, os, statistics, sys
out, rounds, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def load(name, i):
    runs = []
    for r in range(1, rounds + 1):
        p = os.path.join(out, f"{name}.{i}.{r}.json")
        if os.path.exists(p):
            with open(p) as f:
                runs.append(json.load(f))
    return runs
rows = {}   # (figure, unit) -> [median per binary]
order = []
def put(key, i, values):
    if key not in rows:
        rows[key] = [None] * len(bins)
        order.append(key)
    if values:
        rows[key][i] = statistics.median(values)
for i in range(len(bins)):
    runs = load("kernels", i)
    if runs:
        for k, row in enumerate(runs[0]):
            label = f"{row['kernel']} {row['shape']}"
            put((label, row["unit"]), i, [run[k]["ours"] for run in runs if k < len(run) and run[k]["kernel"] == row["kernel"]])
    for method in ("lora", "qlora"):
        runs = load(f"train-{method}", i)
        if runs:
            put((f"bench train {method}", "tokens/s"), i, [r["tokens_per_second"] for r in runs])
    runs = load("generate", i)
    if runs:
        put(("bench generate prompt", "tokens/s"), i, [r["prompt_tokens_per_second"] for r in runs])
        put(("bench generate", "tokens/s"), i, [r["generation_tokens_per_second"] for r in runs])
print(f"medians of {rounds} interleaved rounds; binaries:")
for i, b in enumerate(bins):
    print(f"  [{i}] {b}")
head = "| figure | unit | " + " | ".join(f"[{i}]" for i in range(len(bins))) + " | " + " | ".join(f"[{i}]/[0]" for i in range(1, len(bins))) + " |"
print(head)
print("|" + "---|" * (2 + 2 * len(bins) - 1))
for key in order:
    vals = rows[key]
    cells = ["-" if v is None else f"{v:.1f}" for v in vals]
    ratios = ["-" if (v is None or vals[0] in (None, 0)) else f"{v / vals[0]:.2f}" for v in vals[1:]]
    print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
print(f"raw JSON: {out}", file=sys.stderr)
PY
