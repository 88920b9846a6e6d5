#!/usr/bin/env python3
"""Cross-checks tokenizer folders exported by Lorikeet's TokenizerExport against the real libraries.

Run by hand (never in CI), from the repository root:

    LORIKEET_KEEP_EXPORT=/tmp/tok-export swift test --filter TokenizerExportTests
    /work/venv-tok/bin/python scripts/check_tokenizer_export.py /tmp/tok-export

For each exported folder (smollm2, spm, llama3, qwen2) this loads it with transformers'
`AutoTokenizer.from_pretrained(folder)` and with `tokenizers.Tokenizer.from_file`, and compares ids
(with and without special tokens) and decoded text with the reference fixtures that
make_tokenizer_fixtures.py wrote. Exits non-zero on any difference.
"""
import json
import os
import sys

from tokenizers import Tokenizer
from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")

# exported folder -> (reference file, lines to leave out and why)
REFERENCES = {
    "smollm2": ("expected_smollm2.json", None),
    "spm": ("expected_spm_legacy.json", None),
    "llama3": ("expected_bpe_llama3.json", None),
    # The fixture's "café" is a normalized added token; a GGUF user-defined token matches raw text.
    "qwen2": ("expected_bpe_qwen2.json", lambda text: "cafe\u0301" in text),
}


def check(folder, name):
    reference_file, skip = REFERENCES[name]
    with open(os.path.join(FIXTURES, reference_file), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    auto = AutoTokenizer.from_pretrained(folder)
    raw = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    failures, compared = [], 0
    for case in cases:
        text = case["text"]
        if skip and skip(text):
            continue
        compared += 1
        got = {
            "auto ids": auto(text)["input_ids"],
            "auto ids_no_special": auto(text, add_special_tokens=False)["input_ids"],
            "tokenizers ids": raw.encode(text, add_special_tokens=True).ids,
            "tokenizers ids_no_special": raw.encode(text, add_special_tokens=False).ids,
            "auto decoded": auto.decode(case["ids"], skip_special_tokens=False),
            "auto decoded_skip_special": auto.decode(case["ids"], skip_special_tokens=True),
        }
        for what, value in got.items():
            key = what.split(" ", 1)[1]
            if value != case[key]:
                failures.append(f"{name}: {what} differs for {text!r}: {value} != {case[key]}")
    print(f"{name}: {type(auto).__name__}, {compared} lines, {len(failures)} differences, "
          f"bos={auto.bos_token!r} eos={auto.eos_token!r} model_max_length={auto.model_max_length} "
          f"chat_template={'yes' if auto.chat_template else 'no'}")
    return failures


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_tokenizer_export.py EXPORT_DIR")
    root = sys.argv[1]
    failures, checked = [], 0
    for name in REFERENCES:
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            print(f"{name}: no folder {folder}, skipped")
            continue
        checked += 1
        failures += check(folder, name)
    for line in failures[:40]:
        print(line)
    if failures or checked == 0:
        sys.exit(f"FAILED: {len(failures)} differences in {checked} folders")
    print(f"OK: {checked} folders match the references")


if __name__ == "__main__":
    main()
