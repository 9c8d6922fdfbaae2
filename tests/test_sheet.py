"""The review sheets, against golden files.

Regenerate the goldens after a deliberate change with
`DECKGEN_UPDATE_GOLDEN=1 pytest tests/test_sheet.py`, then read the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deckgen.cache import Block, BuildCache
from deckgen.model import Bank
from deckgen.outline import Outline, outline
from deckgen.outputs.base import lines_writer
from deckgen.sheet import _trimmed, questions_sheet, questions_sheet_lines, review_sheet, review_sheet_lines
from deckgen.load import load_bank
from tests.conftest import FIXTURES, GOLDEN, check_golden


@pytest.mark.parametrize(("name", "render"), [("review-sheet.md", review_sheet), ("review-questions.md", questions_sheet)])
def test_sheet_matches_golden(name: str, render: Callable[[Bank], str]) -> None:
    bank = load_bank(Path(os.path.relpath(FIXTURES / "mini")))
    check_golden(GOLDEN / name, render(bank))


def test_sheets_are_deterministic() -> None:
    bank = load_bank(FIXTURES / "mini")
    assert review_sheet(bank) == review_sheet(load_bank(FIXTURES / "mini"))
    assert questions_sheet(bank) == questions_sheet(load_bank(FIXTURES / "mini"))


def test_questions_sheet_hides_answers_until_the_key() -> None:
    sheet = questions_sheet(load_bank(FIXTURES / "mini"))
    body, key = sheet.split("## Answer key")
    assert "saturation" not in body and "saturation" in key
    assert "Vaswani et al." not in body and "\\[authors\\]" in body
    assert "| Extra inference latency |   |   |" in body
    assert "| Extra inference latency | No | Yes |" in key


def _trimmed_whole(lines: list[str | Block]) -> list[str | Block]:
    """What `_trimmed` gives, worked out on the whole list at once (as deckgen did before it
    streamed the sheets): blank lines dropped from the end, the last part taken apart into its
    lines, the last line's newlines dropped."""
    lines = list(lines)
    while lines:
        last = lines[-1]
        if isinstance(last, Block):
            lines[-1:] = last.lines()
        elif last.rstrip("\n"):
            lines[-1] = last.rstrip("\n")
            break
        else:
            lines.pop()
    return lines


_LINE = st.sampled_from(["", "\n", "\n\n", "a", "a\n", " ", "\r", "## T", "b\n\n"])
_BLOCK = st.lists(_LINE, max_size=4).map(lambda lines: Block.of("k", "".join(lines).encode()))


@given(st.lists(st.one_of(_LINE, _BLOCK), max_size=12))
def test_a_sheet_made_as_it_is_written_ends_as_the_whole_list_would(lines: list[str | Block]) -> None:
    # Any lines and parts, parts included that hold only newlines or end without one.
    assert list(_trimmed(iter(lines))) == _trimmed_whole(lines)


def test_trimming_holds_back_only_what_may_end_the_sheet() -> None:
    part = Block.of("k", b"## T\n\nQ1\n\n")
    page: list[str | Block] = ["# Deck", "", part, "", "", "## Key", ""]
    made = _trimmed(iter(page))
    assert [next(made), next(made), next(made)] == ["# Deck", "", part]
    assert list(made) == ["", "", "## Key"]
    ending: list[str | Block] = ["# Deck", part, "\n", ""]
    assert list(_trimmed(iter(ending))) == ["# Deck", "## T", "", "Q1"]
    blank: list[str | Block] = ["", "\n", Block.of("k", b"\n\n")]
    assert list(_trimmed(iter(blank))) == []


class _Recording(BuildCache):
    """A build's cache that notes, in order, each topic part a sheet makes and each it writes."""

    def __init__(self, out_dir: Path) -> None:
        super().__init__(out_dir)
        self.events: list[str] = []

    def block(self, kind: str, parts: object, kept: Iterable[str], make: Callable[[], list[str]]) -> Block:
        made = super().block(kind, parts, kept, make)
        self.events.append("made " + made.lines()[0])
        return made

    def wrote(self, name: str, block: Block, at: int) -> None:
        super().wrote(name, block, at)
        self.events.append("wrote " + block.lines()[0])


@pytest.mark.parametrize("lines", [review_sheet_lines, questions_sheet_lines])
def test_a_sheet_is_written_a_topic_at_a_time(lines: Callable[[Outline, BuildCache], Iterator[str | Block]], tmp_path: Path) -> None:
    # Each topic's part is made when the writer comes to it, so that a build holds one topic's
    # part of a sheet at a time, not the whole sheet: at 50,000 cards both sheets of an edition
    # came to 38 MB, held at once.
    bank = load_bank(FIXTURES / "mini")
    cache = _Recording(tmp_path / "out")
    try:
        lines_writer(lines(outline(bank), cache), cache, "sheet.md")(tmp_path / "sheet.md")
    finally:
        cache.close()
    topics = [f"### {t.title}" for t in bank.ordered_topics() if t.questions]
    if lines is questions_sheet_lines:  # and then the answer key's
        topics += [f"#### {t.title}" for t in bank.ordered_topics() if t.questions]
    assert len(topics) >= 2
    # The part that ends the sheet is written as its lines, without its last newline.
    expected = [event for heading in topics for event in ("made " + heading, "wrote " + heading)][:-1]
    assert cache.events == expected
    cold = review_sheet(bank) if lines is review_sheet_lines else questions_sheet(bank)
    assert (tmp_path / "sheet.md").read_text(encoding="utf-8") == cold
