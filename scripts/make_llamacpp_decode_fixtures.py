#!/usr/bin/env python3
"""What llama.cpp computes when it decodes the test models from their GGUF blocks (activations
rounded to 8 bits, integer dot products): the logits after each prompt and the greedy
continuation, for the prompts of the transformers fixtures. Lorikeet's default generation
uses the same arithmetic, so its tokens should be llama.cpp's (DecodeOnBlocksTests).

    /work/venv/bin/python scripts/make_llamacpp_decode_fixtures.py   # llama-cpp-python, 2 threads

Writes Tests/LlamaTests/Fixtures/llamacpp_decode.json.
"""
import json
import os

import llama_cpp
import numpy as np
from llama_cpp import Llama

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests/LlamaTests/Fixtures")
MODELS = {
    "smollm2": ("cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2_reference.json"),
    "gemma3": ("cache/gemma3/gemma-3-270m-q4_k_m.gguf", "gemma3_reference.json"),
}
NEW_TOKENS = 20


def last_logits(llm):
    """The logits of the last token evaluated (llama-cpp-python's `scores` stays empty
    unless logits_all is set)."""
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),)).copy()

out = {"description": __doc__.strip().splitlines()[0], "llama_cpp_python": llama_cpp.__version__, "models": {}}
for name, (gguf, reference) in MODELS.items():
    with open(os.path.join(FIX, reference)) as f:
        meta = json.load(f)
    # SmolLM2's fixture lists prompts; Gemma's lists texts and the greedy chat prompt.
    prompts = meta.get("prompts") or [{"index": i, "ids": t["ids"]} for i, t in enumerate(meta["texts"])] + \
        [{"index": len(meta["texts"]) + i, "ids": g["prompt_ids"]} for i, g in enumerate(meta["greedy"])]
    llm = Llama(model_path=os.path.join(ROOT, gguf), n_ctx=512, n_threads=2, logits_all=False, verbose=False)
    cases = []
    for p in prompts:
        ids = p["ids"]
        llm.reset()
        llm.eval(ids)
        first = last_logits(llm)
        greedy = []
        logits = first
        for _ in range(NEW_TOKENS):
            t = int(np.argmax(logits))
            greedy.append(t)
            if t == llm.token_eos():
                break
            llm.eval([t])
            logits = last_logits(llm)
        top = np.argsort(-first)[:10]
        cases.append({"index": p["index"], "ids": ids, "greedy": greedy,
                      "last_logits_top10": [[int(i), float(first[i])] for i in top],
                      "last_logits_max_abs": float(np.abs(first).max()),
                      })
    out["models"][name] = {"gguf": os.path.basename(gguf), "prompts": cases}
path = os.path.join(FIX, "llamacpp_decode.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path, os.path.getsize(path), "bytes")
