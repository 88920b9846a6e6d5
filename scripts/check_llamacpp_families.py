#!/usr/bin/env python3
# Checks Lorikeet's GGUF exports of the newer families in llama.cpp itself (llama-cpp-python
# builds it from source), where transformers' GGUF reader cannot: it ignores Phi-3's partial
# rotary, LongRoPE and window, and Gemma 2's soft-caps and attention scale.
#
# Phi-3: transformers' GGUF reader ignores Phi-3's partial rotary, LongRoPE factors and sliding
# window, so llama.cpp is the reader that tells whether our `phi3` metadata and fused tensors mean
# what llama.cpp expects. Tests' tiny_phi3 (fused attn_qkv / ffn_up, 12 of 16 values rotated,
# LongRoPE) gets a 256-token byte-level tokenizer so llama.cpp can load it, and is written by
# `lorikeet quantize --format gguf --quant f32` in two variants, each against transformers' (and
# PEFT's) logits for the same folder:
#   long:  original context 16, 40 tokens: the long factors in both (llama.cpp picks the set by
#          context size, at least 256 in llama-cpp-python; transformers by sequence length);
#   short: original context 256, max 512: the short factors in both, for 12 tokens and for the
#          PEFT phi3 fixture's adapter (qkv_proj / gate_up_proj pairs), exported by
#          `lorikeet export --format gguf` and applied by llama.cpp with lora_path.
# Both variants drop the sliding window: llama.cpp ignores Phi-3's ("Phi SWA is currently
# disabled"), so the window is checked against transformers only (Tests/LlamaTests). Folders are
# not named *phi3*: llama.cpp then expects Phi-3's special tokens in the vocabulary.
#
# Gemma 2: tests' tiny_gemma2 (attention and final-logit soft-caps 2 and 3, sliding window 8 on
# layer 0, (1 + w) norms) with query_pre_attn_scalar set to head_dim (32), the value a GGUF
# implies (llama.cpp has no key for it; Lorikeet refuses to export another), 40 tokens against
# transformers' logits for that folder.
#
# llama.cpp keeps its KV cache in f16, so logits agree to ~1e-3, not 1e-6.
# Writes scripts/results/check_llamacpp_families.json; exits non-zero on a failed check. Run by hand:
#   swift build -c release && /work/venv/bin/python scripts/check_llamacpp_families.py
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "Tests/LlamaTests/Fixtures/tiny_phi3")
GEMMA2 = os.path.join(ROOT, "Tests/LlamaTests/Fixtures/tiny_gemma2")
PEFT = os.path.join(ROOT, "Tests/FineTuningTests/Fixtures/peft/phi3")
BIN = os.path.join(ROOT, ".build/release/lorikeet")
TOLERANCE = 2e-3  # max |Δlogit| / max |logit|


def byte_level_tokenizer(folder):
    """A byte-level BPE tokenizer.json with exactly the 256 byte tokens (no merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet, key=lambda c: ord(c)))}
    assert len(vocab) == 256
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.save(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast"}, f)


def llamacpp_logits(model, ids, n_ctx, lora=None):
    llm = llama_cpp.Llama(model_path=model, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, logits_all=True,
                          lora_path=lora, n_threads=2, verbose=os.environ.get("VERBOSE") == "1")
    llm.eval(ids)
    out = np.asarray(llm.scores[: len(ids)], dtype=np.float64)
    llm.close()
    return out


def relative(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def main():
    results = {"llama_cpp_python": llama_cpp.__version__, "tolerance": TOLERANCE, "checks": []}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        import torch
        from peft import PeftModel

        from transformers import AutoModelForCausalLM

        def variant(name, source=TINY, **changes):
            folder = os.path.join(tmp, name)
            os.makedirs(folder)
            shutil.copy(os.path.join(source, "model.safetensors"), folder)
            config = json.load(open(os.path.join(source, "config.json")))
            config.update(changes)
            json.dump(config, open(os.path.join(folder, "config.json"), "w"))
            byte_level_tokenizer(folder)
            out = os.path.join(tmp, name + ".gguf")
            subprocess.run([BIN, "quantize", "--model", folder, "--format", "gguf", "--quant", "f32", "--out", out], check=True)
            hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
            return folder, out, hf

        def hf_logits(model, ids):
            with torch.no_grad():
                return model(torch.tensor([ids])).logits[0].double().numpy()

        def check(label, got, want):
            nonlocal ok
            err = relative(got, want)
            ok &= err <= TOLERANCE
            results["checks"].append({"check": label, "max_rel_diff": err})
            print(f"{label}: max relative logit difference {err:.2e}")

        meta = json.load(open(os.path.join(TINY, "reference.json")))
        short_ids, long_ids = meta["sequences"][0]["ids"], meta["sequences"][2]["ids"]
        _, long_gguf, long_hf = variant("tiny-long", sliding_window=None)
        check("long factors, 40 tokens", llamacpp_logits(long_gguf, long_ids, 48), hf_logits(long_hf, long_ids))
        short_folder, short_gguf, short_hf = variant("tiny-short", sliding_window=None, original_max_position_embeddings=256,
                                                     max_position_embeddings=512)
        check("short factors, 12 tokens", llamacpp_logits(short_gguf, short_ids, 256), hf_logits(short_hf, short_ids))

        lora = os.path.join(tmp, "lora.gguf")
        subprocess.run([BIN, "export", "--model", short_folder, "--adapter", os.path.join(PEFT, "adapter"), "--format", "gguf",
                        "--dtype", "f32", "--out", lora], check=True)
        peft = PeftModel.from_pretrained(short_hf, os.path.join(PEFT, "adapter")).eval()
        peft_meta = json.load(open(os.path.join(PEFT, "reference.json")))
        for row, ids in enumerate(peft_meta["batch"]["input_ids"]):
            check(f"PEFT adapter, row {row} ({len(ids)} tokens)", llamacpp_logits(short_gguf, ids, 256, lora=lora), hf_logits(peft, ids))

        gemma_meta = json.load(open(os.path.join(GEMMA2, "reference.json")))
        gemma_ids = gemma_meta["sequences"][1]["ids"]
        _, gemma_gguf, gemma_hf = variant("tiny-gemma2", source=GEMMA2, query_pre_attn_scalar=32)
        check(f"Gemma 2, {len(gemma_ids)} tokens (soft-caps 2 and 3, window 8)", llamacpp_logits(gemma_gguf, gemma_ids, 256),
              hf_logits(gemma_hf, gemma_ids))
    results["passed"] = bool(ok)
    os.makedirs(os.path.join(ROOT, "scripts/results"), exist_ok=True)
    with open(os.path.join(ROOT, "scripts/results/check_llamacpp_families.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print("passed" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
