"""The lock as hostile input, and time that no build can poison: future times, repair, migration."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from anki.collection import Collection
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deckgen.build import build, check
from deckgen.cli import main
from deckgen.lock import NOTE_TYPE_MTIME_OFFSET, Lock, NoteState, NoteTypeState, next_lock, read_lock
from deckgen.release import time_problems
from deckgen.model import DeckgenError
from tests.conftest import FIXTURES
from tests.conftest import import_apkg

FAR_FUTURE = 99_999_999_999
"""Year 5138: a SOURCE_DATE_EPOCH that one mistyped digit makes."""


@pytest.fixture
def released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epoch: Callable[[int], None]) -> Path:
    """The mini bank with a lock, as a first release at 1,700,000,000 wrote it; run from tmp_path."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURES / "mini", "mini")
    epoch(1_700_000_000)
    build(Path("mini"), Path("out"))
    return Path("mini")


def lock_data(bank: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((bank / "deck.lock").read_text(encoding="utf-8"))
    return data


def errors_for(bank: Path, text: str) -> list[str]:
    (bank / "deck.lock").write_text(text, encoding="utf-8")
    _, diagnostics = check(bank)
    return [str(d) for d in diagnostics]


def test_a_source_date_epoch_from_the_future_is_refused(released: Path, epoch: Callable[[int], None]) -> None:
    before = (released / "deck.lock").read_text(encoding="utf-8")
    epoch(FAR_FUTURE)
    with pytest.raises(DeckgenError) as err:
        build(released, Path("out"))
    assert [str(d) for d in err.value.diagnostics] == [
        "SOURCE_DATE_EPOCH:1:1: error: 99999999999 is 5138-11-16 09:46:39 UTC, later than tomorrow: notes stamped "
        "with it would look newer than every later release, and Anki would replace learners' own edits on every "
        "re-import. Use the time of the release's tag or commit [environment]"
    ]
    assert (released / "deck.lock").read_text(encoding="utf-8") == before


def poison_formula(text: str) -> str:
    """The lock's text with the note 'formula' stamped far in the future, as a build with a wrong clock would."""
    return "\n".join(
        line.replace('"mtime": 1700000000,', f'"mtime": {FAR_FUTURE},') if line.strip().startswith('"formula"') else line
        for line in text.split("\n")
    )


def test_a_lock_with_a_time_from_the_future_is_refused_and_repaired(released: Path) -> None:
    text = (released / "deck.lock").read_text(encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if row.strip().startswith('"formula"'))
    poisoned = poison_formula(text)
    assert errors_for(released, poisoned) == [
        f"mini/deck.lock:{line}:5: error: note 'formula' has the time 5138-11-16 09:46:39 UTC, later than tomorrow: "
        "every release would overwrite learners' own edits of it. A build with a wrong clock or SOURCE_DATE_EPOCH "
        "wrote it; run 'deckgen repair-lock' [lock-time]"
    ]
    before = time.time()
    result = CliRunner().invoke(main, ["repair-lock", "mini"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("set 1 time in mini/deck.lock back to ") and result.output.endswith("; commit the lock\n")
    lock, problems = read_lock(released)
    assert lock is not None and problems == []
    assert before - 1 <= lock.notes["formula"].mtime <= time.time() + 1
    assert {n.mtime for k, n in lock.notes.items() if k != "formula"} == {1_700_000_000}
    bank, _ = check(released)
    assert bank is not None
    again = CliRunner().invoke(main, ["repair-lock", "mini"])
    assert again.output == "mini/deck.lock holds no time later than now: nothing to repair\n"


def test_repair_lock_without_a_lock_says_so(in_tmp: Path) -> None:
    Path("empty").mkdir()
    result = CliRunner().invoke(main, ["repair-lock", "empty"])
    assert (result.exit_code, result.stderr) == (1, "empty/deck.lock:1:1: error: no deck.lock to repair [lock]\n")


@pytest.mark.parametrize("old_format", [1, 2])
def test_an_older_lock_is_read_and_rewritten_without_changing_a_note(released: Path, epoch: Callable[[int], None], old_format: int) -> None:
    package = Path("out/mini-deck.apkg")
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    data = lock_data(released)
    assert data["format"] == 3 and data["version"] == "1.2.3"
    old = json.loads(json.dumps(data))
    old["format"] = old_format
    del old["version"]  # formats 1 and 2 recorded no release: their notes count as shipped as they are
    for entry in old["notes"].values():
        del entry["shipped"]
    if old_format == 1:
        for entry in old["note_types"].values():
            entry["mtime"] += NOTE_TYPE_MTIME_OFFSET  # deckgen 0.1 recorded the offset
    (released / "deck.lock").write_text(json.dumps(old), encoding="utf-8")
    epoch(1_750_000_000)
    build(released, Path("out"))
    assert hashlib.sha256(package.read_bytes()).hexdigest() == digest
    assert lock_data(released) == data


HOSTILE_LOCKS = {
    "infinity": (
        '{"format": 2, "note_types": {}, "notes": {"a": {"hash": "x", "mtime": Infinity, "type": "basic"}}}',
        "mini/deck.lock:1:1: error: deck.lock is not a deckgen lock: Infinity is not a number JSON allows; 'deckgen build' writes it [lock]",
    ),
    "nan": (
        '{"format": 2, "note_types": {}, "notes": {"a": {"hash": "x", "mtime": NaN, "type": "basic"}}}',
        "mini/deck.lock:1:1: error: deck.lock is not a deckgen lock: NaN is not a number JSON allows; 'deckgen build' writes it [lock]",
    ),
    "deep": (
        "[" * 100_000 + "]" * 100_000,
        "mini/deck.lock:1:1: error: deck.lock is nested too deeply to be a deckgen lock; 'deckgen build' writes it [lock]",
    ),
    "twenty digits": (
        '{"format": 2, "note_types": {}, "notes": {\n  "a": {"hash": "x", "mtime": 12345678901234567890, "type": "basic"}}}',
        "mini/deck.lock:2:5: error: deck.lock: note 'a': 'mtime' should be whole seconds since 1970, found "
        "12345678901234567890; 'deckgen build' writes it [lock]",
    ),
    "a fraction": (
        '{"format": 2, "note_types": {}, "notes": {\n  "a": {"hash": "x", "mtime": 1e400, "type": "basic"}}}',
        "mini/deck.lock:2:5: error: deck.lock: note 'a': 'mtime' should be whole seconds since 1970, found inf; "
        "'deckgen build' writes it [lock]",
    ),
    "time as text": (
        '{"format": 2, "note_types": {}, "notes": {\n  "a": {"hash": "x", "mtime": "1700000000", "type": "basic"}}}',
        "mini/deck.lock:2:5: error: deck.lock: note 'a': 'mtime' should be whole seconds since 1970, found a string; "
        "'deckgen build' writes it [lock]",
    ),
    "no hash and time as text": (  # the hash is named: what is checked first stays first
        '{"format": 3, "note_types": {}, "notes": {\n  "a": {"mtime": "x", "type": "basic"}}}',
        "mini/deck.lock:2:5: error: deck.lock: note 'a': 'hash' is missing; it should be text; 'deckgen build' writes it [lock]",
    ),
    "an edition with no hash and a time before 1970": (
        '{"format": 3, "note_types": {}, "notes": {\n  "a": {"editions": {"zh": {"mtime": -1}}, "mtime": "x", "type": "basic"}}}',
        "mini/deck.lock:2:5: error: deck.lock: note 'a': 'hash' is missing; it should be text; 'deckgen build' writes it [lock]",
    ),
    "fields as text": (
        '{"format": 2, "note_types": {\n  "basic": {"fields": "I, D, Q", "hash": "x", "id": 1, "mtime": 1, "name": "n", '
        '"templates": ["R"]}}, "notes": {}}',
        "mini/deck.lock:2:5: error: deck.lock: note type 'basic': 'fields' should be a list of names, found a string; "
        "'deckgen build' writes it [lock]",
    ),
    "no id": (
        '{"format": 2, "note_types": {\n  "basic": {"fields": [], "hash": "x", "mtime": 1, "name": "n", "templates": []}}, "notes": {}}',
        "mini/deck.lock:2:5: error: deck.lock: note type 'basic': 'id' is missing; it should be a note type id; "
        "'deckgen build' writes it [lock]",
    ),
    "unknown note type": (
        '{"format": 2, "note_types": {}, "notes": {\n  "a": {"hash": "x", "mtime": 1, "type": "image"}}}',
        "mini/deck.lock:2:5: error: deck.lock: note 'a': 'type' should be basic or cloze, found 'image'; 'deckgen build' writes it [lock]",
    ),
    "a list": (
        "[]",
        "mini/deck.lock:1:1: error: deck.lock: the lock should be a mapping, found a list; 'deckgen build' writes it [lock]",
    ),
    "no notes": (
        '{"format": 2, "note_types": {}}',
        "mini/deck.lock:1:1: error: deck.lock: 'notes' is missing; it should be a mapping; 'deckgen build' writes it [lock]",
    ),
    "a release that is not a version": (
        '{"format": 3, "version": "1.2.3", "note_types": {},\n "notes": {\n"a": {"hash": "x", "mtime": 1, "type": "basic", "release": "1.0\\u0000 <b>"}}}',
        "mini/deck.lock:3:5: error: deck.lock: note 'a': 'release' should be a deck version, found a control character; "
        "'deckgen build' writes it [lock]",
    ),
    "a version that is not text": (
        '{"format": 3, "version": 3, "note_types": {}, "notes": {}}',
        "mini/deck.lock:1:1: error: deck.lock: 'version' should be text, found a whole number; 'deckgen build' writes it [lock]",
    ),
    "a newer format": (
        '{"format": 4, "note_types": {}, "notes": {}}',
        "mini/deck.lock:1:1: error: deck.lock: 'format' is 4; this deckgen reads formats 1 to 3 (a newer deckgen wrote it?); "
        "'deckgen build' writes it [lock]",
    ),
    "a merge conflict": (
        '{\n<<<<<<< HEAD\n  "format": 2,\n=======\n',
        "mini/deck.lock:2:1: error: deck.lock is not valid JSON (a merge conflict?): take the lock of the branch you merge "
        "into, then run 'deckgen build' to write it again [lock]",
    ),
}


@pytest.mark.parametrize(("text", "message"), HOSTILE_LOCKS.values(), ids=HOSTILE_LOCKS.keys())
def test_a_malformed_lock_gives_one_located_error(released: Path, text: str, message: str) -> None:
    assert errors_for(released, text) == [message]


def test_a_lock_with_a_byte_order_mark_is_read(released: Path) -> None:
    text = (released / "deck.lock").read_text(encoding="utf-8")
    (released / "deck.lock").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    lock, problems = read_lock(released)
    assert lock is not None and problems == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.floats(min_value=0, max_value=1), cut=st.integers(min_value=0, max_value=6), insert=st.text(max_size=6))
def test_any_mutated_lock_is_read_or_gives_located_errors(released: Path, position: float, cut: int, insert: str) -> None:
    original = (Path(__file__).resolve().parent.parent / "questions" / "deck.lock").read_text(encoding="utf-8")
    at = int(position * len(original))
    (released / "deck.lock").write_text(original[:at] + insert + original[at + cut :], encoding="utf-8")
    lock, problems = read_lock(released)
    assert lock is not None or problems
    for problem in problems:
        assert problem.location.line >= 1 and problem.location.col >= 1


def test_a_learners_edit_survives_the_next_release_and_the_future_is_refused(
    released: Path, epoch: Callable[[int], None], collection: Collection
) -> None:
    # The learner imports the first release and edits a note that the next release leaves alone.
    import_apkg(collection, Path("out/mini-deck.apkg"), merge_notetypes=False)
    (note_id,) = collection.find_notes("ID:formula")
    note = collection.get_note(note_id)
    note["Extra"] = "my own mnemonic"
    collection.update_note(note)
    # A release built from the future is refused before it writes anything.
    epoch(FAR_FUTURE)
    with pytest.raises(DeckgenError):
        build(released, Path("out"))
    # The next real release changes another note; the learner's edit survives its import.
    attention = released / "attention.yaml"
    attention.write_text(attention.read_text(encoding="utf-8").replace("out of saturation", "out of its flat region"), encoding="utf-8")
    epoch(1_750_000_000)
    build(released, Path("out"))
    import_apkg(collection, Path("out/mini-deck.apkg"), merge_notetypes=False)
    assert collection.get_note(note_id)["Extra"] == "my own mnemonic"
    (changed,) = collection.find_notes("ID:why-scale")
    assert "flat region" in collection.get_note(changed)["Answer"]


def test_repair_lock_writes_through_no_link_a_pull_request_left(released: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    (released / ".deck.lock.repair.tmp").symlink_to(victim)
    (released / ".deck.lock.abcd1234.tmp").symlink_to(victim)
    text = (released / "deck.lock").read_text(encoding="utf-8")
    (released / "deck.lock").write_text(poison_formula(text), encoding="utf-8")
    result = CliRunner().invoke(main, ["repair-lock", "mini"])
    assert result.exit_code == 0, result.output
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not (released / "deck.lock").is_symlink()
    assert not (released / ".deck.lock.abcd1234.tmp").is_symlink()


def test_a_lock_that_is_a_link_or_a_folder_is_refused(released: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.lock"
    shutil.copy(released / "deck.lock", outside)
    (released / "deck.lock").unlink()
    (released / "deck.lock").symlink_to(outside)
    _, linked = check(released)
    assert [str(d) for d in linked] == ["mini/deck.lock:1:1: error: deck.lock is a link; deckgen reads and writes only the lock file itself [lock]"]
    (released / "deck.lock").unlink()
    (released / "deck.lock").mkdir()
    _, folder = check(released)
    assert [str(d) for d in folder] == ["mini/deck.lock:1:1: error: deck.lock is not a file; 'deckgen build' writes it [lock]"]


def test_the_next_lock_keeps_what_did_not_change_and_nothing_that_did(released: Path) -> None:
    lock, problems = read_lock(released)
    assert lock is not None and not problems
    first, second = sorted(lock.notes)[:2]
    notes = {nid: (n.type, n.hash, n.shipped or "") for nid, n in lock.notes.items()}
    notes[second] = (lock.notes[second].type, "0123456789abcdef", lock.notes[second].shipped or "")
    editions = {"zh": {nid: h for nid, n in lock.notes.items() for language, h, _ in n.editions if language == "zh"}}
    built = next_lock(lock, dict(lock.note_types), notes.items(), 1_800_000_000, lock.version or "", editions)
    # The unchanged note is the old lock's own entry: a build holds one copy of it, not two.
    assert built.notes[first] is lock.notes[first]
    old = lock.notes[second]
    assert built.notes[second] == NoteState(old.type, "0123456789abcdef", 1_800_000_000, old.shipped, old.release, old.editions)
    # Only what the note ships changes, in a release; only its translation changes: a new entry each.
    kept = lock.notes[first]
    shipping = {**notes, first: (kept.type, kept.hash, "new text")}
    released = next_lock(lock, dict(lock.note_types), shipping.items(), 1_800_000_000, "9.9.9", editions)
    assert released.notes[first] is not kept
    assert released.notes[first] == NoteState(kept.type, kept.hash, kept.mtime, "new text", "9.9.9", kept.editions)
    translated = next_lock(lock, dict(lock.note_types), notes.items(), 1_800_000_000, lock.version or "", {"zh": {first: "fedcba9876543210"}})
    assert translated.notes[first] is not kept
    assert translated.notes[first] == NoteState(kept.type, kept.hash, kept.mtime, kept.shipped, kept.release, (("zh", "fedcba9876543210", 1_800_000_000),))


def test_an_edition_reads_each_notes_hash_and_time_in_its_language() -> None:
    from deckgen.lock import Lock

    translated = NoteState("basic", "1111111111111111", 100, "shipped", "1.0.0", (("fr", "3333333333333333", 300), ("zh", "2222222222222222", 200)))
    untranslated = NoteState("cloze", "4444444444444444", 400, None, None, ())
    lock = Lock({}, {"a": translated, "b": untranslated}, {"a": 9}, "1.0.0")
    zh = lock.edition("zh")
    assert not isinstance(zh.notes, dict)  # each note made when asked for, not a second table
    assert list(zh.notes) == ["a", "b"] and len(zh.notes) == 2
    assert zh.notes["a"] == NoteState("basic", "2222222222222222", 200, "shipped", "1.0.0", translated.editions)
    assert zh.notes["b"] is untranslated  # not built in Chinese yet: the source's
    assert zh == Lock({}, {"a": zh.notes["a"], "b": untranslated}, {"a": 9}, "1.0.0")
    assert dict(lock.edition("fr").notes.items()) == {"a": NoteState("basic", "3333333333333333", 300, "shipped", "1.0.0", translated.editions), "b": untranslated}
    assert dict(lock.edition("de").notes) == {"a": translated, "b": untranslated}
    with pytest.raises(KeyError):
        zh.notes["c"]
    # What a package asks of every note, without making its state: as the state has it.
    for edition in (lock, zh, lock.edition("fr"), lock.edition("de")):
        assert [edition.stamp(nid) for nid in ("a", "b")] == [(edition.notes[nid].mtime, edition.notes[nid].release) for nid in ("a", "b")]
        assert edition.released("1.0.0") == 1 and edition.released("2.0.0") == 0
        with pytest.raises(KeyError):
            edition.stamp("c")
    assert [zh.stamp(nid) for nid in ("a", "b")] == [(200, "1.0.0"), (400, None)]


def test_the_lock_read_keeps_each_key_and_time_once(released: Path) -> None:
    lock, problems = read_lock(released)
    assert lock is not None and not problems
    text = (released / "deck.lock").read_text(encoding="utf-8").splitlines()
    # Each line is keyed by the note's (or note type's) own id, not a copy cut from the file.
    for table in (lock.note_types, lock.notes):
        for key in table:
            assert text[lock.lines[key] - 1].lstrip().startswith(f'"{key}": {{')
            assert next(k for k in lock.lines if k == key) is key
    assert sorted(lock.lines) == sorted(["note_types", "notes", *lock.note_types, *lock.notes])
    # The first release stamped every note, and each of its translations, at the same time.
    times = [n.mtime for n in lock.notes.values()] + [t for n in lock.notes.values() for _, _, t in n.editions]
    assert len(times) > 2 and len({id(t) for t in times}) == len(set(times)) == 1


def _dumped(note: NoteState) -> str:
    """A note's entry as the lock wrote it with `json.dumps` (before deckgen wrote it out itself)."""
    entry: dict[str, object] = {"hash": note.hash, "mtime": note.mtime, "type": note.type}
    if note.shipped is not None:
        entry["shipped"] = note.shipped
    if note.release is not None:
        entry["release"] = note.release
    if note.editions:
        entry["editions"] = {language: {"hash": h, "mtime": t} for language, h, t in note.editions}
    return json.dumps(entry, ensure_ascii=False, sort_keys=True)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_TIME = st.integers(min_value=-(10**20), max_value=10**20)


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        NoteState,
        _TEXT,
        _TEXT,
        _TIME,
        st.none() | _TEXT,
        st.none() | _TEXT,
        st.lists(st.tuples(st.sampled_from(["zh", "fr", "de", "é", '"', ""]), _TEXT, _TIME), max_size=4).map(tuple),
    ),
    _TEXT,
)
def test_each_note_is_written_as_json_dumps_writes_it(note: NoteState, nid: str) -> None:
    from deckgen.lock import Lock, lock_lines

    lines = list(lock_lines(Lock({}, {nid: note}, {}, "1.0.0")))
    assert lines[6] == f"    {json.dumps(nid, ensure_ascii=False)}: {_dumped(note)}\n"
    assert json.loads("".join(lines))["notes"] == {nid: json.loads(_dumped(note))}


def test_each_edition_of_a_note_has_a_time_of_its_own() -> None:
    # A learner may move between any two editions, and Anki's "Update notes: Always" skips a note
    # whose time equals the learner's copy: no two of a note's times are equal.
    new = next_lock(None, {}, [("n", ("basic", "e1", "t"))], 100, "1.0.0", {"ja": {"n": "j1"}, "zh": {"n": "z1"}})
    assert (new.notes["n"].mtime, new.notes["n"].editions) == (100, (("ja", "j1", 101), ("zh", "z1", 102)))
    # A changed Japanese note steps over the unchanged Chinese one's time, and English edits
    # after it over both, which keep theirs.
    unchanged = {"ja": {"n": "j2"}, "zh": {"n": "z1"}}
    ja = next_lock(new, {}, [("n", ("basic", "e1", "t"))], 100, "1.0.0", unchanged)
    assert (ja.notes["n"].mtime, ja.notes["n"].editions) == (100, (("ja", "j2", 103), ("zh", "z1", 102)))
    english = next_lock(ja, {}, [("n", ("basic", "e2", "t"))], 100, "1.0.0", unchanged)
    assert (english.notes["n"].mtime, english.notes["n"].editions) == (101, (("ja", "j2", 103), ("zh", "z1", 102)))
    again = next_lock(english, {}, [("n", ("basic", "e3", "t"))], 100, "1.0.0", unchanged)
    assert (again.notes["n"].mtime, again.notes["n"].editions) == (104, (("ja", "j2", 103), ("zh", "z1", 102)))


_SMALL = st.sampled_from(["a", "b"])
_SMALL_TIME = st.integers(min_value=99, max_value=102)


@settings(max_examples=1000, deadline=None)
@given(
    old=st.builds(
        NoteState,
        st.sampled_from(["basic", "cloze"]),
        _SMALL,
        _SMALL_TIME,
        st.none() | _SMALL,
        st.none() | st.sampled_from(["1.0.0", "2.0.0"]),
        st.lists(st.tuples(st.sampled_from(["ja", "zh"]), _SMALL, _SMALL_TIME), max_size=3).map(tuple),
    ),
    ntype=st.sampled_from(["basic", "cloze"]),
    digest=_SMALL,
    text=_SMALL,
    now=_SMALL_TIME,
    released=st.none() | st.sampled_from(["1.0.0", "2.0.0"]),
    version=st.sampled_from(["1.0.0", "2.0.0"]),
    editions=st.dictionaries(st.sampled_from(["ja", "zh"]), st.dictionaries(st.sampled_from(["n", "m"]), _SMALL, max_size=2), max_size=2),
)
def test_a_note_kept_as_it_was_is_the_note_the_next_lock_would_make(
    old: NoteState, ntype: str, digest: str, text: str, now: int, released: str | None, version: str, editions: dict[str, dict[str, str]]
) -> None:
    # next_lock skips making the state of a note that it can tell did not change: that must be
    # exactly the state it would make, on any lock and any build.
    from deckgen.lock import _kept_as_it_was, _next_note

    made = _next_note(old, "n", ntype, digest, text, now, released, version, editions)
    if _kept_as_it_was(old, "n", ntype, digest, text, released, version, sorted(editions.items())):
        assert made == old
    # And the other way: a note whose state does not change is told so, unless an edition's
    # time falls on the note's, or the old lock lists a language twice (a lock read from a file
    # holds each language once; next_lock then makes the state, and finds it equal).
    languages = [language for language, _, _ in old.editions]
    if made == old and all(t != old.mtime for _, _, t in old.editions) and len(set(languages)) == len(languages):
        assert _kept_as_it_was(old, "n", ntype, digest, text, released, version, sorted(editions.items()))


_LOCK_TIME = st.integers(min_value=0, max_value=2**53 - 1)
# Keys and names with what JSON escapes, quotes, and line breaks that are not a newline.
_LOCK_TEXT = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from(['"', "\\", "\u2028", "\r", "\x85", "\n"]), max_size=10)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    note_types=st.dictionaries(
        _LOCK_TEXT,
        st.tuples(_LOCK_TIME, _LOCK_TEXT, st.lists(_LOCK_TEXT, max_size=3), st.lists(_LOCK_TEXT, max_size=2), _LOCK_TEXT, _LOCK_TIME),
        max_size=3,
    ),
    notes=st.dictionaries(
        _LOCK_TEXT,
        st.tuples(
            st.sampled_from(["basic", "cloze"]),
            _LOCK_TEXT,
            _LOCK_TIME,
            st.none() | _LOCK_TEXT,
            st.none() | _LOCK_TEXT.filter(lambda v: all(ch.isprintable() or ch.isspace() for ch in v)),
            st.dictionaries(_LOCK_TEXT, st.tuples(_LOCK_TEXT, _LOCK_TIME), max_size=3),
        ),
        max_size=6,
    ),
    version=st.none() | _LOCK_TEXT.filter(lambda v: all(ch.isprintable() or ch.isspace() for ch in v)),
)
def test_a_lock_as_written_is_the_lock_read_back_from_its_file(
    tmp_path: Path, note_types: dict[str, tuple[int, str, list[str], list[str], str, int]], notes: dict[str, tuple[str, str, int, str | None, str | None, dict[str, tuple[str, int]]]], version: str | None
) -> None:
    """A build hands the lock it wrote to the next build of a watch without reading it again:
    it must be what reading the file gives, to the order of its entries and the line of each."""
    from deckgen.lock import Lock, NoteTypeState, as_written, lock_lines, read_lock_file, write_lock

    types = {key: NoteTypeState(key, i, name, tuple(fields), tuple(templates), digest, mtime) for key, (i, name, fields, templates, digest, mtime) in note_types.items()}
    states = {
        nid: NoteState(kind, digest, mtime, shipped, release, tuple((language, h, t) for language, (h, t) in sorted(editions.items())))
        for nid, (kind, digest, mtime, shipped, release, editions) in reversed(list(notes.items()))  # not in the file's order
    }
    lock = Lock(types, states, {}, version)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # one for each example: the fixture's folder is shared
    write_lock(folder / "deck.lock", lock_lines(lock))
    read, problems, data = read_lock_file(folder)
    assert not problems and read is not None and data is not None
    written, digest = as_written(lock)
    assert digest == hashlib.sha256(data).digest()
    assert written == read
    assert list(written.notes) == list(read.notes) and list(written.note_types) == list(read.note_types)
    assert list(written.lines.items()) == list(read.lines.items())


_LOCK_NOTE = st.builds(
    NoteState,
    st.sampled_from(["basic", "cloze"]),
    _LOCK_TEXT,
    _LOCK_TIME,
    st.none() | _LOCK_TEXT,
    st.none() | _LOCK_TEXT,
    st.lists(st.tuples(_LOCK_TEXT, _LOCK_TEXT, _LOCK_TIME), max_size=3).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(
    first=st.dictionaries(_LOCK_TEXT, _LOCK_NOTE, max_size=6),
    fates=st.lists(st.sampled_from(["kept", "equal", "changed", "gone"]), min_size=6, max_size=6),
    added=st.dictionaries(_LOCK_TEXT, _LOCK_NOTE, max_size=3),
    version=st.none() | _LOCK_TEXT,
)
def test_a_watch_makes_the_lock_s_text_from_the_lines_it_kept_as_any_build_makes_it(
    first: dict[str, NoteState], fates: list[str], added: dict[str, NoteState], version: str | None
) -> None:
    """A watch keeps each note's line of the lock from build to build (`LockLines`), and takes it
    again for a note whose state the next build kept as it was: its lock's text, and the lock
    read back from it, must be a plain build's, whatever the notes before and after."""
    from dataclasses import replace

    from deckgen.lock import LockLines, as_written, lock_lines

    memo = LockLines()
    locks = [Lock({}, first, {}, version)]
    second: dict[str, NoteState] = {}
    for (nid, state), fate in zip(first.items(), fates):
        if fate != "gone":  # the same state, an equal one made again, or a changed one
            second[nid] = state if fate == "kept" else replace(state) if fate == "equal" else replace(state, mtime=state.mtime + 1)
    second.update({nid: state for nid, state in added.items() if nid not in second})
    locks += [Lock({}, second, {}, version), Lock({}, dict(reversed(second.items())), {}, version)]
    for lock in locks:
        text = list(lock_lines(lock, memo))
        assert text == list(lock_lines(lock))
        assert as_written(lock, text, memo) == as_written(lock)
        kept, plain = as_written(lock, text, memo)[0], as_written(lock)[0]
        if plain is not None:  # else both are None (the line above)
            assert kept is not None and list(kept.lines.items()) == list(plain.lines.items())


def test_a_build_hands_on_the_release_that_its_lock_file_records(released: Path, epoch: Callable[[int], None]) -> None:
    from deckgen.build import BuildOptions, build_deck
    from deckgen.cache import Resident
    from deckgen.release import read_release

    resident = Resident()  # as a watch builds: a build in a process of its own hands on nothing it wrote
    epoch(1_700_000_050)
    edit = released / "attention.yaml"
    edit.write_text(edit.read_text(encoding="utf-8").replace("$d_k$", "$d_k$ "), encoding="utf-8")
    plain = build(released, Path("out"))
    assert (released / "deck.lock") in plain.outputs and plain.release is None
    for seconds, answer in ((1_700_000_100, None), (1_700_000_200, "scaling keeps the softmax from saturating.")):
        if answer is not None:
            topic = released / "attention.yaml"
            text = topic.read_text(encoding="utf-8")
            assert "scaling keeps the softmax out of saturation." in text
            topic.write_text(text.replace("scaling keeps the softmax out of saturation.", answer), encoding="utf-8")
        epoch(seconds)
        result = build_deck(BuildOptions(released, Path("out")), resident)
        wrote = (released / "deck.lock") in result.outputs
        assert wrote == (answer is not None)
        read = read_release(released)
        assert result.release is not None and read.lock is not None
        assert result.release == read  # its lock, the hash of the file's bytes, and no problem
        assert list(result.release.lock.notes) == list(read.lock.notes) and result.release.lock.lines == read.lock.lines
        assert result.release.unchanged()


def test_a_lock_that_would_not_be_read_back_is_not_handed_on(tmp_path: Path) -> None:
    """A version the reader refuses (deckgen.validate refuses it in a deck, but a lock is read
    as written): the next build reads the file, and says what any build says."""
    from deckgen.lock import Lock, as_written, lock_lines, read_lock_file, write_lock

    for version, release, field in (("1.0\u00ad", None, "version"), ("1.0", "0.9\u200b", "release")):
        lock = Lock({}, {"a": NoteState("basic", "1" * 16, 1, None, release)}, {}, version)
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        write_lock(folder / "deck.lock", lock_lines(lock))
        read, problems, _ = read_lock_file(folder)
        where = "" if field == "version" else "note 'a': "
        assert read is None and [d.message for d in problems] == [f"deck.lock: {where}'{field}' should be a deck version, found a control character; 'deckgen build' writes it"]
        written, digest = as_written(lock)
        assert written is None and digest == hashlib.sha256((folder / "deck.lock").read_bytes()).digest()


@pytest.mark.parametrize("late", ["note type", "note", "edition", "nothing"])
def test_a_time_from_the_future_is_found_wherever_it_is_and_only_there(late: str) -> None:
    # A build looks for such a time at every build, over every note: it asks for the latest
    # time first, and names each only when that one is too late.
    now, future = 1_800_000_000, FAR_FUTURE
    note_type = NoteTypeState("basic", 1, "deckgen Basic", ("ID",), ("Card 1",), "h", future if late == "note type" else now)
    notes = {
        f"n{i}": NoteState("basic", "h", future if late == "note" and i == 7 else now, editions=(("zh", "z", future if late == "edition" and i == 3 else now - 1),))
        for i in range(10)
    }
    lock = Lock({"basic": note_type}, notes, {"basic": 4, **{f"n{i}": 10 + i for i in range(10)}})
    found = [(d.location.line, d.message.split(",")[0]) for d in time_problems(lock, Path("bank"), now)]
    assert found == {
        "note type": [(4, "note type 'basic' has the time 5138-11-16 09:46:39 UTC")],
        "note": [(17, "note 'n7' has the time 5138-11-16 09:46:39 UTC")],
        "edition": [(13, "note 'n3' in the zh edition has the time 5138-11-16 09:46:39 UTC")],
        "nothing": [],
    }[late]
