#!/usr/bin/env python3
# Checks Lorikeet's GGUF exports in llama.cpp itself (llama-cpp-python, which builds llama.cpp
# from source): a GGUF LoRA adapter loaded with `lora_path` on the Q4_1 SmolLM2 base must change
# the loss on a text as much as the adapter changes it in Lorikeet (the bases differ slightly:
# llama.cpp computes with quantized dot products, so effects are compared, not raw logits), and
# merged GGUF models (f16, q8_0, q4_k) must load and give Lorikeet's adapted loss within their
# quantization's own error. Writes scripts/results/check_llamacpp_export.json; exits non-zero on
# a failed check. Run by hand:
#   /work/venv/bin/pip install llama-cpp-python numpy
#   swift build -c release && /work/venv/bin/python scripts/check_llamacpp_export.py \
#       --adapter RUN/adapter [--adapter RUN2/adapter …]
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args):
    out = subprocess.run(list(args), check=True, capture_output=True, text=True)
    return out.stdout


def lorikeet_loss(bin, model, data, adapter=None):
    cmd = [bin, "eval", "--model", model, "--data", data, "--json"] + (["--adapter", adapter] if adapter else [])
    return json.loads(run(*cmd).strip().splitlines()[-1])


def llamacpp_loss(model, ids, lora=None):
    llm = llama_cpp.Llama(model_path=model, n_ctx=len(ids) + 8, n_batch=len(ids) + 8, n_ubatch=len(ids) + 8, logits_all=True,
                          lora_path=lora, n_threads=2, verbose=False)
    llm.eval(ids)
    logits = np.asarray(llm.scores[: len(ids)], dtype=np.float64)
    m = logits.max(axis=1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    nll = -logp[np.arange(len(ids) - 1), ids[1:]]
    llm.close()
    return float(nll.mean())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lorikeet", default=os.path.join(ROOT, ".build/release/lorikeet"))
    p.add_argument("--model", default=os.path.join(ROOT, "cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--adapter", action="append", required=True, help="a PEFT adapter trained on --model (repeatable)")
    p.add_argument("--work", default="/tmp/lorikeet-llamacpp-check")
    p.add_argument("--out", default=os.path.join(ROOT, "scripts/results/check_llamacpp_export.json"))
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)

    # The text: the example dataset's validation conversations, rendered as ChatML (SmolLM2's template).
    convs = [json.loads(l) for l in open(os.path.join(ROOT, "examples/veloria/valid.jsonl"))][:12]
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for c in convs for m in c["messages"])
    text_file = os.path.join(a.work, "text.txt")
    data_file = os.path.join(a.work, "text.jsonl")
    open(text_file, "w").write(text)
    open(data_file, "w").write(json.dumps({"text": text}) + "\n")
    ids = json.loads(run(a.lorikeet, "tokenize", "--model", a.model, "--file", text_file, "--json"))["ids"]

    base_ours = lorikeet_loss(a.lorikeet, a.model, data_file)
    if base_ours["tokens"] != len(ids) - 1:
        sys.exit(f"token count mismatch: eval scored {base_ours['tokens']}, tokenize gave {len(ids)} ids")
    base_cpp = llamacpp_loss(a.model, ids)
    result = {"versions": {"llama_cpp_python": llama_cpp.__version__, "numpy": np.__version__, "python": sys.version.split()[0]},
              "model": os.path.basename(a.model), "tokens": len(ids), "base": {"lorikeet": base_ours["loss"], "llama.cpp": base_cpp},
              "adapters": []}
    ok = True
    for i, adapter in enumerate(a.adapter):
        cfg = json.load(open(os.path.join(adapter, "adapter_config.json")))
        entry = {"adapter": adapter, "r": cfg["r"], "lora_alpha": cfg["lora_alpha"], "use_rslora": cfg.get("use_rslora", False),
                 "rank_pattern": cfg.get("rank_pattern", {}), "alpha_pattern": cfg.get("alpha_pattern", {})}
        ours = lorikeet_loss(a.lorikeet, a.model, data_file, adapter)["loss"]
        entry["lorikeet"] = ours
        for dtype in ["f32", "f16", "q8_0"]:
            gguf = os.path.join(a.work, f"adapter{i}-{dtype}.gguf")
            run(a.lorikeet, "export", "--model", a.model, "--adapter", adapter, "--format", "gguf", "--dtype", dtype, "--out", gguf)
            cpp = llamacpp_loss(a.model, ids, gguf)
            ours_back = lorikeet_loss(a.lorikeet, a.model, data_file, gguf)["loss"]
            effect_ours, effect_cpp = ours - base_ours["loss"], cpp - base_cpp
            rel = abs(effect_cpp - effect_ours) / abs(effect_ours)
            entry[f"gguf_{dtype}"] = {"llama.cpp": cpp, "lorikeet_reloaded": ours_back, "effect_lorikeet": effect_ours,
                                      "effect_llama.cpp": effect_cpp, "effect_relative_difference": rel}
            ok &= rel < 0.05
        entry["merged"] = {}
        for quant in ["f16", "q8_0", "q4_k"]:
            merged = os.path.join(a.work, f"merged{i}-{quant}.gguf")
            run(a.lorikeet, "merge", "--model", a.model, "--adapter", adapter, "--format", "gguf", "--quant", quant, "--out", merged)
            cpp = llamacpp_loss(merged, ids)
            ours_merged = lorikeet_loss(a.lorikeet, merged, data_file)["loss"]
            entry["merged"][quant] = {"llama.cpp": cpp, "lorikeet": ours_merged,
                                      "relative_to_adapter": abs(cpp - ours) / ours}
            ok &= abs(cpp - ours) / ours < {"f16": 0.01, "q8_0": 0.02, "q4_k": 0.10}[quant]
        result["adapters"].append(entry)
        print(json.dumps(entry, indent=1))
    print(f"base: lorikeet {base_ours['loss']:.5f}, llama.cpp {base_cpp:.5f}")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    json.dump(result, open(a.out, "w"), indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
