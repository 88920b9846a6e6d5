#!/usr/bin/env python3
"""Independent cross-check of Tests/LlamaTests/Fixtures/smollm2_reference.*.

make_llama_fixtures.py takes its SmolLM2 numbers from transformers' GGUF loader. This
script recomputes them without transformers, straight from the GGUF file, the way the
Swift engine does it: it reads the tensors with the `gguf` package, dequantizes Q4_1 and
Q8_0 blocks itself (checked against gguf.quants.dequantize), undoes llama.cpp's q/k row
permutation, runs a plain float32 Llama forward pass in PyTorch and compares weights
probes, last-position logits and per-token losses with the committed fixture. It writes
nothing; it prints the largest differences and exits non-zero if they are too large.

Run:  /work/venv/bin/python scripts/check_smollm2_reference.py [--gguf PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from gguf import GGMLQuantizationType, GGUFReader
from gguf.quants import dequantize as gguf_dequantize
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "Tests" / "LlamaTests" / "Fixtures"


def dequant_q4_1(raw: np.ndarray) -> np.ndarray:
    """Q4_1 block (20 bytes / 32 weights): f16 d, f16 m, 16 bytes of nibbles.
    Weight j < 16 is the low nibble of byte j, weight j + 16 its high nibble; w = d * q + m."""
    b = raw.reshape(-1, 20)
    d = b[:, 0:2].copy().view(np.float16).astype(np.float32)
    m = b[:, 2:4].copy().view(np.float16).astype(np.float32)
    qs = b[:, 4:20]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
    return (d * q + m).reshape(-1)


def dequant_q8_0(raw: np.ndarray) -> np.ndarray:
    """Q8_0 block (34 bytes / 32 weights): f16 d, 32 int8 values; w = d * q."""
    b = raw.reshape(-1, 34)
    d = b[:, 0:2].copy().view(np.float16).astype(np.float32)
    q = b[:, 2:34].copy().view(np.int8).astype(np.float32)
    return (d * q).reshape(-1)


def load_gguf(path: Path):
    r = GGUFReader(str(path))
    meta = {k: f.contents() for k, f in r.fields.items() if not k.startswith("tokenizer.ggml.")}
    weights = {}
    for t in r.tensors:
        shape = [int(x) for x in reversed(t.shape)]  # GGUF lists dims innermost first
        raw = np.asarray(t.data)
        if t.tensor_type == GGMLQuantizationType.F32:
            w = raw.astype(np.float32).reshape(-1)
        elif t.tensor_type == GGMLQuantizationType.Q4_1:
            w = dequant_q4_1(raw.view(np.uint8).reshape(-1))
        elif t.tensor_type == GGMLQuantizationType.Q8_0:
            w = dequant_q8_0(raw.view(np.uint8).reshape(-1))
        else:
            raise SystemExit(f"{t.name}: unhandled type {t.tensor_type.name}")
        if t.tensor_type != GGMLQuantizationType.F32:
            ref = gguf_dequantize(raw, t.tensor_type).reshape(-1)
            assert np.array_equal(w, ref), f"{t.name}: own dequantization differs from gguf's"
        weights[t.name] = torch.from_numpy(w.reshape(shape).copy())
    return meta, weights


def unpermute(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """llama.cpp's converter reorders each head's rows from HF's rotate-half layout
    [x0..x(d/2-1), y0..y(d/2-1)] to interleaved pairs [x0, y0, x1, y1, ...]; undo it."""
    out_dim, in_dim = w.shape
    hd = out_dim // n_head
    return w.reshape(n_head, hd // 2, 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, theta):  # x [heads, n, hd], rotate-half convention (HF layout)
    hd = x.shape[-1]
    inv = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = pos[:, None].float() * inv[None, :]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def forward(W, cfg, ids: torch.Tensor) -> torch.Tensor:
    nh, nkv, eps, theta = cfg["nh"], cfg["nkv"], cfg["eps"], cfg["theta"]
    n = ids.numel()
    pos = torch.arange(n)
    x = W["token_embd.weight"][ids]
    mask = torch.full((n, n), float("-inf")).triu(1)
    for i in range(cfg["layers"]):
        p = f"blk.{i}."
        h = rms_norm(x, W[p + "attn_norm.weight"], eps)
        q = (h @ unpermute(W[p + "attn_q.weight"], nh).T).view(n, nh, -1).transpose(0, 1)
        k = (h @ unpermute(W[p + "attn_k.weight"], nkv).T).view(n, nkv, -1).transpose(0, 1)
        v = (h @ W[p + "attn_v.weight"].T).view(n, nkv, -1).transpose(0, 1)
        hd = q.shape[-1]
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        k = k.repeat_interleave(nh // nkv, 0)
        v = v.repeat_interleave(nh // nkv, 0)
        att = torch.softmax(q @ k.transpose(1, 2) / hd**0.5 + mask, -1)
        o = (att @ v).transpose(0, 1).reshape(n, -1)
        x = x + o @ W[p + "attn_output.weight"].T
        h = rms_norm(x, W[p + "ffn_norm.weight"], eps)
        g = torch.nn.functional.silu(h @ W[p + "ffn_gate.weight"].T) * (h @ W[p + "ffn_up.weight"].T)
        x = x + g @ W[p + "ffn_down.weight"].T
    x = rms_norm(x, W["output_norm.weight"], eps)
    head = W.get("output.weight", W["token_embd.weight"])  # tied when absent
    return x @ head.T


HF_TO_GGUF = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
}


def hf_weight(W, cfg, name: str) -> torch.Tensor:
    if name in HF_TO_GGUF:
        return W[HF_TO_GGUF[name]]
    _, _, layer, rest = name.split(".", 3)
    w = W[f"blk.{layer}.{HF_TO_GGUF[rest]}"]
    if rest.startswith("self_attn.q_proj"):
        w = unpermute(w, cfg["nh"])
    elif rest.startswith("self_attn.k_proj"):
        w = unpermute(w, cfg["nkv"])
    return w


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", type=Path, default=ROOT / "cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    args = ap.parse_args()
    torch.set_num_threads(2)
    ref = json.loads((FIX / "smollm2_reference.json").read_text())
    ref_t = load_file(str(FIX / "smollm2_reference.safetensors"))
    meta, W = load_gguf(args.gguf)
    cfg = {
        "nh": int(meta["llama.attention.head_count"]),
        "nkv": int(meta["llama.attention.head_count_kv"]),
        "eps": float(meta["llama.attention.layer_norm_rms_epsilon"]),
        "theta": float(meta["llama.rope.freq_base"]),
        "layers": int(meta["llama.block_count"]),
    }
    ok = True
    for p in ref["weight_probes"]:
        w = hf_weight(W, cfg, p["name"])
        assert list(w.shape) == p["shape"], p["name"]
        vals = w[p["cols"][0]:p["cols"][1]] if p["row"] is None else w[p["row"], p["cols"][0]:p["cols"][1]]
        same = torch.equal(vals, torch.tensor(p["values"], dtype=torch.float32))
        ok &= same
        print(f"probe {p['name']}[{p['row']}, {p['cols'][0]}:{p['cols'][1]}]: {'exact' if same else 'DIFFERS'}")
    with torch.no_grad():
        for p in ref["prompts"]:
            i = p["index"]
            ids = torch.tensor(p["ids"])
            logits = forward(W, cfg, ids)
            tl = -torch.log_softmax(logits[:-1].double(), -1).gather(1, ids[1:, None]).squeeze(1)
            d_logit = (logits[-1] - ref_t[f"prompt{i}.last_logits"]).abs().max().item()
            d_loss = (tl.float() - ref_t[f"prompt{i}.token_loss"]).abs().max().item()
            d_mean = abs(tl.mean().item() - p["mean_loss"])
            same_argmax = logits.argmax(-1).tolist() == p["argmax_per_position"]
            print(f"prompt{i} ({p['kind']}, {ids.numel()} tok): max|dlogit| {d_logit:.2e}  "
                  f"max|dloss| {d_loss:.2e}  |dmean| {d_mean:.2e}  argmax equal: {same_argmax}")
            ok &= d_logit < 1e-3 and d_loss < 1e-4 and same_argmax
    print("OK" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
