#!/usr/bin/env python3
"""Times LoRA SFT with TRL's defaults (PyTorch + PEFT) on a chat JSONL data set, to set beside
`lorikeet train` with its defaults on the same data.

TRL's SFTTrainer as it comes: SFTConfig() defaults (per-device batch 8, max_length 1024, no
packing, no padding-free, batches padded to their longest), except what the comparison must
fix: --max-steps, lr 2e-4 (ours), no saving or logging to services, the CPU. LoRA as
Lorikeet's defaults: r 8, alpha 16, q_proj and v_proj, no dropout. --model is a Hugging Face
folder (transformers refuses to train a model loaded from a GGUF; `lorikeet merge` or
transformers' save_pretrained of the dequantized weights writes one). Useful tokens are the non-padding tokens of the
batches trained on (the attention mask's ones), over the seconds of trainer.train(). The
adapter is saved with --out, so `lorikeet eval --adapter OUT` can score it with the same loss
as ours (assistant tokens only). Prints one JSON object.

    python scripts/bench_trl.py --model FOLDER --data examples/veloria [--max-steps 24] [--out DIR] [--threads 2]
"""
import argparse
import json
import os
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="a folder with train.jsonl (messages records)")
    ap.add_argument("--max-steps", type=int, default=24)
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    train = load_dataset("json", data_files=os.path.join(args.data, "train.jsonl"), split="train")
    out = args.out or os.path.join("/tmp", "bench-trl-out")
    config = SFTConfig(output_dir=out, max_steps=args.max_steps, learning_rate=2e-4, save_strategy="no",
                       report_to=[], use_cpu=True, logging_steps=10**9, disable_tqdm=True, dataloader_num_workers=0)
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=config, train_dataset=train, processing_class=tokenizer, peft_config=lora)

    batches = []  # (useful, padded) per collated batch
    collate = trainer.data_collator

    def counting(features):
        batch = collate(features)
        mask = batch.get("attention_mask")
        if mask is not None:
            batches.append((int(mask.sum()), mask.numel()))
        else:  # padding-free collators give position ids instead of a mask
            batches.append((batch["input_ids"].numel(), batch["input_ids"].numel()))
        return batch

    trainer.data_collator = counting
    t = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - t
    # The data loader collates one batch ahead (to know the last one): count the trained ones.
    trained = batches[: args.max_steps * config.gradient_accumulation_steps]
    counts = {"useful": sum(u for u, _ in trained), "padded": sum(p for _, p in trained)}
    if args.out:
        trainer.model.save_pretrained(args.out)
    import peft
    import transformers
    import trl
    print(json.dumps({
        "engine": "trl+peft", "max_steps": args.max_steps, "batch_size": config.per_device_train_batch_size,
        "max_length": config.max_length, "threads": args.threads, "train_seconds": seconds,
        "useful_tokens": counts["useful"], "padded_tokens": counts["padded"],
        "useful_tokens_per_second": counts["useful"] / seconds, "train_loss": result.training_loss,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                     "trl": trl.__version__},
    }, sort_keys=True))


if __name__ == "__main__":
    main()
