#!/usr/bin/env bash
# Lorikeet beside its peers on this machine, interleaved (ours, then each peer, in every
# round: the machine's speed drifts between runs), ROUNDS rounds, medians, written as a
# Markdown table with the machine's details to docs/performance.md (OUT_MD) and printed.
#
#   scripts/compare.sh
#
# Figures:
#   generate  `lorikeet bench generate` (8-bit activations, the default; and --exact-decode)
#             against llama.cpp (scripts/bench_llamacpp.py through llama-cpp-python), on the
#             SmolLM2-135M Q4_1 GGUF and Gemma-3-270M Q4_K_M: prompt and generation tokens/s; and
#             ours alone on an NF4 folder of SmolLM2 (made with `lorikeet quantize`).
#   train     `lorikeet bench train` LoRA r16 all-linear and full fine-tuning, seq 256 × 4,
#             STEPS steps, with the sgemm rate it measures in the same run (the ceiling),
#             against PyTorch+PEFT (scripts/bench_peft.py) when the venv has torch and peft.
#
#             Where the CPU has AVX512_BF16, also both with bf16 compute: ours --compute-dtype bf16
#             against PyTorch under torch.autocast bf16 (bench_peft.py --bf16).
#
# Environment: ROUNDS (3), STEPS (10), THREADS (every core), VENV (a Python venv with llama-cpp-python;
# default /work/venv, else python3), LORIKEET (a built lorikeet; default: a release build in
# .build-bench), SKIP ("generate", "train", "gemma", "nf4", "peft", "bf16" to leave out), OUT (raw JSON folder),
# OUT_MD (docs/performance.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
rounds="${ROUNDS:-3}"
threads="${THREADS:-$(nproc 2>/dev/null || sysctl -n hw.ncpu)}"
skip="${SKIP:-}"
steps="${STEPS:-10}"
out="${OUT:-$(mktemp -d)}"
md="${OUT_MD:-$root/docs/performance.md}"
mkdir -p "$out" "$(dirname "$md")"

if [ -n "${LORIKEET:-}" ]; then
    bin="$LORIKEET"
else
    swift build -c release --scratch-path .build-bench --product lorikeet >&2
    bin="$root/.build-bench/release/lorikeet"
fi
venv="${VENV:-/work/venv}"
py=python3
if [ -x "$venv/bin/python" ]; then py="$venv/bin/python"; fi
has() { "$py" -c "import $1" 2>/dev/null; }

smollm="$(bash scripts/fetch-smollm2.sh)"
models=("smollm2=$smollm")
if [[ "$skip" != *gemma* ]]; then models+=("gemma3=$(bash scripts/fetch-gemma3.sh)"); fi
llamacpp=0; if [[ "$skip" != *generate* ]] && has llama_cpp; then llamacpp=1; fi
peft=0; if [[ "$skip" != *train* && "$skip" != *peft* ]] && has torch && has peft && has transformers; then peft=1; fi
if [[ "$skip" != *generate* ]] && [ "$llamacpp" = 0 ]; then
    echo "note: $py has no llama_cpp (pip install llama-cpp-python): llama.cpp left out" >&2
fi

# bf16 compute (ours --compute-dtype bf16, PyTorch under torch.autocast bf16) where the CPU has it.
variants=(lora full)
if grep -q avx512_bf16 /proc/cpuinfo 2>/dev/null && [[ "$skip" != *bf16* ]]; then variants+=(lora-bf16 full-bf16); fi

# A bitsandbytes NF4 folder of the same model (bf16 embeddings and head), for decoding on 4-bit
# codes: ours only (llama.cpp reads no NF4), f32 activations (the widened model's numbers).
nf4=""
if [[ "$skip" != *generate* && "$skip" != *nf4* ]]; then
    nf4="$out/smollm2-nf4"
    rm -rf "$nf4"
    "$bin" quantize --model "$smollm" --out "$nf4" --quant nf4 --dtype bf16 > /dev/null
fi

for round in $(seq 1 "$rounds"); do
    echo "round $round/$rounds" >&2
    if [[ "$skip" != *generate* ]]; then
        for entry in "${models[@]}"; do
            name="${entry%%=*}" path="${entry#*=}"
            "$bin" bench generate --threads "$threads" --model "$path" --json > "$out/gen-ours-$name.$round.json"
            "$bin" bench generate --threads "$threads" --model "$path" --exact-decode --json > "$out/gen-exact-$name.$round.json"
            if [ "$llamacpp" = 1 ]; then
                "$py" scripts/bench_llamacpp.py --threads "$threads" --model "$path" > "$out/gen-llamacpp-$name.$round.json"
            fi
        done
        if [ -n "$nf4" ]; then
            "$bin" bench generate --threads "$threads" --model "$nf4" --json > "$out/gen-ours-smollm2-nf4.$round.json"
        fi
    fi
    if [[ "$skip" != *train* ]]; then
        for variant in "${variants[@]}"; do
            method="${variant%-bf16}" ours_dtype=() peer_dtype=()
            if [ "$method" != "$variant" ]; then ours_dtype=(--compute-dtype bf16) peer_dtype=(--bf16); fi
            "$bin" bench train --threads "$threads" --model "$smollm" --method "$method" --steps "$steps" "${ours_dtype[@]}" --json \
                > "$out/train-ours-$variant.$round.json"
            if [ "$peft" = 1 ]; then
                "$py" scripts/bench_peft.py --threads "$threads" --model "$smollm" --method "$method" --steps "$steps" "${peer_dtype[@]}" \
                    > "$out/train-peft-$variant.$round.json"
            fi
        done
    fi
done

"$py" - "$out" "$rounds" "$md" "$bin" <<'PY'
import glob, json, os, platform, statistics, subprocess, sys, datetime
out, rounds, md, binary = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def runs(stem):
    values = []
    for r in range(1, rounds + 1):
        p = os.path.join(out, f"{stem}.{r}.json")
        if os.path.exists(p) and os.path.getsize(p) > 0:
            with open(p) as f:
                values.append(json.load(f))
    return values

def med(values):
    return statistics.median(values) if values else None

def fmt(v, digits=1):
    return "—" if v is None else f"{v:,.{digits}f}"

def times(ratio):
    return "—" if ratio is None else f"{ratio:,.2f}×"

def spread(values):
    return "" if len(values) < 2 else f" ({min(values):,.0f}–{max(values):,.0f})"

def cpu():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        name = next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("model name"))
        flags = set(next(l.split(":", 1)[1].split() for l in text.splitlines() if l.startswith("flags")))
        wanted = ["avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16"]
        return name, " ".join(f for f in wanted if f in flags)
    except (OSError, StopIteration):
        return platform.processor() or platform.machine(), ""

name, flags = cpu()
version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
lines = [
    "# Performance",
    "",
    "Written by `scripts/compare.sh` (do not edit by hand): Lorikeet and its peers run interleaved on",
    f"one machine, {rounds} round(s), each figure the median (the range in brackets).",
    "",
    f"- Machine: {name}, {os.cpu_count()} cores ({flags}); {platform.system()} {platform.release()}",
    f"- Date: {datetime.date.today().isoformat()}; lorikeet {version}",
]
try:
    import llama_cpp
    lines.append(f"- llama.cpp: llama-cpp-python {llama_cpp.__version__}")
except ImportError:
    pass
lines.append("")

gen_rows = []
for model in ("smollm2", "gemma3", "smollm2-nf4"):
    ours, exact, peer = runs(f"gen-ours-{model}"), runs(f"gen-exact-{model}"), runs(f"gen-llamacpp-{model}")
    if not ours:
        continue
    label = {"smollm2": "SmolLM2-135M Q4_1", "gemma3": "Gemma-3-270M Q4_K_M",
             "smollm2-nf4": "SmolLM2-135M NF4 folder, bf16 head"}[model]
    for key, what in (("generation_tokens_per_second", "generation"), ("prompt_tokens_per_second", "prompt")):
        o = [r[key] for r in ours]; e = [r[key] for r in exact]; p = [r[key] for r in peer]
        ratio = None if not p else med(o) / med(p)
        gen_rows.append(f"| {label} | {what} | {fmt(med(o))}{spread(o)} | {fmt(med(e))}{spread(e)} | "
                        f"{fmt(med(p))}{spread(p)} | {times(ratio)} |")
if gen_rows:
    prompt = runs("gen-ours-smollm2")[0]
    lines += [
        f"## Generation (prompt {prompt['prompt_tokens']} tokens, then {prompt['generated_tokens']} greedy tokens; "
        f"{prompt['threads']} threads; tokens/s)",
        "",
        "`lorikeet bench generate` against `scripts/bench_llamacpp.py`, which times llama.cpp the same way.",
        "Ours: 8-bit activations and integer dot products on the GGUF's blocks (the default);",
        "exact: `--exact-decode`, f32 activations on the same blocks. The NF4 folder (`lorikeet quantize",
        "--quant nf4 --dtype bf16` of the same model) decodes on its 4-bit codes with f32 activations",
        "(the widened model's numbers); llama.cpp reads no NF4.",
        "",
        "| model | phase | Lorikeet | Lorikeet exact | llama.cpp | Lorikeet / llama.cpp |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ] + gen_rows + [""]

train_rows = []
sgemm, bf16_gemm = [], []
labels = {"lora": "LoRA r16 all-linear", "full": "full fine-tuning",
          "lora-bf16": "LoRA r16 all-linear, bf16 compute", "full-bf16": "full fine-tuning, bf16 compute"}
for method in ("lora", "full", "lora-bf16", "full-bf16"):
    ours = runs(f"train-ours-{method}")
    if not ours:
        continue
    sgemm += [r["sgemm_gflops"] for r in ours]
    if method.endswith("bf16"):
        bf16_gemm += [r["ceiling_gflops"] for r in ours]
    peer = runs(f"train-peft-{method}")
    tps = [r["tokens_per_second"] for r in ours]
    gflops = [r["flops_per_token"] * r["tokens_per_second"] / 1e9 for r in ours]
    share = med([r["mfu"] * 100 for r in ours])
    cv = [r["step_seconds_cv"] for r in ours]
    p = [r["tokens_per_second"] for r in peer]
    train_rows.append(f"| {labels[method]} | {fmt(med(tps))}{spread(tps)} | "
                      f"{fmt(med(gflops))} | {fmt(share, 0)} % | {fmt(med(cv) * 100, 1)} % | "
                      f"{fmt(med(p))}{spread(p)} | {times(None if not p else med(tps) / med(p))} |")
if train_rows:
    lines += [
        "## Training (SmolLM2-135M, seq 256 × batch 4; tokens/s)",
        "",
        f"`lorikeet bench train` (the first step left out) beside the sgemm rate it measures in the same run",
        f"({fmt(med(sgemm))} GFLOP/s, median): the share of that ceiling the step reaches, and the spread of its step times",
        "(coefficient of variation). PyTorch+PEFT: `scripts/bench_peft.py`, the same shapes."]
    if bf16_gemm:
        lines += [
            f"bf16 compute: ours with `--compute-dtype bf16`, its share against our bf16 product's measured rate",
            f"({fmt(med(bf16_gemm))} GFLOP/s, median); PyTorch under `torch.autocast(\"cpu\", dtype=torch.bfloat16)` (`--bf16`)."]
    lines += [
        "",
        "| method | Lorikeet | GFLOP/s | of ceiling | step CV | PyTorch+PEFT | Lorikeet / PEFT |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ] + train_rows + [""]

text = "\n".join(lines) + "\n"
with open(md, "w") as f:
    f.write(text)
print(text)
PY
