#!/usr/bin/env python3
"""Drives `lorikeet serve` with the official `openai` package, the way a user's program would.

    python3 scripts/serve_openai_client.py http://127.0.0.1:8080/v1 [ADAPTER]

Lists the models, asks the base and ADAPTER (default: the first adapter listed) a chat
question, streams one answer, and checks: the streamed text equals the whole answer (greedy),
usage counts tokens, an unknown model is a NotFoundError and a bad request a BadRequestError.
Prints one line per check and exits non-zero on the first failure. Needs `pip install openai`.
"""
import sys

import openai

base_url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/v1"
client = openai.OpenAI(base_url=base_url, api_key="none")

models = client.models.list().data
ids = [m.id for m in models]
base = next(m.id for m in models if getattr(m, "parent", None) is None)
adapters = [m.id for m in models if getattr(m, "parent", None) == base]
adapter = sys.argv[2] if len(sys.argv) > 2 else (adapters[0] if adapters else base)
print(f"models: {ids} (base {base})")

question = [{"role": "user", "content": "What is the capital of Veloria?"}]
for model in [base, adapter]:
    r = client.chat.completions.create(model=model, messages=question, max_tokens=32, temperature=0)
    text = r.choices[0].message.content
    assert r.usage.completion_tokens > 0 and r.usage.prompt_tokens > 0, r.usage
    print(f"{model}: {text!r} ({r.usage.prompt_tokens} + {r.usage.completion_tokens} tokens, {r.choices[0].finish_reason})")
    pieces, usage, reason = [], None, None
    stream = client.chat.completions.create(model=model, messages=question, max_tokens=32, temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            reason = choice.finish_reason or reason
    assert "".join(pieces) == text, ("streamed", "".join(pieces), "whole", text)
    assert usage is not None and usage.completion_tokens == r.usage.completion_tokens, usage
    print(f"  streamed: same text in {len(pieces)} chunks, finish_reason {reason}, usage {usage.completion_tokens} tokens")

c = client.completions.create(model=adapter, prompt="The capital of Veloria is", max_tokens=8, temperature=0)
print(f"completions: {c.choices[0].text!r}")

try:
    client.chat.completions.create(model="no-such-model", messages=question)
    raise SystemExit("an unknown model was accepted")
except openai.NotFoundError as e:
    print(f"unknown model: 404 {e.body.get('code') if isinstance(e.body, dict) else e.body}")
try:
    client.chat.completions.create(model=base, messages=question, temperature=5)
    raise SystemExit("temperature 5 was accepted")
except openai.BadRequestError as e:
    print(f"bad temperature: 400 param {e.body.get('param') if isinstance(e.body, dict) else e.body}")
print("openai client: all checks passed")
