#!/usr/bin/env python3
"""Check a Lorikeet-written LoRA adapter (and optionally a merged model) against PEFT.

    /work/venv/bin/python scripts/check_lorikeet_adapter.py BASE_DIR ADAPTER_DIR BATCH_JSON \
        [--merged MERGED_DIR] [--rtol 1e-4] [--merged-atol 1e-3]

BASE_DIR     Hugging Face model folder (config.json + *.safetensors) the adapter was trained on.
ADAPTER_DIR  PEFT adapter folder written by Lorikeet (adapter_config.json +
             adapter_model.safetensors); loaded with peft.PeftModel.from_pretrained.
BATCH_JSON   JSON with "input_ids" [B][T] and "labels" [B][T] (labels[b][t] is the target of
             position t, already shifted; -100 is ignored), plus "lorikeet_loss" (the mean
             cross-entropy Lorikeet computed on that batch). The batch may sit at the top level
             or under "batch" (the layout of Tests/FineTuningTests/Fixtures/peft/*/reference.json;
             there "batch.loss" is used when "lorikeet_loss" is absent).

Prints PEFT's loss next to Lorikeet's and exits 1 when they differ by more than rtol
(relative). With --merged, also loads MERGED_DIR with AutoModelForCausalLM (a Lorikeet merged
export), prints the max |logit difference| against base + adapter and its loss, and exits 1
when the difference exceeds --merged-atol. Everything runs in float32 on the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch


def load_batch(path: str) -> tuple[torch.Tensor, torch.Tensor, float | None]:
    with open(path) as f:
        doc = json.load(f)
    batch = doc["batch"] if "input_ids" not in doc and isinstance(doc.get("batch"), dict) else doc
    ids = torch.tensor(batch["input_ids"], dtype=torch.long)
    if ids.dim() == 1:
        ids = ids.unsqueeze(0)
    if "labels" in batch:
        labels = torch.tensor(batch["labels"], dtype=torch.long).reshape(ids.shape)
    else:  # plain next-token labels
        labels = torch.full_like(ids, -100)
        labels[:, :-1] = ids[:, 1:]
    ref = doc.get("lorikeet_loss", batch.get("lorikeet_loss", batch.get("loss")))
    return ids, labels, (None if ref is None else float(ref))


def mean_ce(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float(
        torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).double(), labels.reshape(-1), ignore_index=-100, reduction="mean"
        )
    )


def load_model(path: str):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base_dir")
    ap.add_argument("adapter_dir")
    ap.add_argument("batch_json")
    ap.add_argument("--merged", metavar="DIR", help="merged model folder to compare with base + adapter")
    ap.add_argument("--rtol", type=float, default=1e-4, help="relative loss tolerance (default 1e-4)")
    ap.add_argument("--merged-atol", type=float, default=1e-3, help="max |logit diff| allowed (default 1e-3)")
    args = ap.parse_args()

    from peft import PeftModel

    ids, labels, ref = load_batch(args.batch_json)
    n_targets = int((labels != -100).sum())
    print(f"batch: input_ids {list(ids.shape)}, {n_targets} target tokens")

    model = PeftModel.from_pretrained(load_model(args.base_dir), args.adapter_dir)
    model.eval()
    model.print_trainable_parameters()
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
    loss = mean_ce(logits, labels)

    ok = True
    print(f"PEFT loss     {loss:.7f}")
    if ref is None:
        print("Lorikeet loss (none in BATCH_JSON: nothing to compare)")
    else:
        rel = abs(loss - ref) / max(abs(ref), 1e-12)
        good = rel <= args.rtol
        ok &= good
        print(f"Lorikeet loss {ref:.7f}   relative diff {rel:.3e}   {'OK' if good else 'MISMATCH'} (rtol {args.rtol:g})")

    if args.merged:
        merged = load_model(args.merged)
        with torch.no_grad():
            m_logits = merged(input_ids=ids).logits.float()
        if m_logits.shape != logits.shape:
            print(f"merged logits shape {list(m_logits.shape)} != {list(logits.shape)}")
            return 1
        diff = float((m_logits - logits).abs().max())
        good = diff <= args.merged_atol
        ok &= good
        print(
            f"merged: max |logit diff| vs base+adapter {diff:.3e}   loss {mean_ce(m_logits, labels):.7f}   "
            f"{'OK' if good else 'MISMATCH'} (atol {args.merged_atol:g})"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
