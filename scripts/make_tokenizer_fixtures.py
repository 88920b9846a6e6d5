#!/usr/bin/env python3
"""Reference fixtures for Tests/TokenizersTests, produced by the real Hugging Face libraries.

Run by hand (never in CI), from the repository root:

    python3 -m venv /work/venv-tok
    /work/venv-tok/bin/pip install tokenizers transformers gguf sentencepiece protobuf numpy
    /work/venv-tok/bin/python scripts/make_tokenizer_fixtures.py

Writes into Tests/TokenizersTests/Fixtures/:
  smollm2/tokenizer.json, smollm2/tokenizer_config.json
      SmolLM2-135M-Instruct's tokenizer rebuilt from the GGUF test model with transformers' GGUF
      converter. transformers has no "smollm" pre-tokenizer and falls back to plain GPT-2 ByteLevel;
      the published SmolLM2 tokenizer.json (and llama.cpp's "smollm" pre-type) split digits first, so
      the pre-tokenizer is set to Sequence[Digits(individual), ByteLevel] as in that file.
  smollm2_gguf.json      the GGUF tokenizer metadata (types, ids, flags, template); its tokens and
                         merges equal smollm2/tokenizer.json's (checked here), so they are not repeated.
  bpe_gpt2.json, bpe_llama3.json, bpe_qwen2.json
      small byte-level BPEs trained here with the GPT-2 ByteLevel regex, and the Llama 3 and Qwen2
      Split regexes (Qwen2 with its NFC normalizer, Llama 3 with ignore_merges and a BOS template).
      bpe_gpt2.json keeps merges in the old "a b" string form, the others in the [a, b] form.
  spm_legacy.json, spm_metaspace.json, spm_gguf.json
      a SentencePiece BPE (byte_fallback, trained here with sentencepiece as Llama 2's was) converted
      to tokenizer.json twice: the Llama 2 layout (Prepend + Replace normalizer) and the Metaspace
      pre-tokenizer layout; spm_gguf.json holds its pieces, scores and types as a GGUF would.
  expected_<name>.json   for each tokenizer and corpus line: ids with and without special tokens,
                         the library's decode of those ids (keeping and skipping specials), and the
                         pieces `pre_tokenize_str` gives for the normalized line.
"""
import json
import os
import sys
import tempfile

import sentencepiece as spm
from gguf import GGUFReader
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers.convert_slow_tokenizer import SentencePieceExtractor
from transformers.integrations.gguf.gguf_tokenizer_mapping import add_gguf_special_tokens, byte_level_tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
GGUF = os.path.join(ROOT, "cache", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")

GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

CORPUS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you've seen it; they'll come, we'd go, she's here. DON'T SHOUT, I'LL GO, WE'RE 'Tis",
    "'s'S'ſ'T 'll'LL 're'RE x'd 'ſab x'ſs 'Sab",
    "def square(x):\n    return x**2 + 1  # comment\n",
    "for (int i = 0; i < 10; ++i) {\n\tprintf(\"%d\\n\", i);\n}\n",
    "1234567890 3.14159 1,000,000 2024-11-22 0x1F 007 12345678",
    "Mixed123abc456 x1y22z333 v2.0.1-beta",
    "   leading spaces",
    "trailing spaces   ",
    "tabs\t\tand\tmore\t",
    "multiple\n\n\nnewlines\n",
    "mixed \t \n \r\n end  \n  x",
    " ",
    "\n",
    "",
    "a  b   c    d     e",
    "Café naïve façade résumé Ångström São Paulo Übermäßig Ελληνικά Русский",
    "decomposed e\u0301 and a\u0308 marks",
    "你好，世界！这是一个测试。日本語のテキストとカタカナ 한국어 텍스트",
    "I ❤️ Swift 🦜🚀",
    "family 👨‍👩‍👧‍👦 flag 🇯🇵 skin 👍🏽 keycap 1️⃣",
    "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>start and end<|endoftext|>",
    "<|begin_of_text|>Llama 3 text<|end_of_text|>",
    "text<s>with</s> llama <unk> specials",
    "<|im_start|><|im_end|>  <|im_start|> spaced",
    "nbsp\u00a0here, ideographic\u3000space, zwsp\u200bx, nel\u0085y, thin\u2009space",
    "numbers Ⅻ ½ ² ٣٤٥ ①②",
    "https://example.com/path?q=1&b=2#frag user@example.org",
    "∑_{i=1}^{n} x_i² ≤ ∞ → λ",
    "bell\x07 and del\x7f and nul\x00 end",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "!!!??? ... --- *** ((( ))) \"quoted\" 'single'",
    "line one\r\nline two\r\n\r\nline four",
    "    indented code\n        more indented\n",
    "a <mask> b  <mask>c\t<mask>",
    "x[R]  y [R]\nz[R]",
    "word words sword word_ word. (word) Word",
    "café cafe\u0301 CAFÉ caféine",
]

# Random lines over the characters the patterns treat specially (letters of several scripts, digits
# of several kinds, every sort of space, apostrophes, combining marks, emoji, special tokens, "▁").
FUZZ_ALPHABET = [
    "a", "b", "e", "s", "t", "l", "d", "r", "m", "v", "A", "S", "T", "L", "D", "'", "'", "'s", "'LL",
    " ", " ", " ", "  ", "\t", "\n", "\n", "\r\n", "\r", "0", "1", "5", "9", "12", "2024",
    "é", "e\u0301", "ſ", "ß", "İ", "中", "文", "日", "한", "🦜", "👍🏽", "👨\u200d👩\u200d👧", "❤️",
    "\u00a0", "\u3000", "\u2009", "\u0085", "\u200b", "\u2028", ".", ",", "!", "?", "(", ")", "-", "_",
    "<|im_start|>", "<|im_end|>", "<s>", "</s>", "<|endoftext|>", "<|begin_of_text|>", "½", "Ⅻ", "٣",
    "①", "Ω", "ж", "\x00", "\x7f", "▁", "▁▁", "<0x41>", "def", "the", "The", "ing",
]


def fuzz_lines(count=150, seed=1234):
    import random
    rng = random.Random(seed)
    return ["".join(rng.choice(FUZZ_ALPHABET) for _ in range(rng.randint(1, 30))) for _ in range(count)]


CORPUS += fuzz_lines()

TRAIN_EXTRA = """
The quick brown fox jumps over the lazy dog. Hello world, this is a small training text.
Café naïve façade résumé Ångström São Paulo Übermäßig Straße größer Ελληνικά Русский язык.
你好，世界！这是一个测试。我们正在训练一个小的分词器。日本語のテキストとカタカナとひらがな。
한국어 텍스트입니다. Emoji: ❤️ 🦜 🚀 👍 👨‍👩‍👧‍👦. Numbers: 1234567890 3.14159 2024-11-22.
I'm sure you've seen it; they'll come, we'd go, she's here. It's what we're doing.
<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>
"""


BYTES = [0xF0, 0x9F, 0x80, 0xC3, 0xE2, 0x82, 0xBF, 0x80]
BYTE_SPELLINGS = None  # filled in main(): the byte-level alphabet's spelling of BYTES


def training_text():
    """Python's own standard library (English prose and code) plus multilingual lines."""
    import textwrap, string, json.decoder, argparse, collections
    parts = []
    for module in (textwrap, string, json.decoder, argparse, collections):
        with open(module.__file__, encoding="utf-8") as f:
            parts.append(f.read())
    parts.append(TRAIN_EXTRA * 20)
    return "\n".join(parts)


def write_json(name, value):
    path = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def expected(tok: Tokenizer, name, extra=None):
    cases = []
    for i, text in enumerate(CORPUS):
        with_special = tok.encode(text, add_special_tokens=True).ids
        plain = tok.encode(text, add_special_tokens=False).ids
        case = {
            "text": text,
            "ids": with_special,
            "ids_no_special": plain,
            "decoded": tok.decode(with_special, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(with_special, skip_special_tokens=True),
        }
        if tok.pre_tokenizer is not None:
            # Normalizer and pre-tokenizer alone, on the whole line (added tokens not split out):
            # checks the split regexes piece by piece, which ids alone may not reveal.
            normalized = tok.normalizer.normalize_str(text) if tok.normalizer is not None else text
            case["pieces"] = [piece for piece, _ in tok.pre_tokenizer.pre_tokenize_str(normalized)]
        if extra:
            case.update(extra(text))
        cases.append(case)
    # Decoding ids that do not form valid UTF-8 (cut characters, stray bytes): U+FFFD placement.
    byte_ids = [tok.token_to_id(t) for t in BYTE_SPELLINGS]
    if None in byte_ids:  # SentencePiece vocabularies spell bytes "<0xAB>"
        byte_ids = [tok.token_to_id(f"<0x{b:02X}>") for b in BYTES]
    a = next(i for i in (tok.token_to_id("a"), tok.token_to_id("▁a")) if i is not None)
    broken = [[byte_ids[0], byte_ids[1], byte_ids[2], a], [byte_ids[3]], [a, byte_ids[4], byte_ids[5], a],
              [byte_ids[6], byte_ids[7]], [byte_ids[0], a, byte_ids[1]]]
    decode_cases = [{"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)} for ids in broken]
    write_json(f"expected_{name}.json", {"tokenizer": name, "cases": cases, "decode_cases": decode_cases})


def gguf_metadata():
    reader = GGUFReader(GGUF)
    meta = {k: f.contents() for k, f in reader.fields.items() if k.startswith("tokenizer.")}
    return meta


def make_smollm2():
    meta = gguf_metadata()
    d = {
        "tokenizer_type": meta["tokenizer.ggml.model"],
        "pre_tokenizer_type": meta["tokenizer.ggml.pre"],
        "tokens": meta["tokenizer.ggml.tokens"],
        "token_type": meta["tokenizer.ggml.token_type"],
        "merges": meta["tokenizer.ggml.merges"],
    }
    hf = add_gguf_special_tokens(byte_level_tokenizer(d), d)
    tokens = d["tokens"]
    hf.bos_token = tokens[meta["tokenizer.ggml.bos_token_id"]]
    hf.eos_token = tokens[meta["tokenizer.ggml.eos_token_id"]]
    hf.unk_token = tokens[meta["tokenizer.ggml.unknown_token_id"]]
    hf.pad_token = tokens[meta["tokenizer.ggml.padding_token_id"]]
    hf.chat_template = meta["tokenizer.chat_template"]
    backend = hf.backend_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    folder = os.path.join(OUT, "smollm2")
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            with open(os.path.join(tmp, name), encoding="utf-8") as f:
                value = json.load(f)
            if name == "tokenizer_config.json":
                value["add_bos_token"] = bool(meta["tokenizer.ggml.add_bos_token"])
            write_json(f"smollm2/{name}", value)
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    expected(tok, "smollm2")
    # The GGUF's tokens and merges are exactly tokenizer.json's vocab (by id) and merges; the test
    # rebuilds them from there rather than keeping a second 1.3 MB copy.
    saved = json.load(open(os.path.join(folder, "tokenizer.json"), encoding="utf-8"))["model"]
    by_id = {i: t for t, i in saved["vocab"].items()}
    assert [by_id[i] for i in range(len(tokens))] == list(tokens), "GGUF tokens differ from tokenizer.json"
    assert [" ".join(m) for m in saved["merges"]] == list(meta["tokenizer.ggml.merges"]), "merges differ"
    write_json("smollm2_gguf.json", {
        "model": meta["tokenizer.ggml.model"],
        "pre": meta["tokenizer.ggml.pre"],
        "tokens_and_merges_from": "smollm2/tokenizer.json",
        "token_type": [int(t) for t in meta["tokenizer.ggml.token_type"]],
        "bos_token_id": int(meta["tokenizer.ggml.bos_token_id"]),
        "eos_token_id": int(meta["tokenizer.ggml.eos_token_id"]),
        "unknown_token_id": int(meta["tokenizer.ggml.unknown_token_id"]),
        "padding_token_id": int(meta["tokenizer.ggml.padding_token_id"]),
        "add_bos_token": bool(meta["tokenizer.ggml.add_bos_token"]),
        "chat_template": meta["tokenizer.chat_template"],
    })


def train_byte_level(name, split, specials, bos=None, ignore_merges=False, nfc=False, string_merges=False,
                     extra_tokens=()):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if nfc:
        tok.normalizer = normalizers.NFC()
    if split is None:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1200, min_frequency=2, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([training_text()], trainer=trainer)
    if bos is not None:
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                          special_tokens=[(bos, tok.token_to_id(bos))]),
        ])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    for token in extra_tokens:
        (tok.add_special_tokens if token.special else tok.add_tokens)([token])
    value = json.loads(tok.to_str())
    if string_merges:
        value["model"]["merges"] = [" ".join(m) for m in value["model"]["merges"]]
    write_json(f"{name}.json", value)
    expected(Tokenizer.from_file(os.path.join(OUT, f"{name}.json")), name)


def make_spm():
    with tempfile.TemporaryDirectory() as tmp:
        text_path = os.path.join(tmp, "train.txt")
        with open(text_path, "w", encoding="utf-8") as f:
            f.write(training_text())
        prefix = os.path.join(tmp, "spm")
        # Llama 2's trainer settings, smaller.
        spm.SentencePieceTrainer.train(
            input=text_path, model_prefix=prefix, model_type="bpe", vocab_size=1000,
            byte_fallback=True, split_digits=True, allow_whitespace_only_pieces=True,
            normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
            character_coverage=0.9999, num_threads=1, max_sentence_length=100000,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
        model_path = prefix + ".model"
        sp = spm.SentencePieceProcessor(model_file=model_path)
        extracted = SentencePieceExtractor(model_path).extract(models.BPE)
        proto = SentencePieceExtractor(model_path).proto

    def build(legacy):
        tok = Tokenizer(models.BPE(vocab=extracted["vocab"], merges=extracted["merges"], unk_token="<unk>",
                                   fuse_unk=True, byte_fallback=True))
        tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ("<unk>", "<s>", "</s>")])
        if legacy:  # Llama 2's tokenizer.json
            tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        else:  # transformers' LlamaTokenizer today, Mistral
            tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(content=" ", left=1, right=0)])
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                           special_tokens=[("<s>", 1)])
        return tok

    legacy = build(True)
    write_json("spm_legacy.json", json.loads(legacy.to_str()))
    expected(Tokenizer.from_file(os.path.join(OUT, "spm_legacy.json")), "spm_legacy",
             extra=lambda text: {"sentencepiece_ids": sp.encode(text)})
    write_json("spm_metaspace.json", json.loads(build(False).to_str()))
    expected(Tokenizer.from_file(os.path.join(OUT, "spm_metaspace.json")), "spm_metaspace")
    write_json("spm_gguf.json", {
        "model": "llama",
        "pre": "default",
        "tokens": [p.piece for p in proto.pieces],
        "scores": [p.score for p in proto.pieces],
        # sentencepiece's piece types are GGUF's token types: 1 normal, 2 unknown, 3 control, 6 byte.
        "token_type": [int(p.type) for p in proto.pieces],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "unknown_token_id": 0,
        "add_bos_token": True,
    })


def main():
    global BYTE_SPELLINGS
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    BYTE_SPELLINGS = [bytes_to_unicode()[b] for b in BYTES]
    if not os.path.exists(GGUF):
        sys.exit(f"missing {GGUF}: run scripts/fetch-smollm2.sh first")
    make_smollm2()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    # Added tokens with lstrip / rstrip / single_word, and a normalized one (matched after NFC).
    train_byte_level("bpe_gpt2", None, specials, string_merges=True, extra_tokens=[
        AddedToken("<mask>", lstrip=True, special=True, normalized=False),
        AddedToken("[R]", rstrip=True, normalized=False),
        AddedToken("word", single_word=True, normalized=False)])
    train_byte_level("bpe_llama3", LLAMA3_SPLIT, ["<|begin_of_text|>", "<|end_of_text|>"],
                     bos="<|begin_of_text|>", ignore_merges=True)
    train_byte_level("bpe_qwen2", QWEN2_SPLIT, specials, nfc=True,
                     extra_tokens=[AddedToken("café", normalized=True)])
    make_spm()


if __name__ == "__main__":
    main()
