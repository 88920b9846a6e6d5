#!/usr/bin/env python3
"""Reference fixtures for Lorikeet's LoRA adapters, made with Hugging Face PEFT.

Writes into Tests/FineTuningTests/Fixtures/peft/ (all floats are float32):

  <config>/adapter/adapter_config.json, adapter_model.safetensors
      A PEFT LoRA adapter (PeftModel.save_pretrained) for the tiny random Llama in
      Tests/LlamaTests/Fixtures/tiny_llama/. lora_A keeps PEFT's seeded initialisation;
      every lora_B is overwritten with seeded N(0, 0.05^2) values so the adapter matters.
  <config>/reference.json, reference.safetensors
      For a fixed batch (input_ids [2, 16], shifted labels, -100 ignored): the mean
      cross-entropy loss, the logits ("logits", [2, 16, 256]) and the gradient of the loss
      with respect to every lora_A / lora_B tensor ("grad.<adapter file key>"), base frozen,
      float32, model.train() with lora_dropout 0. Also the per-module r / alpha / scaling
      PEFT resolved and PEFT's get_nb_trainable_parameters().
  smollm2_counts.json
      get_nb_trainable_parameters() for SmolLM2-135M-Instruct's architecture (random
      weights from a LlamaConfig, nothing downloaded) under three LoRA configs.

Configs: basic (r 4, alpha 8, q/v), rslora_patterns (r 4, alpha 16, rsLoRA, all 7 linears,
rank_pattern {"down_proj": 2}, alpha_pattern {"o_proj": 4}), layers (r 8, alpha 16, q/k/v/o,
layers_to_transform [1]).

Run (needs torch, transformers, peft, safetensors; no network):

    /work/venv/bin/python scripts/make_peft_fixtures.py [--skip-smollm2]

Deterministic: fixed seeds, float32, single thread; the script re-executes itself with
PYTHONHASHSEED=0 because PEFT keeps target_modules in a set and writes it to
adapter_config.json in set iteration order.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
# relative on purpose: PEFT records it as base_model_name_or_path in adapter_config.json
BASE_REL = "Tests/LlamaTests/Fixtures/tiny_llama"
OUT = ROOT / "Tests" / "FineTuningTests" / "Fixtures" / "peft"

ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

CONFIGS = {
    "basic": dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0),
    "rslora_patterns": dict(
        r=4,
        lora_alpha=16,
        use_rslora=True,
        target_modules=ALL_LINEAR,
        rank_pattern={"down_proj": 2},
        alpha_pattern={"o_proj": 4},
        lora_dropout=0.0,
    ),
    "layers": dict(
        r=8,
        lora_alpha=16,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        layers_to_transform=[1],
        lora_dropout=0.0,
    ),
    # On Qwen3 (q/k norms sit between q_proj/k_proj and RoPE): every linear.
    "qwen3": dict(r=4, lora_alpha=8, target_modules=ALL_LINEAR, lora_dropout=0.0),
    # Gemma 3 (q/k norms, post-sublayer norms, sliding window) and Gemma 2 (soft-capping): every linear.
    "gemma3": dict(r=4, lora_alpha=8, target_modules=ALL_LINEAR, lora_dropout=0.0),
    "gemma2": dict(r=4, lora_alpha=8, target_modules=ALL_LINEAR, lora_dropout=0.0),
    # Phi-3: PEFT's names for its fused modules (one pair across q/k/v, one across gate/up).
    "phi3": dict(r=4, lora_alpha=8, target_modules=["qkv_proj", "o_proj", "gate_up_proj", "down_proj"], lora_dropout=0.0),
}
# The base model of each config (tiny_llama unless named here).
BASES = {"qwen3": "Tests/LlamaTests/Fixtures/tiny_qwen3", "gemma3": "Tests/LlamaTests/Fixtures/tiny_gemma3",
         "gemma2": "Tests/LlamaTests/Fixtures/tiny_gemma2", "phi3": "Tests/LlamaTests/Fixtures/tiny_phi3"}

SEED_PEFT_INIT = 1234  # torch.manual_seed before get_peft_model (lora_A init)
SEED_LORA_B = 5678  # generator for the lora_B values
SEED_BATCH = 91011  # generator for the batch
LORA_B_STD = 0.05
BATCH, SEQ = 2, 16
MASKED_PROMPT = 4  # labels[1, :4] = -100 (a masked "prompt" in the second row)


def versions() -> dict:
    import peft
    import safetensors
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }


def save_json(path: Path, obj: dict) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().to(torch.float32).contiguous().cpu() for k, v in tensors.items()}, str(path))


def load_base(base_rel: str = BASE_REL):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        base_rel, dtype=torch.float32, attn_implementation="eager"
    )
    return model


def make_batch(vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(SEED_BATCH)
    ids = torch.randint(0, vocab, (BATCH, SEQ), generator=g)
    labels = torch.full((BATCH, SEQ), -100, dtype=torch.long)
    labels[:, :-1] = ids[:, 1:]
    labels[1, :MASKED_PROMPT] = -100
    return ids, labels


def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100, reduction="mean"
    )


def file_key(param_name: str, adapter: str = "default") -> str:
    """PeftModel parameter name -> adapter file key (PEFT drops the adapter name on save)."""
    return param_name.replace(f".{adapter}.", ".")


def make_config(name: str, kwargs: dict, ver: dict) -> None:
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file

    out = OUT / name
    if out.exists():
        shutil.rmtree(out)
    (out / "adapter").mkdir(parents=True)

    base = load_base(BASES.get(name, BASE_REL))
    cfg = base.config
    torch.manual_seed(SEED_PEFT_INIT)
    lcfg = LoraConfig(task_type="CAUSAL_LM", bias="none", **kwargs)
    model = get_peft_model(base, lcfg)

    g = torch.Generator().manual_seed(SEED_LORA_B)
    lora_params = [(n, p) for n, p in model.named_parameters() if "lora_" in n]
    with torch.no_grad():
        for n, p in lora_params:
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * LORA_B_STD)

    # every trainable parameter is a LoRA matrix; the base is frozen
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == [n for n, _ in lora_params], "unexpected trainable parameters"
    nb_trainable, nb_total = model.get_nb_trainable_parameters()

    # the per-module r / alpha / scaling PEFT resolved (after rank_pattern / alpha_pattern)
    modules = {}
    for mname, mod in model.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
            key = mname[len("base_model.model."):]
            modules[key] = {
                "r": int(mod.r["default"]),
                "lora_alpha": float(mod.lora_alpha["default"]),
                "scaling": float(mod.scaling["default"]),
                "in_features": int(mod.in_features),
                "out_features": int(mod.out_features),
            }

    ids, labels = make_batch(cfg.vocab_size)
    model.train()
    model.zero_grad(set_to_none=True)
    logits = model(input_ids=ids).logits.float()
    loss = loss_fn(logits, labels)
    loss.backward()

    tensors = {"logits": logits.detach()}
    for n, p in lora_params:
        assert p.grad is not None, n
        tensors[f"grad.{file_key(n)}"] = p.grad
    model.eval()

    model.save_pretrained(str(out / "adapter"))
    (out / "adapter" / "README.md").unlink(missing_ok=True)  # PEFT's boilerplate model card
    # the adapter file must hold exactly the tensors we took gradients of, with the same names
    saved = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    assert sorted(saved) == sorted(file_key(n) for n, _ in lora_params), sorted(saved)
    for n, p in lora_params:
        assert torch.equal(saved[file_key(n)], p.detach()), n

    # reload check: PeftModel.from_pretrained on a fresh base gives the same loss / logits
    from peft import PeftModel

    re_model = PeftModel.from_pretrained(load_base(BASES.get(name, BASE_REL)), str(out / "adapter"))
    re_model.eval()
    with torch.no_grad():
        re_logits = re_model(input_ids=ids).logits.float()
    diff = float((re_logits - logits.detach()).abs().max())
    assert diff == 0.0, f"{name}: reloaded adapter logits differ by {diff}"

    # merged weights give the same logits (sanity of the scaling convention)
    merged = re_model.merge_and_unload()
    with torch.no_grad():
        merged_logits = merged(input_ids=ids).logits.float()
    merged_diff = float((merged_logits - logits.detach()).abs().max())
    assert merged_diff < 1e-4, f"{name}: merged logits differ by {merged_diff}"

    with torch.no_grad():
        base_logits = load_base(BASES.get(name, BASE_REL))(input_ids=ids).logits.float()
    base_loss = float(loss_fn(base_logits, labels))

    save_tensors(out / "reference.safetensors", tensors)
    meta = {
        "description": f"PEFT LoRA reference for config '{name}' on {Path(BASES.get(name, BASE_REL)).name}. "
                       "See scripts/make_peft_fixtures.py.",
        "versions": ver,
        "base_model": BASES.get(name, BASE_REL),
        "lora_config": {"task_type": "CAUSAL_LM", "bias": "none", **kwargs},
        "seeds": {"peft_init": SEED_PEFT_INIT, "lora_B": SEED_LORA_B, "batch": SEED_BATCH},
        "lora_B_init": f"every lora_B overwritten with N(0, {LORA_B_STD}^2) (torch.randn * {LORA_B_STD})",
        "nb_trainable_parameters": {"trainable": nb_trainable, "total": nb_total},
        "modules": modules,
        "batch": {
            "input_ids": ids.tolist(),
            "labels": labels.tolist(),
            "labels_note": "labels[b][t] is the target of position t (already shifted); -100 is ignored",
            "loss": float(loss.detach()),
            "loss_reduction": "mean over positions whose label is not -100",
            "num_target_tokens": int((labels != -100).sum()),
            "base_loss": base_loss,
        },
        "tensors": {
            "logits": [BATCH, SEQ, cfg.vocab_size],
            "grad.<adapter file key>": "d(loss)/d(lora_A or lora_B), same shape as the tensor in adapter_model.safetensors",
        },
        "grad_tensor_names": sorted(k for k in tensors if k.startswith("grad.")),
        "checks": {
            "reload_max_abs_logit_diff": diff,
            "merge_and_unload_max_abs_logit_diff": merged_diff,
        },
    }
    save_json(out / "reference.json", meta)
    print(
        f"{name}: loss {float(loss.detach()):.6f} (base {base_loss:.6f}), trainable {nb_trainable} / {nb_total}, "
        f"{len(lora_params)} lora tensors, merged diff {merged_diff:.2e}"
    )


SMOL_CONFIGS = {
    "r16_all_linear": dict(r=16, lora_alpha=32, target_modules="all-linear", lora_dropout=0.0),
    "r8_q_v": dict(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.0),
    "r16_all_linear_down4": dict(
        r=16, lora_alpha=32, target_modules="all-linear", rank_pattern={"mlp.down_proj": 4}, lora_dropout=0.0
    ),
}


def make_smollm2_counts(ver: dict) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    arch = dict(
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        head_dim=64,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        rope_theta=100000.0,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
    )
    results = {}
    for name, kwargs in SMOL_CONFIGS.items():
        torch.manual_seed(0)
        base = LlamaForCausalLM(LlamaConfig(**arch))
        base_total = sum(p.numel() for p in base.parameters())
        model = get_peft_model(base, LoraConfig(task_type="CAUSAL_LM", bias="none", **kwargs))
        trainable, total = model.get_nb_trainable_parameters()
        printed = (
            f"trainable params: {trainable:,d} || all params: {total:,d} || "
            f"trainable%: {100 * trainable / total:.4f}"
        )
        targeted = sorted({n.rsplit(".", 1)[-1] for n in model.peft_config["default"].target_modules})
        ranks = sorted({(k.rsplit(".", 1)[-1], int(m.r["default"])) for k, m in model.named_modules()
                        if hasattr(m, "r") and isinstance(getattr(m, "r"), dict) and "default" in m.r})
        results[name] = {
            "lora_config": {"task_type": "CAUSAL_LM", "bias": "none", **kwargs},
            "resolved_target_modules": targeted,
            "resolved_ranks": {k: r for k, r in ranks},
            "trainable": trainable,
            "total": total,
            "base_total": base_total,
            "percentage": round(100 * trainable / total, 4),
            "printed": printed,
        }
        print(f"smollm2 {name}: {printed}")
        del model, base
    save_json(
        OUT / "smollm2_counts.json",
        {
            "description": "PEFT get_nb_trainable_parameters() / print_trainable_parameters() for "
            "SmolLM2-135M-Instruct's architecture (random weights). total = base parameters "
            "(tied embedding counted once) + LoRA parameters. See scripts/make_peft_fixtures.py.",
            "versions": ver,
            "architecture": arch,
            "configs": results,
        },
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-smollm2", action="store_true")
    ap.add_argument("--skip-tiny", action="store_true")
    ap.add_argument("--only", action="append", help="write only this config (repeatable); the others keep their files")
    args = ap.parse_args()

    os.chdir(ROOT)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    OUT.mkdir(parents=True, exist_ok=True)
    ver = versions()
    if not args.skip_tiny:
        for name, kwargs in CONFIGS.items():
            if not args.only or name in args.only:
                make_config(name, kwargs, ver)
    if not args.skip_smollm2:
        make_smollm2_counts(ver)


if __name__ == "__main__":
    main()
