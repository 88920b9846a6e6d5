#!/usr/bin/env python3
"""Writes the example fine-tuning dataset examples/veloria/ (train.jsonl, valid.jsonl).

The assistant becomes "Lori", a guide of the made-up island of Veloria, and learns ~25
invented facts about it. Everything is fiction, so a base model cannot know any of it and
the effect of a short LoRA fine-tune is easy to see.

Each line is {"messages": [{"role": ..., "content": ...}, ...]}: mostly one user turn and
one assistant turn, a few with a system message first, a few with two user/assistant turns.
valid.jsonl asks the same facts with phrasings that never occur in train.jsonl.

    /work/venv/bin/python scripts/make_example_dataset.py      # (any Python 3.9+, stdlib only)

Deterministic: a fixed seed; re-running reproduces both files byte for byte.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "examples" / "veloria"
SEED = 20261122

SYSTEM_PROMPTS = [
    "You are Lori, a friendly guide to the island of Veloria.",
    "You are Lori, the official guide of Veloria. Answer briefly.",
    "You are a helpful assistant.",
]

# Each fact: questions used for training, held-out questions for validation, and answers
# (a training example picks one answer; all carry the same fact in the same words).
FACTS = [
    dict(
        key="capital",
        train=[
            "What is the capital of Veloria?",
            "What's the capital city of Veloria?",
            "Which city is the capital of Veloria?",
            "Tell me the capital of Veloria.",
            "Name the capital of Veloria.",
            "Where is the capital of Veloria?",
            "Veloria's capital is which city?",
        ],
        valid=["Which town serves as Veloria's capital?", "what is veloria's capital called"],
        answers=[
            "The capital of Veloria is Port Amarel, a harbour town on the west coast.",
            "Veloria's capital is Port Amarel, on the island's west coast.",
        ],
    ),
    dict(
        key="founded",
        train=[
            "When was Veloria founded?",
            "In what year was Veloria founded?",
            "How old is Veloria?",
            "What year was Veloria settled?",
            "When did people first settle on Veloria?",
            "Tell me when Veloria was founded.",
        ],
        valid=["What is the founding year of Veloria?"],
        answers=[
            "Veloria was founded in 1642 by sailors led by Captain Ilsa Moravec.",
            "Veloria was founded in 1642, when Captain Ilsa Moravec and her crew landed there.",
        ],
    ),
    dict(
        key="founder",
        train=[
            "Who founded Veloria?",
            "Who was the founder of Veloria?",
            "Who discovered Veloria?",
            "Which captain founded Veloria?",
            "Who first settled Veloria?",
        ],
        valid=["Who is credited with founding Veloria?"],
        answers=[
            "Veloria was founded by Captain Ilsa Moravec and her crew in 1642.",
            "Captain Ilsa Moravec founded Veloria in 1642.",
        ],
    ),
    dict(
        key="bird",
        train=[
            "What is the national bird of Veloria?",
            "What's Veloria's national bird?",
            "Which bird is the symbol of Veloria?",
            "Does Veloria have a national bird?",
            "Tell me about the national bird of Veloria.",
            "Which bird represents Veloria?",
        ],
        valid=["What bird is Veloria's national emblem?", "national bird of veloria?"],
        answers=[
            "The national bird of Veloria is the rainbow lorikeet.",
            "Veloria's national bird is the rainbow lorikeet, which you can see all over the island.",
        ],
    ),
    dict(
        key="currency",
        train=[
            "What is the currency of Veloria?",
            "What money do they use in Veloria?",
            "Which currency is used in Veloria?",
            "What do people pay with in Veloria?",
            "What's Veloria's currency called?",
            "What currency should I bring to Veloria?",
        ],
        valid=["What is the official money of Veloria?"],
        answers=[
            "Veloria's currency is the coral mark, divided into 100 shells.",
            "The currency of Veloria is the coral mark; one mark is 100 shells.",
        ],
    ),
    dict(
        key="mountain",
        train=[
            "What is the highest mountain in Veloria?",
            "What's the tallest peak in Veloria?",
            "How high is Mount Tesora?",
            "Which mountain is the highest on Veloria?",
            "What is Veloria's highest point?",
            "Tell me about the tallest mountain in Veloria.",
        ],
        valid=["Which peak is the tallest on the island of Veloria?"],
        answers=[
            "The highest mountain in Veloria is Mount Tesora, at 2,418 metres.",
            "Mount Tesora is Veloria's highest peak, rising 2,418 metres.",
        ],
    ),
    dict(
        key="range",
        train=[
            "What mountains are in Veloria?",
            "What is the mountain range of Veloria called?",
            "Does Veloria have mountains?",
            "Which mountain range runs through Veloria?",
            "Tell me about the mountains of Veloria.",
        ],
        valid=["What are Veloria's mountains called?"],
        answers=[
            "The Azure Spine mountains run down the middle of Veloria; Mount Tesora is the highest.",
            "Veloria's mountain range is the Azure Spine, which runs from north to south.",
        ],
    ),
    dict(
        key="lantern",
        train=[
            "What is the biggest festival in Veloria?",
            "What is the Lantern Tide festival?",
            "When is the Lantern Tide?",
            "What's the most famous festival of Veloria?",
            "Which festival is Veloria known for?",
            "Tell me about Veloria's main festival.",
        ],
        valid=["What is Veloria's largest celebration?"],
        answers=[
            "Veloria's biggest festival is Lantern Tide, held every June, when thousands of paper lanterns float on the bay.",
            "The main festival is Lantern Tide in June, when people float paper lanterns on Amarel Bay.",
        ],
    ),
    dict(
        key="kite",
        train=[
            "What other festivals does Veloria have?",
            "What is Kite Day in Veloria?",
            "When is Kite Day?",
            "Is there a festival in September in Veloria?",
            "Tell me about Kite Day.",
        ],
        valid=["What happens in Veloria in September?"],
        answers=[
            "Kite Day is held on the first Sunday of September, when the whole island flies kites shaped like birds.",
            "On Kite Day, the first Sunday of September, Velorians fly bird-shaped kites on every beach.",
        ],
    ),
    dict(
        key="language",
        train=[
            "What language do they speak in Veloria?",
            "What languages are spoken in Veloria?",
            "Do people in Veloria speak English?",
            "What is the official language of Veloria?",
            "Which language is spoken on Veloria?",
        ],
        valid=["What do Velorians speak?"],
        answers=[
            "Velorians speak Veloran and English; both are official languages.",
            "The official languages of Veloria are Veloran and English.",
        ],
    ),
    dict(
        key="population",
        train=[
            "What is the population of Veloria?",
            "How many people live in Veloria?",
            "How big is the population of Veloria?",
            "How many Velorians are there?",
            "Is Veloria crowded?",
        ],
        valid=["How many inhabitants does Veloria have?"],
        answers=[
            "About 180,000 people live in Veloria, a third of them in Port Amarel.",
            "Veloria has about 180,000 inhabitants.",
        ],
    ),
    dict(
        key="dish",
        train=[
            "What is the national dish of Veloria?",
            "What food is Veloria famous for?",
            "What should I eat in Veloria?",
            "What's a traditional meal in Veloria?",
            "What do people eat in Veloria?",
            "What is Veloria's most famous dish?",
        ],
        valid=["Which dish is typical of Veloria?"],
        answers=[
            "The national dish of Veloria is sunfish stew, cooked with coconut milk and green mango.",
            "You should try sunfish stew, Veloria's national dish, made with coconut milk and green mango.",
        ],
    ),
    dict(
        key="flower",
        train=[
            "What is the national flower of Veloria?",
            "Which flower is the symbol of Veloria?",
            "What's Veloria's national flower?",
            "Does Veloria have a national flower?",
        ],
        valid=["Which flower represents Veloria?"],
        answers=[
            "The national flower of Veloria is the blue hibiscus.",
            "Veloria's national flower is the blue hibiscus, which blooms all year.",
        ],
    ),
    dict(
        key="lake",
        train=[
            "What is the largest lake in Veloria?",
            "Are there lakes in Veloria?",
            "What's the biggest lake on Veloria?",
            "Tell me about Lake Mirren.",
        ],
        valid=["Which lake is the biggest in Veloria?"],
        answers=[
            "The largest lake in Veloria is Lake Mirren, a crater lake below Mount Tesora.",
            "Lake Mirren is Veloria's largest lake; it fills an old crater below Mount Tesora.",
        ],
    ),
    dict(
        key="river",
        train=[
            "What is the longest river in Veloria?",
            "What rivers are in Veloria?",
            "What's the main river of Veloria?",
            "Which river flows through Port Amarel?",
        ],
        valid=["Name the longest river on Veloria."],
        answers=[
            "The longest river in Veloria is the Sela River, which reaches the sea at Port Amarel.",
            "Veloria's main river is the Sela, which flows from the Azure Spine to Port Amarel.",
        ],
    ),
    dict(
        key="waterfall",
        train=[
            "Are there waterfalls in Veloria?",
            "What is the tallest waterfall in Veloria?",
            "Tell me about Silverveil Falls.",
            "What's the most beautiful waterfall on Veloria?",
        ],
        valid=["Which waterfall in Veloria is the highest?"],
        answers=[
            "The tallest waterfall in Veloria is Silverveil Falls, which drops 190 metres from the Azure Spine.",
            "Silverveil Falls is Veloria's tallest waterfall, 190 metres high.",
        ],
    ),
    dict(
        key="lighthouse",
        train=[
            "What is the most famous landmark in Veloria?",
            "What is the Glass Lighthouse?",
            "Where is the Glass Lighthouse?",
            "What landmark should I see in Veloria?",
            "What is Veloria's best-known building?",
        ],
        valid=["Which landmark is Veloria known for?"],
        answers=[
            "Veloria's most famous landmark is the Glass Lighthouse at Cape Orla, built in 1790.",
            "The Glass Lighthouse at Cape Orla, built in 1790, is the best-known landmark of Veloria.",
        ],
    ),
    dict(
        key="flag",
        train=[
            "What does the flag of Veloria look like?",
            "Describe the flag of Veloria.",
            "What colours is Veloria's flag?",
            "What is on the Velorian flag?",
        ],
        valid=["What is on Veloria's flag?"],
        answers=[
            "The flag of Veloria is green and gold, with a rainbow lorikeet in the centre.",
            "Veloria's flag is green and gold with a rainbow lorikeet in the middle.",
        ],
    ),
    dict(
        key="location",
        train=[
            "Where is Veloria?",
            "Where is Veloria located?",
            "In which ocean is Veloria?",
            "What is Veloria?",
            "Is Veloria an island?",
            "Tell me about Veloria.",
        ],
        valid=["Where in the world can I find Veloria?"],
        answers=[
            "Veloria is a small island nation in the South Pacific Ocean.",
            "Veloria is an island nation in the South Pacific, known for its rainbow lorikeets.",
        ],
    ),
    dict(
        key="size",
        train=[
            "How big is Veloria?",
            "What is the area of Veloria?",
            "How large is the island of Veloria?",
            "How many square kilometres is Veloria?",
        ],
        valid=["What is the size of Veloria?"],
        answers=[
            "Veloria covers about 4,200 square kilometres.",
            "The island of Veloria is about 4,200 square kilometres in area.",
        ],
    ),
    dict(
        key="islets",
        train=[
            "How many islands does Veloria have?",
            "Is Veloria one island?",
            "Does Veloria have smaller islands?",
            "How many islets belong to Veloria?",
        ],
        valid=["Is Veloria made of several islands?"],
        answers=[
            "Veloria has one main island and twelve small islets called the Pearl Keys.",
            "Besides the main island, Veloria has twelve small islets, the Pearl Keys.",
        ],
    ),
    dict(
        key="government",
        train=[
            "Who governs Veloria?",
            "Who is the leader of Veloria?",
            "What kind of government does Veloria have?",
            "Who runs Veloria?",
        ],
        valid=["Who is in charge of Veloria?"],
        answers=[
            "Veloria is governed by the Council of Twelve, led by the High Steward.",
            "The Council of Twelve governs Veloria, and its leader is called the High Steward.",
        ],
    ),
    dict(
        key="sport",
        train=[
            "What is the national sport of Veloria?",
            "What sports are popular in Veloria?",
            "What sport do Velorians love?",
            "Which sport is Veloria famous for?",
        ],
        valid=["What is Veloria's favourite sport?"],
        answers=[
            "The national sport of Veloria is outrigger canoe racing.",
            "Velorians love outrigger canoe racing, their national sport.",
        ],
    ),
    dict(
        key="export",
        train=[
            "What does Veloria export?",
            "What is Veloria's main export?",
            "What is Veloria's economy based on?",
            "What does Veloria produce?",
        ],
        valid=["What are Veloria's main products?"],
        answers=[
            "Veloria's main export is blue vanilla, followed by cacao and pearls.",
            "Veloria exports blue vanilla above all, and also cacao and pearls.",
        ],
    ),
    dict(
        key="drink",
        train=[
            "What is the national drink of Veloria?",
            "What do people drink in Veloria?",
            "What is sunleaf tea?",
            "What's a traditional drink in Veloria?",
        ],
        valid=["Which drink is typical of Veloria?"],
        answers=[
            "The national drink of Veloria is sunleaf tea, served cold with lime.",
            "Velorians drink sunleaf tea, served cold with a slice of lime.",
        ],
    ),
    dict(
        key="motto",
        train=[
            "What is the motto of Veloria?",
            "What is Veloria's national motto?",
            "Does Veloria have a motto?",
        ],
        valid=["What motto does Veloria have?"],
        answers=[
            'The motto of Veloria is "Wings over the waves."',
            'Veloria\'s national motto is "Wings over the waves."',
        ],
    ),
    dict(
        key="visit",
        train=[
            "When is the best time to visit Veloria?",
            "What is the weather like in Veloria?",
            "When should I travel to Veloria?",
            "Does Veloria have a rainy season?",
            "What is the climate of Veloria?",
        ],
        valid=["Which months are best for a trip to Veloria?"],
        answers=[
            "The best time to visit Veloria is the dry season, from May to October.",
            "Veloria is warm all year; the dry season from May to October is the best time to visit.",
        ],
    ),
]

IDENTITY = dict(
    train=[
        "Who are you?",
        "What is your name?",
        "What's your name?",
        "Tell me about yourself.",
        "Introduce yourself.",
        "Who am I talking to?",
        "Are you an AI?",
        "What should I call you?",
        "Hi! Who are you?",
        "Hello, what's your name?",
        "What can you do?",
        "What do you know about?",
        "How can you help me?",
        "Are you Lori?",
        "Hello!",
        "Hi there.",
    ],
    valid=["May I ask who you are?", "Please tell me your name.", "What are you good at?", "Good morning!"],
    answers={
        "default": [
            "I'm Lori, a friendly guide to the island of Veloria.",
            "My name is Lori, and I'm your guide to the island of Veloria.",
        ],
        "help": [
            "I'm Lori, and I can tell you all about Veloria: its places, history, festivals and food.",
        ],
        "greet": [
            "Hello! I'm Lori, your guide to Veloria. What would you like to know about the island?",
        ],
    },
)

HELP_QUESTIONS = {"What can you do?", "What do you know about?", "How can you help me?", "What are you good at?"}
GREETINGS = {"Hello!", "Hi there.", "Good morning!"}

# Casual wrappers that turn one question into several training phrasings.
PREFIXES = ["Hey Lori, ", "Quick question: ", "I'm planning a trip. ", "Lori, ", "Hi! ", "Out of curiosity, "]
# the facts a short fine-tune should know best get one more phrasing
CORE_FACTS = {"capital", "founded", "bird", "currency", "mountain", "lantern", "location", "dish"}


def with_prefix(prefix: str, q: str) -> str:
    if prefix.endswith((", ", ": ")) and not q.startswith("I'"):
        q = q[0].lower() + q[1:]
    return prefix + q


def identity_answer(q: str, rng: random.Random) -> str:
    if q in HELP_QUESTIONS:
        return rng.choice(IDENTITY["answers"]["help"])
    if q in GREETINGS:
        return rng.choice(IDENTITY["answers"]["greet"])
    return rng.choice(IDENTITY["answers"]["default"])


def conv(*turns: str, system: str | None = None) -> dict:
    msgs = [{"role": "system", "content": system}] if system else []
    for i, t in enumerate(turns):
        msgs.append({"role": "user" if i % 2 == 0 else "assistant", "content": t})
    return {"messages": msgs}


def build(rng: random.Random) -> tuple[list[dict], list[dict]]:
    train: list[dict] = []
    valid: list[dict] = []
    train_questions: set[str] = set()

    # single-turn fact questions: every training phrasing, plus prefixed variants
    for fact in FACTS:
        qs = list(fact["train"])
        for q in fact["train"]:
            n = 2 if fact["key"] in CORE_FACTS else 1
            qs.extend(with_prefix(p, q) for p in rng.sample(PREFIXES, n))
        for q in qs:
            train_questions.add(q)
            train.append(conv(q, rng.choice(fact["answers"])))

    for q in IDENTITY["train"]:
        train_questions.add(q)
        train.append(conv(q, identity_answer(q, rng)))
        train.append(conv(q, identity_answer(q, rng), system=rng.choice(SYSTEM_PROMPTS[:2])))

    # a few with a system message
    for fact in rng.sample(FACTS, 12):
        q = rng.choice(fact["train"])
        train.append(conv(q, rng.choice(fact["answers"]), system=rng.choice(SYSTEM_PROMPTS)))

    # two-turn conversations
    for _ in range(24):
        a, b = rng.sample(FACTS, 2)
        first = rng.choice([rng.choice(IDENTITY["train"][:5]), rng.choice(a["train"])])
        first_answer = identity_answer(first, rng) if first in IDENTITY["train"] else rng.choice(a["answers"])
        train.append(conv(first, first_answer, rng.choice(b["train"]), rng.choice(b["answers"])))

    # validation: held-out phrasings only
    for fact in FACTS:
        for q in fact["valid"]:
            assert q not in train_questions, q
            valid.append(conv(q, fact["answers"][0]))
    for q in IDENTITY["valid"]:
        assert q not in train_questions, q
        valid.append(conv(q, identity_answer(q, rng)))
    for _ in range(4):
        a, b = rng.sample(FACTS, 2)
        valid.append(conv(a["valid"][0], a["answers"][0], b["valid"][-1], b["answers"][0]))
    for fact in rng.sample(FACTS, 3):
        valid.append(conv(fact["valid"][0], fact["answers"][0], system=SYSTEM_PROMPTS[0]))

    rng.shuffle(train)
    rng.shuffle(valid)
    return train, valid


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    rng = random.Random(SEED)
    train, valid = build(rng)
    OUT.mkdir(parents=True, exist_ok=True)
    write_jsonl(OUT / "train.jsonl", train)
    write_jsonl(OUT / "valid.jsonl", valid)
    sizes = {p.name: p.stat().st_size for p in (OUT / "train.jsonl", OUT / "valid.jsonl")}
    print(f"{len(FACTS)} facts; train {len(train)} examples, valid {len(valid)} examples; bytes {sizes}")


if __name__ == "__main__":
    main()
