#!/usr/bin/env python3
"""Reference fixtures for NF4/FP4 (+ double quant) and 8-bit blockwise quantization.

Runs bitsandbytes on the CPU (its default PyTorch 4-bit quantizer, the C++ CPU 8-bit
quantizer and dequantizers) and writes Tests/QuantizationTests/Fixtures/bnb/*.safetensors.
Setup (outside the repo):
    python3 -m venv /work/venv-bnb && /work/venv-bnb/bin/pip install bitsandbytes torch numpy safetensors
    /work/venv-bnb/bin/python scripts/make_bnb_fixtures.py
"""
import json
import os
import sys

import bitsandbytes
import bitsandbytes.functional as F
import torch
from bitsandbytes.backends.default.ops import _dequantize_4bit_compute
from bitsandbytes.cextension import lib
from bitsandbytes.functional import get_ptr
from safetensors.torch import save_file
import ctypes as ct

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "QuantizationTests", "Fixtures", "bnb")
torch.set_num_threads(1)  # torch's f32 sum order (the double-quant offset) depends on the thread split


def matrices():
    g = torch.Generator().manual_seed(1234)
    # m_zero: f32 with an all-zero 128-element run (covers every blocksize up to 128)
    a = torch.randn(48, 256, generator=g)
    a.view(-1)[256:384] = 0.0
    # m_outlier: huge outliers and a block of tiny values
    b = torch.randn(24, 96, generator=g) * 0.02
    b[3, 5] = 4.0e4
    b[17, 90] = -7.5e3
    b.view(-1)[640:704] = torch.randn(64, generator=g) * 1e-30
    # m_f16 and m_bf16: half-precision sources (bf16 one leaves a tail block for bs 64/128)
    c = (torch.randn(16, 64, generator=g) * 0.5).to(torch.float16)
    d = (torch.randn(20, 100, generator=g) * 3).to(torch.bfloat16)
    # m_odd: odd element count (63) -> padded nibble and a short tail block
    e = torch.randn(7, 9, generator=g)
    return {"m_zero": a, "m_outlier": b, "m_f16": c, "m_bf16": d, "m_odd": e}


def case(name, A, qt, bs, dq):
    q, st = F.quantize_4bit(A, blocksize=bs, compress_statistics=dq, quant_type=qt)
    public = F.dequantize_4bit(q, st, quant_type=qt).float().reshape(-1)
    absmax = st.absmax
    if dq:
        absmax = F.dequantize_blockwise(st.absmax, st.state2) + st.offset
    # The fixture holds bnb's C++ CPU dequantizer output, called flat (m = 1, n = numel). The public
    # API takes that kernel for even column counts and the PyTorch fallback for odd ones; the two
    # differ only in the sign of FP4 code 8 (C++ table: -0.0, get_4bit_type: +0.0).
    n = A.numel()
    deq = torch.empty(n, dtype=torch.float32)
    fn = {"nf4": lib.cdequantize_blockwise_cpu_nf4_fp32, "fp4": lib.cdequantize_blockwise_cpu_fp4_fp32}[qt]
    fn(get_ptr(q), get_ptr(absmax), get_ptr(deq), ct.c_longlong(bs), ct.c_longlong(1), ct.c_longlong(n))
    if A.dtype == torch.float32 and A.shape[-1] % 2 == 0:
        assert torch.equal(deq.view(torch.int32), public.view(torch.int32)), name
    else:  # the public API returns the source dtype
        assert torch.equal(deq.to(A.dtype).float(), public), name
    code = F.get_4bit_type(qt, device="cpu")
    fallback = _dequantize_4bit_compute(q.reshape(-1), absmax, code, bs, A.shape, torch.float32).reshape(-1)
    assert torch.equal(deq, fallback), name
    t = {
        "codes": q.reshape(-1).contiguous(),
        "dequantized": deq.reshape(-1).contiguous(),
    }
    if dq:
        t["absmax_codes"] = st.absmax.contiguous()
        t["absmax2"] = st.state2.absmax.contiguous()
        t["offset"] = st.offset.reshape(1).float().contiguous()
        t["absmax_dequantized"] = absmax.contiguous()
    else:
        t["absmax"] = st.absmax.contiguous()
    return t


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors, cases = {}, []
    for mname, A in matrices().items():
        tensors[f"{mname}.input"] = A.reshape(-1).contiguous()
        sizes = [64, 128, 32] + ([4096] if mname == "m_zero" else [])
        for qt in ("nf4", "fp4"):
            for bs in sizes:
                for dq in (False, True):
                    name = f"{mname}.{qt}.bs{bs}.{'dq' if dq else 'plain'}"
                    for k, v in case(name, A, qt, bs, dq).items():
                        tensors[f"{name}.{k}"] = v
                    cases.append({"name": name, "matrix": mname, "type": qt, "blockSize": bs,
                                  "doubleQuant": dq, "rows": A.shape[0], "cols": A.shape[1],
                                  "dtype": str(A.dtype).replace("torch.", "")})
    for qt in ("nf4", "fp4"):
        tensors[f"quant_map.{qt}"] = F.get_4bit_type(qt, device="cpu")
    meta = {"cases": json.dumps(cases), "bitsandbytes": bitsandbytes.__version__, "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    save_file(tensors, os.path.join(OUT, "fourbit.safetensors"), metadata=meta)

    # 8-bit blockwise (optimizer-state style): signed map on raw values, unsigned on squares
    g = torch.Generator().manual_seed(99)
    s = torch.randn(3000, generator=g) * 0.1
    s[256:512] = 0.0
    s[700] = 25.0
    u = torch.randn(2100, generator=g).square() * 1e-4
    e8 = {"dynamic_map.signed": F.create_dynamic_map(signed=True),
          "dynamic_map.unsigned": F.create_dynamic_map(signed=False)}
    for nm, x, signed, bs in (("signed", s, True, 256), ("unsigned", u, False, 256), ("signed64", s[:1000].clone(), True, 64)):
        code = F.create_dynamic_map(signed=signed)
        q, st = F.quantize_blockwise(x, code=code, blocksize=bs)
        e8[f"{nm}.input"] = x.contiguous()
        e8[f"{nm}.codes"] = q
        e8[f"{nm}.absmax"] = st.absmax
        e8[f"{nm}.dequantized"] = F.dequantize_blockwise(q, st)
    # torch's f32 sum order, needed for the double-quant offset (mean of absmax)
    sizes = [1, 3, 7, 8, 9, 31, 33, 64, 100, 257, 1000, 4099, 9000]
    for n in sizes:
        x = torch.rand(n, generator=g) * 3
        e8[f"sum.{n}.input"] = x
        e8[f"sum.{n}.mean"] = x.mean().reshape(1)
    save_file(e8, os.path.join(OUT, "blockwise8.safetensors"),
              metadata={"sum_sizes": json.dumps(sizes), "bitsandbytes": bitsandbytes.__version__})
    print("cases", len(cases), file=sys.stderr)


if __name__ == "__main__":
    main()
