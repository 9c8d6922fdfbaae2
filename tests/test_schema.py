"""The JSON Schemas: committed as generated, satisfied by every bank, in agreement with check."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from deckgen.load import Mapping, Node, Scalar, Sequence, load_file
from deckgen.schema import REFERENCE_FILE, SCHEMA_DIR, SCHEMA_FILES, reference_text, schema_text, schemas
from deckgen.scaffold import repo_root_of, schema_comment
from deckgen.validate import validate_bank
from tests.bankfiles import lay_over, write_bank
from tests.conftest import FIXTURES, ROOT

BANK = ROOT / "questions"
STRUCTURAL = {"missing-key", "unknown-key", "wrong-type", "empty-value", "id-format"}


def as_json(node: Node) -> Any:
    """A bank file as an editor's YAML language server sees it (every scalar as text here)."""
    if isinstance(node, Mapping):
        return {k.value: as_json(v) for k, v in node.items}
    if isinstance(node, Sequence):
        return [as_json(item) for item in node.items]
    assert isinstance(node, Scalar)
    return None if node.is_null else node.value


def kind_of(bank: Path, path: Path) -> str:
    return {"deck": "deck", "sources": "sources"}.get(path.stem, "topic") if path.parent == bank else "topic"


def bank_files(bank: Path) -> list[Path]:
    """The bank's own files: deck, sources and topics, not the translations (read by deckgen.editions, without a schema)."""
    return sorted(
        p
        for p in bank.rglob("*")
        if p.suffix in (".yaml", ".yml") and not p.stem.endswith(".zh") and not any(part.startswith(".") for part in p.relative_to(bank).parts)
    )


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_committed_schemas_are_generated(kind: str) -> None:
    assert (ROOT / SCHEMA_DIR / SCHEMA_FILES[kind]).read_text(encoding="utf-8") == schema_text(kind)
    jsonschema.Draft202012Validator.check_schema(schemas()[kind])


def test_the_committed_reference_is_generated() -> None:
    assert (ROOT / SCHEMA_DIR / REFERENCE_FILE).read_text(encoding="utf-8") == reference_text()


def test_every_shipped_bank_file_satisfies_its_schema_and_names_it() -> None:
    validators = {k: jsonschema.Draft202012Validator(s) for k, s in schemas().items()}
    root = repo_root_of(BANK)
    for path in bank_files(BANK):
        kind = kind_of(BANK, path)
        assert path.read_text(encoding="utf-8").splitlines()[0] == schema_comment(path, kind, root), path
        loaded = load_file(path, path.as_posix())
        assert loaded.root is not None
        errors = [e.message for e in validators[kind].iter_errors(as_json(loaded.root))]
        assert errors == [], (path, errors[:3])


def schema_errors(bank: Path) -> list[str]:
    validators = {k: jsonschema.Draft202012Validator(s) for k, s in schemas().items()}
    found = []
    for path in bank_files(bank):
        loaded = load_file(path, path.as_posix())
        if loaded.root is not None:
            found += [e.message for e in validators[kind_of(bank, path)].iter_errors(as_json(loaded.root))]
    return found


CASES = sorted(p for p in (FIXTURES / "bad").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_schema_and_check_agree_on_the_structure_of_every_fixture(case: Path, tmp_path: Path) -> None:
    bank = write_bank(tmp_path / "questions")
    lay_over(case, bank)
    _, diagnostics = validate_bank(bank)
    structural = [d for d in diagnostics if d.rule in STRUCTURAL]
    # A bank the schema accepts has no structural error, and one with only structural
    # errors is rejected by the schema too. (check also does what a schema cannot: ids
    # across files, sources, math, YAML syntax and encodings.)
    if not schema_errors(bank):
        assert structural == [], structural
    elif {d.rule for d in diagnostics} <= STRUCTURAL:
        assert structural


def test_the_good_fixtures_satisfy_the_schema(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "mini", tmp_path / "mini")
    assert schema_errors(tmp_path / "mini") == []
    assert schema_errors(write_bank(tmp_path / "q")) == []
