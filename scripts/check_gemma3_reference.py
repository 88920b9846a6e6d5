#!/usr/bin/env python3
"""Reference numbers for Gemma-3-270M (Q4_K_M GGUF) from Hugging Face transformers.

transformers loads cache/gemma3/gemma-3-270m-q4_k_m.gguf (scripts/fetch-gemma3.sh fetches it),
dequantizes every tensor to float32 and subtracts 1 from every norm weight (llama.cpp stores
Gemma norms as 1 + w). For each text: the token ids of the tokenizer transformers builds from
the GGUF metadata (BOS added), per-position next-token cross-entropy, its mean, and the
last position's top-5 logits; for the chat prompt (Gemma's turn format; this GGUF has no
template) and a plain completion prompt, 20 greedy tokens. Lorikeet's
Tests/LlamaTests/GemmaGGUFTests.swift compares with the JSON this writes:

    Tests/LlamaTests/Fixtures/gemma3_reference.json

Run (needs torch, transformers, gguf; no network): /work/venv/bin/python scripts/check_gemma3_reference.py
"""

import hashlib
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
GGUF = ROOT / "cache" / "gemma3" / "gemma-3-270m-q4_k_m.gguf"
OUT = ROOT / "Tests" / "LlamaTests" / "Fixtures" / "gemma3_reference.json"

TEXTS = [
    ("plain", "The quick brown fox jumps over the lazy dog near the river bank."),
    ("long", "Lorikeets are small to medium-sized arboreal parrots found across Australia, New Guinea and the "
     "islands of the south-western Pacific. Unlike most parrots, which crack seeds, lorikeets feed mainly on "
     "nectar and soft fruits, and their tongues end in a brush of fine papillae that gathers pollen and nectar "
     "from flowers. Their plumage is famously bright: the rainbow lorikeet, for example, has a blue head, an "
     "orange and yellow breast, green wings and a red beak."),
]
CHAT = "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n"
COMPLETION = "The capital of France is"


def main() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, __version__ as tv

    if not GGUF.is_file():
        sys.exit(f"missing {GGUF}: run scripts/fetch-gemma3.sh first")
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    folder, name = str(GGUF.parent), GGUF.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    out = {
        "description": "Gemma-3-270M Q4_K_M GGUF run by transformers in float32. See scripts/check_gemma3_reference.py.",
        "versions": {"torch": torch.__version__, "transformers": tv},
        "gguf_file": name,
        "gguf_sha256": hashlib.sha256(GGUF.read_bytes()).hexdigest(),
        "loss_convention": "token_loss[t] = -log softmax(logits[t])[ids[t+1]]; mean_loss = mean(token_loss)",
        "texts": [],
        "greedy": [],
    }
    with torch.no_grad():
        for kind, text in TEXTS:
            ids = tok(text)["input_ids"]
            x = torch.tensor([ids])
            logits = model(x).logits[0].float()
            logp = torch.log_softmax(logits[:-1].double(), -1)
            tl = -logp.gather(1, x[0, 1:, None]).squeeze(1)
            top = torch.topk(logits[-1], 5)
            out["texts"].append({"kind": kind, "text": text, "ids": ids, "mean_loss": float(tl.mean()),
                                 "token_loss": [float(v) for v in tl],
                                 "last_top5_ids": top.indices.tolist(), "last_top5_logits": [float(v) for v in top.values]})
            print(f"{kind}: {len(ids)} tokens, mean loss {float(tl.mean()):.6f}")
        for kind, text in (("chat", CHAT), ("completion", COMPLETION)):
            ids = tok(text, return_tensors="pt")["input_ids"]
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=20, do_sample=False,
                                 num_beams=1)[0, ids.shape[1]:]
            out["greedy"].append({"kind": kind, "prompt": text, "prompt_ids": ids[0].tolist(), "max_new_tokens": 20,
                                  "ids": gen.tolist(), "text": tok.decode(gen)})
            print(f"{kind}: {tok.decode(gen)!r}")
    OUT.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
