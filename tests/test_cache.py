"""The build cache: a rebuild from it gives exactly what a cold build gives, and it is
never trusted when it should not be."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deckgen.anki import notes as notes_module
from deckgen.anki import package as package_module
from deckgen.anki.notes import NoteSpec
from deckgen.editions import editions
from deckgen.links import with_media

from deckgen import validate
from deckgen import cache as cache_module
from deckgen import outdir
from deckgen import parallel
from deckgen.outputs import apkg as apkg_output
from deckgen.validate import validate_bank
from deckgen.build import build, check
from deckgen.cache import CACHE_FILE, BuildCache, LastBuild
from deckgen.load import LoadedFile
from deckgen.printsheet import PrintStyle
from deckgen.model import Bank, DeckgenError, QuestionType, Topic
from deckgen.cloze import cloze_answers
from deckgen.render import card_html_for_check, forget_rendered, markdown
from tests.conftest import ROOT
from tests.test_later import fork_counted


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def entries(out: Path) -> dict[str, str]:
    with sqlite3.connect(out / CACHE_FILE) as db:
        return dict(db.execute("SELECT key, value FROM entries"))


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    target = tmp_path / "questions"
    shutil.copytree(ROOT / "questions", target)
    return target


QK_FILE = Path("transformer") / "why-separate-qk.yaml"


def edit(bank: Path) -> None:
    path = bank / QK_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("They are equal:", "They are the same:"), encoding="utf-8")


MINI_FILE = Path("attention.yaml")
"""A topic file of the mini bank (tests/fixtures/mini), for the tests that need no large bank."""


def edit_mini(bank: Path) -> None:
    path = bank / MINI_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("out of saturation", "out of its flat region"), encoding="utf-8")


def test_a_cached_rebuild_equals_a_cold_build(bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(bank, tmp_path / "warm")
    assert (tmp_path / "warm" / CACHE_FILE).is_file()
    edit(bank)
    lock = (bank / "deck.lock").read_text(encoding="utf-8")
    epoch(1_750_000_000)
    warm = build(bank, tmp_path / "warm")
    warm_lock = (bank / "deck.lock").read_text(encoding="utf-8")
    (bank / "deck.lock").write_text(lock, encoding="utf-8")
    cold = build(bank, tmp_path / "cold")
    assert (bank / "deck.lock").read_text(encoding="utf-8") == warm_lock
    assert digests(tmp_path / "warm") == digests(tmp_path / "cold")
    assert warm.bank == cold.bank
    assert warm.warnings == cold.warnings


@pytest.fixture
def sweeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every build sweeps its cache: keeps only the entries it used or made."""
    monkeypatch.setattr(cache_module, "SWEEP_SHARE", 0.0)


def kind(key: str) -> str:
    """What a cache entry holds: its key without the hash."""
    return key.rsplit(":", 1)[0]


@pytest.mark.usefixtures("sweeping")
def test_the_cache_is_used_and_pruned(bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(bank, tmp_path / "out")
    first = entries(tmp_path / "out")
    # deck.yaml and sources.yaml are read every time, and translations with their edition
    topic_files = len([p for p in bank.rglob("*.yaml") if not p.stem.endswith(".zh")]) - 2
    assert sum(key.startswith("topic:") for key in first) == topic_files - 1  # unilm-masks shows an image
    overlays = [p for p in bank.rglob("*.zh.yaml") if p.parent != bank]  # not deck.zh.yaml or the glossary
    assert sum(key.startswith("edition:") for key in first) == len(overlays) - 1 > 0
    edit(bank)
    build(bank, tmp_path / "out")
    second = entries(tmp_path / "out")
    # Only the edited question's entries changed (its notes, its print fragments, its lines
    # in the Markdown sheets and its text in the site's search), and its file's and its
    # file's translation's (whose translation of the edited answer is now stale: the
    # Chinese notes are unchanged).
    added, dropped = set(second) - set(first), set(first) - set(second)
    assert len(added) == len(dropped) > 0
    assert sorted(map(kind, added)) == sorted(map(kind, dropped))
    assert sum(key.startswith("topic:") for key in added) == sum(key.startswith("notes:") for key in added) == 1
    # So did its topic's notes and lint warnings, the mark that all its values are made, and where its
    # topic's parts of the sheets and of the site's search index and its page on the site were written (the
    # next build reads them back from there).
    assert sorted(map(kind, added)) == [
        "block:apkg", "block:print-key-topic", "block:print-questions-topic", "block:print-review-topic", "block:search-topic",
        "block:sheet-answers-en-topic", "block:sheet-key-en-topic", "block:sheet-questions-en-topic", "block:site-topic",
        "edition", "lint-topic", "note-hashes-topic", "notes", "notes-topic", "print", "rendered-topic", "search-en", "sheet-answers-en", "sheet-key-en",
        "sheet-questions-en", "topic",
    ]
    edited = json.loads(next(second[key] for key in added if key.startswith("topic:")))
    assert any("They are the same:" in q["answer"] for q in edited["topic"]["questions"])


def _swept(out: Path) -> list[int]:
    """The cache's note of its last sweep: how many entries it kept then, how many builds added since."""
    note = json.loads(entries(out)["swept"])
    assert isinstance(note, list)
    return note


def test_a_rebuild_sweeps_the_cache_once_builds_have_added_a_share_of_it(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    first = entries(tmp_path / "out")
    size = len(first) - 1  # the note aside
    assert _swept(tmp_path / "out") == [size, 0]
    # A rebuild that does not sweep keeps every old entry, and adds to the note the entries it added.
    monkeypatch.setattr(cache_module, "SWEEP_SHARE", 1.0)
    edit_mini(mini_bank)
    build(mini_bank, tmp_path / "out")
    second = entries(tmp_path / "out")
    made = _swept(tmp_path / "out")[1]
    assert set(second) > set(first) and _swept(tmp_path / "out") == [size, made] and made == len(set(second) - set(first))
    # Undone, the edit finds the entries of the first build still there: it adds fewer (its
    # package is new: the note's time in the lock moved on).
    (mini_bank / MINI_FILE).write_text((mini_bank / MINI_FILE).read_text(encoding="utf-8").replace("out of its flat region", "out of saturation"), encoding="utf-8")
    monkeypatch.setattr(cache_module, "SWEEP_SHARE", (made + 0.5) / size)  # just more than was added
    build(mini_bank, tmp_path / "out")
    third = entries(tmp_path / "out")
    again = _swept(tmp_path / "out")[1] - made
    assert set(third) >= set(second) and 0 < again == len(set(third) - set(second)) < made
    # Once builds have added the share, the next build sweeps: it keeps what a cold build makes.
    monkeypatch.setattr(cache_module, "SWEEP_SHARE", (made + again - 0.5) / size)
    build(mini_bank, tmp_path / "out")
    build(mini_bank, tmp_path / "cold")
    assert entries(tmp_path / "out") == entries(tmp_path / "cold")
    assert _swept(tmp_path / "out") == [len(first) - 1, 0]
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")


# Notes written over a cache that holds the `kept` entries a build left (the note aside) and one
# more: each but the first, which agrees with the cache, is refused, and the build sweeps.
NOTES: dict[str, Callable[[int], str]] = {
    "agrees": lambda kept: f"[{kept}, 1]",
    "not json": lambda kept: "not json",
    "not a list": lambda kept: f'"{kept}, 1"',
    "one number": lambda kept: f"[{kept + 1}]",
    "a float": lambda kept: f"[{kept}.0, 1]",
    "a number too large": lambda kept: f"[{10**400}, 1]",
    "more than the cache holds": lambda kept: f"[{kept + 10**12}, 1]",
    "fewer than the cache holds": lambda kept: f"[{kept}, 0]",
}


@pytest.mark.parametrize("note", list(NOTES))
def test_a_cache_whose_note_does_not_agree_with_it_is_swept(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], note: str) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    kept = len(entries(tmp_path / "out")) - 1
    with sqlite3.connect(tmp_path / "out" / CACHE_FILE) as db:
        db.execute("INSERT INTO entries VALUES ('unused', '1')")
        db.execute("UPDATE entries SET value = ? WHERE key = 'swept'", (NOTES[note](kept),))
    build(mini_bank, tmp_path / "out")
    after = entries(tmp_path / "out")
    if note == "agrees":
        assert "unused" in after and json.loads(after["swept"]) == [kept, 1]
    else:
        assert "unused" not in after and json.loads(after["swept"]) == [len(after) - 1, 0] == [kept, 0]


def test_a_new_deckgen_or_a_broken_cache_is_not_trusted(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    cache_file = tmp_path / "out" / CACHE_FILE
    with sqlite3.connect(cache_file) as db:
        db.execute("UPDATE entries SET value = ? WHERE key LIKE 'notes:%'", (json.dumps([["poison"] * 4]),))
        db.execute("UPDATE entries SET value = ? WHERE key LIKE 'print:%'", (json.dumps("poison"),))
        db.execute("UPDATE entries SET value = ? WHERE key LIKE 'sheet-%'", (json.dumps(["**Q0.** poison"]),))
        db.execute("UPDATE entries SET value = ? WHERE key LIKE 'topic:%'", (json.dumps({"id": "poison"}),))
        db.execute("UPDATE entries SET value = ? WHERE key = 'salt'", (json.dumps(cache_module._salt() + "-older"),))
    build(mini_bank, tmp_path / "out")
    assert "poison" not in (tmp_path / "out" / "review-sheet.html").read_text(encoding="utf-8")
    assert "poison" not in (tmp_path / "out" / "review-sheet.md").read_text(encoding="utf-8")
    assert json.loads(entries(tmp_path / "out")["salt"]) == cache_module._salt()
    for content in (b"", b"not a database at all", b"SQLite format 3\x00" + b"\xff" * 200):
        cache_file.write_bytes(content)
        build(mini_bank, tmp_path / "out")
        assert json.loads(entries(tmp_path / "out")["salt"]) == cache_module._salt()


HAND_EDITS = ["not json", '{"cut off": ', "42", '"text"', "[]", "{}", '{"x": 1}', '[["a", "b", "c", "d"]]', "[[1, 2, 3, 4]]", '{"id": 7}', "[" * 5000, "true"]
"""Values written over every cached one. (`true` marks each topic as rendered ahead, with none
of its values there: each output makes what it does not find.)"""


@pytest.mark.parametrize("value", HAND_EDITS)
def test_a_hand_edited_cache_builds_what_a_cold_build_builds(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], value: str) -> None:
    # Every cached value is checked as it is read: one that is not what deckgen stores is a
    # miss, never a failed build nor a different output.
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    expected = digests(tmp_path / "out")
    with sqlite3.connect(tmp_path / "out" / CACHE_FILE) as db:
        assert {kind(key) for (key,) in db.execute("SELECT key FROM entries")} == {
            "salt", "topic", "notes", "print", "sheet-answers-en", "sheet-questions-en", "sheet-key-en", "search-en", "notes-topic", "note-hashes-topic",
            "lint-topic", "near-duplicates", "rendered-topic", "block:apkg", "block:print-review-topic", "block:print-questions-topic", "block:print-key-topic", "block:sheet-answers-en-topic",
            "block:sheet-questions-en-topic", "block:sheet-key-en-topic", "block:site-topic", "block:search-topic", "swept",
        }
        db.execute("UPDATE entries SET value = ? WHERE key != 'salt'", (value,))
    build(mini_bank, tmp_path / "out")
    assert digests(tmp_path / "out") == expected


def test_a_cached_compare_with_a_row_twice_is_read_again(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    # Well-formed JSON that no valid bank gives: two rows with one id would be two notes with one GUID.
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    expected = digests(tmp_path / "out")
    with sqlite3.connect(tmp_path / "out" / CACHE_FILE) as db:
        poisoned = 0
        for key, value in db.execute("SELECT key, value FROM entries WHERE key LIKE 'topic:%'").fetchall():
            data = json.loads(value)
            for question in data["topic"]["questions"]:
                if question["rows"]:
                    question["rows"].append(question["rows"][0])
                    poisoned += 1
            db.execute("UPDATE entries SET value = ? WHERE key = ?", (json.dumps(data), key))
        assert poisoned == 1
    build(mini_bank, tmp_path / "out")
    assert digests(tmp_path / "out") == expected


def test_a_truncated_cache_builds_what_a_cold_build_builds(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    expected = digests(tmp_path / "out")
    whole = (tmp_path / "out" / CACHE_FILE).read_bytes()
    for size in (len(whole) // 2, 4096, 100):
        (tmp_path / "out" / CACHE_FILE).write_bytes(whole[:size])
        build(mini_bank, tmp_path / "out")
        assert digests(tmp_path / "out") == expected


def test_a_cached_topic_that_no_longer_fits_its_bank_is_read_again(bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(bank, tmp_path / "out")
    # A new file repeats a question id of a cached file: the error is the one a cold check gives.
    text = (bank / QK_FILE).read_text(encoding="utf-8")
    (bank / "transformer" / "copy.yaml").write_text(text.replace("id: why-separate-qk\n", "id: a-copy\n", 1), encoding="utf-8")
    _, expected = check(bank)
    with pytest.raises(DeckgenError) as raised:
        build(bank, tmp_path / "out")
    assert raised.value.diagnostics == expected
    assert any(d.rule == "duplicate-id" for d in expected)
    (bank / "transformer" / "copy.yaml").unlink()
    # A source that a cached file cites is removed: that file is checked again.
    sources = (bank / "sources.yaml").read_text(encoding="utf-8")
    start = sources.index("  - id: transformer-paper\n")
    end = sources.index("  - id:", start + 1)
    (bank / "sources.yaml").write_text(sources[:start] + sources[end:], encoding="utf-8")
    _, expected = check(bank)
    with pytest.raises(DeckgenError) as raised:
        build(bank, tmp_path / "out")
    assert raised.value.diagnostics == expected
    assert any(d.rule == "unknown-source" for d in expected)


def test_a_missing_image_is_found_even_when_its_file_is_unchanged(bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(bank, tmp_path / "out")
    (bank / "images" / "attention-masks.svg").unlink()
    _, expected = check(bank)
    with pytest.raises(DeckgenError) as raised:
        build(bank, tmp_path / "out")
    assert raised.value.diagnostics == expected
    showing = sum("attention-masks.svg" in q.extra + q.question + q.answer for t in validate_bank(ROOT / "questions")[0].topics for q in (*t.questions, *t.retired))  # type: ignore[union-attr]
    assert [d.rule for d in expected if d.severity.value == "error"] == ["image"] * showing and showing >= 1


def test_a_failed_build_leaves_the_cache_as_it_was(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    before = (tmp_path / "out" / CACHE_FILE).read_bytes()
    edit_mini(mini_bank)

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(apkg_output, "write_apkg", disk_full)
    with pytest.raises(DeckgenError):
        build(mini_bank, tmp_path / "out")
    assert (tmp_path / "out" / CACHE_FILE).read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")) == [CACHE_FILE, ".deckgen-output"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".out.deckgen-lock"]


def test_a_first_build_that_fails_makes_no_folder(mini_bank: Path, tmp_path: Path) -> None:
    (mini_bank / MINI_FILE).write_text("topic: [", encoding="utf-8")
    with pytest.raises(DeckgenError):
        build(mini_bank, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_cached_file_keeps_its_warnings(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    path = mini_bank / MINI_FILE
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    first = build(mini_bank, tmp_path / "out").warnings
    again = build(mini_bank, tmp_path / "out").warnings
    assert [str(d) for d in again if d.rule == "bom"] == [f"{path.as_posix()}:1:1: warning: byte-order mark at the start of the file; save it as UTF-8 without BOM [bom]"]
    assert again == first == tuple(check(mini_bank)[1])


def test_a_cold_build_parses_each_text_once(bank: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A build renders each question's texts for its card and its sheets one after the other,
    # from one parse: it must never parse a text twice for one question, however large the bank.
    forget_rendered()
    md = markdown()
    parsed: Counter[str] = Counter()
    real_parse = md.parse
    monkeypatch.setattr(md, "parse", lambda src, env=None: parsed.update([src]) or real_parse(src, env))
    result = build(bank, tmp_path / "out")
    assert len(parsed) > 1000
    # A text is parsed once for its card and its sheets: again only where the bank writes
    # it again, for a compare item, which a card shows inline, and for a cloze, whose card
    # check renders to compare the deletions Anki will read with the ones written. The deck's description
    # is rendered apart from the questions, once for the package and once for the sheets.
    written: Counter[str] = Counter({result.bank.deck.description: 2})
    every_edition = editions(result.bank)[0]
    written.update({made.bank.deck.description: 2 for made in every_edition[1:]})
    # A retired question keeps its notes (see `question_notes`), and may share a text with the
    # question that replaced it: each is rendered where it is written.
    for question in (q for made in every_edition for topic in made.bank.topics for q in (*topic.questions, *topic.retired)):
        written.update([question.question, question.answer, question.extra, *question.items, *question.items])
        # A card shows an image by the name it is packed under.
        written.update(with_media(text, question.media()) for text in (question.question, question.answer, question.extra) if text and "![" in text)
        written.update(text for row in question.rows for text in (row.aspect, *row.values))
        # A row's own extra is shown with the question's on its card, and after its aspect in the sheets.
        written.update("\n\n".join(t for t in (question.extra, row.extra) if t) for row in question.rows if row.extra)
        written.update(question.row_extras)
        if question.type is QuestionType.CLOZE:
            written.update([" · ".join(cloze_answers(question.question))])  # the answer key's line
            written.update([question.question])  # check renders a cloze once more, to see the deletions the card shows
    assert {text: times for text, times in parsed.items() if times > max(1, written[text])} == {}


def test_a_rebuild_hashes_only_the_questions_of_the_topics_it_reads_again(
    bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What each question holds is hashed as its topic is read, and kept with the topic in the
    # cache: a topic read back is not hashed again. A topic whose questions show an image is
    # read afresh every time (its files may change on their own).
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "1")
    epoch(1_700_000_000)
    build(bank, tmp_path / "out")
    edit(bank)
    hashed: Counter[str] = Counter()
    real = cache_module._content_digest

    def counted(question: Any) -> bytes:
        hashed[question.topic] += 1
        return real(question)

    monkeypatch.setattr(cache_module, "_content_digest", counted)
    result = build(bank, tmp_path / "out")
    images = {t.id for t in result.bank.topics if any(q.images for q in (*t.questions, *t.retired))}
    (edited,) = [t for t in result.bank.topics if t.id == "why-separate-qk"]
    assert images and set(hashed) == {edited.id} | images
    assert hashed[edited.id] == 2 * (len(edited.questions) + len(edited.retired))  # in English and in Chinese
    monkeypatch.undo()
    build(bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_what_a_build_holds_of_its_questions_hashes_is_only_for_the_topics_of_its_editions(bank: Path, tmp_path: Path, warm: bool) -> None:
    # An edition's topic is its translation with the English values it shares: the translation
    # itself, and so its hashes, are let go (at 50,000 cards some tens of MB).
    if warm:
        build(bank, tmp_path / "out")
    cache = BuildCache(tmp_path / "out")
    try:
        english, diagnostics = validate_bank(bank, cache)
        assert english is not None, diagnostics
        made, _ = editions(english, None, cache)
        assert len(made) == 2
        held = [topic for topic, _ in cache._contents.values()]
        assert held and {id(t) for t in held} <= {id(t) for edition in made for t in edition.bank.topics}
        assert all(cache.content(topic) == b"".join(cache_module._content_digest(q) for q in (*topic.questions, *topic.retired)) for topic in held)
    finally:
        cache.close()


@pytest.mark.parametrize("content", ["", "00", None], ids=["no hash", "too short", "not hex"])
def test_a_topic_whose_questions_hashes_are_not_as_stored_is_read_again(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, content: str | None
) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    expected = digests(tmp_path / "out")
    with sqlite3.connect(tmp_path / "out" / CACHE_FILE) as db:
        for key, value in db.execute("SELECT key, value FROM entries WHERE key LIKE 'topic:%' OR key LIKE 'edition:%'").fetchall():
            entry = json.loads(value)
            entry["content"] = content
            db.execute("UPDATE entries SET value = ? WHERE key = ?", (json.dumps(entry), key))
    reads: list[str] = []
    real_load = validate.load_file

    def load_file(path: Path, *args: Any) -> LoadedFile:
        reads.append(path.name)
        return real_load(path, *args)

    monkeypatch.setattr(validate, "load_file", load_file)
    build(mini_bank, tmp_path / "out")
    assert sorted(reads) == ["attention.yaml", "deck.yaml", "lora.yml", "sources.yaml"]  # each topic file read again, as the deck and the sources always are
    assert digests(tmp_path / "out") == expected


def test_a_rebuild_of_an_unchanged_bank_parses_nothing(bank: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every card and every printed text comes from the cache: none is rendered again.
    build(bank, tmp_path / "out")
    forget_rendered()
    card_html_for_check.cache_clear()
    md = markdown()
    parsed: list[str] = []
    real_parse = md.parse
    monkeypatch.setattr(md, "parse", lambda src, env=None: parsed.append(src) or real_parse(src, env))
    real_render = md.render
    monkeypatch.setattr(md, "render", lambda src, env=None: parsed.append(src) or real_render(src, env))
    result = build(bank, tmp_path / "out")
    # The deck's description is rendered apart from the questions, for the package and the
    # sheets (or from the parse that checked it); a topic file whose questions show an image is checked afresh (its files may
    # change on their own), and check renders a cloze to compare the deletions a card shows.
    checked_again = {
        q.question for t in result.bank.topics if any(q.images for q in t.questions) for q in t.questions if q.type is QuestionType.CLOZE
    }
    # A translation is checked afresh on every build, as its topic is read again with it (its
    # clozes rendered once more); the edition's description is rendered as the English one is.
    translated = [made.bank for made in editions(result.bank)[0][1:]]
    overlays = {t.path for t in result.bank.topics if (t.path.parent / f"{t.path.stem}.zh{t.path.suffix}").is_file()}
    checked_translations = {
        q.question for b in translated for t in b.topics if t.path in overlays for q in t.questions if q.type is QuestionType.CLOZE and "（尚未翻译）" not in q.question
    }
    # A text that was checked a moment before is rendered from the parse that checked it, where
    # both parsers read it alike (see `render._parse_for_rendering`): so a description may not be
    # parsed again, and a cloze only when it can hold a link or ends in a code block.
    from deckgen import render

    def reread(text: str) -> bool:
        written = text.rstrip("\n")
        return not render._alike_for_both(text) or (written != text and render._runs_to_the_end(render._parsed(written)[0], written))

    descriptions = {result.bank.deck.description, *(b.deck.description for b in translated)}
    assert set(parsed) - descriptions == {text for text in checked_again | checked_translations if reread(text)}
    assert len(checked_again | checked_translations) > 10
    assert len(checked_again) == 1


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("sources.yaml", 'title: "12个NLP预训练模型的学习笔记"', 'title: "12 个 NLP 预训练模型的学习笔记"'),
        ("deck.yaml", "homepage: https://github.com/deckgen/deckgen", "homepage: https://example.org/deckgen"),
        (QK_FILE.as_posix(), "topic: Why attention separates Q and K", "topic: Why attention keeps Q and K apart"),
        # What a topic's part of an output shows besides its questions: the deck's and the
        # section's titles, the questions' numbers and lines (the site links to each line), and
        # the sections' order (every number after it).
        ("deck.yaml", "title: NLP Pretraining\n", "title: NLP Pretraining Models\n"),
        ("deck.yaml", '{id: transformer, title: "Transformer"', '{id: transformer, title: "The Transformer"'),
        (QK_FILE.as_posix(), "section: transformer\n", "section: transformer\n# one line more above every question\n"),
        (
            "deck.yaml",
            '  - {id: surveys, title: "Surveys", heading: "汇总"}\n  - {id: transformer, title: "Transformer", heading: "Transformer"}\n',
            '  - {id: transformer, title: "Transformer", heading: "Transformer"}\n  - {id: surveys, title: "Surveys", heading: "汇总"}\n',
        ),
        # The Chinese deck's description: the Chinese package, whose notes are unchanged, is not
        # the last build's.
        ("deck.zh.yaml", "每张卡片都注明它出自哪些文章和论文。", "每张卡片都注明出处。"),
    ],
)
def test_what_a_card_shows_from_elsewhere_invalidates_it(
    bank: Path, tmp_path: Path, epoch: Callable[[int], None], file: str, old: str, new: str
) -> None:
    epoch(1_700_000_000)
    build(bank, tmp_path / "warm")
    text = (bank / file).read_text(encoding="utf-8")
    assert text.count(old) == 1
    (bank / file).write_text(text.replace(old, new), encoding="utf-8")
    build(bank, tmp_path / "warm")
    build(bank, tmp_path / "cold")
    assert digests(tmp_path / "warm") == digests(tmp_path / "cold")


# Edits to what lint reads, one after the other, each with the warnings lint then gives: a
# question text (a near-duplicate), an answer (too long), the lines above every question
# (where each warning points), a `lint: ignore`, and the Chinese edition's glossary (a variant
# to avoid, in a translation that did not change).
LINT_EDITS: list[tuple[list[tuple[Path, str, str]], list[str]]] = [
    (
        [
            (
                QK_FILE,
                "In Transformer self-attention with tied projections ($W_Q = W_K$), how do the raw\n      scores $s_{ij}$ and $s_{ji}$ compare?",
                # The words of the topic's first question, and the math its translation keeps.
                "In Transformer self-attention, why are scores $s_{ij}$ and $s_{ji}$ computed from two different\n"
                "      projections, $q_i = x_i W_Q$ and $k_j = x_j W_K$, rather than one shared projection ($W_Q = W_K$)?",
            ),
            (
                QK_FILE.with_suffix(".zh.yaml"),
                "在共享投影（$W_Q = W_K$）的 Transformer 自注意力（self-attention）中，原始分数\n      $s_{ij}$ 与 $s_{ji}$ 是什么关系？",
                "Transformer 的自注意力（self-attention）中，为什么分数 $s_{ij}$ 与 $s_{ji}$ 要由 $q_i = x_i W_Q$ 和\n"
                "      $k_j = x_j W_K$ 两个不同的投影算出，而不共用同一个投影（$W_Q = W_K$）？",
            ),
        ],
        ["near-duplicate"],
    ),
    (
        [
            (
                QK_FILE,
                "They are equal: $S = QK^\\\\top$ becomes symmetric.",
                "They are equal, because with one shared projection the score matrix $S = QK^\\\\top$ is the product"
                " of a matrix and its own transpose, which always makes it a symmetric matrix.",
            )
        ],
        ["near-duplicate", "answer-length"],
    ),
    ([(QK_FILE, "section: transformer\n", "section: transformer\n# one line more above every question\n")], ["near-duplicate", "answer-length"]),
    (
        [
            (
                QK_FILE,
                "    extra: |\n      $S = XW(XW)^\\top$ equals",
                "    lint: {ignore: [near-duplicate], reason: a test of silencing}\n    extra: |\n      $S = XW(XW)^\\top$ equals",
            )
        ],
        ["answer-length"],
    ),
    ([(Path("glossary.zh.yaml"), "terms:\n", "terms:\n  - {en: score matrix, zh: 得分矩阵, avoid: [分数矩阵]}\n")], ["answer-length", "glossary-variant"]),
]


def test_lint_from_the_cache_warns_as_a_cold_check_does(bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    before = build(bank, tmp_path / "warm").warnings
    assert before == ()
    for step, (changes, rules) in enumerate(LINT_EDITS):
        for file, old, new in changes:
            text = (bank / file).read_text(encoding="utf-8")
            assert text.count(old) == 1, step
            (bank / file).write_text(text.replace(old, new), encoding="utf-8")
        warm = build(bank, tmp_path / "warm").warnings
        cold = build(bank, tmp_path / f"cold-{step}").warnings
        assert warm == cold, step
        assert [d.rule for d in warm if not d.rule.startswith("translation-")] == rules, step


def test_a_rebuild_with_another_layout_equals_a_cold_one(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "warm")
    for style in (PrintStyle("compact", "a4"), PrintStyle("full", "a4")):
        build(mini_bank, tmp_path / "warm", style=style)
        build(mini_bank, tmp_path / f"cold-{style.layout}", style=style)
        assert digests(tmp_path / "warm") == digests(tmp_path / f"cold-{style.layout}")


def test_a_file_saved_during_a_build_is_cached_as_it_was_read(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    path = mini_bank / MINI_FILE
    before = path.read_text(encoding="utf-8")
    real_load = validate.load_file

    def load_while_an_editor_saves(file: Path, display: str, data: bytes | None = None) -> LoadedFile:
        if file == path:
            path.write_text(before.replace("out of saturation", "out of its flat region"), encoding="utf-8")
        return real_load(file, display, data)

    monkeypatch.setattr(validate, "load_file", load_while_an_editor_saves)
    build(mini_bank, tmp_path / "out")
    monkeypatch.setattr(validate, "load_file", real_load)
    for edited in (True, False):
        text = before.replace("out of saturation", "out of its flat region") if edited else before
        path.write_text(text, encoding="utf-8")
        build(mini_bank, tmp_path / "out")
        build(mini_bank, tmp_path / f"cold-{edited}")
        assert digests(tmp_path / "out") == digests(tmp_path / f"cold-{edited}")


def test_a_cache_that_cannot_be_moved_into_the_new_folder_leaves_nothing_behind(
    bank: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cache is made beside the output folder and renamed into the new one; on another
    # file system it is copied instead, and here the disk fills up while copying.
    def other_file_system(source: object, target: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    def disk_full(source: Path, target: Path) -> None:
        Path(target).write_bytes(Path(source).read_bytes()[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module.os, "replace", other_file_system)
    monkeypatch.setattr(cache_module.shutil, "copyfile", disk_full)
    build(bank, tmp_path / "out")
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")) == [".deckgen-output"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".out.deckgen-lock"]


def test_check_reads_a_builds_cache_and_writes_nothing(bank: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(bank, tmp_path / "build")
    edit(bank)
    reads: list[Path] = []
    read_topic = validate.read_topic

    def counted(reader: Any, loaded: Any) -> Any:
        reads.append(Path(loaded.path))
        return read_topic(reader, loaded)

    monkeypatch.setattr(validate, "read_topic", counted)
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    cold = check(bank)
    cold_reads, reads[:] = list(reads), []
    cache = BuildCache(tmp_path / "build", writable=False)
    try:
        warm = check(bank, cache=cache)
    finally:
        cache.close()
    assert warm == cold
    # A cold check reads every topic once, and each one with a Chinese overlay once more (its
    # translation, read back into it). With the cache, only the edited file and the topic
    # that shows an image (never cached) are read, each with its translation.
    overlays = sorted({p for p in cold_reads if cold_reads.count(p) == 2})
    assert len(overlays) == len(list(bank.rglob("*.zh.yaml"))) - 2  # deck.zh.yaml and the glossary are not topics
    assert sorted(reads) == sorted([bank / QK_FILE, bank / "bert-family" / "unilm-masks.yaml"] * 2)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files


def test_present_says_which_keys_the_cache_holds(tmp_path: Path) -> None:
    first = BuildCache(tmp_path)
    for number in range(1200):  # more than one query's worth
        first.put(f"old:{number}", number)
    first.save()
    first.close()
    cache = BuildCache(tmp_path, writable=False)
    try:
        cache.put("new:1", 1)
        asked = [f"old:{n}" for n in range(0, 1300, 7)] + ["new:1", "new:2", "old:-1"]
        assert cache.present(asked) == {f"old:{n}" for n in range(0, 1200, 7)} | {"new:1"}
        assert cache.present(asked) == {key for key in asked if cache.has(key)}
        assert cache.present([]) == set()
    finally:
        cache.close()
    assert BuildCache(None, writable=False).present(["old:1"]) == set()


@pytest.mark.usefixtures("sweeping")
def test_a_forked_process_reads_what_the_last_build_s_cache_holds_and_this_build_did_not_make(tmp_path: Path) -> None:
    assert BuildCache(tmp_path).left_in_last_build({"a": []}) is None  # no last build
    last = BuildCache(tmp_path)
    for key in ("topic", "made again", "its part", "unused"):
        last.put(key, [key])
    last.save()
    last.close()
    cache = BuildCache(tmp_path)
    try:
        cache.put("made again", ["this build's"])
        cache.put("new", ["this build's"])
        left = cache.left_in_last_build({"topic": ["its part"], "made again": [], "new": [], "none": []})
        assert left is not None
        last_build, found = left
        assert found == {"topic"}
        # Read by a connection of its own (a forked process's) before this build saves: the file
        # is as the last build left it.
        get = last_build.reader()
        assert [get(key) for key in ("topic", "its part", "made again", "none")] == [["topic"], ["its part"], ["made again"], None]
        cache.save()  # a sweep: the entries the forked process reads, and their parts, are kept as if read
    finally:
        cache.close()
    assert LastBuild((tmp_path / "none.sqlite").as_uri() + "?mode=ro", last_build.salt).reader()("topic") is None
    assert LastBuild(last_build.uri, json.dumps("another deckgen's")).reader()("topic") is None  # another file in its place
    saved = BuildCache(tmp_path, writable=False)
    assert [saved.get(key) for key in ("topic", "its part", "made again", "new", "unused")] == [["topic"], ["its part"], ["this build's"], ["this build's"], None]
    saved.close()


@pytest.mark.usefixtures("sweeping")
def test_a_build_keeps_what_it_made_in_memory_only_until_it_is_large(tmp_path: Path) -> None:
    last = BuildCache(tmp_path)
    last.put("first", "the last build's")
    last.put("unused", 0)
    last.put("shared", 2)
    last.save()
    last.close()
    cache = BuildCache(tmp_path)
    text = "x" * (cache_module.PENDING_CHARACTERS // 3)
    try:
        cache.put("small", 1)
        cache.put("first", text)
        cache.put("second", text)
        assert [key for key, _ in cache.made()] == ["small", "first", "second"]  # two thirds of the bound so far
        cache.put("third", text)
        assert cache.made() == []  # written to the new cache file, all four
        cache.put("fourth", text)
        assert [key for key, _ in cache.made()] == ["fourth"]  # counted afresh after writing
        assert [cache.get(key) for key in ("small", "first", "second", "third", "fourth")] == [1, text, text, text, text]
        asked = ["small", "first", "third", "fourth", "unused", "none"]
        assert cache.present(asked) == {"small", "first", "third", "fourth", "unused"}
        assert [cache.has(key) for key in asked] == [True, True, True, True, True, False]
        cache._made.add("shared")  # as if the filter of keys made took it for one: the last build's value is still found
        assert (cache.has("shared"), cache.present(["shared"]), cache.get("shared")) == (True, {"shared"}, 2)
        cache.save()
    finally:
        cache.close()
    saved = BuildCache(tmp_path, writable=False)
    assert [saved.get(key) for key in ("small", "first", "fourth", "shared", "unused")] == [1, text, text, 2, None]  # "first" made again: this build's
    saved.close()
    in_memory = BuildCache(tmp_path, writable=False)  # as check's: it has no file to write to
    for number in range(4):
        in_memory.put(f"big:{number}", text)
    assert len(in_memory.made()) == 4
    in_memory.close()


def test_a_cache_that_writes_nothing_gives_up_what_workers_handed_it_once_read(tmp_path: Path) -> None:
    last = BuildCache(tmp_path)
    last.put("old", "the last build's")
    last.save()
    last.close()
    checks = BuildCache(tmp_path, writable=False, keep_made=False)  # check's
    collects = BuildCache(None, writable=False)  # a worker's
    builds = BuildCache(tmp_path)
    try:
        for cache in (checks, collects, builds):
            cache.put_json("handed", '"from a worker"', handed=True)
            cache.put("made", "here")
        # A build keeps everything; a worker keeps what it made, for the build to take in (it is
        # never handed anything); check keeps only what it was handed, until it reads it.
        assert [key for key, _ in builds.made()] == ["handed", "made"]
        assert [key for key, _ in collects.made()] == ["made"]
        assert checks.made() == []
        assert [(cache.has("handed"), cache.present(["handed", "made", "old"])) for cache in (checks, collects, builds)] == [
            (True, {"handed", "old"}),
            (True, {"handed", "made"}),
            (True, {"handed", "made", "old"}),
        ]
        read = [[cache.get(key) for key in ("handed", "handed", "made", "old")] for cache in (checks, collects, builds)]
        assert read == [
            ["from a worker", None, None, "the last build's"],
            ["from a worker", None, "here", None],
            ["from a worker", "from a worker", "here", "the last build's"],
        ]
        assert [(cache.has("handed"), cache.present(["handed"])) for cache in (checks, collects)] == [(False, set()), (False, set())]
        # Read again, a value is made again, as on any miss.
        assert checks.memo("handed", lambda: "made again", str) == "made again"
        assert checks.get("handed") is None
    finally:
        for cache in (checks, collects, builds):
            cache.close()


def test_the_filter_of_keys_made_finds_each_one_and_few_others() -> None:
    made = cache_module._Seen()
    keys = [f"notes:{hashlib.sha256(str(n).encode()).hexdigest()}" for n in range(111_106)]  # a 10,000-card build's
    assert made.empty and keys[0] not in made
    made.update(keys[:50_000])
    for key in keys[50_000:]:
        made.add(key)
    assert not made.empty
    assert all(key in made for key in keys)
    others = sum(f"print:{hashlib.sha256(str(n).encode()).hexdigest()}" in made for n in range(100_000))
    assert others < 100  # about 5 expected: one in 20,000


class _FailingUpdate:
    """An SQLite connection whose statements that add this build's entries to the old cache fail."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("INSERT OR REPLACE INTO main.entries SELECT"):
            raise sqlite3.OperationalError("disk I/O error")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def _cross_device(source: object, target: object) -> None:
    raise OSError(18, "Invalid cross-device link")


_CONNECT = sqlite3.connect


def _failing_update(*args: Any, **kwargs: Any) -> Any:
    return _FailingUpdate(_CONNECT(*args, **kwargs))


@pytest.mark.parametrize(
    ("trouble", "share"),
    [
        *((trouble, 0.0) for trouble in ("in place", "cross-device", "failed update", "in place, a key not UTF-8", "cross-device, a key not UTF-8")),
        *((trouble, cache_module.SWEEP_SHARE) for trouble in ("in place", "cross-device", "failed update")),
    ],
)
def test_a_rebuild_keeps_the_same_entries_however_its_cache_is_saved(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, trouble: str, share: float
) -> None:
    # A rebuild moves the old cache into the new folder and updates it in place; when the file
    # cannot be moved, or the update fails (and is rolled back), it copies what it used instead
    # (a rebuild that sweeps, with a share of 0), or every old entry.
    monkeypatch.setattr(cache_module, "SWEEP_SHARE", share)
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "expected")
    build(mini_bank, tmp_path / "out")
    first = entries(tmp_path / "out")
    edit_mini(mini_bank)
    lock = (mini_bank / "deck.lock").read_text(encoding="utf-8")
    epoch(1_750_000_000)
    build(mini_bank, tmp_path / "expected")
    expected = entries(tmp_path / "expected")
    if share == 0:
        assert set(expected) != set(first) and set(expected) & set(first)  # some entries dropped, some kept
    else:
        assert set(expected) > set(first) - {"swept"}  # every entry kept, some added
    (mini_bank / "deck.lock").write_text(lock, encoding="utf-8")
    if trouble.endswith("a key not UTF-8"):  # a cache file deckgen did not write: the key is dropped
        with sqlite3.connect(tmp_path / "out" / CACHE_FILE) as db:
            db.execute("INSERT INTO entries VALUES (CAST(x'ff80' AS TEXT), '1')")
    if trouble.startswith("cross-device"):
        monkeypatch.setattr(cache_module.os, "rename", _cross_device)
    elif trouble == "failed update":
        monkeypatch.setattr(cache_module.sqlite3, "connect", _failing_update)
    build(mini_bank, tmp_path / "out")
    monkeypatch.undo()
    monkeypatch.setattr(cache_module, "SWEEP_SHARE", share)
    assert entries(tmp_path / "out") == expected
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")) == [CACHE_FILE, ".deckgen-output"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".expected.deckgen-lock", ".out.deckgen-lock"]
    with sqlite3.connect(tmp_path / "out" / CACHE_FILE) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_build_whose_folder_cannot_take_the_old_ones_place_leaves_the_cache_there(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    before = digests(tmp_path / "out")
    edit_mini(mini_bank)

    def refused(a: Path, b: Path) -> bool:
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(outdir, "exchange", refused)
    with pytest.raises(DeckgenError) as err:
        build(mini_bank, tmp_path / "out")
    monkeypatch.undo()
    assert [d.message for d in err.value.diagnostics] == ["cannot put the new outputs in place: Device or resource busy"]
    assert digests(tmp_path / "out") == before
    # The cache the build saved went back to the old folder, whole, and the next build reads it.
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")) == [CACHE_FILE, ".deckgen-output"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".out.deckgen-lock"]
    assert any("its flat region" in value for value in entries(tmp_path / "out").values())
    build(mini_bank, tmp_path / "out")
    build(mini_bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")


class Reads:
    """Every file a build asks to read a block back from: where, whether the read gave bytes, and
    whether the path went through a link (looked at before the read)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[Path, bool, bool]] = []
        real_read = cache_module._OpenFiles.read

        def read(files: Any, root: Path, parts: list[str], at: int, size: int) -> bytes | None:
            path = root.joinpath(*parts)
            linked = any(root.joinpath(*parts[:depth]).is_symlink() for depth in range(1, len(parts) + 1))
            data = real_read(files, root, parts, at, size)
            self.calls.append((path, data is not None, linked))
            return data

        monkeypatch.setattr(cache_module._OpenFiles, "read", read)

    @property
    def read(self) -> list[Path]:
        """The files a block was read back from."""
        return [path for path, found, _ in self.calls if found]


def test_a_rebuild_reads_back_every_part_that_did_not_change(bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> None:
    epoch(1_700_000_000)
    build(bank, tmp_path / "out")
    blocks = {key for key in entries(tmp_path / "out") if key.startswith("block:")}
    edit(bank)
    reads = Reads(monkeypatch)
    build(bank, tmp_path / "out")
    # Each topic's part of each sheet, its page on the site and its part of the site's search
    # index, in both editions, but the edited topic's in English: three parts of the print pages,
    # three of the Markdown sheets, one page, one part of the index; and the Chinese package,
    # whose notes did not change, but not the English one.
    assert len(reads.read) == len(reads.calls) == len(blocks) - 9 > 0
    assert {p.relative_to(tmp_path / "out").parts[0] for p in reads.read} == {
        "nlp-pretraining.zh.apkg", "review-sheet.md", "review-questions.md", "review-sheet.html", "review-questions.html",
        "review-sheet.zh.md", "review-questions.zh.md", "review-sheet.zh.html", "review-questions.zh.html", "site",
    }


class NoteReads:
    """Every topic whose notes a build reads (from the cache or rendered), by language and topic id."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read: Counter[tuple[str, str]] = Counter()
        real = notes_module.topic_notes

        def topic_notes(bank: Bank, topic: Topic, cache: BuildCache | None) -> list[NoteSpec]:
            self.read[bank.deck.language, topic.id] += 1
            return real(bank, topic, cache)

        monkeypatch.setattr(notes_module, "topic_notes", topic_notes)


@pytest.mark.parametrize("jobs", ["1", "2"], ids=["one process", "two processes"])
def test_a_rebuild_reads_only_the_notes_of_the_package_it_writes(
    bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    # The lock is brought up to date from each topic's note hashes, which the cache keeps, and
    # whether a package changed is known from its questions' keys and the lock: a rebuild reads
    # notes only to write a package that changed, each of its topics once. On two cores the
    # package is written in a forked process, which reads the notes of the topics that did not
    # change there, from the last build's cache file.
    monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
    epoch(1_700_000_000)
    build(bank, tmp_path / "out")
    reads = NoteReads(monkeypatch)
    build(bank, tmp_path / "out")
    assert reads.read == Counter()
    edit(bank)
    rendered = notes_module.question_notes

    def only_the_edited_topic_rendered(bank: Bank, topic: Topic, question: Any) -> list[NoteSpec]:
        # Here, or in the forked process, where it fails the build: every other topic's notes are read from the cache.
        if topic.id != "why-separate-qk":
            raise AssertionError(f"the notes of {topic.id} were rendered")
        return rendered(bank, topic, question)

    monkeypatch.setattr(notes_module, "question_notes", only_the_edited_topic_rendered)
    forks = fork_counted(monkeypatch)
    result = build(bank, tmp_path / "out")
    # The English package is written again, and the edited topic's note hashes made again from
    # its notes; the Chinese package, whose notes did not change, is copied.
    topics = {("en", t.id): 1 for t in result.bank.topics} if jobs == "1" else {}
    assert reads.read == Counter({**topics, ("en", "why-separate-qk"): 2})
    assert len(forks) == (0 if jobs == "1" else 1)
    monkeypatch.undo()
    build(bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")
    # A rebuild that sweeps its cache keeps what a cold build makes: the notes that the forked
    # process read too, for the next build.
    monkeypatch.setattr(cache_module, "SWEEP_SHARE", 0.0)
    monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
    (bank / QK_FILE).write_text((bank / QK_FILE).read_text(encoding="utf-8").replace("They are the same:", "They are identical:"), encoding="utf-8")
    forks = fork_counted(monkeypatch)
    build(bank, tmp_path / "out")
    assert len(forks) == (0 if jobs == "1" else 1)
    build(bank, tmp_path / "cold")
    assert set(entries(tmp_path / "out")) == set(entries(tmp_path / "cold"))


@pytest.mark.parametrize("room", [0, -1], ids=["room for them", "one too many"])
def test_a_rebuild_forks_its_package_only_when_it_holds_at_most_so_many_notes_made_now(
    bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, room: int
) -> None:
    # The notes of the topics an edit changed are held for the forked process; more than
    # `MOST_HELD` of them, and the build writes its package itself, a topic at a time.
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "2")
    epoch(1_700_000_000)
    result = build(bank, tmp_path / "out")
    edit(bank)
    (topic,) = [t for t in result.bank.topics if t.id == "why-separate-qk"]
    count = sum(len(notes_module.note_ids(q)) for q in (*topic.questions, *topic.retired))
    monkeypatch.setattr(package_module, "MOST_HELD", count + room)
    forks = fork_counted(monkeypatch)
    build(bank, tmp_path / "out")
    assert len(forks) == (1 if room == 0 else 0)
    monkeypatch.undo()
    build(bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")


@pytest.mark.parametrize("broken", ["topics", "topics and questions"])
def test_a_package_written_in_a_forked_process_reads_again_notes_that_the_last_build_s_cache_holds_as_it_should_not(
    bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    # The forked process reads each unchanged topic's notes from the last build's cache file; a
    # value there that is not what deckgen stores is read a question at a time instead, or
    # rendered, as a build in one process reads it; and the build then makes the topic's value
    # again into its cache, as that build does.
    epoch(1_700_000_000)
    build(bank, tmp_path / "out")
    edit(bank)
    kinds = ["notes-topic"] if broken == "topics" else ["notes-topic", "notes"]
    with sqlite3.connect(tmp_path / "out" / CACHE_FILE) as db:
        for prefix in kinds:
            assert db.execute("UPDATE entries SET value = '[]' WHERE key LIKE ?", (prefix + ":%",)).rowcount > 2
    shutil.copytree(tmp_path / "out", tmp_path / "one")
    rendered = notes_module.question_notes

    def edited_topic_rendered_only(bank: Bank, topic: Topic, question: Any) -> list[NoteSpec]:
        if broken == "topics" and topic.id != "why-separate-qk":
            raise AssertionError(f"the notes of {topic.id} were rendered")
        return rendered(bank, topic, question)

    monkeypatch.setattr(notes_module, "question_notes", edited_topic_rendered_only)
    built: dict[str, set[str]] = {}
    for out, jobs in (("out", "2"), ("one", "1")):
        monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
        forks = fork_counted(monkeypatch)
        build(bank, tmp_path / out)
        assert len(forks) == (1 if jobs == "2" else 0)
        built[out] = {key for key, value in entries(tmp_path / out).items() if value == "[]" and kind(key) in kinds}
    # What neither build read is left as it was: the Chinese package's notes (that package is
    # copied), and, but for the edited topic's, each question's notes when the topics' were read.
    held = [key for key in entries(tmp_path / "out") if kind(key) in kinds]
    assert built["out"] == built["one"] and 0 < len(built["out"]) < len(held)
    assert {kind(key) for key in built["out"]} == set(kinds)
    monkeypatch.undo()
    build(bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "one") == digests(tmp_path / "cold")


def _with_time(entry: dict[str, Any], change: int) -> dict[str, Any]:
    return {**entry, "mtime": entry["mtime"] + change}


LOCK_CHANGES: dict[str, tuple[dict[str, Callable[[dict[str, Any]], dict[str, Any]]], set[str]]] = {
    # A note's time in English, or in Chinese only: that edition's package.
    "an English time": ({"qk-bilinear-form": lambda entry: _with_time(entry, -1)}, {"nlp-pretraining.apkg"}),
    "a Chinese time": (
        {"qk-bilinear-form": lambda entry: {**entry, "editions": {"zh": _with_time(entry["editions"]["zh"], -1)}}},
        {"nlp-pretraining.zh.apkg"},
    ),
    # The release that changed a note moves to another: as many notes carry the release tag
    # (which the deck's description counts), but not the same ones.
    "a release": (
        {
            "qk-bilinear-form": lambda entry: {key: value for key, value in entry.items() if key != "release"},
            "adapter-bottleneck-structure": lambda entry: {**entry, "release": "0.2.0"},
        },
        {"nlp-pretraining.apkg", "nlp-pretraining.zh.apkg"},
    ),
}


@pytest.mark.parametrize("change", list(LOCK_CHANGES))
def test_a_package_carries_the_lock_s_times_and_releases_whatever_the_cache_holds(
    bank: Path, tmp_path: Path, epoch: Callable[[int], None], change: str
) -> None:
    # A lock changed on its own (as a checkout of another commit may change it) changes the
    # notes' times or tags in the packages, not their text: the rebuild writes what a cold build
    # with that lock writes.
    epoch(1_700_000_000)
    build(bank, tmp_path / "warm")
    before = digests(tmp_path / "warm")
    lock = bank / "deck.lock"
    text = lock.read_text(encoding="utf-8")
    entries_changed, packages = LOCK_CHANGES[change]
    for note, rewrite in entries_changed.items():
        line = next(line for line in text.splitlines() if line.startswith(f'    "{note}": '))
        entry = json.loads(line.strip().removesuffix(",").split(": ", 1)[1])
        assert line.count(json.dumps(entry)) == 1
        text = text.replace(line, line.replace(json.dumps(entry), json.dumps(dict(sorted(rewrite(entry).items())))))
    assert text != lock.read_text(encoding="utf-8")
    lock.write_text(text, encoding="utf-8")
    build(bank, tmp_path / "warm")
    assert lock.read_text(encoding="utf-8") == text  # the build kept the lock as it was given
    build(bank, tmp_path / "cold")
    after = digests(tmp_path / "warm")
    assert after == digests(tmp_path / "cold")
    assert {name for name in after if after[name] != before[name]} == packages


def _edit_blocks(out: Path, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Rewrite every block entry of the cache in `out`."""
    with sqlite3.connect(out / CACHE_FILE) as db:
        for key, value in list(db.execute("SELECT key, value FROM entries WHERE key LIKE 'block:%'")):
            db.execute("UPDATE entries SET value = ? WHERE key = ?", (json.dumps(change(json.loads(value))), key))


def _point_outside(out: Path) -> None:
    def outside(where: dict[str, Any]) -> dict[str, Any]:
        shutil.copyfile(out / where["file"], out.parent / Path(where["file"]).name)
        return {**where, "file": "../" + Path(where["file"]).name}

    _edit_blocks(out, outside)


def _replace_bytes(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new))


def _link_folder(out: Path) -> None:
    (out / "site").rename(out.parent / "elsewhere")
    (out / "site").symlink_to(out.parent / "elsewhere")


TAMPERING: dict[str, Callable[[Path], None]] = {
    "a changed byte": lambda out: (out / "review-sheet.html").write_bytes((out / "review-sheet.html").read_bytes().replace(b"saturat", b"Saturat")),
    "a changed search index": lambda out: _replace_bytes(out / "site" / "assets" / "search-index.js", b"saturat", b"Saturat"),
    "a cut file": lambda out: (out / "review-questions.md").write_bytes((out / "review-questions.md").read_bytes()[:-200]),
    "a removed page": lambda out: shutil.rmtree(out / "site"),
    "a file outside": _point_outside,
    "a linked file": lambda out: ((out / "review-sheet.md").rename(out / "moved.md"), (out / "review-sheet.md").symlink_to(out / "moved.md")),
    "a linked folder": _link_folder,
    "a huge size": lambda out: _edit_blocks(out, lambda where: {**where, "size": 2**64}),
    "a size larger than memory": lambda out: _edit_blocks(out, lambda where: {**where, "size": 10**12}),
    "a huge offset": lambda out: _edit_blocks(out, lambda where: {**where, "at": 2**64}),
    "a NUL in a name": lambda out: _edit_blocks(out, lambda where: {**where, "file": where["file"] + "\u0000x"}),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_a_part_is_read_back_only_as_it_was_written_there(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, tampering: str
) -> None:
    # A part is read back from the file the last build wrote it to, in the output folder, only
    # when its bytes there are the ones written: else it is made again.
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    TAMPERING[tampering](tmp_path / "out")
    reads = Reads(monkeypatch)
    build(mini_bank, tmp_path / "out")
    monkeypatch.undo()
    build(mini_bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")
    # Nothing is read from outside the output folder, nor through a link; the cache is kept.
    assert all(tmp_path / "out" in path.parents and not linked for path, found, linked in reads.calls if found)
    assert reads.read if tampering in ("a changed byte", "a changed search index", "a cut file", "a removed page", "a linked file", "a linked folder") else reads.read == []
    assert (tmp_path / "out" / CACHE_FILE).is_file()


def test_a_fifo_in_place_of_an_old_page_does_not_hold_up_a_build(mini_bank: Path, tmp_path: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000", "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "deckgen", "build", str(mini_bank), "--out", str(tmp_path / "out")]
    subprocess.run(command, env=env, check=True, capture_output=True)
    page = next((tmp_path / "out" / "site").glob("*/*.html"))
    page.unlink()
    os.mkfifo(page)
    # A hang guard, far beyond what the build takes: opening a FIFO to read waits for a writer.
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    assert page.is_file()


def test_a_cache_that_is_a_link_is_neither_read_nor_changed(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    (tmp_path / "out" / CACHE_FILE).rename(tmp_path / "elsewhere.sqlite")
    (tmp_path / "out" / CACHE_FILE).symlink_to(tmp_path / "elsewhere.sqlite")
    before = (tmp_path / "elsewhere.sqlite").read_bytes()
    edit_mini(mini_bank)
    build(mini_bank, tmp_path / "out")
    assert (tmp_path / "elsewhere.sqlite").read_bytes() == before
    assert not (tmp_path / "out" / CACHE_FILE).is_symlink()
    assert json.loads(entries(tmp_path / "out")["salt"]) == cache_module._salt()


@pytest.mark.parametrize("change", ["PRAGMA journal_mode=WAL", "CREATE TRIGGER kept AFTER INSERT ON entries BEGIN SELECT 1; END"])
def test_a_cache_another_program_changed_is_not_updated_in_place(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], change: str
) -> None:
    # The rebuild writes a new cache as deckgen writes it, and keeps what it used of the old one.
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    build(mini_bank, tmp_path / "expected")
    db = sqlite3.connect(tmp_path / "out" / CACHE_FILE)
    db.execute(change)
    db.close()
    build(mini_bank, tmp_path / "out")
    build(mini_bank, tmp_path / "expected")
    assert entries(tmp_path / "out") == entries(tmp_path / "expected")
    db = sqlite3.connect(tmp_path / "out" / CACHE_FILE)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert db.execute("SELECT type, name FROM sqlite_master ORDER BY name").fetchall() == [("table", "entries"), ("index", "sqlite_autoindex_entries_1")]
    finally:
        db.close()
    cache = BuildCache(tmp_path / "out", writable=False)
    try:
        assert check(mini_bank, cache=cache) == check(mini_bank)
    finally:
        cache.close()
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")) == [CACHE_FILE, ".deckgen-output"]


def inodes(folder: Path) -> dict[str, int]:
    """Each file of an output folder (the cache aside), by its path in it: its inode."""
    return {p.relative_to(folder).as_posix(): p.stat().st_ino for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def test_a_rebuild_links_each_file_that_did_not_change_and_writes_the_rest(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    before = inodes(tmp_path / "out")
    build(mini_bank, tmp_path / "out")
    after = inodes(tmp_path / "out")
    # The old folder is gone, and the package and each topic's page, made whole from the cache,
    # are the files the last build wrote, linked into the new folder, not written again. (The
    # sheets are made of many parts, the index pages and scripts of what the cache does not hold.)
    assert sorted(path for path, inode in after.items() if before.get(path) == inode) == [
        "mini-deck.apkg",
        "site/attention/scaled-attention.html",
        "site/peft/lora-vs-adapter.html",
    ]
    # After an edit of one topic, only the other topic's page.
    edit_mini(mini_bank)
    build(mini_bank, tmp_path / "out")
    assert sorted(path for path, inode in inodes(tmp_path / "out").items() if after.get(path) == inode) == ["site/peft/lora-vs-adapter.html"]
    build(mini_bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")


def test_a_page_linked_from_elsewhere_is_written_not_linked(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    # A file another name also links to could be changed through that name after the build:
    # the new output folder never shares its bytes with it.
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    page = tmp_path / "out" / "site" / "peft" / "lora-vs-adapter.html"
    os.link(page, tmp_path / "elsewhere.html")
    build(mini_bank, tmp_path / "out")
    assert page.stat().st_ino != (tmp_path / "elsewhere.html").stat().st_ino
    (tmp_path / "elsewhere.html").write_bytes(b"changed")
    build(mini_bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")


def test_a_folder_that_takes_no_links_gets_every_file_written(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    before = inodes(tmp_path / "out")

    def refused(source: Any, target: Any, **_: Any) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refused)
    build(mini_bank, tmp_path / "out")
    monkeypatch.undo()
    assert not set(inodes(tmp_path / "out").items()) & set(before.items())
    build(mini_bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_rebuild_asks_the_cache_only_for_the_values_of_a_topic_that_changed(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    monkeypatch.setenv("DECKGEN_JOBS", jobs)
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    asked: list[int] = []
    real = BuildCache.present

    def present(cache: BuildCache, keys: list[str]) -> set[str]:
        asked.append(len(keys))
        return real(cache, keys)

    monkeypatch.setattr(BuildCache, "present", present)
    build(mini_bank, tmp_path / "out")
    assert asked == []
    # After an edit: its topic's values (three live questions, each with its notes and five
    # printed texts), and no other topic's: before rendering ahead, and, with one process, as its
    # file is read too. With two, whether it holds the other topic's notes (not what they are):
    # the forked process that writes the package reads them from the last build's cache file.
    edit_mini(mini_bank)
    build(mini_bank, tmp_path / "out")
    assert asked == ([18, 1] if parallel.jobs() > 1 else [18, 18])
    monkeypatch.undo()
    build(mini_bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")


def test_a_topic_marked_as_rendered_whose_values_are_gone_is_made_again(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    expected = digests(tmp_path / "out")
    with sqlite3.connect(tmp_path / "out" / CACHE_FILE) as db:
        db.execute("DELETE FROM entries WHERE key NOT LIKE 'rendered-topic:%' AND key != 'salt'")
        assert db.execute("SELECT count(*) FROM entries WHERE key LIKE 'rendered-topic:%'").fetchone() == (2,)
    build(mini_bank, tmp_path / "out")
    assert digests(tmp_path / "out") == expected


def test_a_page_changed_or_anothers_since_it_was_read_is_written_not_linked(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    build(mini_bank, tmp_path / "out")
    before = inodes(tmp_path / "out")
    real_link = os.link

    def touched_first(source: Any, target: Any, **options: Any) -> None:
        # Another program writes the file between its bytes being checked and the link.
        os.utime(source, ns=(0, 0))
        real_link(source, target, **options)

    monkeypatch.setattr(os, "link", touched_first)
    build(mini_bank, tmp_path / "out")
    monkeypatch.undo()
    assert not set(inodes(tmp_path / "out").items()) & set(before.items())
    # A file of another user's (as it would be, were this build run by another user) is not linked either.
    before = inodes(tmp_path / "out")
    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 1)
    build(mini_bank, tmp_path / "out")
    monkeypatch.undo()
    assert not set(inodes(tmp_path / "out").items()) & set(before.items())
    build(mini_bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")
