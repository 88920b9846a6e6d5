#!/usr/bin/env python3
# mlx-lm and Lorikeet adapters, both ways, on SmolLM2-135M (Linux CPU: `pip install "mlx[cpu]" mlx-lm`):
#   1. Lorikeet's `export --format mlx` adapter, loaded by mlx_lm.load(adapter_path=…), must give the
#      loss Lorikeet computes with it on a text, within 1e-4 relative (and the base loss too).
#   2. mlx_lm.lora trains a few steps and saves its adapter; Lorikeet loads that folder as --adapter
#      and must report the loss mlx-lm computes with it. That adapter, the text's ids and mlx-lm's
#      losses are committed as a test fixture (Tests/FineTuningTests/Fixtures/mlx/), checked in CI.
# The base is the Q4_1 GGUF converted to an f32 Hugging Face folder by `lorikeet quantize --format
# safetensors --quant f32` (the same weights Lorikeet computes with from the GGUF). Run by hand:
#   swift build -c release && /work/venv/bin/python scripts/check_mlx_adapters.py --adapter RUN/adapter
import argparse
import json
import os
import shutil
import subprocess
import sys

import mlx.core as mx
import mlx_lm
import numpy as np
from mlx_lm import load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "Tests/FineTuningTests/Fixtures/mlx")


def run(*args):
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def mlx_loss(folder, ids, adapter=None):
    model, _ = load(folder, adapter_path=adapter)
    logits = model(mx.array([ids]))[0].astype(mx.float32)
    logp = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    nll = -mx.take_along_axis(logp[:-1], mx.array(ids[1:])[:, None], axis=-1)
    return float(nll.mean().item())


def lorikeet_loss(bin, model, data, adapter=None):
    cmd = [bin, "eval", "--model", model, "--data", data, "--json"] + (["--adapter", adapter] if adapter else [])
    return json.loads(run(*cmd).strip().splitlines()[-1])["loss"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lorikeet", default=os.path.join(ROOT, ".build/release/lorikeet"))
    p.add_argument("--model", default=os.path.join(ROOT, "cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--adapter", required=True, help="a Lorikeet (PEFT) adapter trained on --model")
    p.add_argument("--work", default="/tmp/lorikeet-mlx-check")
    a = p.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    folder = os.path.join(a.work, "base")
    run(a.lorikeet, "quantize", "--model", a.model, "--format", "safetensors", "--quant", "f32", "--out", folder)

    convs = [json.loads(l) for l in open(os.path.join(ROOT, "examples/veloria/valid.jsonl"))][:8]
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for c in convs for m in c["messages"])
    open(os.path.join(a.work, "text.txt"), "w").write(text)
    data_file = os.path.join(a.work, "text.jsonl")
    open(data_file, "w").write(json.dumps({"text": text}) + "\n")
    ids = json.loads(run(a.lorikeet, "tokenize", "--model", a.model, "--file", os.path.join(a.work, "text.txt"), "--json"))["ids"]
    ok = True
    result = {"versions": {"mlx": mx.__version__, "mlx_lm": mlx_lm.__version__, "numpy": np.__version__,
                           "python": sys.version.split()[0]}, "tokens": len(ids)}

    # 1. Ours in mlx-lm.
    ours_mlx = os.path.join(a.work, "ours-mlx")
    run(a.lorikeet, "export", "--model", a.model, "--adapter", a.adapter, "--format", "mlx", "--out", ours_mlx)
    base_ours, base_mlx = lorikeet_loss(a.lorikeet, a.model, data_file), mlx_loss(folder, ids)
    tuned_ours, tuned_mlx = lorikeet_loss(a.lorikeet, a.model, data_file, a.adapter), mlx_loss(folder, ids, ours_mlx)
    result["lorikeet_adapter_in_mlx"] = {"base": {"lorikeet": base_ours, "mlx_lm": base_mlx},
                                          "adapted": {"lorikeet": tuned_ours, "mlx_lm": tuned_mlx}}
    for k in ["base", "adapted"]:
        r = result["lorikeet_adapter_in_mlx"][k]
        r["relative_difference"] = abs(r["lorikeet"] - r["mlx_lm"]) / r["mlx_lm"]
        ok &= r["relative_difference"] < 1e-4

    # 2. mlx-lm's in ours: a few steps of mlx_lm.lora on the example dataset, rank 4 on the last 2 layers
    # (mlx's CPU backend trains at a few tokens/s here, so few steps and one validation batch).
    mlx_data = os.path.join(a.work, "data")
    os.makedirs(mlx_data)
    for split in ["train", "valid"]:
        shutil.copy(os.path.join(ROOT, f"examples/veloria/{split}.jsonl"), os.path.join(mlx_data, f"{split}.jsonl"))
    theirs = os.path.join(a.work, "theirs")
    cfg = os.path.join(a.work, "lora.yaml")
    open(cfg, "w").write("lora_parameters:\n  rank: 4\n  scale: 10.0\n  dropout: 0.0\n")
    subprocess.run([sys.executable, "-m", "mlx_lm.lora", "--model", folder, "--train", "--data", mlx_data, "--iters", "6",
                    "--batch-size", "1", "--num-layers", "2", "--learning-rate", "2e-3", "--adapter-path", theirs, "-c", cfg,
                    "--val-batches", "1", "--steps-per-eval", "1000", "--seed", "3"], check=True, capture_output=True)
    theirs_mlx = mlx_loss(folder, ids, theirs)
    theirs_ours = lorikeet_loss(a.lorikeet, a.model, data_file, theirs)
    result["mlx_adapter_in_lorikeet"] = {"mlx_lm": theirs_mlx, "lorikeet": theirs_ours, "base_mlx_lm": base_mlx,
                                         "relative_difference": abs(theirs_ours - theirs_mlx) / theirs_mlx}
    ok &= result["mlx_adapter_in_lorikeet"]["relative_difference"] < 1e-4

    os.makedirs(FIXTURE, exist_ok=True)
    dst = os.path.join(FIXTURE, "smollm2_adapter")
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    for f in ["adapters.safetensors", "adapter_config.json"]:
        shutil.copy(os.path.join(theirs, f), os.path.join(dst, f))
    json.dump({"description": "an mlx_lm.lora adapter for SmolLM2-135M-Instruct (scripts/check_mlx_adapters.py) and the "
                              "losses mlx-lm computes on `ids` (mean next-token NLL) without and with it",
               "versions": result["versions"], "ids": ids, "base_loss": base_mlx, "adapted_loss": theirs_mlx},
              open(os.path.join(FIXTURE, "reference.json"), "w"), indent=1)
    json.dump(result, open(os.path.join(ROOT, "scripts/results/check_mlx_adapters.json"), "w"), indent=1)
    print(json.dumps(result, indent=1))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
