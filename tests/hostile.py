"""A small bank with one hostile value placed into any text field, for the hostile battery.

Every field of every kind has a known place (file, line, column), so a test can assert the
exact located message that `check` gives for a value there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DECK = """\
title: {deck_title}
version: 0.0.1
description: {description}
homepage: {homepage}
sections:
  - id: transformer
    title: {section_title}
    heading: Transformer
"""

SOURCES = """\
sources:
  - id: paper
    title: {source_title}
    url: {source_url}
    section: transformer
"""

TOPIC = """\
topic: {topic_title}
id: attention
section: transformer
questions:
  - id: basic-q
    question: {question}
    answer: {answer}
    extra: {extra}
    sources: [paper]
  - id: cloze-q
    type: cloze
    question: {cloze}
    sources: [paper]
  - id: compare-q
    type: compare
    question: How do the softmax and the sigmoid differ?
    items: [{item}, Sigmoid]
    rows:
      - id: output
        aspect: {aspect}
        values: [{value}, One probability per input]
    sources: [paper]
retired:
  - id: old-q
    reason: {reason}
    question: What did the old card ask?
    answer: Something merged elsewhere.
    sources: [paper]
"""

DEFAULTS = {
    "deck_title": "Test Deck",
    "description": "For tests.",
    "homepage": "https://example.org",
    "section_title": "Transformer",
    "source_title": "A paper",
    "source_url": "https://example.org/paper",
    "topic_title": "Attention",
    "question": "Why are attention logits scaled by the key dimension?",
    "answer": "To keep the softmax out of saturation.",
    "extra": "The variance of a dot product grows with the dimension.",
    "cloze": "Scaling keeps the {{c1::softmax}} out of saturation.",
    "item": "Softmax",
    "aspect": "Output",
    "value": "A distribution over positions",
    "reason": "Merged into another card.",
}


@dataclass(frozen=True)
class Field:
    """Where a field's value is written: the file, and the line and column of its first character."""

    name: str
    file: str
    line: int
    col: int
    kind: str
    """markdown, plain (a title) or url."""

    def at(self) -> str:
        """The location prefix of a diagnostic about this field, for a bank in `q/`."""
        return f"q/{self.file}:{self.line}:{self.col}"


FIELDS = {
    field.name: field
    for field in (
        Field("deck_title", "deck.yaml", 1, 8, "plain"),
        Field("description", "deck.yaml", 3, 14, "markdown"),
        Field("homepage", "deck.yaml", 4, 11, "url"),
        Field("section_title", "deck.yaml", 7, 12, "plain"),
        Field("source_title", "sources.yaml", 3, 12, "plain"),
        Field("source_url", "sources.yaml", 4, 10, "url"),
        Field("topic_title", "attention.yaml", 1, 8, "plain"),
        Field("question", "attention.yaml", 6, 15, "markdown"),
        Field("answer", "attention.yaml", 7, 13, "markdown"),
        Field("extra", "attention.yaml", 8, 12, "markdown"),
        Field("cloze", "attention.yaml", 12, 15, "markdown"),
        Field("item", "attention.yaml", 17, 13, "markdown"),
        Field("aspect", "attention.yaml", 20, 17, "markdown"),
        Field("value", "attention.yaml", 21, 18, "markdown"),
        Field("reason", "attention.yaml", 25, 13, "markdown"),
    )
}
MARKDOWN_FIELDS = [name for name, field in FIELDS.items() if field.kind == "markdown"]
PLAIN_FIELDS = [name for name, field in FIELDS.items() if field.kind == "plain"]
URL_FIELDS = [name for name, field in FIELDS.items() if field.kind == "url"]
TEXT_FIELDS = MARKDOWN_FIELDS + PLAIN_FIELDS


def quoted(text: str) -> str:
    """`text` as a YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def hostile_bank(root: Path, values: dict[str, str], raw: dict[str, str] | None = None) -> Path:
    """Write the bank with `values` (plain text, written double-quoted) and `raw` (YAML as it is) in place of the defaults."""
    fields = {name: quoted(text) for name, text in DEFAULTS.items()}
    fields.update({name: quoted(text) for name, text in values.items()})
    fields.update(raw or {})
    if "cloze" in values and "{{c" not in values["cloze"]:
        fields["cloze"] = quoted(values["cloze"] + "\n\nScaling keeps the {{c1::softmax}} calm.")
    root.mkdir(parents=True, exist_ok=True)
    for name, template in (("deck.yaml", DECK), ("sources.yaml", SOURCES), ("attention.yaml", TOPIC)):
        (root / name).write_text(template.format(**fields), encoding="utf-8")
    return root


INERT_MARKDOWN = [
    "[sound:evil.mp3] and [anki:tts lang=en_US]x[/anki:tts]",
    "[[type:Answer]]",
    "[latex]\\input{/etc/passwd}[/latex] [$]x[/$] [$$]y[/$$]",
    "{{Answer}} {{FrontSide}} {{#Extra}}x{{/Extra}}",
    "<script>alert(1)</script> <img src=x onerror=alert(2)>",
    "\\\\(\\href{javascript:alert(3)}{x}\\\\) and \\\\[\\style{color:red}{y}\\\\]",
    "`\\(\\href{javascript:alert(4)}{x}\\)` in code",
]
INERT_PLAIN = [
    "[sound:evil.mp3] [[type:Answer]] [latex]x[/latex]",
    "{{Answer}} {{FrontSide}}",
    "<script>alert(1)</script>",
    "\\(\\href{javascript:alert(3)}{x}\\) \\[\\style{color:red}{y}\\]",
    "[a link](javascript:alert(5)) ![img](https://example.org/x.png) $\\href{javascript:alert(6)}{x}$ *b* `c`",
]


def inert_bank(root: Path, index: int) -> Path:
    """Every text field holding the index-th inert payload of its kind."""
    values = {name: INERT_MARKDOWN[index % len(INERT_MARKDOWN)] for name in MARKDOWN_FIELDS}
    values.update({name: INERT_PLAIN[index % len(INERT_PLAIN)] for name in PLAIN_FIELDS})
    return hostile_bank(root, values)
