#!/usr/bin/env python3
# Reads files written by Lorikeet's SafetensorsWriter and GGUFWriter with the reference
# Python libraries (safetensors, gguf-py) and checks their contents. Run by hand:
#   mkdir -p /tmp/lk && LORIKEET_KEEP_FORMAT_OUTPUTS=/tmp/lk swift test --filter "SafetensorsTests|GGUFRoundTripTests"
#   /work/venv-formats/bin/python scripts/check_written_formats.py /tmp/lk
import os
import sys

import numpy as np
import gguf
from gguf import quants
from safetensors import safe_open

d = sys.argv[1]

st = os.path.join(d, "swift_written.safetensors")
with safe_open(st, framework="numpy") as f:
    meta = f.metadata()
    assert meta == {"format": "pt", "quote\"and\\slash": "line\nbreak é"}, meta
    assert sorted(f.keys()) == ["a.f32", "b.bf16", "c.f16", "z.u8"], list(f.keys())
    assert f.get_tensor("a.f32").tolist() == [[1, 2, 3], [4, 5, 6]]
    assert f.get_tensor("c.f16").tolist() == [[1.5, -2.0]]
    assert f.get_tensor("z.u8").tolist() == [1, 2, 255]
    bf = f.get_slice("b.bf16")
    assert bf.get_dtype() == "BF16" and bf.get_shape() == [3]
with open(st, "rb") as fh:
    n = int.from_bytes(fh.read(8), "little")
    assert n % 8 == 0
print("safetensors OK:", st)

r = gguf.GGUFReader(os.path.join(d, "swift_written.gguf"))
fields = {k: v for k, v in r.fields.items()}
assert fields["general.architecture"].contents() == "llama"
assert fields["u64"].contents() == 1 << 63
assert fields["i64"].contents() == -(1 << 62)
assert fields["f64"].contents() == -2.5e300
assert fields["tokens"].contents() == ["<s>", "</s>", "héllo", ""]
assert fields["yes"].contents() is True
names = [t.name for t in r.tensors]
assert names == ["a", "q8", "h", "bias", "raw"], names
t = {x.name: x for x in r.tensors}
assert [int(s) for s in t["a"].shape] == [2, 3]          # gguf-py lists innermost first
a = quants.dequantize(t["a"].data, t["a"].tensor_type).reshape(3, 2)
assert a.tolist() == [[1, 2], [3, 4], [5, 6]], a
q = quants.dequantize(t["q8"].data, t["q8"].tensor_type).reshape(4, 64)
x = np.sin(np.arange(256, dtype=np.float64)).astype(np.float32).reshape(4, 64)
assert np.abs(q - x).max() < 1 / 127 * 0.51 + 1e-4
# Q8_0 blocks bit-exact with gguf-py's own quantizer.
assert bytes(t["q8"].data.tobytes()) == quants.quantize(x, gguf.GGMLQuantizationType.Q8_0).tobytes()
h = quants.dequantize(t["h"].data, t["h"].tensor_type).reshape(4, 64)
assert np.abs(h - x).max() < 1e-3
print("gguf OK: metadata, shapes, F32/F16/Q8_0 data; Q8_0 bytes identical to gguf-py's quantizer")
