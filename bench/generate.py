"""Write a synthetic bank of N cards with realistic Markdown, for the benchmark.

Each question has math, most have a table or a code block, two sources and tags; one in
ten is a cloze and one in twenty a compare of three rows. Files hold 100 questions each.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

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
    f"  - id: source-{i}\n    title: Source {i}\n    url: https://example.org/source/{i}\n    section: main\n" for i in range(20)
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
        f"    sources: [source-{n % 20}, source-{(n + 7) % 20}]\n"
        f"    tags: [bench, group-{n % 10}]\n"
    )


def cloze(n: int) -> str:
    return (
        f"  - id: q-{n}\n"
        "    type: cloze\n"
        "    question: >-\n"
        f"      In {words(n, 3)}, formula {n} divides the logits by $\\sqrt{{ {{{{c1::d_k}}}} }}$ and uses {{{{c2::softmax}}}}.\n"
        f"    sources: [source-{n % 20}, source-{(n + 3) % 20}]\n"
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
        "    rows:\n" + rows + f"    sources: [source-{n % 20}, source-{(n + 5) % 20}]\n"
    )


def write_bank(root: Path, cards: int) -> None:
    """Write deck.yaml, sources.yaml and topic files holding `cards` cards."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "deck.yaml").write_text(DECK, encoding="utf-8")
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("cards", type=int)
    args = parser.parse_args()
    write_bank(args.folder, args.cards)
