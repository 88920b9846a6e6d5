#!/usr/bin/env python3
# Reference fixtures for the GGML quantizers (Tests/QuantizationTests/GGMLQuantizeFixtureTests):
# float32 inputs with awkward blocks, and the bytes ggml's reference quantizers write for them.
# Two references: ggml itself (ggml_quantize_chunk without an importance matrix, through ctypes
# from the libggml-base.so that `pip install llama-cpp-python` builds) for every type, and
# gguf-py (gguf.quants.quantize, numpy) for BF16 and the 32-element formats. Where both cover a
# type they must agree byte for byte, except on blocks listed in KNOWN_DIFFERENCES (written to the
# JSON); the committed bytes are ggml's. Deterministic: a re-run reproduces the files.
#   /work/venv/bin/pip install gguf numpy llama-cpp-python
#   /work/venv/bin/python scripts/make_quant_fixtures.py
import ctypes
import glob
import json
import os
import platform
import sys
from importlib import metadata

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "QuantizationTests", "Fixtures", "quant")
rng = np.random.default_rng(20261201)

LEGACY = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
KQUANTS = [T.Q4_K, T.Q5_K, T.Q6_K]


def normal(n, scale=1.0):
    return (rng.standard_normal(n) * scale).astype(np.float32)


def blocks32():
    """Awkward 32-element blocks (the legacy formats' block size), with labels."""
    b = []

    def add(label, x):
        x = np.asarray(x, dtype=np.float32)
        assert x.shape == (32,), label
        b.append((label, x))

    add("zeros", np.zeros(32))
    z = np.zeros(32, dtype=np.float32)
    z[::3] = -0.0
    add("signed zeros (-0 first)", z)
    z = np.zeros(32, dtype=np.float32)
    z[1::2] = -0.0
    add("signed zeros (+0 first)", z)
    add("constant positive", np.full(32, 0.75))
    add("constant negative", np.full(32, -2.5))
    x = normal(32, 0.02)
    x[11] = 50.0
    add("one large positive outlier", x)
    x = normal(32, 0.02)
    x[30] = -50.0
    add("one large negative outlier", x)
    x = -np.abs(normal(32))
    x[[3, 17]] = [0.05, 0.01]
    add("negative dominant", x)
    add("tiny (1e-30)", normal(32, 1e-30))
    add("subnormal (1e-40)", normal(32, 1e-40))
    add("large (1e30)", normal(32, 1e30))
    signs = np.where(np.arange(32) % 2 == 0, 1.0, -1.0)
    add("mixed signs, magnitudes 1e-3..1e3", signs * 10 ** rng.uniform(-3, 3, 32))
    x = normal(32)
    x[5], x[20] = 3.0, -3.0
    x = np.clip(x, -2.9, 2.9)
    x[5], x[20] = 3.0, -3.0
    add("largest magnitude twice, + first", x)
    x[5], x[20] = -3.0, 3.0
    add("largest magnitude twice, - first", x)
    # max 8 (Q4_0 d = -1), half-integers: codes land exactly on truncation boundaries.
    x = (np.arange(32) % 16 - 8 + 0.5).astype(np.float32)
    x[0] = 8.0
    add("exact code boundaries", x)
    add("all positive", np.abs(normal(32)) + 1.0)
    for s in [1.0, 0.01, 0.1, 5.0]:
        add(f"normal, sigma {s}", normal(32, s))
    add("uniform -1..1", rng.uniform(-1, 1, 32))
    return b


def blocks256():
    """Awkward 256-element super-blocks (the k-quants' block size), with labels."""
    b = []

    def add(label, x):
        x = np.asarray(x, dtype=np.float32)
        assert x.shape == (256,), label
        b.append((label, x))

    add("zeros", np.zeros(256))
    add("constant positive", np.full(256, 0.3))
    add("constant negative", np.full(256, -1.25))
    x = normal(256, 0.02)
    x[77] = 40.0
    add("one large positive outlier", x)
    x = normal(256, 0.02)
    x[200] = -40.0
    add("one large negative outlier", x)
    x = -np.abs(normal(256))
    x[rng.choice(256, 12, replace=False)] = rng.uniform(0, 0.1, 12)
    add("negative dominant", x)
    add("all positive", np.abs(normal(256)) + 0.5)
    add("tiny (1e-30)", normal(256, 1e-30))
    signs = np.where(np.arange(256) % 2 == 0, 1.0, -1.0)
    add("mixed signs, magnitudes 1e-3..1e3", signs * 10 ** rng.uniform(-3, 3, 256))
    # Sub-blocks of 32 at scales 1e-4 .. 1e3: small sub-block scales round to 0 in 6 bits.
    add("sub-block scales 1e-4..1e3", normal(256) * np.repeat(10.0 ** np.arange(-4, 4), 32))
    x = normal(256)
    x[64:96] = 0.0
    x[160:176] = -0.5
    add("a zero sub-block and a constant one", x)
    x = normal(256, 0.05)
    x[::16] = 0.0
    add("every 16th zero", x)
    for s in [1.0, 0.02, 3.0]:
        add(f"normal, sigma {s}", normal(256, s))
    add("uniform -1..1", rng.uniform(-1, 1, 256))
    x = normal(256)
    add("normal rounded to 1/8 (ties)", np.round(x * 8) / 8)
    return b


def bf16_values():
    """Single values that exercise BF16 rounding and NaN handling."""
    bits = [
        0x00000000, 0x80000000, 0x7F800000, 0xFF800000,              # zeros, infinities
        0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001,              # NaNs: quiet, signalling
        0x7FA12345, 0x7FFFFFFF, 0xFFFFFFFF, 0x7F80FFFF,              # NaN payloads
        0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF,              # ties to even, just above / below
        0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F8000, 0x7F7F7FFF,              # rounding up into infinity
        0x00000001, 0x807FFFFF, 0x00008000, 0x00018000,              # subnormals
    ]
    x = np.array(bits, dtype=np.uint32).view(np.float32)
    return np.concatenate([x, normal(232, 3.0)])


class GGML:
    """ggml_quantize_chunk from llama-cpp-python's libggml-base.so."""

    def __init__(self):
        import llama_cpp
        libdir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
        path = sorted(glob.glob(os.path.join(libdir, "libggml-base.so*")))[0]
        self.lib = ctypes.CDLL(path)
        self.lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        self.lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                                 ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        self.lib.ggml_version.restype = ctypes.c_char_p
        self.lib.ggml_commit.restype = ctypes.c_char_p
        self.version = self.lib.ggml_version().decode()
        self.commit = self.lib.ggml_commit().decode()
        self.llama_cpp_python = llama_cpp.__version__

    def quantize(self, qtype, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        assert x.size % block == 0
        out = np.zeros(x.size // block * size, dtype=np.uint8)
        # One row: without an importance matrix ggml quantizes the whole chunk as one run.
        n = self.lib.ggml_quantize_chunk(int(qtype), x.ctypes.data, out.ctypes.data, 0, 1, x.size, None)
        assert n == out.size, (qtype.name, n, out.size)
        return out.tobytes()


def gguf_py(qtype, x):
    with np.errstate(all="ignore"):
        return quants.quantize(x, qtype).tobytes()


def differing_blocks(a, b, size):
    return [i for i in range(len(a) // size) if a[i * size:(i + 1) * size] != b[i * size:(i + 1) * size]]


def main():
    os.makedirs(OUT, exist_ok=True)
    ggml = GGML()
    inputs = {
        "blocks32": blocks32(),
        "blocks256": blocks256(),
    }
    arrays = {name: np.concatenate([x for _, x in blocks]) for name, blocks in inputs.items()}
    arrays["bf16_values"] = bf16_values()
    labels = {name: [label for label, _ in blocks] for name, blocks in inputs.items()}
    labels["bf16_values"] = ["24 special bit patterns, then 232 normal values (sigma 3)"]

    plan = {t: ["blocks32", "blocks256"] for t in LEGACY}
    plan.update({t: ["blocks256"] for t in KQUANTS})
    plan[T.BF16] = ["bf16_values", "blocks32"]

    manifest = {
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "gguf": metadata.version("gguf"),
            "llama_cpp_python": ggml.llama_cpp_python,
            "ggml_version": ggml.version,
            "ggml_commit": ggml.commit,
            "machine": platform.machine(),
        },
        "inputs": {},
        "outputs": [],
    }
    for name, x in arrays.items():
        path = f"{name}.f32"
        with open(os.path.join(OUT, path), "wb") as f:
            f.write(x.astype("<f4").tobytes())
        manifest["inputs"][name] = {"file": path, "count": int(x.size), "blocks": labels[name]}

    failures = []
    for qtype, names in plan.items():
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        for name in names:
            x = arrays[name]
            expected = ggml.quantize(qtype, x)
            entry = {"type": qtype.name, "input": name, "file": f"{qtype.name}.{name}.bin", "source": "ggml"}
            if qtype in LEGACY or qtype == T.BF16:
                other = gguf_py(qtype, x)
                diff = differing_blocks(expected, other, size)
                entry["gguf_py_differs_in_blocks"] = diff
                bad = [i for i in diff if (qtype.name, name, i) not in KNOWN_DIFFERENCES]
                if bad:
                    failures.append(f"{qtype.name} {name}: gguf-py differs from ggml in blocks {bad}")
            with open(os.path.join(OUT, entry["file"]), "wb") as f:
                f.write(expected)
            manifest["outputs"].append(entry)

    with open(os.path.join(OUT, "fixtures.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, p)) for p in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files ({total} bytes) to {OUT}")
    for e in manifest["outputs"]:
        if e.get("gguf_py_differs_in_blocks"):
            blocks = labels[e["input"]]
            per = gguf.GGML_QUANT_SIZES[T[e["type"]]][0] * len(blocks) / arrays[e["input"]].size
            print(f"  gguf-py differs from ggml (known): {e['type']} {e['input']} blocks",
                  [(i, blocks[int(i * per)]) for i in e["gguf_py_differs_in_blocks"]])
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


# (type, input, block) where gguf-py is known not to match ggml. Blocks of signed zeros only:
# ggml scans with strict comparisons, so Q4_0/Q5_0 keep max = +0 (d = +0 / -8 = -0, f16 0x8000)
# and Q4_1/Q5_1 keep the first zero as m; gguf-py takes numpy's argmax / min, whose zero can
# have the other sign. Only the sign bit of an f16 zero differs; both decode to zeros.
KNOWN_DIFFERENCES = {
    ("Q4_0", "blocks32", 1), ("Q5_0", "blocks32", 1),
    ("Q4_1", "blocks32", 1), ("Q4_1", "blocks32", 2),
    ("Q5_1", "blocks32", 1), ("Q5_1", "blocks32", 2),
}

if __name__ == "__main__":
    main()
