"""Shared fixtures: copies of the test banks, a builder, and a real Anki collection."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from anki.scheduler.v3 import CardAnswer

from deckgen.anki import notetypes

if TYPE_CHECKING:
    from deckgen.model import Question
    from tests.shipped_deck import Shipped

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"


def markdown_texts(question: Question) -> tuple[str, ...]:
    """Every Markdown text a question writes: question, answer, extra, items and each compare
    row's aspect, values and extra (empty where the bank writes none)."""
    rows = (text for row in question.rows for text in (row.aspect, *row.values, row.extra or ""))
    return (question.question, question.answer, question.extra or "", *question.items, *rows)


def check_golden(path: Path, actual: str) -> None:
    """Compare `actual` with a golden file; with DECKGEN_UPDATE_GOLDEN set, rewrite the file first."""
    if os.environ.get("DECKGEN_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8", newline="\n")
    assert actual == path.read_text(encoding="utf-8")


@pytest.fixture
def mini_bank(tmp_path: Path) -> Path:
    """A writable copy of the mini bank, which exercises every question type."""
    target = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", target)
    return target


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty temporary folder, so relative paths in messages are stable."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def epoch(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set SOURCE_DATE_EPOCH, the time deckgen stamps on notes."""

    def set_epoch(seconds: int) -> None:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(seconds))

    return set_epoch


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[Collection]:
    """A fresh, empty collection of the real Anki backend."""
    folder = tmp_path / "anki-profile"
    folder.mkdir()
    col = Collection(str(folder / "collection.anki2"))
    yield col
    col.close()


IF_NEWER = 0  # ImportAnkiPackageUpdateCondition.IF_NEWER, Anki's default


def import_apkg(col: Collection, apkg: Path, merge_notetypes: bool) -> object:
    """Import as the desktop importer does with its default options, merge toggled explicitly."""
    options = ImportAnkiPackageOptions(
        merge_notetypes=merge_notetypes,
        update_notes=IF_NEWER,
        update_notetypes=IF_NEWER,
        with_scheduling=False,
        with_deck_configs=False,
    )
    return col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg), options=options)).log


def review_first_card(col: Collection) -> int:
    """Answer the first queued card Good through the v3 scheduler; return its card id."""
    queued = col.sched.get_queued_cards()
    card = col.get_card(queued.cards[0].card.id)
    card.start_timer()
    states = col._backend.get_scheduling_states(card.id)
    col.sched.answer_card(col.sched.build_answer(card=card, states=states, rating=CardAnswer.GOOD))
    return card.id


# A second release of the mini bank, for the release and diff tests.
NEW_QUESTION = """\
  - id: why-multi-head
    question: Why does a Transformer use several attention heads instead of one?
    answer: Each head can attend to a different representation subspace.
    sources: [paper]
"""


def release_v2(bank: Path) -> None:
    """Edit one answer, add a question and retire another."""
    attention = bank / "attention.yaml"
    text = attention.read_text(encoding="utf-8")
    text = text.replace("out of saturation", "out of its flat region")
    hostile_start = text.index("  - id: hostile")
    hostile = text[hostile_start:]
    text = text[:hostile_start] + NEW_QUESTION + "retired:\n" + hostile.replace(
        "    sources: [zh-article]", '    reason: "Superseded by the safety tests."\n    sources: [zh-article]'
    )
    attention.write_text(text, encoding="utf-8")


def new_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """Restyle the cards, as a release that edits anki/card.css does."""
    css = notetypes.card_css()
    monkeypatch.setattr(notetypes, "card_css", lambda: css + "/* v2 look */\n")


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Shipped:
    """The shipped deck built, imported and shown card by card in Anki's reviewer, once per session (slow)."""
    from tests.shipped_deck import render_shipped

    return render_shipped(tmp_path_factory.mktemp("shipped"))
