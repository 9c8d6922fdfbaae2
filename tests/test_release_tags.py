"""What a release changed is findable in Anki: the tag `deckgen::release::<version>`, decided from
deck.lock alone, on exactly the notes the release added or changed, and nothing else touched."""

from __future__ import annotations

import hashlib
import time
import json
from collections.abc import Callable
from pathlib import Path

from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from click.testing import CliRunner

from deckgen.build import build
from deckgen.cli import main
from deckgen.lock import read_lock
from tests.conftest import import_apkg, release_v2, review_first_card


def set_version(bank: Path, version: str) -> None:
    deck = bank / "deck.yaml"
    deck.write_text(deck.read_text(encoding="utf-8").replace("version: 1.2.3", f"version: {version}"), encoding="utf-8")


def edit(bank: Path, old: str, new: str) -> None:
    attention = bank / "attention.yaml"
    text = attention.read_text(encoding="utf-8")
    assert old in text
    attention.write_text(text.replace(old, new), encoding="utf-8")


def notes_tagged(col: Collection, tag: str) -> set[str]:
    return {col.get_note(nid)["ID"] for nid in col.find_notes(f"tag:{tag}")}


def note(col: Collection, note_id: str) -> tuple[int, list[str]]:
    (nid,) = col.find_notes(f'"ID:{note_id}"')
    return nid, sorted(col.get_note(nid).tags)


def test_a_release_tags_what_it_changed_and_an_update_keeps_the_rest(
    mini_bank: Path, tmp_path: Path, collection: Collection, epoch: Callable[[int], None]
) -> None:
    epoch(1_700_000_000)
    import_apkg(collection, build(mini_bank, tmp_path / "out").outputs[0], merge_notetypes=False)
    assert notes_tagged(collection, "deckgen::release::*") == set()  # the first release changed nothing anyone had
    collection.decks.select(collection.decks.id_for_name("Mini Deck"))
    reviewed = review_first_card(collection)
    # The learner marks two notes with tags and flags, and edits one of them.
    for note_id in ("why-scale", "formula"):
        nid, _ = note(collection, note_id)
        learner_note = collection.get_note(nid)
        learner_note.tags += ["marked", "my-own"]
        collection.update_note(learner_note)
        collection.set_user_flag_for_cards(3, [c.id for c in learner_note.cards()])
    nid, _ = note(collection, "formula")
    edited = collection.get_note(nid)
    edited["Extra"] = "my own mnemonic"
    collection.update_note(edited)

    release_v2(mini_bank)  # why-scale's answer changes, why-multi-head is new, hostile is retired
    set_version(mini_bank, "1.3.0")
    epoch(int(time.time()) + 60)  # the release is newer than the learner's edits, made just now
    result = build(mini_bank, tmp_path / "out")
    log = import_apkg(collection, result.outputs[0], merge_notetypes=False)

    assert notes_tagged(collection, "deckgen::release::1.3.0") == {"why-scale", "why-multi-head", "hostile"}
    # Anki replaces the tags of a note an import updates: the learner's own tags went with it ...
    assert note(collection, "why-scale")[1] == [
        "deckgen::attention::scaled-attention",
        "deckgen::release::1.3.0",
        "deckgen::tag::attention",
        "deckgen::tag::why",
    ]
    # ... and stay on a note it did not touch, with the learner's edit.
    nid, tags = note(collection, "formula")
    assert tags == ["deckgen::attention::scaled-attention", "marked", "my-own"]
    assert collection.get_note(nid)["Extra"] == "my own mnemonic"
    assert len(log.updated) == 2 and len(log.new) == 1  # type: ignore[attr-defined]
    # Flags are the card's, not the note's: they survive either way, and so do reviews.
    for note_id, cards in (("why-scale", 1), ("formula", 2)):
        assert [c.user_flag() for c in collection.get_note(note(collection, note_id)[0]).cards()] == [3] * cards
    assert collection.get_card(reviewed).reps == 1
    root = collection.decks.by_name("Mini Deck")
    assert root is not None
    assert (
        "<p>The 3 notes this release added or changed: <em>Browse</em>, search <code>tag:deckgen::release::1.3.0</code>.</p>"
        in root["desc"]
    )


def lock_releases(bank: Path) -> dict[str, str | None]:
    lock, problems = read_lock(bank)
    assert lock is not None and problems == []
    return {nid: state.release for nid, state in lock.notes.items()}


def test_a_release_is_the_build_that_changes_the_version(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    first = lock_releases(mini_bank)
    assert set(first.values()) == {None}
    edit(mini_bank, "out of saturation", "out of its flat region")
    epoch(1_710_000_000)
    build(mini_bank, tmp_path / "out")
    assert lock_releases(mini_bank) == first  # a build of the same version releases nothing
    set_version(mini_bank, "1.3.0")
    epoch(1_720_000_000)
    package = build(mini_bank, tmp_path / "out").outputs[0]
    assert lock_releases(mini_bank) == {**first, "why-scale": "1.3.0"}
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    epoch(1_730_000_000)
    build(mini_bank, tmp_path / "out")
    assert hashlib.sha256(package.read_bytes()).hexdigest() == digest  # the release builds the same bytes again
    # A change after the release belongs to the next one; the earlier release keeps its tag.
    edit(mini_bank, "{{c2::Vaswani et al.::authors}}", "{{c2::Vaswani et al. (2017)::authors}}")
    build(mini_bank, tmp_path / "out")
    assert lock_releases(mini_bank) == {**first, "why-scale": "1.3.0"}
    deck = mini_bank / "deck.yaml"
    deck.write_text(deck.read_text(encoding="utf-8").replace("version: 1.3.0", "version: 1.4.0"), encoding="utf-8")
    build(mini_bank, tmp_path / "out")
    assert lock_releases(mini_bank) == {**first, "why-scale": "1.3.0", "formula": "1.4.0"}


def test_repair_lock_records_what_a_release_shipped_from_its_package(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]
) -> None:
    epoch(1_700_000_000)
    shipped = tmp_path / "shipped.apkg"
    shipped.write_bytes(build(mini_bank, tmp_path / "out").outputs[0].read_bytes())
    # The banks change after the release, and the lock forgets what was released (deckgen 0.1's format 2).
    release_v2(mini_bank)
    epoch(1_710_000_000)
    build(mini_bank, tmp_path / "out")
    data = json.loads((mini_bank / "deck.lock").read_text(encoding="utf-8"))
    data["format"] = 2
    del data["version"]
    for entry in data["notes"].values():
        entry.pop("shipped", None)
    (mini_bank / "deck.lock").write_text(json.dumps(data), encoding="utf-8")

    result = CliRunner().invoke(main, ["repair-lock", mini_bank.as_posix(), "--released", shipped.as_posix()])
    assert (result.exit_code, result.output) == (
        0,
        f"recorded {shipped.as_posix()} as version 1.2.3 in {mini_bank.as_posix()}/deck.lock: "
        "4 notes as it shipped them, 2 changed since, 1 new; commit the lock\n",
    )
    set_version(mini_bank, "1.3.0")
    epoch(1_720_000_000)
    build(mini_bank, tmp_path / "out")
    releases = lock_releases(mini_bank)
    assert {nid for nid, release in releases.items() if release == "1.3.0"} == {"why-scale", "why-multi-head", "hostile"}


def test_an_update_never_touches_the_learners_deck_options(
    mini_bank: Path, tmp_path: Path, collection: Collection, epoch: Callable[[int], None]
) -> None:
    epoch(1_700_000_000)
    import_apkg(collection, build(mini_bank, tmp_path / "out").outputs[0], merge_notetypes=False)
    mine = collection.decks.add_config_returning_id("Mine")
    options = collection.decks.get_config(mine)
    assert options is not None
    options["new"]["perDay"] = 7
    options["desiredRetention"] = 0.8
    collection.decks.update_config(options)
    decks = [d for d in collection.decks.all_names_and_ids() if d.name.startswith("Mini Deck")]
    for entry in decks:
        deck = collection.decks.get(entry.id)
        assert deck is not None and deck.get("desiredRetention") is None  # no per-deck override shipped
        deck["conf"] = mine
        collection.decks.save(deck)
    release_v2(mini_bank)
    set_version(mini_bank, "1.3.0")
    epoch(int(time.time()) + 60)
    package = build(mini_bank, tmp_path / "out").outputs[0]
    # Even with "Import any deck presets" ticked: the package has only the Default preset, which Anki never imports.
    options_request = ImportAnkiPackageOptions(
        merge_notetypes=False, update_notes=0, update_notetypes=0, with_scheduling=False, with_deck_configs=True
    )
    collection.import_anki_package(ImportAnkiPackageRequest(package_path=str(package), options=options_request))
    assert {collection.decks.get(d.id)["conf"] for d in decks} == {mine}  # type: ignore[index]
    kept = collection.decks.get_config(mine)
    assert kept is not None and (kept["new"]["perDay"], kept["desiredRetention"]) == (7, 0.8)
    assert [c["name"] for c in collection.decks.all_config()] == ["Default", "Mine"]


def test_a_version_bump_without_its_build_is_a_stale_lock(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    set_version(mini_bank, "1.3.0")
    result = CliRunner().invoke(main, ["check", "--locked", mini_bank.as_posix()])
    assert (result.exit_code, result.stderr.splitlines()) == (
        1,
        [
            f"{mini_bank.as_posix()}/deck.lock:1:1: error: deck.lock is out of date: the deck's version is 1.3.0, but the lock's "
            f"last release is 1.2.3; run 'deckgen build {mini_bank.as_posix()}' and commit the lock [stale-lock]",
            f"{mini_bank.as_posix()}/sources.yaml:17:5: warning: source 'uncited' is cited by no card [uncited-source]",
            "1 error, 1 warning in 2 files",
        ],
    )
