"""How the lint rules see words: a math or code span counts as one."""

from __future__ import annotations

import re

from deckgen.render import code_spans, math_spans

WORD_RE = re.compile(r"\w+(?:[-'’]\w+)*")


def _mask_math_and_code(text: str) -> str:
    """Replace each math span and code span by one placeholder word, so each counts as one."""
    for start, end in reversed(math_spans(text)):
        text = text[:start] + " MATH " + text[end:]
    parts: list[str] = []
    last = 0
    for start, end in code_spans(text):
        parts += [text[last:start], " CODE "]
        last = end
    return "".join(parts) + text[last:]


def word_count(text: str) -> int:
    """Words in Markdown text; a math or code span counts as one word."""
    return len(WORD_RE.findall(_mask_math_and_code(text)))


def first_word(text: str) -> str:
    """The first word of Markdown text, past any emphasis, heading or quote marks."""
    match = WORD_RE.search(text.lstrip("*_#> "))
    return match.group() if match else ""
