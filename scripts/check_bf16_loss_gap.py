#!/usr/bin/env python3
"""How far bf16 compute moves PyTorch's own validation loss, to set beside ours.

Runs the README's fine-tune twice in PyTorch + PEFT, the same seed and batches: once in f32,
once under torch.autocast("cpu", dtype=torch.bfloat16), and prints both validation losses at
every --eval-every steps and at the end, with the relative gap. The run as `scripts/demo.sh`
sets it: LoRA r16, alpha 32, all linear layers, no dropout, AdamW lr 1e-3 (betas 0.9/0.999,
eps 1e-8, no weight decay), 5 warm-up steps then cosine decay to 0, gradient norm clipped to
1, batches of 8 examples, 2 epochs, the loss over assistant tokens only (mean over the
batch's tokens). Examples are shuffled once per epoch from --seed; batches are padded (the
padding masked out), which changes no loss. The model and tokenizer come from the GGUF
(transformers dequantizes it to f32).

    python scripts/check_bf16_loss_gap.py --model M.gguf --data examples/veloria [--threads 2] [--out results.json]
"""
import argparse
import json
import math
import os
import random
import time

import torch


def assistant_masked(tokenizer, messages):
    """Token ids of the conversation in the chat template, and labels: the assistant turns'
    tokens (what the template adds for each assistant message), -100 elsewhere."""
    ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
    labels = [-100] * len(ids)
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start = len(tokenizer.apply_chat_template(messages[:i], tokenize=True, add_generation_prompt=True, return_dict=False))
        end = len(tokenizer.apply_chat_template(messages[: i + 1], tokenize=True, return_dict=False))
        labels[start:end] = ids[start:end]
    return ids, labels


def batches(examples, size, pad_id):
    for b in range(0, len(examples), size):
        chunk = examples[b : b + size]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, (i, l) in enumerate(chunk):
            ids[r, : len(i)] = torch.tensor(i)
            labels[r, : len(l)] = torch.tensor(l)
            mask[r, : len(i)] = 1
        yield ids, labels, mask


def loss_of(model, ids, labels, mask, bf16):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=ids, attention_mask=mask).logits
    shifted = labels[:, 1:]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]), shifted.reshape(-1), ignore_index=-100, reduction="sum"
    ), int((shifted != -100).sum())


def run(args, bf16, train, valid, pad_id):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(args.seed)
    folder, name = os.path.split(os.path.abspath(args.model))
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=targets))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(train) / args.batch)
    total = args.epochs * steps_per_epoch

    def lr_at(step):  # step counts from 1
        if step <= args.warmup:
            return args.lr * step / args.warmup
        progress = (step - args.warmup) / max(1, total - args.warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * progress))

    def evaluate():
        model.eval()
        s, n = 0.0, 0
        with torch.no_grad():
            for ids, labels, mask in batches(valid, args.batch, pad_id):
                l, c = loss_of(model, ids, labels, mask, bf16)
                s, n = s + float(l), n + c
        model.train()
        return s / n

    history, step = [], 0
    order = random.Random(args.seed)
    start = time.perf_counter()
    for _ in range(args.epochs):
        shuffled = train[:]
        order.shuffle(shuffled)
        for ids, labels, mask in batches(shuffled, args.batch, pad_id):
            step += 1
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            l, c = loss_of(model, ids, labels, mask, bf16)
            (l / c).backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if step % args.eval_every == 0 or step == total:
                history.append({"step": step, "val_loss": evaluate()})
    return {"bf16_autocast": bf16, "seconds": time.perf_counter() - start, "evals": history}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="a folder with train.jsonl and valid.jsonl (messages records)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoTokenizer

    folder, name = os.path.split(os.path.abspath(args.model))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def load(file):
        with open(os.path.join(args.data, file)) as f:
            return [assistant_masked(tokenizer, json.loads(line)["messages"]) for line in f if line.strip()]

    train, valid = load("train.jsonl"), load("valid.jsonl")
    f32 = run(args, False, train, valid, pad_id)
    bf16 = run(args, True, train, valid, pad_id)
    gaps = [
        {"step": a["step"], "f32": a["val_loss"], "bf16": b["val_loss"], "gap": b["val_loss"] / a["val_loss"] - 1}
        for a, b in zip(f32["evals"], bf16["evals"])
    ]
    result = {"torch": torch.__version__, "threads": args.threads, "f32_seconds": f32["seconds"],
              "bf16_seconds": bf16["seconds"], "evals": gaps}
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
