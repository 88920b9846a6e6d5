#!/usr/bin/env python3
# GGUF LoRA adapters written by llama.cpp's own converter (convert_lora_to_gguf.py) from the
# PEFT fixtures, so the tests can check that Lorikeet reads llama.cpp's files with the same
# logits, loss and gradients as PEFT computes for the original adapter. Writes
# Tests/FineTuningTests/Fixtures/peft/<name>/llamacpp.gguf for `basic` and `layers` (plain
# alpha / r: the converter writes one alpha and ignores use_rslora and rank/alpha patterns, so
# `rslora_patterns` has no faithful llama.cpp conversion). Run by hand:
#   fetch the llama-cpp-python sdist from PyPI (its vendor/llama.cpp holds the converter):
#     /work/venv/bin/python -c "import json,urllib.request as u; r=u.Request('https://pypi.org/simple/llama-cpp-python/',
#       headers={'Accept':'application/vnd.pypi.simple.v1+json'}); f=[x for x in json.load(u.urlopen(r))['files']
#       if x['filename']=='llama_cpp_python-0.3.36.tar.gz'][0]; u.urlretrieve(f['url'], f['filename'])"
#     tar xzf llama_cpp_python-0.3.36.tar.gz
#   /work/venv/bin/python scripts/make_llamacpp_lora_fixtures.py --llama-cpp llama_cpp_python-0.3.36/vendor/llama.cpp
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEFT = os.path.join(ROOT, "Tests/FineTuningTests/Fixtures/peft")
BASE = os.path.join(ROOT, "Tests/LlamaTests/Fixtures/tiny_llama")

p = argparse.ArgumentParser()
p.add_argument("--llama-cpp", required=True, help="a llama.cpp source tree (convert_lora_to_gguf.py, conversion/, gguf-py/)")
a = p.parse_args()
for name in ["basic", "layers"]:
    out = os.path.join(PEFT, name, "llamacpp.gguf")
    subprocess.run([sys.executable, os.path.join(a.llama_cpp, "convert_lora_to_gguf.py"), "--base", BASE, "--outtype", "f32",
                    "--outfile", out, os.path.join(PEFT, name, "adapter")], check=True)
    print("wrote", out)
