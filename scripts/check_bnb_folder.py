#!/usr/bin/env python3
"""By-hand check that a folder written by `lorikeet quantize` (or `merge --requantize`) loads in
transformers + bitsandbytes as a 4-bit model, and what it computes.

Prints: which linears bitsandbytes holds as Linear4bit (quant type, blocksize, double quant),
the mean next-token loss on a fixed text, and the greedy chat answer, so both can be compared
with `lorikeet eval` / `lorikeet generate --chat` on the same folder.

    /work/venv-bnb/bin/python scripts/check_bnb_folder.py /tmp/smol-nf4 "What is the capital of France?"
"""
import sys

import bitsandbytes as bnb
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

folder, question = sys.argv[1], sys.argv[2]
torch.set_num_threads(2)
tok = AutoTokenizer.from_pretrained(folder)
model = AutoModelForCausalLM.from_pretrained(folder, device_map="cpu", dtype=torch.float32)
four = [(n, m) for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)]
n0, m0 = four[0]
qs = m0.weight.quant_state
print(f"Linear4bit layers: {len(four)}; {n0}: {qs.quant_type}, blocksize {qs.blocksize}, nested {qs.nested}")
text = "The quick brown fox jumps over the lazy dog. Paris is the capital and largest city of France."
ids = tok(text, return_tensors="pt").input_ids
with torch.no_grad():
    out = model(ids, labels=ids)
print(f"tokens {ids.shape[1]}, mean loss {out.loss.item():.6f}")
prompt = tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)
chat = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids
with torch.no_grad():
    gen = model.generate(chat, max_new_tokens=30, do_sample=False)
print("greedy:", repr(tok.decode(gen[0, chat.shape[1]:], skip_special_tokens=True)))
