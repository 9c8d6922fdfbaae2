"""Outputs as plug-ins: the registry, and a new output added with one line."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from deckgen import build as build_module
from deckgen.build import build
from deckgen.outputs import FORMATS, RenderContext, Writer


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_output_has_its_own_name() -> None:
    names = [kind.name for kind in FORMATS]
    assert names == ["apkg", "markdown", "html", "site", "pdf"]
    assert [kind.name for kind in FORMATS if kind.late] == ["pdf"]


class CsvIndex:
    """An output a maintainer might add: every question's number and id."""

    name = "csv"
    late = False

    def files(self, context: RenderContext) -> dict[Path, Writer]:
        rows = [f"{n.number},{n.question.id}" for n in context.outline.answer_key]
        return {context.out_dir / "index.csv": lambda path: path.write_text("\n".join(rows) + "\n", encoding="utf-8")}


def test_a_new_output_is_one_registration(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "before")
    monkeypatch.setattr(build_module, "FORMATS", (*FORMATS, CsvIndex()))
    result = build(mini_bank, tmp_path / "after")
    after = digests(tmp_path / "after")
    index = (tmp_path / "after" / "index.csv").read_text(encoding="utf-8").splitlines()
    assert index == [f"{i},{q.id}" for i, q in enumerate(result.bank.questions, start=1)]
    assert tmp_path / "after" / "index.csv" in result.outputs
    del after["index.csv"]
    assert {k: v for k, v in after.items() if not k.startswith(".deckgen-cache")} == {
        k: v for k, v in digests(tmp_path / "before").items() if not k.startswith(".deckgen-cache")
    }
