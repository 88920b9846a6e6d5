#!/usr/bin/env python3
"""Reference 4-bit model folders written by transformers + bitsandbytes (for `lorikeet quantize`
and for loading such folders).

Loads Tests/LlamaTests/Fixtures/tiny_llama with BitsAndBytesConfig(load_in_4bit=True) on the
CPU, in two variants, and saves each with `save_pretrained`:

  tiny_llama_bnb_nf4/   NF4, double quantization (bnb_4bit_use_double_quant=True)
  tiny_llama_bnb_fp4/   FP4, plain float32 absmax

Each folder keeps transformers' config.json and model.safetensors untouched (the weight as
uint8 [n/2, 1], weight.absmax, weight.quant_map, weight.nested_absmax,
weight.nested_quant_map and the JSON quant_state.bitsandbytes__<type> tensor), plus
reference.safetensors: the 4-bit model's float32 logits for tiny_llama's two reference
sequences (seq<i>.logits), computed by transformers with bitsandbytes dequantizing on the CPU.

Run (outside the repo's build; needs torch, transformers, bitsandbytes, safetensors):
    /work/venv-bnb/bin/python scripts/make_bnb_folder_fixtures.py
"""
import json
import os

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

torch.set_num_threads(1)  # the double-quant offset is a float32 mean whose order follows the thread split
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "Tests", "LlamaTests", "Fixtures")
SOURCE = os.path.join(FIXTURES, "tiny_llama")

sequences = json.load(open(os.path.join(SOURCE, "reference.json")))["sequences"]
for quant_type, double in [("nf4", True), ("fp4", False)]:
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant_type,
                                bnb_4bit_use_double_quant=double, bnb_4bit_compute_dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(SOURCE, quantization_config=config, device_map="cpu",
                                                 attn_implementation="eager")
    out = os.path.join(FIXTURES, f"tiny_llama_bnb_{quant_type}")
    model.save_pretrained(out)
    tensors = {}
    with torch.no_grad():
        for seq in sequences:
            ids = torch.tensor([seq["ids"]])
            tensors[f"seq{seq['index']}.logits"] = model(ids).logits[0].float().contiguous()
    save_file(tensors, os.path.join(out, "reference.safetensors"))
    print(out, sorted(os.listdir(out)))
