"""The review sheets, against golden files.

Regenerate the goldens after a deliberate change with
`DECKGEN_UPDATE_GOLDEN=1 pytest tests/test_sheet.py`, then read the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from deckgen.model import Bank
from deckgen.sheet import questions_sheet, review_sheet
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
