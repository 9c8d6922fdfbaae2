"""Small banks written on the fly, for tests that need one bad file among good ones."""

from __future__ import annotations

import shutil
from pathlib import Path

DECK = """\
title: Test Deck
version: 0.0.1
description: For tests.
homepage: https://example.org
sections:
  - {id: transformer, title: Transformer, heading: Transformer}
"""

SOURCES = """\
sources:
  - id: paper
    title: A paper
    url: https://example.org/paper
    section: transformer
"""

TOPIC = """\
topic: Attention
id: attention
section: transformer
questions:
  - id: why-scale
    question: Why scale the logits?
    answer: To keep the softmax out of saturation.
    sources: [paper]
"""


def write_bank(root: Path, files: dict[str, str | bytes] | None = None) -> Path:
    """A bank folder with a good deck, sources and topic, overridden or extended by `files`."""
    contents: dict[str, str | bytes] = {"deck.yaml": DECK, "sources.yaml": SOURCES, "attention.yaml": TOPIC}
    contents.update(files or {})
    root.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def lay_over(case: Path, bank: Path) -> None:
    """Copy a bad-bank case's files over `bank`, and delete the files its DELETE file names."""
    for path in sorted(case.rglob("*")):
        rel = path.relative_to(case)
        if path.is_dir() or rel.name == "expected.txt":
            continue
        if rel.name == "DELETE":
            for name in path.read_text(encoding="utf-8").split():
                (bank / name).unlink()
            continue
        (bank / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, bank / rel)
