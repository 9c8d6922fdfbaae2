"""Shared fixtures: copies of the test banks, a builder, and a real Anki collection."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from anki.collection import Collection

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"


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
