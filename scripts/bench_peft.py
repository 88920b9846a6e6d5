#!/usr/bin/env python3
"""Times PyTorch (+PEFT for LoRA) training steps the way `lorikeet bench train` times ours.

Random tokens, --seq × --batch per step, the causal-LM loss, AdamW (lr 1e-4); LoRA r16,
alpha 32, every linear of the decoder (q, k, v, o, gate, up, down), no dropout; or full
fine-tuning. One warm-up step, then --steps timed ones. The model comes from the GGUF
(transformers dequantizes it to f32). Prints one JSON object with the keys of
`lorikeet bench train --json` that apply.

    python scripts/bench_peft.py --model M.gguf --method lora|full [--steps 10] [--threads 2] [--bf16]
"""
import argparse
import json
import os
import statistics
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--method", choices=["lora", "full"], default="lora")
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--bf16", action="store_true", help="torch.autocast('cpu', dtype=torch.bfloat16)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    folder, name = os.path.split(os.path.abspath(args.model))
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32)
    if args.method == "lora":
        from peft import LoraConfig, get_peft_model
        config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM",
                            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        model = get_peft_model(model, config)
    load = time.perf_counter() - t0
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    vocab = model.config.vocab_size

    def step():
        ids = torch.randint(0, vocab, (args.batch, args.seq))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    mean = sum(times) / len(times)
    cv = statistics.stdev(times) / mean if len(times) > 1 else 0.0
    import peft
    import transformers
    print(json.dumps({
        "engine": "pytorch+peft" if args.method == "lora" else "pytorch", "method": args.method,
        "seq": args.seq, "batch": args.batch, "threads": args.threads, "bf16_autocast": args.bf16,
        "tokens_per_second": args.seq * args.batch / mean, "seconds_per_step": mean,
        "step_seconds": times, "step_seconds_median": statistics.median(times), "step_seconds_cv": cv,
        "trainable_parameters": sum(p.numel() for p in params), "load_seconds": load,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
    }, sort_keys=True))


if __name__ == "__main__":
    main()
