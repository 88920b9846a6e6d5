#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets into Fuzz/Seeds/<Target>/ from the
repository's own fixtures (small: well under 200 KB per target). Deterministic. Needs numpy and
gguf (/work/venv). With --local DIR it also writes larger seeds from local files (the SmolLM2
tokenizer.json, the head of cache/smollm2/*.gguf) into DIR/<Target>/, which is not committed.

    /work/venv/bin/python scripts/make_fuzz_seeds.py [--local .fuzz/local-seeds]
"""
import argparse, glob, json, os, shutil, struct, sys
import numpy as np
import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "Fuzz", "Seeds")
T = lambda *p: os.path.join(ROOT, "Tests", *p)


def put(target, name, data, base=SEEDS):
    d = os.path.join(base, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write_gguf(path, build, arch="llama"):
    w = gguf.GGUFWriter(path, arch)
    build(w)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    data = read(path); os.remove(path)
    return data


def safetensors_bytes(entries, metadata=None):
    """entries: [(name, dtype string, shape, raw bytes)] → a safetensors file."""
    header, blob = {}, b""
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def read_safetensors(path):
    data = read(path)
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    return header, data[8 + n:]


def gguf_seeds():
    tmp = "/tmp/lorikeet-seed.gguf"
    for f in ["peft/basic/llamacpp.gguf", "peft/layers/llamacpp.gguf"]:
        put("FuzzGGUF", f.replace("/", "_"), read(T("FineTuningTests/Fixtures", f)))
        put("FuzzGGUFAdapter", f.replace("/", "_"), read(T("FineTuningTests/Fixtures", f)))
    # One tensor per GGML type from the dequantization fixtures, raw blocks as stored.
    types = {t.name: t for t in gguf.GGMLQuantizationType}
    for blocks in sorted(glob.glob(T("QuantizationTests/Fixtures/*.blocks"))):
        name = os.path.basename(blocks)[:-len(".blocks")]
        if name not in types:
            continue
        qt = types[name]
        raw = np.frombuffer(read(blocks), dtype=np.uint8)

        def build(w, raw=raw, qt=qt):
            w.add_context_length(512); w.add_embedding_length(64); w.add_block_count(2)
            w.add_feed_forward_length(128); w.add_head_count(4); w.add_head_count_kv(2)
            w.add_layer_norm_rms_eps(1e-5); w.add_rope_freq_base(10000.0)
            w.add_array("test.nested", [[1, 2], [3]]); w.add_bool("test.flag", True)
            w.add_tensor("blk.0.ffn_up.weight", raw.reshape(1, -1), raw_dtype=qt)  # byte shape → [1, elements]
        put("FuzzGGUF", f"{name}.gguf", write_gguf(tmp, build))

    # Metadata-only files of each architecture the model configuration reader knows.
    for arch in ["llama", "qwen2", "qwen3", "smollm3", "phi3", "gemma2", "gemma3", "mistral"]:
        def build_arch(w, arch=arch):
            w.add_context_length(512); w.add_embedding_length(64); w.add_block_count(2)
            w.add_feed_forward_length(128); w.add_head_count(4); w.add_head_count_kv(2)
            w.add_key_length(16); w.add_value_length(16); w.add_rope_dimension_count(16)
            w.add_layer_norm_rms_eps(1e-6); w.add_rope_freq_base(10000.0); w.add_vocab_size(256)
            w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR); w.add_rope_scaling_factor(2.0)
            w.add_sliding_window(16)
            w.add_bos_token_id(1); w.add_eos_token_id(2)
            if arch == "smollm3":
                w.add_array("smollm3.no_rope_layers", [1, 0])
            if arch == "phi3":
                w.add_uint32("phi3.rope.scaling.original_context_length", 256)
                for which in ["long", "short"]:
                    w.add_tensor(f"rope_factors_{which}.weight", np.ones(8, dtype=np.float32))
            if arch == "llama":
                w.add_tensor("rope_freqs.weight", np.ones(8, dtype=np.float32))
        put("FuzzGGUF", f"arch_{arch}.gguf", write_gguf(tmp, build_arch, arch))

    # A tiny tokenizer GGUF (gpt2 / smollm) cut from SmolLM2's tokenizer.json: the first 600 ids.
    tok = json.load(open(T("TokenizersTests/Fixtures/smollm2/tokenizer.json")))
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])[:600]
    keep = {t for t, _ in vocab}
    merges = []
    for m in tok["model"]["merges"]:
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in keep and b in keep and a + b in keep:
            merges.append(f"{a} {b}")
    specials = {t["id"] for t in tok["added_tokens"]}

    def build_bpe(w):
        w.add_tokenizer_model("gpt2"); w.add_tokenizer_pre("smollm")
        w.add_token_list([t for t, _ in vocab])
        w.add_token_types([3 if i in specials else 1 for _, i in vocab])
        w.add_token_merges(merges)
        w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0)
        w.add_chat_template("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
    put("FuzzGGUFTokenizer", "smollm2_600.gguf", write_gguf(tmp, build_bpe))
    spm = json.load(open(T("TokenizersTests/Fixtures/spm_gguf.json")))

    def build_spm(w):
        w.add_tokenizer_model(spm["model"])
        w.add_token_list(spm["tokens"]); w.add_token_scores(spm["scores"]); w.add_token_types(spm["token_type"])
        w.add_bos_token_id(spm["bos_token_id"]); w.add_eos_token_id(spm["eos_token_id"])
        w.add_unk_token_id(spm["unknown_token_id"]); w.add_add_bos_token(spm["add_bos_token"])
    put("FuzzGGUFTokenizer", "spm.gguf", write_gguf(tmp, build_spm))


def safetensors_seeds():
    put("FuzzSafetensors", "python_written.safetensors", read(T("ModelFormatsTests/Fixtures/python_written.safetensors")))
    put("FuzzSafetensors", "peft_basic.safetensors", read(T("FineTuningTests/Fixtures/peft/basic/adapter/adapter_model.safetensors")))
    dtypes = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "U64": 8, "I32": 4, "U32": 4,
              "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1}
    entries = [(f"t.{d.lower()}", d, [2, 3], bytes(range(1, 1 + 6 * n))) for d, n in dtypes.items()]
    entries.append(("scalar", "F32", [], struct.pack("<f", 1.5)))
    entries.append(("empty", "F32", [0, 4], b""))
    put("FuzzSafetensors", "every_dtype.safetensors", safetensors_bytes(entries, {"format": "pt"}))
    put("FuzzSafetensors", "metadata_empty.safetensors", safetensors_bytes([("a", "F16", [1], b"\x00\x3c")], metadata={}))


def tokenizer_json_seeds():
    for f in ["bpe_gpt2.json", "bpe_llama3.json", "bpe_qwen2.json", "spm_legacy.json", "spm_metaspace.json"]:
        put("FuzzTokenizerJSON", f, read(T("TokenizersTests/Fixtures", f)))
    config = json.dumps({"bos_token": "<|endoftext|>", "eos_token": {"content": "<|endoftext|>"}}).encode()
    put("FuzzTokenizerJSON", "bpe_gpt2_with_config.json", read(T("TokenizersTests/Fixtures/bpe_gpt2.json")) + b"\0" + config)


def chat_template_seeds():
    for f in sorted(glob.glob(T("ChatTemplatesTests/Fixtures/*.json"))):
        d = json.load(open(f))
        base = os.path.basename(f)[:-5]
        if "template" in d:
            put("FuzzChatTemplate", f"{base}.jinja", d["template"])
        for i, case in enumerate(d.get("cases", [])):
            if "template" in case:
                put("FuzzChatTemplate", f"{base}_{case.get('name', i)}.jinja", case["template"])
    put("FuzzChatTemplate", "smollm2_tokenizer_config.json", read(T("TokenizersTests/Fixtures/smollm2/tokenizer_config.json")))


def dataset_seeds():
    put("FuzzDatasetRecord", "veloria_train.jsonl", b"\n".join(read(os.path.join(ROOT, "examples/veloria/train.jsonl")).split(b"\n")[:8]))
    for f in glob.glob(T("FineTuningTests/Fixtures/data/**/*.jsonl"), recursive=True):
        put("FuzzDatasetRecord", os.path.relpath(f, T("FineTuningTests/Fixtures/data")).replace("/", "_"), read(f))
    lines = [
        {"text": "Once upon a time."},
        {"prompt": "2+2=", "completion": " 4"},
        {"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": "Hello"}]},
        {"instruction": "Translate", "input": "chat", "output": "cat"},
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"},
                      {"role": "assistant", "content": "Because."}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]},
                      {"role": "assistant", "content": "ok", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {}}}]}]},
    ]
    for i, line in enumerate(lines):
        put("FuzzDatasetRecord", f"format_{i}.jsonl", json.dumps(line))


def settings_seeds():
    put("FuzzTrainingSettings", "lora.yaml", """# a LoRA run
method: lora
rank: 16
alpha: 32
dropout: 0.05
targets: [q_proj, k_proj, v_proj, o_proj]
rank-pattern: {"model.layers.0.self_attn.q_proj": 8}
alpha-pattern:
  model.layers.1.mlp.down_proj: 4.0
use-rslora: true
learning-rate: 2e-4
lr-schedule: cosine
warmup: 0.1
grad-accumulation: 4
max-grad-norm: 1.0
epochs: 2
batch-size: 2
max-seq-length: 512
packing: false
seed: 7
save-every: 100
""")
    put("FuzzTrainingSettings", "qlora.yaml", """method: qlora
quant: nf4
blocksize: 64
double-quant: true
optimizer: adamw8bit
optimizer-state-on-disk: false
grad-checkpoint: true
layers: [0, 1]
max-steps: 50
beta1: 0.9
beta2: 0.999
eps: 1.0e-8
weight-decay: 0.0
train-on-inputs: false
keep-checkpoints: 2
skip-nonfinite-steps: 3
freeze-embeddings: true
bf16-base: false
eval-every: 10
lora-init: gaussian
""")
    put("FuzzTrainingSettings", "saved_run.json", json.dumps(
        {"base-model": "tiny", "method": "full", "learning-rate": 1e-5, "epochs": 1, "targets": ["all-linear"],
         "rank-pattern": {}, "alpha-pattern": {}, "layers": None}))


def adapter_seeds():
    for name in ["basic", "layers", "rslora_patterns", "gemma2", "qwen3", "phi3"]:
        put("FuzzPEFTAdapter", f"config_{name}.json", b"\0" + read(T(f"FineTuningTests/Fixtures/peft/{name}/adapter/adapter_config.json")))
    for name in ["basic", "layers"]:
        put("FuzzPEFTAdapter", f"weights_{name}.safetensors", b"\1" + read(T(f"FineTuningTests/Fixtures/peft/{name}/adapter/adapter_model.safetensors")))
    put("FuzzMLXAdapter", "config_smollm2.json", b"\0" + read(T("FineTuningTests/Fixtures/mlx/smollm2_adapter/adapter_config.json")))
    # An mlx adapter for tiny_llama (hidden 64, kv 2 × 16): lora_a [in, r], lora_b [r, out].
    rng = np.random.default_rng(0)
    entries = []
    for layer in range(2):
        for module, (i, o) in {"self_attn.q_proj": (64, 64), "self_attn.v_proj": (64, 32), "mlp.down_proj": (128, 64)}.items():
            p = f"model.layers.{layer}.{module}"
            entries.append((p + ".lora_a", "F32", [i, 4], rng.standard_normal((i, 4), dtype=np.float32).tobytes()))
            entries.append((p + ".lora_b", "F32", [4, o], rng.standard_normal((4, o), dtype=np.float32).tobytes()))
    put("FuzzMLXAdapter", "weights_tiny.safetensors", b"\1" + safetensors_bytes(entries, {"format": "mlx"}))


def bnb_seeds():
    for variant in ["nf4", "fp4"]:
        header, blob = read_safetensors(T(f"LlamaTests/Fixtures/tiny_llama_bnb_{variant}/model.safetensors"))
        for name, info in sorted(header.items()):
            if ".quant_state.bitsandbytes__" in name:
                a, b = info["data_offsets"]
                state = json.loads(blob[a:b])
                nested = "nested_blocksize" in state
                mode = (1 if variant == "fp4" else 0) | (2 if nested else 0)
                put("FuzzBnBQuantState", f"{variant}_{'dq' if nested else 'plain'}.json", bytes([mode]) + blob[a:b])
                # The same state for the other absmax layout (the fixture holds one).
                if nested:
                    plain = {k: v for k, v in state.items() if not k.startswith("nested")}
                    put("FuzzBnBQuantState", f"{variant}_plain.json", bytes([mode & 1]) + json.dumps(plain).encode())
                else:
                    dq = dict(state, nested_blocksize=256, nested_offset=0.01)
                    put("FuzzBnBQuantState", f"{variant}_dq.json", bytes([mode | 2]) + json.dumps(dq).encode())
                break
    # The fuzz target's weight is [8, 64] with blocksize 64; a state that matches it exactly.
    for mode, t in enumerate(["nf4", "fp4", "nf4", "fp4"]):
        s = {"quant_type": t, "blocksize": 64, "dtype": "float32", "shape": [8, 64]}
        if mode & 2:
            s.update(nested_blocksize=256, nested_offset=0.02)
        put("FuzzBnBQuantState", f"target_shape_{mode}.json", bytes([mode]) + json.dumps(s).encode())


def hf_config_seeds():
    for f in sorted(glob.glob(T("LlamaTests/Fixtures/tiny_*/config*.json"))):
        put("FuzzHFConfig", os.path.basename(os.path.dirname(f)) + "_" + os.path.basename(f), read(f))


def local_seeds(base):
    put("FuzzTokenizerJSON", "smollm2.json", read(T("TokenizersTests/Fixtures/smollm2/tokenizer.json"))
        + b"\0" + read(T("TokenizersTests/Fixtures/smollm2/tokenizer_config.json")), base)
    for path in glob.glob(os.path.join(ROOT, "cache/smollm2/*.gguf")):
        with open(path, "rb") as f:
            head = f.read(4 << 20)
        put("FuzzGGUF", "smollm2_head.gguf", head, base)
        put("FuzzGGUFTokenizer", "smollm2_head.gguf", head, base)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--local", help="also write large local seeds into this folder (not committed)")
    args = ap.parse_args()
    shutil.rmtree(SEEDS, ignore_errors=True)
    for f in [gguf_seeds, safetensors_seeds, tokenizer_json_seeds, chat_template_seeds, dataset_seeds,
              settings_seeds, adapter_seeds, bnb_seeds, hf_config_seeds]:
        f()
    if args.local:
        local_seeds(args.local)
    for d in sorted(os.listdir(SEEDS)):
        files = os.listdir(os.path.join(SEEDS, d))
        size = sum(os.path.getsize(os.path.join(SEEDS, d, f)) for f in files)
        print(f"{d}: {len(files)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
