"""The upgrade from 0.1.0, in the real Anki backend, as a learner makes it.

0.1.0's package is rebuilt here from the commit that locked it (RELEASE_0_1_0), with that
commit's own code: `git archive` of the commit, then its `python -m deckgen build`. That is
the recipe; a maintainer tags the commit `v0.1.0`. The package is checked against what
`questions/deck.lock` records that 0.1.0 shipped, note by note, so the recipe stays
reproducible. Then a learner imports 0.1.0, reviews, edits, tags and flags, and imports this
release with the importer's default options; then switches to the Chinese edition and back,
as the README says.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

from deckgen.anki.read import Package, read_package
from deckgen.build import build
from deckgen.anki.notes import text_hash
from deckgen.load import load_bank
from deckgen.lock import NOTE_TYPE_MTIME_OFFSET
from tests.conftest import IF_NEWER, ROOT, review_first_card

RELEASE_0_1_0 = "58e5e88"
"""The commit that locked the first release: "Lock the first release of the banks: 530 cards"."""
RECORDED_0_1_0 = "fba7f9b"
"""The commit whose lock recorded what 0.1.0 shipped (`deckgen repair-lock --released`); the
release of 0.2.0 then recorded 0.2.0 in its place."""
ALWAYS = 1  # ImportAnkiPackageUpdateCondition.ALWAYS: what the README says to choose when switching editions
EDITED = " (my own note)"
MY_TAG = "my-tag"
RED, GREEN = 1, 3


@dataclass(frozen=True)
class Packages:
    old: Path
    """0.1.0, as learners have it."""
    new: Path
    """This release."""
    new_zh: Path
    """This release's Chinese edition."""
    version: str
    """This release's version."""


def build_0_1_0(work: Path) -> Path:
    """The 0.1.0 package, built from its commit by that commit's code."""
    tree = work / "v0.1.0"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", RELEASE_0_1_0], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    # That commit's deckgen, not this one's: its src/ comes first on the path. Its lock holds
    # every note's time. The note types' CSS holds the code highlighting of the Pygments
    # installed here (0.1.0 did not pin it), so 0.1.0's code sees a changed look and stamps
    # the build's time on it: the release's own time, as the lock (format 1, with the
    # ten-year offset) records it, is the time 0.1.0 shipped them with.
    released = json.loads((tree / "questions" / "deck.lock").read_text(encoding="utf-8"))
    shipped_at = min(t["mtime"] for t in released["note_types"].values()) - NOTE_TYPE_MTIME_OFFSET
    environment = {**os.environ, "PYTHONPATH": str(tree / "src"), "SOURCE_DATE_EPOCH": str(shipped_at)}
    where = subprocess.run([sys.executable, "-c", "import deckgen; print(deckgen.__file__)"], cwd=tree, env=environment, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(tree)
    subprocess.run([sys.executable, "-m", "deckgen", "build", "questions", "--out", str(work / "out-0.1.0")], cwd=tree, env=environment, capture_output=True, check=True)
    package = work / "out-0.1.0" / "nlp-pretraining.apkg"
    assert _note_type_times(package) == {t["id"]: t["mtime"] for t in released["note_types"].values()}
    return package


def _note_type_times(apkg: Path) -> dict[int, int]:
    """Each note type's time in a package, as Anki compares it on import."""
    with zipfile.ZipFile(apkg) as archive, tempfile.TemporaryDirectory() as folder:
        archive.extract("collection.anki2", folder)
        with closing(sqlite3.connect(Path(folder) / "collection.anki2")) as db:
            (models,) = db.execute("select models from col").fetchone()
    return {int(key): int(model["mod"]) for key, model in json.loads(models).items()}


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Packages:
    work = tmp_path_factory.mktemp("upgrade")
    old = build_0_1_0(work)
    bank = work / "questions"
    shutil.copytree(ROOT / "questions", bank)
    build(bank, work / "out")
    # The shipped lock is the one this build writes: the test imports what main releases.
    assert (bank / "deck.lock").read_bytes() == (ROOT / "questions" / "deck.lock").read_bytes()
    version = load_bank(bank).deck.version
    return Packages(old, work / "out" / "nlp-pretraining.apkg", work / "out" / "nlp-pretraining.zh.apkg", version)


def _by_id(package: Package) -> dict[str, dict[str, str]]:
    return {note.key: dict(note.fields) for note in package.notes.values()}


@pytest.mark.slow
def test_the_rebuilt_0_1_0_is_what_the_lock_says_0_1_0_shipped(packages: Packages) -> None:
    recorded = subprocess.run(["git", "-C", str(ROOT), "show", f"{RECORDED_0_1_0}:questions/deck.lock"], capture_output=True, text=True, check=True).stdout
    assert json.loads(recorded)["version"] == "0.1.0"
    shipped = {nid: state["shipped"] for nid, state in json.loads(recorded)["notes"].items() if "shipped" in state}
    rebuilt = {note.key: text_hash(tuple(value for _, value in note.fields)) for note in read_package(packages.old).notes.values()}
    assert len(rebuilt) == 530
    assert rebuilt == shipped


def _import(col: Collection, apkg: Path, update: int = IF_NEWER, merge: bool = False) -> None:
    """Import as the desktop importer does: by default, its default options."""
    options = ImportAnkiPackageOptions(merge_notetypes=merge, update_notes=update, update_notetypes=IF_NEWER, with_scheduling=False, with_deck_configs=False)
    col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg), options=options))


def _notes(col: Collection) -> dict[str, tuple[list[str], list[str]]]:
    """Every note's fields and tags, by its deckgen id."""
    found = {}
    for nid in col.find_notes(""):
        note = col.get_note(nid)
        found[note.fields[0]] = (list(note.fields), sorted(note.tags))
    return found


def _cards(col: Collection) -> dict[int, tuple[int, int, int, int, int, int]]:
    """Every card's scheduling and flag."""
    return {cid: (c.type, c.queue, c.due, c.ivl, c.reps, c.flags) for cid in col.find_cards("") for c in [col.get_card(cid)]}


def _note_id(col: Collection, key: str) -> int:
    (nid,) = col.find_notes(f'"ID:{key}"')
    return int(nid)


def _decks(col: Collection) -> list[str]:
    return sorted(d.name for d in col.decks.all_names_and_ids())


def _looks(col: Collection) -> dict[str, tuple[str, ...]]:
    """Each note type's CSS and templates, by name, as the collection holds them now."""
    col.models._clear_cache()  # an import goes through the backend, past the Python side's cache
    looks = {}
    for entry in col.models.all_names_and_ids():
        model = col.models.get(entry.id)
        assert model is not None
        looks[entry.name] = (model["css"], *(t["qfmt"] + t["afmt"] for t in model["tmpls"]))
    return looks


@pytest.mark.slow
def test_upgrading_from_0_1_0_keeps_every_review_and_replaces_each_notes_text(packages: Packages, tmp_path: Path) -> None:
    old, new, zh = (_by_id(read_package(p)) for p in (packages.old, packages.new, packages.new_zh))
    new_tags = {note.key: sorted(note.tags) for note in read_package(packages.new).notes.values()}
    (tmp_path / "fresh").mkdir()
    fresh = Collection(str(tmp_path / "fresh" / "collection.anki2"))
    _import(fresh, packages.new)
    fresh_decks, fresh_models = _decks(fresh), sorted(m.name for m in fresh.models.all_names_and_ids())
    fresh_looks = _looks(fresh)
    fresh.close()

    (tmp_path / "learner").mkdir()
    col = Collection(str(tmp_path / "learner" / "collection.anki2"))
    try:
        _import(col, packages.old)
        assert len(col.find_notes("")) == 530
        # A learner studies: twenty reviews, across topics.
        col.decks.select(col.decks.id_for_name("NLP Pretraining"))
        reviewed = [review_first_card(col) for _ in range(20)]
        # Edits two notes, one whose text 0.2.0 changes and one whose text it keeps, tags and flags them.
        changed = next(key for key in sorted(old) if old[key] != new[key])
        kept = next(key for key in sorted(old) if old[key] == new[key])
        built = {key: col.get_note(_note_id(col, key)).mod for key in (changed, kept)}
        for key in (changed, kept):
            note = col.get_note(_note_id(col, key))
            note.fields[2] += EDITED
            note.tags.append(MY_TAG)
            col.update_note(note)
            # The edit was made before 0.2.0 was built (an edit made after it wins, as the README says).
            col.db.execute("update notes set mod = ? where id = ?", built[key] + 86_400, note.id)
            col.set_user_flag_for_cards(RED, [note.cards()[0].id])
        before = _cards(col)
        revlog = col.db.scalar("select count() from revlog")
        assert revlog == 20 and {before[cid][4] for cid in reviewed} == {1}
        models = sorted(m.name for m in col.models.all_names_and_ids())

        _import(col, packages.new)  # the importer's defaults: Update notes "if newer"

        after = _notes(col)
        assert len(col.find_notes("")) == len(new) == 582  # no note twice: 530, and 52 new (17 of all are retired)
        assert set(after) == set(new)
        assert col.db.scalar("select count() from revlog") == revlog  # every review kept
        cards = _cards(col)
        assert {cid: cards[cid] for cid in before} == before  # scheduling and flags, card by card
        # 0.2.0 moved every tag under deckgen::, so it updates every note: each one's text
        # and tags are 0.2.0's, the learner's edits and own tags included.
        assert {key: fields for key, (fields, _) in after.items()} == {key: list(fields.values()) for key, fields in new.items()}
        assert {key: tags for key, (_, tags) in after.items()} == new_tags
        for key in (changed, kept):
            fields, tags = after[key]
            assert not fields[2].endswith(EDITED) and MY_TAG not in tags  # lost, as the changelog says
        # The release tag is on exactly the notes whose text 0.2.0 changed or added.
        tag = f"deckgen::release::{packages.version}"
        changed_or_new = {key for key in new if old.get(key) != new[key]}
        assert {key for key, (_, tags) in after.items() if tag in tags} == changed_or_new
        assert (len(changed_or_new - set(old)), len(changed_or_new & set(old))) == (52, 277)  # as the changelog says
        # Retired notes carry the banner and the tag to delete them by.
        retired = {key for key, (_, tags) in after.items() if "deckgen::retired" in tags}
        assert len(retired) == 17 and all("<strong>Retired: delete this card.</strong>" in "".join(after[key][0]) for key in retired)
        # The note types were updated in place: no copy, and 0.2.0's look.
        assert sorted(m.name for m in col.models.all_names_and_ids()) == models == fresh_models
        assert _looks(col) == fresh_looks
        # The deck tree is the one a fresh import of 0.2.0 makes, as the README says.
        assert _decks(col) == fresh_decks
        assert "NLP Pretraining::Transformer::Why attention separates Q and K" in fresh_decks

        # From 0.2.0 on, a note no release changes keeps the learner's edit: import 0.2.0 again.
        note = col.get_note(_note_id(col, kept))
        note.fields[2] += EDITED
        col.update_note(note)
        _import(col, packages.new)
        assert col.get_note(_note_id(col, kept)).fields[2].endswith(EDITED)

        # To the Chinese edition and back, as the README says: Update notes "Always", merge ticked.
        for apkg, texts in ((packages.new_zh, zh), (packages.new, new)):
            _import(col, apkg, ALWAYS, merge=True)
            now = _notes(col)
            assert len(col.find_notes("")) == 582
            assert {key: fields for key, (fields, _) in now.items()} == {key: list(fields.values()) for key, fields in texts.items()}
            assert col.db.scalar("select count() from revlog") == revlog
            cards = _cards(col)
            assert {cid: cards[cid] for cid in before} == before
            assert _decks(col) == fresh_decks
            assert sorted(m.name for m in col.models.all_names_and_ids()) == models
    finally:
        col.close()
