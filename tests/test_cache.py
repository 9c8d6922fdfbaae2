"""The render cache: a rebuild from it gives exactly what a cold build gives."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from deckgen import cache as cache_module
from deckgen.build import build
from tests.conftest import ROOT


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    target = tmp_path / "questions"
    shutil.copytree(ROOT / "questions", target)
    return target


def edit(bank: Path) -> None:
    path = bank / "transformer" / "why-separate-qk.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("They are equal:", "They are the same:"), encoding="utf-8")


def test_a_cached_rebuild_equals_a_cold_build(bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(bank, tmp_path / "warm")
    assert (tmp_path / "warm" / ".deckgen-cache.json").is_file()
    edit(bank)
    lock = (bank / "deck.lock").read_text(encoding="utf-8")
    epoch(1_800_000_000)
    build(bank, tmp_path / "warm")
    warm_lock = (bank / "deck.lock").read_text(encoding="utf-8")
    (bank / "deck.lock").write_text(lock, encoding="utf-8")
    build(bank, tmp_path / "cold")
    assert (bank / "deck.lock").read_text(encoding="utf-8") == warm_lock
    assert digests(tmp_path / "warm") == digests(tmp_path / "cold")


def test_the_cache_is_used_and_pruned(bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(bank, tmp_path / "out")
    first = json.loads((tmp_path / "out" / ".deckgen-cache.json").read_text(encoding="utf-8"))["entries"]
    edit(bank)
    build(bank, tmp_path / "out")
    second = json.loads((tmp_path / "out" / ".deckgen-cache.json").read_text(encoding="utf-8"))["entries"]
    # Only the edited question's entries changed: its notes and its print fragments.
    assert len(set(first) - set(second)) == len(set(second) - set(first)) > 0
    assert len(set(first) ^ set(second)) <= 8


def test_a_new_deckgen_or_a_broken_cache_is_not_trusted(
    bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    build(bank, tmp_path / "out")
    cache_file = tmp_path / "out" / ".deckgen-cache.json"
    data = json.loads(cache_file.read_text(encoding="utf-8"))
    poisoned = {key: ["poison"] * 4 if key.startswith("notes:") else "poison" for key in data["entries"]}
    cache_file.write_text(json.dumps({"salt": data["salt"] + "-older", "entries": poisoned}), encoding="utf-8")
    build(bank, tmp_path / "out")
    assert "poison" not in (tmp_path / "out" / "review-sheet.html").read_text(encoding="utf-8")
    cache_file.write_text("{not json", encoding="utf-8")
    build(bank, tmp_path / "out")
    assert json.loads(cache_file.read_text(encoding="utf-8"))["salt"] == cache_module._salt()
