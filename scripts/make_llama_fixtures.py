#!/usr/bin/env python3
"""Reference fixtures for Lorikeet's Llama-family model parity tests.

Writes into Tests/LlamaTests/Fixtures/ (all floats are float32):

  smollm2_reference.json / smollm2_reference.safetensors
      SmolLM2-135M-Instruct, loaded by Hugging Face transformers from the Q4_1 GGUF at
      cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch-smollm2.sh fetches it;
      transformers dequantizes every tensor to float32 and undoes llama.cpp's q/k row
      permutation). For four prompts: token ids, last-position logits, per-position
      next-token cross-entropy and its mean; greedy generation of 20 tokens for the chat
      prompt; a few dequantized weight values in the Hugging Face layout.

  tiny_llama/, tiny_llama3/, tiny_qwen2/
      Tiny random models (2 layers, hidden 64, 4 heads, 2 KV heads, vocab 256) saved as
      Hugging Face folders (config.json + model.safetensors), each with
      reference.json / reference.safetensors: fixed input sequences, full logits at every
      position, per-position and mean loss, and the RoPE inverse frequencies used.
      tiny_llama also gets the loss and the gradient of every parameter for a fixed batch.

  tiny_phi3/
      Phi3ForCausalLM (2 layers, head_dim 16): fused qkv_proj and gate_up_proj, partial rotary
      0.75 (12 of 16 values rotate), LongRoPE with original_max_position_embeddings 16 and
      max_position_embeddings 64 (so a 12-token sequence uses the short factors and the 24- and
      40-token ones and the gradient batch the long ones, cos/sin scaled by sqrt(1.5)), sliding
      window 12 on every layer, tied embeddings. config.json in the 4.x spelling (top-level
      partial_rotary_factor and original_max_position_embeddings, rope_scaling with "type");
      config.v5.json as transformers 5 writes it (rope_parameters). Both inverse-frequency sets
      and the attention factor are in reference.safetensors.

  tiny_gemma3_mm/
      Gemma3ForConditionalGeneration (what google/gemma-3-4b-it and larger are): tiny_gemma3's
      language model (its weights copied in) beside a one-layer SigLIP vision tower and the
      multi-modal projector, saved as transformers 5 names it (model.language_model.*,
      model.vision_tower.*). reference: the multimodal model's logits for text-only ids.

  tiny_gemma3/, tiny_gemma2/
      Gemma3ForCausalLM (3 layers: sliding window 8 on two, a global one with linear-scaled
      RoPE) and Gemma2ForCausalLM (2 layers, attention / final-logit soft-caps 2 and 3), head_dim
      32 and query_pre_attn_scalar 20, (1 + w) norms drawn around 0; logits, losses, both
      models' gradient batches, and the inverse frequencies (per layer type for Gemma 3).

Loss convention everywhere: token_loss[t] = -log softmax(logits[t])[ids[t+1]] for
t = 0 .. n-2 (so n-1 values); mean_loss is their mean. Attention is the "eager" (plain
softmax) implementation and no attention mask / padding is used.

Run (needs torch, transformers, safetensors, gguf, numpy; no network):

    /work/venv/bin/python scripts/make_llama_fixtures.py [--skip-smollm2] [--gguf PATH]

Deterministic: fixed seeds, float32, single process. Re-running overwrites the fixtures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "LlamaTests" / "Fixtures"
DEFAULT_GGUF = ROOT / "cache" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def versions() -> dict:
    import safetensors
    import transformers

    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }
    try:
        import gguf

        out["gguf"] = getattr(gguf, "__version__", None) or _dist_version("gguf")
    except ImportError:
        pass
    return out


def _dist_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


def f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32).contiguous().cpu()


def token_losses(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """logits [n, V], ids [n] -> [n-1] next-token cross-entropy values."""
    logp = torch.log_softmax(logits[:-1].double(), dim=-1)
    return (-logp.gather(1, ids[1:].unsqueeze(1)).squeeze(1)).float()


def save_json(path: Path, obj: dict) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    save_file({k: f32(v) for k, v in tensors.items()}, str(path))


def rope_inv_freq(model) -> torch.Tensor:
    """The inverse frequencies the model's rotary embedding actually uses."""
    return f32(model.model.rotary_emb.inv_freq)


# --------------------------------------------------------------------------- SmolLM2

SMOL_PROMPTS = [
    ("plain", "The quick brown fox jumps over the lazy dog near the river bank."),
    (
        "code",
        "def fibonacci(n):\n    if n < 2:\n        return n\n"
        "    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    ),
    ("chat", None),  # rendered with the chat template below
    (
        "long",
        "Lorikeets are small to medium-sized arboreal parrots found across Australia, "
        "New Guinea and the islands of the south-western Pacific. Unlike most parrots, "
        "which crack seeds, lorikeets feed mainly on nectar and soft fruits, and their "
        "tongues end in a brush of fine papillae that gathers pollen and nectar from "
        "flowers. Their plumage is famously bright: the rainbow lorikeet, for example, "
        "has a blue head, an orange and yellow breast, green wings and a red beak. They "
        "are noisy, social birds that travel in fast flocks, screeching as they fly from "
        "one flowering tree to the next, and they often gather in large numbers to roost "
        "at dusk. In cities they have become familiar visitors to gardens and parks, "
        "where people sometimes feed them, although wildlife experts warn that bread, "
        "honey and seed mixes can make them sick. Because they depend on flowering "
        "plants throughout the year, lorikeets move around the landscape following the "
        "seasons, and their numbers in any one place can change quickly. Researchers "
        "study these movements to understand how urban planting, drought and bushfire "
        "affect the birds, and to learn which native trees matter most for their survival.",
    ),
]
CHAT_MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]

# (HF parameter name, row slice, column slice) of dequantized weights to record.
SMOL_WEIGHT_PROBES = [
    ("model.layers.0.self_attn.q_proj.weight", (0, 1), (0, 8)),
    ("model.layers.0.self_attn.q_proj.weight", (5, 6), (100, 108)),
    ("model.layers.0.self_attn.q_proj.weight", (33, 34), (0, 8)),
    ("model.layers.0.self_attn.k_proj.weight", (0, 1), (0, 8)),
    ("model.layers.0.self_attn.k_proj.weight", (33, 34), (8, 16)),
    ("model.layers.0.self_attn.v_proj.weight", (0, 1), (0, 8)),
    ("model.layers.0.self_attn.o_proj.weight", (0, 1), (0, 8)),
    ("model.layers.0.mlp.gate_proj.weight", (0, 1), (0, 8)),
    ("model.layers.0.mlp.down_proj.weight", (0, 1), (0, 8)),
    ("model.layers.0.input_layernorm.weight", None, (0, 8)),
    ("model.layers.29.self_attn.k_proj.weight", (191, 192), (568, 576)),
    ("model.embed_tokens.weight", (1000, 1001), (0, 8)),
    ("model.norm.weight", None, (0, 8)),
]


def smol_config(cfg) -> dict:
    out = {
        k: getattr(cfg, k, None)
        for k in (
            "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings",
            "rms_norm_eps", "tie_word_embeddings", "bos_token_id", "eos_token_id",
        )
    }
    # transformers >= 5 keeps rope_theta / rope_type in rope_parameters; 4.x in rope_theta / rope_scaling.
    rp = dict(getattr(cfg, "rope_parameters", None) or {})
    out["rope_theta"] = rp.get("rope_theta", getattr(cfg, "rope_theta", None))
    out["rope_type"] = rp.get("rope_type", "default")
    return out


def make_smollm2(gguf_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not gguf_path.is_file():
        sys.exit(f"missing {gguf_path}: run scripts/fetch-smollm2.sh first")
    torch.manual_seed(0)
    folder, name = str(gguf_path.parent), gguf_path.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()
    cfg = model.config
    from tokenizers import pre_tokenizers as pt

    digits_tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    digits_tok.backend_tokenizer.pre_tokenizer = pt.Sequence(
        [pt.Digits(individual_digits=True), pt.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    # The GGUF has no separate output.weight: the head must be the token embedding.
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr() or torch.equal(
        model.lm_head.weight, model.model.embed_tokens.weight
    ), "lm_head is not tied to embed_tokens"

    sha = hashlib.sha256(gguf_path.read_bytes()).hexdigest()
    meta = {
        "description": "SmolLM2-135M-Instruct reference values from transformers (GGUF dequantized to f32). "
        "See scripts/make_llama_fixtures.py.",
        "versions": versions(),
        "gguf_file": name,
        "gguf_sha256": sha,
        "config": smol_config(cfg),
        "tokenizer_note": "ids come from the tokenizer transformers builds from the GGUF metadata "
        "(byte-level BPE, GPT-2 split regex, no BOS added: tokenizer.ggml.add_bos_token is false). "
        "The published SmolLM2 tokenizer.json (and llama.cpp's 'smollm' pre-type) split digits "
        "individually first; the script checks that this gives the same ids for every prompt.",
        "loss_convention": "token_loss[t] = -log softmax(logits[t])[ids[t+1]], t = 0..n-2; mean_loss = mean(token_loss)",
        "prompts": [],
    }
    tensors: dict[str, torch.Tensor] = {}

    with torch.no_grad():
        for i, (kind, text) in enumerate(SMOL_PROMPTS):
            if kind == "chat":
                text = tok.apply_chat_template(CHAT_MESSAGES, tokenize=False, add_generation_prompt=True)
            ids = tok(text, return_tensors="pt")["input_ids"][0]
            assert digits_tok(text)["input_ids"] == ids.tolist(), f"{kind}: pre-tokenizers disagree"
            logits = model(ids.unsqueeze(0)).logits[0].float()
            tl = token_losses(logits, ids)
            tensors[f"prompt{i}.last_logits"] = logits[-1]
            tensors[f"prompt{i}.token_loss"] = tl
            top = torch.topk(logits[-1], 5)
            entry = {
                "index": i,
                "kind": kind,
                "text": text,
                "ids": ids.tolist(),
                "num_tokens": int(ids.numel()),
                "mean_loss": float(tl.double().mean()),
                "argmax_per_position": logits.argmax(-1).tolist(),
                "last_top5_ids": top.indices.tolist(),
                "last_top5_logits": [float(x) for x in top.values],
            }
            if kind == "chat":
                entry["messages"] = CHAT_MESSAGES
                entry["add_generation_prompt"] = True
                gen = model.generate(
                    ids.unsqueeze(0), attention_mask=torch.ones_like(ids).unsqueeze(0),
                    max_new_tokens=20, do_sample=False, num_beams=1,
                    pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
                )[0, ids.numel():]
                entry["greedy"] = {
                    "max_new_tokens": 20,
                    "stops_at_eos": True,
                    "eos_token_id": model.generation_config.eos_token_id,
                    "ids": gen.tolist(),
                    "text": tok.decode(gen, skip_special_tokens=False),
                    "text_skip_special": tok.decode(gen, skip_special_tokens=True),
                }
                print("chat answer:", repr(entry["greedy"]["text"]))
            meta["prompts"].append(entry)
            print(f"prompt{i} ({kind}): {ids.numel()} tokens, mean loss {entry['mean_loss']:.5f}")

    params = dict(model.named_parameters())
    probes = []
    for pname, rows, cols in SMOL_WEIGHT_PROBES:
        w = params[pname].detach()
        if rows is None:
            vals = w[cols[0]:cols[1]]
        else:
            vals = w[rows[0]:rows[1], cols[0]:cols[1]].reshape(-1)
        probes.append({
            "name": pname,
            "shape": list(w.shape),
            "row": None if rows is None else rows[0],
            "cols": [cols[0], cols[1]],
            "values": [float(x) for x in vals],
        })
    meta["weight_probes"] = probes
    meta["weight_probes_note"] = (
        "Dequantized values in the Hugging Face layout ([out, in], q/k rows un-permuted); "
        "values = weight[row, cols[0]:cols[1]] (or weight[cols[0]:cols[1]] for 1-D)."
    )
    save_tensors(OUT / "smollm2_reference.safetensors", tensors)
    save_json(OUT / "smollm2_reference.json", meta)
    for f in ("smollm2_reference.safetensors", "smollm2_reference.json"):
        (OUT / f).chmod(0o644)


# --------------------------------------------------------------------------- tiny models

TINY_COMMON = dict(
    vocab_size=256,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    rms_norm_eps=1e-5,
    hidden_act="silu",
    bos_token_id=1,
    eos_token_id=2,
    torch_dtype="float32",
)


def init_random(model, seed: int, zero_centred_norms: bool = False) -> None:
    """Seeded init scaled so that activations and logits are O(1) (not degenerate).

    Linear weights ~ N(0, 1/fan_in), except lm_head ~ N(0, 4/fan_in); embeddings
    ~ N(0, 0.25^2). Either way the head gives logits with std ~ 2. Norm weights
    ~ 1 + N(0, 0.1^2) (Gemma's (1 + w) norms: w ~ N(0, 0.3^2)); biases ~ N(0, 0.2^2).
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") and zero_centred_norms:
                # Gemma norms scale by (1 + w): w ~ N(0, 0.3^2) keeps 1 + w in about [0.1, 1.9].
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(0.25 * torch.randn(p.shape, generator=g))
            elif name.startswith("lm_head"):
                p.copy_(2.0 * torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))


def tiny_specs():
    from transformers import (Gemma2Config, Gemma2ForCausalLM, Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM, Phi3Config,
                              Phi3ForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM, SmolLM3Config,
                              SmolLM3ForCausalLM)

    return [
        ("tiny_llama", LlamaForCausalLM, LlamaConfig(
            **TINY_COMMON, intermediate_size=128, rope_theta=10000.0,
            tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
        ), 11, [24, 40]),
        ("tiny_llama3", LlamaForCausalLM, LlamaConfig(
            **TINY_COMMON, intermediate_size=128, rope_theta=500000.0,
            rope_scaling={
                "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 64,
            },
            tie_word_embeddings=True, attention_bias=False, mlp_bias=False,
        ), 12, [24, 40, 160]),
        ("tiny_qwen2", Qwen2ForCausalLM, Qwen2Config(
            **TINY_COMMON, intermediate_size=176, rope_theta=10000.0,
            tie_word_embeddings=False, use_sliding_window=False,
        ), 13, [24, 40]),
        # Qwen3: per-head q/k RMSNorm before RoPE, no biases, head_dim set apart from hidden/heads.
        ("tiny_qwen3", Qwen3ForCausalLM, Qwen3Config(
            **{**TINY_COMMON, "head_dim": 24}, intermediate_size=128, rope_theta=1000000.0,
            tie_word_embeddings=True, use_sliding_window=False, attention_bias=False,
        ), 14, [24, 40]),
        # SmolLM3: layer 1 of 2 without RoPE (no_rope_layers zeros mark NoPE layers).
        ("tiny_smollm3", SmolLM3ForCausalLM, SmolLM3Config(
            **TINY_COMMON, intermediate_size=128, rope_theta=5000000.0, no_rope_layers=[1, 0], pad_token_id=0,
            tie_word_embeddings=True, attention_bias=False, mlp_bias=False, use_sliding_window=False,
        ), 15, [24, 40]),
        # Gemma 3 text: explicit head_dim (32, not 64/4), query_pre_attn_scalar (20) that is
        # not head_dim, a sliding window (8) shorter than every sequence on layers 0 and 1
        # (local RoPE base 10000), a full-attention layer 2 (RoPE base 1e6, linear scaling 2),
        # tied embeddings, GeGLU with tanh GELU, (1 + w) norms.
        ("tiny_gemma3", Gemma3ForCausalLM, Gemma3TextConfig(
            vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
            num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=512,
            rms_norm_eps=1e-6, hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=20,
            sliding_window=8, layer_types=["sliding_attention", "sliding_attention", "full_attention"],
            rope_parameters={
                "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1_000_000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
            },
            tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0,
        ), 14, [24, 40]),
        # Gemma 2: attention and final-logit soft-capping set low (2 and 3) so that tanh bends
        # the scores and logits for real, sliding window 8 on layer 0, full attention on layer 1.
        ("tiny_gemma2", Gemma2ForCausalLM, Gemma2Config(
            vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=512,
            rms_norm_eps=1e-6, hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=20,
            sliding_window=8, layer_types=["sliding_attention", "full_attention"], rope_theta=10_000.0,
            attn_logit_softcapping=2.0, final_logit_softcapping=3.0,
            tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0,
        ), 16, [24, 40]),
        # Phi-3 / Phi-4-mini: fused projections, partial rotary, LongRoPE switching at 16 positions,
        # sliding window 12 (shorter than two of the sequences) on every layer.
        ("tiny_phi3", Phi3ForCausalLM, Phi3Config(
            vocab_size=256, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
            original_max_position_embeddings=16, rms_norm_eps=1e-5, hidden_act="silu", sliding_window=12,
            rope_parameters={
                "rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 0.75,
                "short_factor": [1.0, 1.1, 1.3, 1.7, 2.2, 3.0], "long_factor": [1.2, 1.9, 3.1, 4.6, 7.5, 11.0],
                "original_max_position_embeddings": 16,
            },
            tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0,
            resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0,
        ), 17, [12, 24, 40]),
    ]


def make_tiny(name, cls, cfg, seed, lengths) -> None:
    torch.manual_seed(seed)
    cfg._attn_implementation = "eager"
    model = cls(cfg)
    gemma = name.startswith("tiny_gemma")
    init_random(model, seed, zero_centred_norms=gemma)
    if cfg.tie_word_embeddings:
        model.tie_weights()
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    model.eval()
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    if name.startswith("tiny_gemma3"):
        write_classic_gemma3_config(folder / "config.json")
    elif name == "tiny_phi3":
        write_classic_phi3_config(folder)
    else:
        write_classic_config(folder / "config.json")

    g = torch.Generator().manual_seed(1000 + seed)
    meta = {
        "description": f"{name}: random {cls.__name__} reference values. See scripts/make_llama_fixtures.py.",
        "versions": versions(),
        "model_class": cls.__name__,
        "seed": seed,
        "loss_convention": "token_loss[t] = -log softmax(logits[t])[ids[t+1]], t = 0..n-2; mean_loss = mean(token_loss)",
        "sequences": [],
    }
    tensors = (gemma_inv_freqs(model) if name.startswith("tiny_gemma3") else phi3_rope(model, cfg) if name == "tiny_phi3"
               else {"rope.inv_freq": rope_inv_freq(model)})
    with torch.no_grad():
        for i, n in enumerate(lengths):
            ids = torch.randint(0, cfg.vocab_size, (n,), generator=g)
            logits = model(ids.unsqueeze(0)).logits[0].float()
            tl = token_losses(logits, ids)
            tensors[f"seq{i}.logits"] = logits
            tensors[f"seq{i}.token_loss"] = tl
            meta["sequences"].append({
                "index": i, "ids": ids.tolist(), "num_tokens": n,
                "mean_loss": float(tl.double().mean()),
                "logits_std": float(logits.std()),
            })
            print(f"{name} seq{i}: n={n} mean loss {meta['sequences'][-1]['mean_loss']:.5f} "
                  f"logits std {float(logits.std()):.3f}")

    check_reload(cls, folder, meta, tensors)
    if name in ("tiny_llama", "tiny_llama3", "tiny_qwen3", "tiny_smollm3", "tiny_gemma3", "tiny_gemma2", "tiny_phi3"):
        meta["grad_batch"] = make_grads(model, cfg, g, tensors, name)

    save_tensors(folder / "reference.safetensors", tensors)
    save_json(folder / "reference.json", meta)
    for f in folder.iterdir():
        f.chmod(0o644)


def write_classic_config(path: Path) -> None:
    """Rewrite config.json the way most published checkpoints spell it.

    transformers >= 5 writes "rope_parameters": {"rope_theta", "rope_type", ...} and "dtype";
    checkpoints published with transformers 4.x (nearly all of them) carry a top-level
    "rope_theta", an optional "rope_scaling" dict (with "rope_type") and "torch_dtype".
    A loader must accept both; the fixtures use the 4.x spelling, and check_reload()
    confirms that transformers reads it back to the same model.
    """
    cfg = json.loads(path.read_text())
    rp = cfg.pop("rope_parameters", None)
    if rp is not None:
        rp = dict(rp)
        cfg["rope_theta"] = rp.pop("rope_theta")
        cfg["rope_scaling"] = None if rp.get("rope_type", "default") == "default" else rp
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def phi3_rope(model, cfg) -> dict:
    """LongRoPE's two inverse-frequency sets (short: within the original context; long: beyond)
    and the factor cos/sin are scaled by, as transformers' own rope init function computes them."""
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    init = ROPE_INIT_FUNCTIONS["longrope"]
    original = cfg.rope_parameters["original_max_position_embeddings"]
    short, attention = init(cfg, None)
    long, _ = init(cfg, None, seq_len=original + 1)
    assert torch.equal(f32(model.model.rotary_emb.original_inv_freq), f32(short))
    return {"rope.short.inv_freq": f32(short), "rope.long.inv_freq": f32(long),
            "rope.attention_scaling": torch.tensor([attention], dtype=torch.float32)}


def write_classic_phi3_config(folder: Path) -> None:
    """Phi-3 config.json as published checkpoints spell it (transformers 4.x): top-level
    rope_theta, partial_rotary_factor and original_max_position_embeddings, rope_scaling with
    "type": "longrope" and the two factor lists. The file transformers 5 wrote is kept as config.v5.json."""
    path = folder / "config.json"
    text = path.read_text()
    (folder / "config.v5.json").write_text(text)
    cfg = json.loads(text)
    rp = dict(cfg.pop("rope_parameters"))
    cfg["rope_theta"] = rp.pop("rope_theta")
    cfg["partial_rotary_factor"] = rp.pop("partial_rotary_factor")
    cfg["original_max_position_embeddings"] = rp.pop("original_max_position_embeddings", cfg.get("original_max_position_embeddings"))
    cfg["rope_scaling"] = {"type": rp.pop("rope_type"), "short_factor": rp.pop("short_factor"), "long_factor": rp.pop("long_factor")}
    assert not rp, f"unexpected rope_parameters keys {rp}"
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def gemma_inv_freqs(model) -> dict:
    """Gemma 3 keeps one set of inverse frequencies per layer type."""
    r = model.model.rotary_emb
    return {"rope.full_attention.inv_freq": f32(r.full_attention_inv_freq),
            "rope.sliding_attention.inv_freq": f32(r.sliding_attention_inv_freq)}


def write_classic_gemma3_config(path: Path) -> None:
    """Gemma 3 config.json as published checkpoints spell it (transformers 4.x): top-level
    rope_theta (global layers), rope_local_base_freq (sliding layers), rope_scaling."""
    cfg = json.loads(path.read_text())
    rp = cfg.pop("rope_parameters")
    full, local = dict(rp["full_attention"]), dict(rp["sliding_attention"])
    cfg["rope_theta"] = full.pop("rope_theta")
    cfg["rope_local_base_freq"] = local.pop("rope_theta")
    cfg["rope_scaling"] = None if full.get("rope_type", "default") == "default" else full
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def check_reload(cls, folder: Path, meta: dict, tensors: dict) -> None:
    """Load the saved folder back and require bit-identical logits."""
    m = cls.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    if "rope.inv_freq" in tensors:
        assert torch.equal(rope_inv_freq(m), tensors["rope.inv_freq"]), "reloaded RoPE differs"
    elif "rope.short.inv_freq" in tensors:
        assert torch.equal(f32(m.model.rotary_emb.original_inv_freq), tensors["rope.short.inv_freq"]), "reloaded RoPE differs"
        assert torch.equal(torch.tensor([m.model.rotary_emb.attention_scaling], dtype=torch.float32), tensors["rope.attention_scaling"]), \
            "reloaded attention factor differs"
    else:
        for k, v in gemma_inv_freqs(m).items():
            assert torch.equal(v, tensors[k]), f"reloaded {k} differs"
    with torch.no_grad():
        for s in meta["sequences"]:
            ids = torch.tensor(s["ids"]).unsqueeze(0)
            assert torch.equal(m(ids).logits[0].float(), tensors[f"seq{s['index']}.logits"]), \
                f"{folder.name}: reloaded logits differ"


def make_grads(model, cfg, g, tensors, name) -> dict:
    """Loss and d(loss)/d(param) for a fixed [2, 32] batch with explicit (shifted) labels."""
    b, n = 2, 32
    ids = torch.randint(0, cfg.vocab_size, (b, n), generator=g)
    labels = torch.full((b, n), -100, dtype=torch.long)
    labels[:, :-1] = ids[:, 1:]
    labels[1, :6] = -100  # a masked "prompt" in the second row
    model.train()  # no dropout in Llama; train() only for clarity
    model.zero_grad(set_to_none=True)
    logits = model(ids).logits.float()
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, cfg.vocab_size), labels.reshape(-1), ignore_index=-100, reduction="mean"
    )
    loss.backward()
    for pname, p in model.named_parameters():
        tensors[f"grad.{pname}"] = p.grad
    tensors["grad_batch.logits"] = logits.detach()
    model.eval()
    loss = loss.detach()
    print(f"{name} grad batch loss {float(loss):.6f}")
    return {
        "input_ids": ids.tolist(),
        "labels": labels.tolist(),
        "labels_note": "labels[b][t] is the target of position t (already shifted); -100 is ignored",
        "loss": float(loss),
        "loss_reduction": "mean over positions whose label is not -100",
        "num_target_tokens": int((labels != -100).sum()),
        "grad_tensor_names": "grad.<HF parameter name>, same shape as the parameter",
    }


def make_gemma3_multimodal() -> None:
    """A Gemma3ForConditionalGeneration around tiny_gemma3's text model (run after tiny_gemma3)."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig, SiglipVisionConfig

    text_dir = OUT / "tiny_gemma3"
    text_cfg = Gemma3TextConfig.from_pretrained(text_dir)
    vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                image_size=28, patch_size=14, vision_use_head=False)
    cfg = Gemma3Config(text_config=text_cfg.to_dict(), vision_config=vision.to_dict(), mm_tokens_per_image=4,
                       boi_token_index=300, eoi_token_index=301, image_token_index=302, eos_token_id=[1, 106])
    cfg._attn_implementation = "eager"
    torch.manual_seed(21)
    model = Gemma3ForConditionalGeneration(cfg)
    from safetensors.torch import load_file

    g0 = torch.Generator().manual_seed(21)
    with torch.no_grad():  # the vision side never runs on text-only ids; any values will do
        for name, p in model.named_parameters():
            if ".language_model." not in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=g0))

    text = load_file(str(text_dir / "model.safetensors"))
    with torch.no_grad():
        for name, p in model.model.language_model.named_parameters():
            p.copy_(text["model." + name])
    model.tie_weights()
    model.eval()
    folder = OUT / "tiny_gemma3_mm"
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    g = torch.Generator().manual_seed(1021)
    ids = torch.randint(0, text_cfg.vocab_size, (24,), generator=g)
    with torch.no_grad():
        logits = model(input_ids=ids.unsqueeze(0)).logits[0].float()
        reloaded = Gemma3ForConditionalGeneration.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
        assert torch.equal(reloaded(input_ids=ids.unsqueeze(0)).logits[0].float(), logits), "reloaded logits differ"
    save_tensors(folder / "reference.safetensors", {"seq0.logits": logits})
    save_json(folder / "reference.json", {
        "description": "tiny_gemma3_mm: Gemma3ForConditionalGeneration logits for text-only ids. See scripts/make_llama_fixtures.py.",
        "versions": versions(), "sequences": [{"index": 0, "ids": ids.tolist(), "num_tokens": 24}],
    })
    for f in folder.iterdir():
        f.chmod(0o644)
    print(f"tiny_gemma3_mm: {sum(p.numel() for p in model.parameters())} parameters")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", type=Path, default=DEFAULT_GGUF)
    ap.add_argument("--skip-smollm2", action="store_true")
    ap.add_argument("--skip-tiny", action="store_true")
    ap.add_argument("--only", action="append", help="write only this tiny model (repeatable); the others keep their files")
    args = ap.parse_args()

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    OUT.mkdir(parents=True, exist_ok=True)

    if not args.skip_tiny:
        for spec in tiny_specs():
            if not args.only or spec[0] in args.only:
                make_tiny(*spec)
        if not args.only or "tiny_gemma3_mm" in args.only:
            make_gemma3_multimodal()
    if not args.skip_smollm2:
        make_smollm2(args.gguf)


if __name__ == "__main__":
    main()
