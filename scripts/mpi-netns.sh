#!/usr/bin/env bash
# Two "hosts" on one machine: network namespaces lk_a (10.77.0.1) and lk_b (10.77.0.2) joined by
# a veth pair, optionally shaped to a link rate with tc, and one rank in each under mpirun over
# TCP (Open MPI's rsh launcher reaches lk_b through `ip netns exec`, standing in for ssh). Runs
# the gradient all-reduce bench for SmolLM2 r16 and Llama-3-8B r16 (all-linear) and a short
# LoRA run whose losses must equal one process with --grad-accumulation 2. Needs root, iproute2
# and Open MPI (scripts/install-deps.sh mpi).
#
#   scripts/mpi-netns.sh [RATE ...]      e.g. scripts/mpi-netns.sh 1gbit 10gbit  (default: unshaped)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
bin="${LORIKEET_BIN:-$root/.build/release/lorikeet}"
[[ -x "$bin" ]] || { echo "build first: swift build -c release (no $bin)" >&2; exit 1; }
command -v mpirun > /dev/null || { echo "no mpirun: bash scripts/install-deps.sh mpi" >&2; exit 1; }
work="$(mktemp -d)"
cleanup() { ip netns del lk_a 2> /dev/null || true; ip netns del lk_b 2> /dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cleanup; work="$(mktemp -d)"
ip netns add lk_a
ip netns add lk_b
ip link add lk-veth-a type veth peer name lk-veth-b
ip link set lk-veth-a netns lk_a
ip link set lk-veth-b netns lk_b
ip -n lk_a addr add 10.77.0.1/24 dev lk-veth-a
ip -n lk_b addr add 10.77.0.2/24 dev lk-veth-b
for n in a b; do ip -n "lk_$n" link set lo up; ip -n "lk_$n" link set "lk-veth-$n" up; done

# The "ssh" Open MPI uses to start its daemon on the other host: a shell in that namespace.
cat > "$work/netns-rsh" <<'AGENT'
#!/bin/sh
host="$1"; shift
case "$host" in 10.77.0.1) ns=lk_a ;; 10.77.0.2) ns=lk_b ;; *) echo "unknown host $host" >&2; exit 1 ;; esac
exec ip netns exec "$ns" sh -c "$*"
AGENT
chmod +x "$work/netns-rsh"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' > "$work/hosts"
mpi=(ip netns exec lk_a mpirun --allow-run-as-root --hostfile "$work/hosts" -np 2 --bind-to none
     --mca plm_rsh_agent "$work/netns-rsh" --mca btl tcp,self
     --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24
     -x LORIKEET_THREADS=1)

shape() {  # rate or "none"
    for n in a b; do
        ip netns exec "lk_$n" tc qdisc del dev "lk-veth-$n" root 2> /dev/null || true
        [[ "$1" == none ]] || ip netns exec "lk_$n" tc qdisc add dev "lk-veth-$n" root tbf rate "$1" burst 1mb latency 400ms
    done
}

for rate in "${@:-none}"; do
    shape "$rate"
    echo "== link: $rate"
    "${mpi[@]}" "$bin" bench allreduce --floats 4884480 --rounds 3
    "${mpi[@]}" "$bin" bench allreduce --floats 41943040 --rounds 2
done
shape none

# A short LoRA run across the two namespaces equals one process accumulating two micro-batches.
model="$(bash scripts/fetch-smollm2.sh)"
args=(train --model "$model" --data examples/veloria --max-steps 4 --max-seq-length 64 --batch-size 2 --seed 5 --quiet --threads 1)
"${mpi[@]}" "$bin" "${args[@]}" --out "$work/two-hosts" > /dev/null
LORIKEET_THREADS=1 "$bin" "${args[@]}" --out "$work/one" --grad-accumulation 2 > /dev/null
losses() { grep '"kind":"train"' "$1/metrics.jsonl" | grep -o '"loss":[-0-9.e]*' | tr '\n' ' '; }
echo "losses, two namespaces: $(losses "$work/two-hosts")"
echo "losses, one process:    $(losses "$work/one")"
if [[ "$(losses "$work/two-hosts")" == "$(losses "$work/one")" ]] && cmp -s "$work/two-hosts/adapter/adapter_model.safetensors" "$work/one/adapter/adapter_model.safetensors"; then
    echo "two-namespace run: bit-identical to one process with --grad-accumulation 2"
else
    echo "two-namespace run differs from one process" >&2; exit 1
fi
