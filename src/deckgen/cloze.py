"""Cloze deletions as Anki reads them, the forms a sheet shows them in (revealed, blanked, answered),
and the mark that lets a card highlight a deletion inside math."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

from deckgen.render import math_spans


@dataclass(frozen=True)
class Cloze:
    """A cloze deletion as Anki reads it: `{{cN::text}}` or `{{cN::text::hint}}`, ending at the first `}}`."""

    start: int
    end: int
    ordinal: str
    """The number as written (digits only; it may have any length)."""
    text: str
    hint: str | None

    @property
    def body(self) -> str:
        """Everything between `{{cN::` and `}}`: the text and its hint."""
        return self.text + ("" if self.hint is None else "::" + self.hint)

    @property
    def written(self) -> str:
        """The deletion as written, braces included."""
        return "{{c" + self.ordinal + "::" + self.body + "}}"


def clozes(text: str) -> list[Cloze]:
    """Every cloze deletion in `text`, in order; one pass, no regular expression."""
    found: list[Cloze] = []
    pos = text.find("{{c")
    while pos != -1:
        digits_end = pos + 3
        while digits_end < len(text) and text[digits_end].isascii() and text[digits_end].isdigit():
            digits_end += 1
        if digits_end == pos + 3 or not text.startswith("::", digits_end):
            pos = text.find("{{c", pos + 1)
            continue
        close = text.find("}}", digits_end + 2)
        if close == -1:
            break  # no later deletion can close either
        body = text[digits_end + 2 : close]
        deleted, separator, hint = body.partition("::")
        found.append(Cloze(pos, close + 2, text[pos + 3 : digits_end], deleted, hint if separator else None))
        pos = text.find("{{c", close + 2)
    return found


def replace_clozes(text: str, replace: Callable[[Cloze], str]) -> str:
    """`text` with every cloze deletion replaced by what `replace` makes of it."""
    parts: list[str] = []
    last = 0
    for cloze in clozes(text):
        parts += [text[last : cloze.start], replace(cloze)]
        last = cloze.end
    return "".join(parts) + text[last:]


def _in_math(spans: list[tuple[int, int]], index: int) -> bool:
    """True if `index` lies inside one of the math `spans` (sorted, as `math_spans` gives them)."""
    at = bisect.bisect_left(spans, (index, index))
    return at > 0 and spans[at - 1][0] < index < spans[at - 1][1]


def cloze_answers(text: str) -> list[str]:
    """The deleted texts of a cloze, in order; a deletion inside math keeps its `$` around it."""
    spans = math_spans(text)
    return [f"${c.text.strip()}$" if _in_math(spans, c.start) else c.text for c in clozes(text)]


def cloze_reveal(text: str, math_mark: str = "\\boxed{%s}") -> str:
    """A cloze with every deletion shown, in bold (inside math, marked with `math_mark`), for the sheets."""
    spans = math_spans(text)
    return replace_clozes(text, lambda c: math_mark % c.text if _in_math(spans, c.start) else f"**{c.text}**")


def cloze_blank(text: str, math_blank: str = "\\boxed{\\text{%s}}") -> str:
    """A cloze with every deletion blanked (showing its hint, if any), for self-testing."""
    spans = math_spans(text)

    def blank(c: Cloze) -> str:
        if _in_math(spans, c.start):
            return math_blank % (c.hint or "?")
        # Escaped brackets: a blank followed by `(…)` must not become a link, nor `!` before it an image.
        return f"\\[{c.hint}\\]" if c.hint else "\\[…\\]"

    return replace_clozes(text, blank)


MATH_CLOZE_CLASS = "dg-cloze-"
"""The class, followed by the deletion's number, that the card's CSS highlights on the card of that number."""
HIGHLIGHTED_MATH_CLOZES = 20
"""anki/card.css highlights deletions 1 to this inside math (banks use 1 to 4); one numbered higher is shown unmarked."""

# deckgen's own math delimiters in card HTML: `render` breaks every other `\(` or `\[` of a text.
_CARD_MATH_RE = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]", re.DOTALL)


def mark_math_clozes(html: str) -> str:
    """A cloze's card HTML with each deletion inside math wrapped in `\\class{dg-cloze-N}{…}`.

    Anki takes its own `<span class="cloze">` out of math, so MathJax typesets a bare `[...]` or the bare
    deleted TeX, which no style can tell from the formula around it. MathJax keeps this class on the typeset
    element; the note type's CSS highlights it on card N, whose body has the class `cardN`. The class is
    deckgen's, outside the deletion: a bank's own math may not use `\\class` (see `deckgen.tex`).
    """

    def mark(math: re.Match[str]) -> str:
        return replace_clozes(math.group(), lambda c: f"\\class{{{MATH_CLOZE_CLASS}{int(c.ordinal)}}}{{ {c.written} }}")

    return _CARD_MATH_RE.sub(mark, html)
