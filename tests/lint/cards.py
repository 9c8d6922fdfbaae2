"""Small banks for the lint tests: the base bank plus a few cards, linted by `deckgen check`."""

from __future__ import annotations

import json
from pathlib import Path

from deckgen.build import check
from tests.bankfiles import TOPIC, write_bank

HEAD = TOPIC

# Two questions of another topic that are nearly the same, and one that only shares a few words.
OTHER = """\
topic: Other
id: other
section: transformer
questions:
  - id: again
    question: "Why scale the logits, again?"
    answer: Same.
    sources: [paper]
  - id: scaled-logits
    question: Why are attention logits scaled by sqrt of the key dimension?
    answer: Variance.
    sources: [paper]
  - id: scaled-logits-two
    question: Why are the attention logits scaled by the sqrt of the key dimension?
    answer: Variance.
    sources: [paper]
"""


def card(qid: str, question: str, answer: str = "A short answer.", extra: str = "") -> str:
    """One basic question citing the base bank's paper; `extra` is one more line of YAML."""
    lines = [f"  - id: {qid}", f"    question: {json.dumps(question)}", f"    answer: {json.dumps(answer)}", "    sources: [paper]"]
    if extra:
        lines.append(f"    {extra}")
    return "\n".join(lines) + "\n"


def lint_files(root: Path, files: dict[str, str]) -> list[str]:
    """The warnings for the base bank with `files` written over it (it must validate)."""
    bank, diagnostics = check(write_bank(root, files))
    assert bank is not None, diagnostics
    return [str(d) for d in diagnostics]


def lint(root: Path, questions: str, head: str = HEAD) -> list[str]:
    """The warnings for the base topic (or `head`) with `questions` appended to it."""
    return lint_files(root, {"attention.yaml": head + questions})
