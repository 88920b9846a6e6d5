#!/usr/bin/env python3
# Reference fixtures for the Quantization and ModelFormats tests, produced by the reference
# implementations: gguf-py (gguf.quants) for GGML dequantization and Q8_0 quantization, the
# `safetensors` library for a safetensors file. Run by hand, outputs are committed:
#   python3 -m venv /work/venv-formats && /work/venv-formats/bin/pip install gguf numpy safetensors
#   /work/venv-formats/bin/python scripts/make_ggml_fixtures.py
# Needs cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch-smollm2.sh) for the
# model samples; skips them with a message when it is missing.
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QDIR = os.path.join(ROOT, "Tests", "QuantizationTests", "Fixtures")
FDIR = os.path.join(ROOT, "Tests", "ModelFormatsTests", "Fixtures")
rng = np.random.default_rng(20241122)

# Byte offsets of the f16 scale fields in each block (ggml-common.h), overwritten with sane
# finite values so random bytes never decode to inf/NaN.
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}


def f16_scale():
    return np.float16(rng.uniform(0.001, 0.05) * rng.choice([-1.0, 1.0])).tobytes()


def random_blocks(qtype, n_blocks):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    if qtype == T.F32:
        return rng.standard_normal(n_blocks).astype(np.float32).tobytes()
    if qtype == T.F16:
        return rng.standard_normal(n_blocks).astype(np.float16).tobytes()
    if qtype == T.BF16:
        return quants.quantize(rng.standard_normal(n_blocks).astype(np.float32), T.BF16).tobytes()
    raw = bytearray(rng.integers(0, 256, size=n_blocks * size, dtype=np.uint8).tobytes())
    for b in range(n_blocks):
        if qtype == T.Q8_K:   # f32 d first
            raw[b * size:b * size + 4] = np.float32(rng.uniform(0.001, 0.05)).tobytes()
        for off in F16_FIELDS.get(qtype, []):
            raw[b * size + off:b * size + off + 2] = f16_scale()
    return bytes(raw)


def dequantize(qtype, raw):
    if qtype == T.Q8_K:
        # gguf-py has no Q8_K; ggml's dequantize_row_q8_K is y = d (f32) * q (int8).
        blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 292)
        d = blocks[:, :4].copy().view(np.float32)
        q = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
        return (d * q).reshape(-1).astype(np.float32)
    return quants.dequantize(np.frombuffer(raw, dtype=np.uint8), qtype).reshape(-1).astype(np.float32)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def ggml_fixtures():
    os.makedirs(QDIR, exist_ok=True)
    types = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
             T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_K]
    for qtype in types:
        block, _ = gguf.GGML_QUANT_SIZES[qtype]
        n = 64 if block == 1 else (6 if block == 32 else 3)
        raw = random_blocks(qtype, n)
        values = dequantize(qtype, raw)
        assert values.size == n * block and np.all(np.isfinite(values)), qtype.name
        write(os.path.join(QDIR, f"{qtype.name}.blocks"), raw)
        write(os.path.join(QDIR, f"{qtype.name}.f32"), values.astype("<f4").tobytes())
    # Q8_0 quantization: input floats and gguf-py's blocks (bit-exact with ggml's reference).
    x = (rng.standard_normal(8 * 32) * rng.uniform(0.01, 3.0, size=8 * 32)).astype(np.float32)
    x[:32] = 0.0                     # an all-zero block (d = 0)
    x[32:64] = 0.0                   # a block with d = 1 exactly and halves: ties round away from 0
    x[32], x[33], x[34], x[35] = 127.0, 0.5, -1.5, 2.5
    write(os.path.join(QDIR, "Q8_0.quant_input.f32"), x.astype("<f4").tobytes())
    write(os.path.join(QDIR, "Q8_0.quant_output.blocks"), quants.quantize(x, T.Q8_0).tobytes())
    print("wrote GGML fixtures to", QDIR)


def safetensors_fixture():
    from safetensors import TensorSpec, serialize_file
    os.makedirs(FDIR, exist_ok=True)
    arrays = {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
        "f16": np.array([1.5, -2.0, 0.25, 65504], dtype=np.float16),
        "f64": np.array([3.25, -1e-3], dtype=np.float64),
        "i64": np.array([-5, 1 << 40], dtype=np.int64),
        "i32": np.array([[7, -8]], dtype=np.int32),
        "i16": np.array([-300, 300, 1], dtype=np.int16),
        "i8": np.array([-128, 127], dtype=np.int8),
        "u8": np.array([0, 1, 255, 3, 4], dtype=np.uint8),
        "flags": np.array([True, False, True]),
        "scalar": np.array(2.0, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    bf16 = np.array([1.0, -2.5, 0.1], dtype=np.float32)
    bf16_bits = quants.quantize(bf16, T.BF16).view(np.uint16)
    keep = dict(arrays)
    keep["bf16"] = bf16_bits
    specs = {k: TensorSpec(dtype=v.dtype.name, shape=list(v.shape), data_ptr=v.ctypes.data,
                           data_len=v.nbytes) for k, v in arrays.items()}
    specs["bf16"] = TensorSpec(dtype="bfloat16", shape=[3], data_ptr=bf16_bits.ctypes.data,
                               data_len=bf16_bits.nbytes)
    path = os.path.join(FDIR, "python_written.safetensors")
    serialize_file(specs, path, metadata={"format": "pt", "note": "written by safetensors"})
    os.chmod(path, 0o644)
    expected = {k: [float(x) for x in np.asarray(v, dtype=np.float64).reshape(-1)] for k, v in arrays.items()}
    expected["bf16"] = [float(x) for x in (bf16_bits.astype(np.uint32) << 16).view(np.float32)]
    shapes = {k: list(v.shape) for k, v in arrays.items()}
    shapes["bf16"] = [3]
    with open(os.path.join(FDIR, "python_written.json"), "w") as f:
        json.dump({"values": expected, "shapes": shapes,
                   "metadata": {"format": "pt", "note": "written by safetensors"}}, f, indent=1)
    print("wrote", path)


def smollm2_samples():
    path = os.path.join(ROOT, "cache", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.exists(path):
        print("skipping SmolLM2 samples: run scripts/fetch-smollm2.sh first", file=sys.stderr)
        return
    reader = gguf.GGUFReader(path)
    out = {"tensor_count": len(reader.tensors), "tensors": {}}
    for name in ["blk.0.attn_q.weight", "token_embd.weight", "blk.0.attn_norm.weight", "blk.29.ffn_down.weight"]:
        t = next(t for t in reader.tensors if t.name == name)
        values = quants.dequantize(t.data, t.tensor_type)
        shape = [int(d) for d in reversed(t.shape)]          # row-major, outermost first
        values = values.reshape(shape)
        picks = []
        for _ in range(24):
            idx = tuple(int(rng.integers(0, s)) for s in shape)
            picks.append([list(idx), float(values[idx])])
        picks.append([[s - 1 for s in shape], float(values[tuple(s - 1 for s in shape)])])
        out["tensors"][name] = {"type": t.tensor_type.name, "shape": shape, "samples": picks,
                                "sum": float(values.astype(np.float64).sum())}
    os.makedirs(FDIR, exist_ok=True)
    with open(os.path.join(FDIR, "smollm2_samples.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("wrote SmolLM2 samples")


if __name__ == "__main__":
    ggml_fixtures()
    safetensors_fixture()
    smollm2_samples()
