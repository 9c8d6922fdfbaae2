"""Releases against the real Anki backend: the lock, retired notes, note-type updates, reproducibility."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from anki.collection import Collection

from deckgen.anki import notetypes
from deckgen.build import build, check
from deckgen.load import load_bank
from deckgen.lock import NOTE_TYPE_MTIME_OFFSET, read_lock
from deckgen.release import read_release
from tests.conftest import import_apkg, new_look, release_v2, review_first_card

DAY = 24 * 60 * 60
NOW = int(time.time())
def build_at(bank: Path, out: Path, epoch: Callable[[int], None], seconds: int) -> Path:
    epoch(seconds)
    return build(bank, out).outputs[0]


def css_marker(col: Collection) -> bool:
    col.models._clear_cache()
    return "/* v2 look */" in col.models.by_name("deckgen Basic")["css"]


@pytest.mark.parametrize("merge_notetypes", [False, True], ids=["keep-note-types", "merge-note-types"])
@pytest.mark.parametrize("order", ["in-order", "v1-imported-after-v2-was-built", "v2-imported-twice"])
def test_upgrading_keeps_history_and_applies_exactly_the_changes(
    mini_bank: Path,
    tmp_path: Path,
    collection: Collection,
    epoch: Callable[[int], None],
    monkeypatch: pytest.MonkeyPatch,
    merge_notetypes: bool,
    order: str,
) -> None:
    # v1 is built 60 days ago; v2 a day from now, or (for a late import of v1) 30 days ago.
    v1 = tmp_path / "v1.apkg"
    shutil.copy(build_at(mini_bank, tmp_path / "out1", epoch, NOW - 60 * DAY), v1)
    release_v2(mini_bank)
    new_look(monkeypatch)
    v2_time = NOW - 30 * DAY if order == "v1-imported-after-v2-was-built" else NOW + DAY
    v2 = build_at(mini_bank, tmp_path / "out2", epoch, v2_time)

    import_apkg(collection, v1, merge_notetypes)
    collection.decks.select(collection.decks.id_for_name("Mini Deck"))
    reviewed = review_first_card(collection)
    revlog_before = collection.db.all("select * from revlog")
    formula = collection.get_note(collection.find_notes("ID:formula")[0])
    formula["Extra"] = "My own note."
    collection.update_note(formula)
    notes_before = sorted(collection.find_notes(""))

    log = import_apkg(collection, v2, merge_notetypes)
    assert sorted(n.fields[0] for n in log.updated) == ["hostile", "why-scale"]
    assert [n.fields[0] for n in log.new] == ["why-multi-head"]
    assert not log.conflicting
    if order == "v2-imported-twice":
        again = import_apkg(collection, v2, merge_notetypes)
        assert not again.new and not again.updated and not again.conflicting

    assert sorted(collection.find_notes("")) == sorted(notes_before + list(collection.find_notes("ID:why-multi-head")))
    assert collection.note_count() == 7
    assert "out of its flat region" in collection.get_note(collection.find_notes("ID:why-scale")[0])["Answer"]
    assert collection.get_note(formula.id)["Extra"] == "My own note."
    retired = collection.get_note(collection.find_notes("ID:hostile")[0])
    assert retired["Question"].startswith('<div class="dg-retired"><strong>Retired: delete this card.</strong>')
    assert "deckgen::retired" in retired.tags
    assert collection.find_notes("tag:deckgen::retired") == [retired.id]
    assert css_marker(collection)
    assert sorted(m.name for m in collection.models.all_names_and_ids() if m.name.startswith("deckgen")) == [
        "deckgen Basic",
        "deckgen Cloze",
    ]
    assert collection.db.all("select * from revlog") == revlog_before
    assert collection.get_card(reviewed).reps == 1


def test_the_lock_advances_only_what_changed(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    build_at(mini_bank, tmp_path / "out", epoch, 1_700_000_000)
    first, _ = read_lock(mini_bank)
    assert first is not None
    assert {n.mtime for n in first.notes.values()} == {1_700_000_000}
    # The lock records when the look changed; the package carries that plus the offset.
    assert {t.mtime for t in first.note_types.values()} == {1_700_000_000}
    with zipfile.ZipFile(tmp_path / "out" / "mini-deck.apkg") as package:
        (tmp_path / "c.anki2").write_bytes(package.read("collection.anki2"))
    with sqlite3.connect(tmp_path / "c.anki2") as db:
        (models,) = db.execute("select models from col").fetchone()
    assert {m["mod"] for m in json.loads(models).values()} == {1_700_000_000 + NOTE_TYPE_MTIME_OFFSET}
    release_v2(mini_bank)
    build_at(mini_bank, tmp_path / "out", epoch, 1_750_000_000)
    second, _ = read_lock(mini_bank)
    assert second is not None
    changed = sorted(nid for nid, n in second.notes.items() if n.mtime == 1_750_000_000)
    assert changed == ["hostile", "why-multi-head", "why-scale"]
    assert second.note_types == first.note_types


def test_a_build_writes_the_lock_only_when_its_bytes_change(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    lock = mini_bank / "deck.lock"
    epoch(1_700_000_000)
    assert lock in build(mini_bank, tmp_path / "out").outputs
    written = lock.read_bytes()
    epoch(1_750_000_000)
    assert lock not in build(mini_bank, tmp_path / "out").outputs
    assert lock.read_bytes() == written
    # The same notes, in other bytes (a blank line added by hand): the build writes deckgen's.
    lock.write_bytes(written + b"\n")
    assert lock in build(mini_bank, tmp_path / "out").outputs
    assert lock.read_bytes() == written


def test_a_stale_lock_is_found_whatever_the_time_and_the_note_type_first(
    tmp_path: Path, epoch: Callable[[int], None], in_tmp: Path, mini_bank: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(mini_bank, "bank")
    build_at(Path("bank"), tmp_path / "out", epoch, 1_700_000_000)

    def stale(now: int) -> list[str]:
        bank = load_bank(Path("bank"))
        return [str(d) for d in read_release(Path("bank")).stale_problems(bank, now)]

    times = (0, 1_700_000_000, NOW, NOW + 10 * 365 * DAY)
    assert [stale(now) for now in times] == [[]] * len(times)
    release_v2(Path("bank"))  # an answer edited, a question added, another retired
    fix = "run 'deckgen build bank' and commit the lock [stale-lock]"
    line = 1 + next(n for n, text in enumerate(Path("bank/deck.lock").read_text(encoding="utf-8").splitlines()) if '"hostile"' in text)
    notes = f"bank/deck.lock:{line}:5: error: deck.lock is out of date: note 'hostile' has changed since the lock was built (and 2 more); {fix}"
    assert [stale(now) for now in times] == [[notes]] * len(times)
    new_look(monkeypatch)
    look = "bank/deck.lock:5:5: error: deck.lock is out of date: note type 'basic' has changed since the lock was built (and 4 more); " + fix
    assert stale(NOW) == [look]
    bank, diagnostics = check(Path("bank"), locked=True)
    assert bank is None and [str(d) for d in diagnostics if d.severity.value == "error"] == [look]


def test_builds_are_byte_identical(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(mini_bank, copy)
    digests = set()
    for bank, out in ((mini_bank, tmp_path / "a"), (copy, tmp_path / "b")):
        epoch(1_700_000_000)
        result = build(bank, out)
        digests.add(tuple(hashlib.sha256(p.read_bytes()).hexdigest() for p in result.outputs))
    assert len(digests) == 1
    # Once the lock exists, a later build of unchanged banks gives the same bytes.
    before = hashlib.sha256((tmp_path / "a" / "mini-deck.apkg").read_bytes()).hexdigest()
    epoch(1_760_000_000)
    build(mini_bank, tmp_path / "a")
    assert hashlib.sha256((tmp_path / "a" / "mini-deck.apkg").read_bytes()).hexdigest() == before


def test_a_released_id_cannot_vanish(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], in_tmp: Path) -> None:
    shutil.copytree(mini_bank, "bank")
    build_at(Path("bank"), Path("out"), epoch, 1_700_000_000)
    lora = Path("bank/extra/lora.yml")
    text = lora.read_text(encoding="utf-8")
    lora.write_text(text[: text.index("  - id: lora-code")], encoding="utf-8")
    bank, diagnostics = check(Path("bank"))
    assert bank is None
    assert [str(d) for d in diagnostics] == [
        "bank/deck.lock:13:5: error: note 'lora-code' was released but is no longer in the banks: learners still have it. "
        "Move its question (or compare row) to a 'retired' list with a reason instead of deleting it [released-id]"
    ]


def test_a_released_note_cannot_change_type(tmp_path: Path, epoch: Callable[[int], None], in_tmp: Path, mini_bank: Path) -> None:
    shutil.copytree(mini_bank, "bank")
    build_at(Path("bank"), Path("out"), epoch, 1_700_000_000)
    attention = Path("bank/attention.yaml")
    text = attention.read_text(encoding="utf-8")
    attention.write_text(text.replace("  - id: why-scale\n", "  - id: why-scale\n    type: cloze\n").replace(
        "    answer: \"Their variance grows as $d_k$; scaling keeps the softmax out of saturation.\"\n", ""
    ).replace("In scaled dot-product attention, why divide the logits by $\\sqrt{d_k}$?", "Logits are divided by {{c1::$\\sqrt{d_k}$}}."), encoding="utf-8")
    bank, diagnostics = check(Path("bank"))
    assert [str(d) for d in diagnostics] == [
        "bank/attention.yaml:6:11: error: note 'why-scale' was released as a basic note and is now cloze: Anki would "
        "never update it again. Keep its type, or retire this id and add the question under a new id [released-type]"
    ]


def test_a_note_type_schema_change_fails_the_build_until_accepted(
    tmp_path: Path, epoch: Callable[[int], None], in_tmp: Path, mini_bank: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(mini_bank, "bank")
    build_at(Path("bank"), Path("out"), epoch, 1_700_000_000)
    monkeypatch.setattr(notetypes, "BASIC_FIELDS", (*notetypes.BASIC_FIELDS, "Hint"))
    bank, diagnostics = check(Path("bank"))
    assert [str(d) for d in diagnostics] == [
        "bank/deck.lock:5:5: error: note type 'basic' changed (released: id 1691839207, fields ID, Question, Answer, "
        "Extra, Sources, Topic, templates Recall; now: id 1691839207, fields ID, Question, Answer, Extra, Sources, "
        "Topic, Hint, templates Recall). Anki would add it as a copy and stop updating every existing note, unless "
        "the learner ticks 'Merge note types'. If this is deliberate, build with --accept-schema-change and say so "
        "in the release notes [note-type-schema]"
    ]
    bank, diagnostics = check(Path("bank"), accept_schema_change=True)
    assert bank is not None


def test_a_broken_lock_is_a_located_error(in_tmp: Path, mini_bank: Path, epoch: Callable[[int], None]) -> None:
    shutil.copytree(mini_bank, "bank")
    build_at(Path("bank"), Path("out"), epoch, 1_700_000_000)
    lock = Path("bank/deck.lock")
    lines = lock.read_text(encoding="utf-8").splitlines(keepends=True)
    lock.write_text("".join(lines[:10] + ["<<<<<<< HEAD\n"] + lines[10:]), encoding="utf-8")
    _, diagnostics = check(Path("bank"))
    assert [str(d) for d in diagnostics] == [
        "bank/deck.lock:11:1: error: deck.lock is not valid JSON (a merge conflict?): take the lock of the branch you "
        "merge into, then run 'deckgen build' to write it again [lock]"
    ]
