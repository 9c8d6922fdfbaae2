"""Write a synthetic bank of N cards with realistic Markdown, for the benchmark.

Each question has math, most have a table or a code block, two sources and tags; one in
ten is a cloze and one in twenty a compare of three rows. Files hold 100 questions each.
With `languages`, the bank also has a Chinese edition, as the shipped banks do: an overlay
beside each topic file that translates every question (its text marked as a translation,
its math, code and clozes kept), with the hashes of the English it was made from.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

import yaml

_SYLLABLES = ["ka", "lo", "mi", "ren", "tor", "vex", "qua", "dil", "sor", "pen", "gra", "nu", "zet", "bram", "hol", "fi"]
WORDS = sorted({a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in ("n", "s", "r", "x")})[:600]


def words(n: int, count: int) -> str:
    """A few pseudo-words, different for each question, so questions are not near-duplicates."""
    return " ".join(random.Random(n).sample(WORDS, count))

DECK = """\
title: Bench Deck
version: 0.0.0
description: A synthetic bank for deckgen's benchmark.
homepage: https://example.org/bench
sections:
  - {id: main, title: Main, heading: Main}
"""

SOURCES = "sources:\n" + "".join(
    f"  - id: source-{i}\n    title: Source {i}\n    url: https://example.org/source/{i}\n    section: main\n" for i in range(60)
)


def basic(n: int) -> str:
    block = (
        "      | model | heads | $d_k$ |\n      |---|---|---|\n      | base | 8 | 64 |\n      | big | 16 | 64 |\n"
        if n % 2
        else "      ```python\n      scores = q @ k.T / math.sqrt(d_k)\n      weights = scores.softmax(-1)\n      ```\n"
    )
    return (
        f"  - id: q-{n}\n"
        "    question: >-\n"
        f"      In bench model {n}, why does {words(n, 3)} scale $s_{{ij}} = q_i \\cdot k_j / \\sqrt{{d_k}}$ when {words(n + 1, 3)} grows?\n"
        "    answer: >-\n"
        f"      Because the variance of $q \\cdot k$ grows with $d_k$ and *softmax* saturates at item {n}.\n"
        "    extra: |\n"
        f"      With unit-variance components, $\\operatorname{{Var}}(q \\cdot k) = d_k$; see **note {n}**.\n\n"
        f"{block}\n"
        "      $$\\mathrm{softmax}(x)_i = \\frac{e^{x_i}}{\\sum_j e^{x_j}}$$\n"
        f"    sources: [source-{n % 60}, source-{(n + 7) % 60}]\n"
        f"    tags: [bench, group-{n % 10}]\n"
    )


def cloze(n: int) -> str:
    return (
        f"  - id: q-{n}\n"
        "    type: cloze\n"
        "    question: >-\n"
        f"      In {words(n, 3)}, formula {n} divides the logits by $\\sqrt{{ {{{{c1::d_k}}}} }}$ and uses {{{{c2::softmax}}}}.\n"
        f"    sources: [source-{n % 60}, source-{(n + 3) % 60}]\n"
        "    tags: [bench]\n"
    )


def compare(n: int) -> str:
    rows = "".join(
        f"      - {{id: row-{r}, aspect: Aspect {r} of {n}, values: [\"$O(n^{r})$ time\", \"linear in $n$ for {r}\"]}}\n" for r in range(3)
    )
    return (
        f"  - id: q-{n}\n"
        "    type: compare\n"
        f"    question: How do {words(n, 2)} and {words(n + 2, 2)} differ?\n"
        f"    items: [A{n}, B{n}]\n"
        "    rows:\n" + rows + f"    sources: [source-{n % 60}, source-{(n + 5) % 60}]\n"
    )


def _hash(value: str | list[str]) -> str:
    from deckgen.editions import text_hash

    return text_hash(value if isinstance(value, str) else tuple(value))


def _zh(text: str) -> str:
    """A stand-in translation: the text marked as one, its math, code and clozes as they are."""
    return "译文：" + text


def _json_entry(fields: dict[str, Any], indent: str) -> str:
    """YAML lines for one mapping of an overlay, every value written as JSON (which YAML reads)."""
    lines = []
    for key, value in fields.items():
        lines.append(f"{indent}{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def _overlay(english: dict[str, Any]) -> str:
    """The Chinese overlay of a topic file, translating every question."""
    out = [f"title: {json.dumps(_zh(english['topic']), ensure_ascii=False)}", "questions:"]
    for question in english["questions"]:
        kind = question.get("type", "basic")
        texts = ["question"] + (["answer", "extra"] if kind == "basic" else [])
        entry: dict[str, Any] = {"id": question["id"], "from": {t: _hash(question[t]) for t in texts}}
        entry.update({t: _zh(question[t]) for t in texts})
        out.append(_json_entry(entry, "    ").replace("    id:", "  - id:", 1).rstrip("\n"))
        if kind == "compare":
            out.append("    rows:")
            for row in question["rows"]:
                fields = {"id": row["id"], "from": {"aspect": _hash(row["aspect"]), "values": _hash(row["values"])}}
                fields.update({"aspect": _zh(row["aspect"]), "values": [_zh(v) for v in row["values"]]})
                out.append(_json_entry(fields, "        ").replace("        id:", "      - id:", 1).rstrip("\n"))
    return "\n".join(out) + "\n"


def write_bank(root: Path, cards: int, languages: bool = False) -> None:
    """Write deck.yaml, sources.yaml and topic files holding `cards` cards (and with `languages`,
    a Chinese edition of them)."""
    root.mkdir(parents=True, exist_ok=True)
    deck = DECK.replace("homepage:", "languages: [en, zh]\nhomepage:") if languages else DECK
    (root / "deck.yaml").write_text(deck, encoding="utf-8")
    if languages:
        english = yaml.safe_load(DECK)
        zh = {
            "title": _zh(english["title"]),
            "description": _zh(english["description"]),
            "from": {"title": _hash(english["title"]), "description": _hash(english["description"])},
            "sections": [{"id": "main", "title": "主要", "from": {"title": _hash("Main")}}],
        }
        (root / "deck.zh.yaml").write_text(json.dumps(zh, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (root / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    entries: list[str] = []
    count = n = 0
    while count < cards:
        n += 1
        if n % 20 == 0 and cards - count >= 3:
            entries.append(compare(n))
            count += 3
        elif n % 10 == 0:
            entries.append(cloze(n))
            count += 1
        else:
            entries.append(basic(n))
            count += 1
    for start in range(0, len(entries), 100):
        body = "".join(entries[start : start + 100])
        topic = f"topic-{start // 100}"
        text = f"topic: Topic {start // 100}\nid: {topic}\nsection: main\nquestions:\n{body}"
        (root / f"{topic}.yaml").write_text(text, encoding="utf-8")
        if languages:
            (root / f"{topic}.zh.yaml").write_text(_overlay(yaml.safe_load(text)), encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("cards", type=int)
    parser.add_argument("--languages", action="store_true", help="also write a Chinese edition")
    args = parser.parse_args()
    write_bank(args.folder, args.cards, args.languages)
