#!/usr/bin/env python3
"""Times llama.cpp (llama-cpp-python) the way `lorikeet bench generate` times Lorikeet.

The same prompt (the sentence "The quick brown fox jumps over the lazy dog. " repeated,
tokenized without special tokens, cut to --prompt-tokens), one evaluation of the whole
prompt, then --new-tokens greedy tokens, each one evaluation of a single token. Prints one
JSON object with the keys `lorikeet bench generate --json` prints.

    python scripts/bench_llamacpp.py --model M.gguf [--prompt-tokens 256] [--new-tokens 64] [--threads 2]
"""
import argparse
import json
import os
import time

import numpy as np
import llama_cpp
from llama_cpp import Llama


def last_logits(llm):
    """The logits of the last token evaluated (llama-cpp-python's `scores` stays empty
    unless logits_all is set)."""
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),)).copy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt-tokens", type=int, default=256)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()

    t0 = time.perf_counter()
    llm = Llama(model_path=args.model, n_ctx=args.prompt_tokens + args.new_tokens + 8, n_batch=512,
                n_threads=args.threads, n_threads_batch=args.threads, logits_all=False, verbose=False)
    load = time.perf_counter() - t0
    text = "The quick brown fox jumps over the lazy dog. " * args.prompt_tokens
    prompt = llm.tokenize(text.encode(), add_bos=False, special=False)[: args.prompt_tokens]

    t1 = time.perf_counter()
    llm.eval(prompt)
    prompt_time = time.perf_counter() - t1
    t2 = time.perf_counter()
    for _ in range(args.new_tokens):
        llm.eval([int(np.argmax(last_logits(llm)))])
    gen_time = time.perf_counter() - t2
    print(json.dumps({
        "engine": "llama.cpp", "version": llama_cpp.__version__, "threads": args.threads, "load_seconds": load,
        "prompt_tokens": len(prompt), "prompt_tokens_per_second": len(prompt) / prompt_time,
        "generated_tokens": args.new_tokens, "generation_tokens_per_second": args.new_tokens / gen_time,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
