#!/usr/bin/env bash
# Data-parallel speed on this machine: `bench train` as one rank with all the cores' threads
# against one rank per core with one thread each (same global batch: --batch B for one rank,
# B/2 per rank for two), interleaved for ROUNDS rounds, medians; then full fine-tuning's peak
# RSS per rank with and without --shard-optimizer-state (ZeRO-1).
#
#   scripts/bench-mpi.sh [MODEL] [ROUNDS]      (default: the SmolLM2 test GGUF, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${LORIKEET_BIN:-.build/release/lorikeet}"
model="${1:-$(bash scripts/fetch-smollm2.sh)}"
rounds="${2:-3}"
cores="$(nproc)"
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
tps() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print("%.1f %.1f %.0f" % (d["tokens_per_second"], 1000*d.get("all_reduce_seconds_per_step",0), d["peak_rss_bytes"]/2**20))'; }
one=() two=()
for r in $(seq "$rounds"); do
    a=$("${mpi[@]}" -np 1 "$bin" bench train --model "$model" --seq 256 --batch 4 --steps 3 --threads "$cores" --json | tps)
    b=$("${mpi[@]}" -np "$cores" "$bin" bench train --model "$model" --seq 256 --batch $((4 / cores)) --steps 3 --threads 1 --json | tps)
    echo "round $r: -np 1 × $cores threads: $a │ -np $cores × 1 thread: $b   (tokens/s, all-reduce ms/step, rank 0 peak MiB)"
    one+=("${a%% *}") two+=("${b%% *}")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
m1=$(median "${one[@]}") m2=$(median "${two[@]}")
echo "LoRA r16 all-linear, seq 256 × 4 per step: -np 1 × $cores threads $m1 tokens/s, -np $cores × 1 thread $m2 tokens/s (median of $rounds): ratio $(python3 -c "print('%.2f' % ($m2 / $m1))")"
for shard in "" --shard-optimizer-state; do
    echo "full fine-tuning, -np 2 ${shard:-(moments on every rank)}:"
    "${mpi[@]}" -np 2 "$bin" bench train --model "$model" --method full --seq 128 --batch 1 --steps 2 --threads 1 $shard | sed 's/^/  /'
done
