"""deckgen.anki.package: the collection it writes, against genanki's own writer and the real Anki backend."""

from __future__ import annotations

import sqlite3
import zipfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import genanki  # type: ignore[import-untyped]
import pytest
from anki.collection import Collection

from deckgen.anki import package
from deckgen.anki.notes import NoteSpec, deck_notes
from deckgen.anki.notetypes import note_models
from deckgen.anki.package import Collection as Rows
from deckgen.build import build
from tests.conftest import import_apkg

NOTES = "SELECT guid, mid, tags, flds, sfld, (SELECT group_concat(ord) FROM (SELECT ord FROM cards WHERE nid = notes.id ORDER BY ord)) FROM notes"
"""Each note's GUID, note type, tags, fields and sort field, and the ordinals of its cards."""


def _notes_written(apkg: Path, folder: Path) -> dict[str, tuple[object, ...]]:
    """The notes table of the package as written, by GUID."""
    folder.mkdir()
    with zipfile.ZipFile(apkg) as archive:
        (folder / "collection.anki2").write_bytes(archive.read("collection.anki2"))
    with closing(sqlite3.connect(folder / "collection.anki2")) as db:
        return {row[0]: row[1:] for row in db.execute(NOTES)}


def _notes_imported(apkg: Path, folder: Path) -> dict[str, tuple[object, ...]]:
    """The notes table of a fresh Anki collection after importing the package, by GUID."""
    folder.mkdir()
    col = Collection(str(folder / "collection.anki2"))
    try:
        import_apkg(col, apkg, merge_notetypes=False)
        return {row[0]: tuple(row[1:]) for row in col.db.all(NOTES)}
    finally:
        col.close()


def test_notes_are_written_as_genanki_writes_them(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    result = build(mini_bank, tmp_path / "out")
    ours = result.outputs[0]
    # The same notes through genanki's public API: its Note decides tags, fields, sort field and cards.
    models = note_models(result.bank.deck.homepage)
    deck = genanki.Deck(1, "genanki")
    for spec in deck_notes(result.bank).notes:
        deck.add_note(genanki.Note(model=models[spec.model], fields=list(spec.fields), tags=list(spec.tags), guid=spec.guid))
    theirs = tmp_path / "genanki.apkg"
    genanki.Package(deck).write_to_file(str(theirs))

    written = _notes_written(ours, tmp_path / "ours")
    assert len(written) == 6
    assert written == _notes_written(theirs, tmp_path / "theirs")
    assert written["e{C<|WC(.w"][1] == " deckgen::peft::lora-vs-adapter deckgen::tag::peft "
    # And Anki reads both alike.
    imported = _notes_imported(ours, tmp_path / "anki-ours")
    assert imported.keys() == written.keys()
    assert imported == _notes_imported(theirs, tmp_path / "anki-theirs")


def test_the_database_is_the_same_bytes_whatever_its_page_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database is written with a page cache smaller than the file it writes at 50,000 cards,
    so SQLite writes pages out as the file grows: a cache that holds the whole file and one that
    holds a few pages write the same bytes."""
    model = note_models("https://example.org/deck")["basic"]
    specs = [NoteSpec(f"g{i}", "basic", (f"q-{i}", f"Question {i}?", "answer " * 60, "", "", ""), ("t",)) for i in range(4000)]
    ids = package.note_row_ids({"basic": model}, specs).each()
    notes = [(model, spec, spec_ids, " t ", 1, i, 1_700_000_000) for i, (spec, spec_ids) in enumerate(zip(specs, ids))]
    made = Rows("{}", "{}", lambda: notes)
    monkeypatch.setattr(package, "PAGE_CACHE_KIB", 1 << 20)
    package.write_rows(made, tmp_path / "whole.anki2")
    monkeypatch.setattr(package, "PAGE_CACHE_KIB", 64)
    package.write_rows(made, tmp_path / "small.anki2")
    whole = (tmp_path / "whole.anki2").read_bytes()
    assert len(whole) > 32 * 64 * 1024  # the small cache holds under a thirty-second of the file
    assert (tmp_path / "small.anki2").read_bytes() == whole
    # A forked process's cache, whatever the default.
    package.write_rows(made, tmp_path / "forked.anki2", package.FORKED_PAGE_CACHE_KIB)
    assert (tmp_path / "forked.anki2").read_bytes() == whole


def test_a_watch_names_each_deck_of_a_package_as_a_build_does(mini_bank: Path, tmp_path: Path) -> None:
    """A watch keeps what names each deck of a package (its notes' keys, ids and times) from
    build to build, made again only for a deck whose notes' states changed: it must be what a
    build names it, in the source's lock and in an edition's, before and after a time moves."""
    from dataclasses import replace

    from deckgen.cache import BuildCache, Resident
    from deckgen.load import load_bank
    from deckgen.lock import Lock, NoteState

    bank = load_bank(mini_bank)
    plain = deck_notes(bank, BuildCache(tmp_path / "plain"))
    ids = [i for _, _, found in plain.named() for i in found]
    first = Lock({}, {nid: NoteState("basic", "h", 100 + n, editions=(("zh", "z", 50 + n),)) for n, nid in enumerate(ids)}, {})
    moved = replace(first, notes={**first.notes, ids[-1]: replace(first.notes[ids[-1]], mtime=7, editions=(("zh", "z", 8),))})
    resident = Resident()
    named = []
    # Each after the one it follows in a watch: the source's lock, then an edition's.
    for lock in (first, moved, first.edition("zh"), moved.edition("zh"), moved):
        kept = deck_notes(bank, BuildCache(tmp_path / "watch", resident=resident))
        made = list(package._written_from(kept, lock))
        assert made == list(package._written_from(plain, lock))
        named.append(made)
        resident.sweep(True)
    assert named[4] == named[1] and named[0] != named[2]
    # Only the deck whose note's time moved is named anew, in either lock.
    assert [a == b for a, b in zip(named[0], named[1])].count(False) == 1
    assert [a == b for a, b in zip(named[2], named[3])].count(False) == 1
    # An edit of an answer, with the times as they were: its deck is named anew, by its keys.
    topic = mini_bank / "attention.yaml"
    topic.write_text(topic.read_text(encoding="utf-8").replace("$d_k$", "$d_k$ ", 1), encoding="utf-8")
    edited = load_bank(mini_bank)
    kept = list(package._written_from(deck_notes(edited, BuildCache(tmp_path / "watch", resident=resident)), moved))
    assert kept == list(package._written_from(deck_notes(edited, BuildCache(tmp_path / "plain")), moved))
    assert [a == b for a, b in zip(kept, named[4])].count(False) == 1
