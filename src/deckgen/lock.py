"""The deck lock (`questions/deck.lock`): what has been released, so that releases never cost a learner their history.

The lock is machine-written JSON, committed with the banks. It records:

- the note types' schema (ids, field and template names) and a hash of their CSS and
  templates, with the time they last changed;
- every released note id, its note type, a hash of its content, and the time that
  content last changed;
- the deck version of the last release, and for each note a hash of its text as that release
  shipped it and the release that last changed its text, so that each release can tag what it
  changed without git history (format 3).

A note's modification time advances only when its content changes, so a release updates
exactly the notes that changed, a learner's own edits to the others survive re-import, and
the same banks and lock always build the same bytes.

This module reads, writes, advances and repairs the lock; deckgen.release checks a bank
against it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from deckgen.model import DeckgenError, Diagnostic, Location, Severity

LOCK_FILE = "deck.lock"
LOCK_FORMAT = 3
"""Format 3 adds what the last release shipped (`version`, and each note's `shipped` and
`release`). Format 2 recorded a note type's time without the ten-year offset, which deckgen adds
when it writes a package; format 1 (deckgen 0.1) recorded it with the offset. Both are read:
their notes count as shipped as they are (see `next_lock`)."""

NOTE_TYPE_MTIME_OFFSET = 10 * 365 * 24 * 60 * 60
"""How far in the future a note type's modification time is set in a package, past the time its CSS or templates changed.

Anki applies an incoming note type's CSS and templates only if it is newer than the
learner's copy. With "merge note types" on, that copy carries the time of the learner's
last import, which can be long after the release was built; ten years ahead keeps every
realistic import order working. See "How releases reach learners" in the README. The
offset is computed, never read: every time the lock holds is a real time, no later than now.
"""

MAX_FUTURE = 24 * 60 * 60
"""How far past the present a time may be, for clocks that are a little off: a day."""

@dataclass(frozen=True)
class NoteTypeState:
    """A note type as released: identity, schema, a hash of its look, and when that last changed."""

    key: str
    id: int
    name: str
    fields: tuple[str, ...]
    templates: tuple[str, ...]
    hash: str
    mtime: int

    @property
    def schema(self) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
        """What Anki compares to decide whether existing notes can still be updated."""
        return (self.id, self.fields, self.templates)


@dataclass(frozen=True, slots=True)
class NoteState:
    """A released note: its note type, a hash of its content, and when that content last changed."""

    type: str
    hash: str
    mtime: int
    shipped: str | None = None
    """A hash of the note's text (its fields) as the last release shipped it; None if no release has."""
    release: str | None = None
    """The version whose release last added or changed the note's text; None before any did."""
    editions: tuple[tuple[str, str, int], ...] = ()
    """For each edition in another language: (language, hash of the note's content in it, the
    time that content last changed), in the order of the languages."""


@dataclass(frozen=True)
class Lock:
    """The whole lock file."""

    note_types: dict[str, NoteTypeState]
    notes: Mapping[str, NoteState]
    lines: dict[str, int]
    """The line of each note id and note type key in the file, for diagnostics."""
    version: str | None = None
    """The deck version of the last release the notes' `shipped` hashes describe; None in a lock
    of format 1 or 2, which did not record it."""

    def edition(self, language: str) -> Lock:
        """The lock as an edition in another language reads it: each note's hash and time are
        those of its content in that language (a note the edition has not built yet keeps the
        source's)."""
        return replace(self, notes=_EditionNotes(self.notes, language))

    def stamp(self, nid: str) -> tuple[int, str | None]:
        """The note's time and the release that last changed its text, as `notes[nid]` has them,
        without making its state for an edition: a package asks for every note's."""
        notes = self.notes
        if isinstance(notes, _EditionNotes):
            return notes.stamp(nid)
        state = notes[nid]
        return state.mtime, state.release

    def stamped_from(self, ids: Iterable[str]) -> tuple[tuple[NoteState, ...], str | None]:
        """What `stamp` gives each of `ids` from: their states as the lock holds them (in an
        edition's lock, the source's), and the edition's language (None in the source's)."""
        notes = self.notes
        if isinstance(notes, _EditionNotes):
            return tuple(map(notes.source.__getitem__, ids)), notes.language
        return tuple(map(notes.__getitem__, ids)), None

    def released(self, version: str) -> int:
        """How many notes the release `version` added or changed the text of (in every edition
        the same: an edition's note keeps its source's release)."""
        notes = self.notes.source if isinstance(self.notes, _EditionNotes) else self.notes
        return sum(state.release == version for state in notes.values())


class _EditionNotes(Mapping[str, NoteState]):
    """A lock's notes as an edition in another language reads them (see `Lock.edition`), each
    made when it is asked for: a build reads each three times (each package counts the notes
    its release changed, then reads each note's time twice), and a table of them all would hold
    a second copy of every note (7 MB at 50,000 notes)."""

    __slots__ = ("_notes", "_language")

    def __init__(self, notes: Mapping[str, NoteState], language: str) -> None:
        self._notes = notes
        self._language = language

    def __getitem__(self, nid: str) -> NoteState:
        note = self._notes[nid]
        found = next(((h, t) for lang, h, t in note.editions if lang == self._language), None)
        return note if found is None else NoteState(note.type, found[0], found[1], note.shipped, note.release, note.editions)

    @property
    def source(self) -> Mapping[str, NoteState]:
        """The notes as the source language has them."""
        return self._notes

    @property
    def language(self) -> str:
        """The edition's language."""
        return self._language

    def stamp(self, nid: str) -> tuple[int, str | None]:
        """`self[nid]`'s time and release (see `Lock.stamp`)."""
        note = self._notes[nid]
        for language, _, mtime in note.editions:
            if language == self._language:
                return mtime, note.release
        return note.mtime, note.release

    def __iter__(self) -> Iterator[str]:
        return iter(self._notes)

    def __len__(self) -> int:
        return len(self._notes)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def _error(location: Location, message: str, rule: str) -> Diagnostic:
    return Diagnostic(location, Severity.ERROR, message, rule)


def lock_path(bank_dir: Path) -> Path:
    """Where the lock of a bank folder lives."""
    return bank_dir / LOCK_FILE


class _LockError(Exception):
    """What is wrong in a lock, in the lock's own terms, and the key it is under."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _kind(value: object) -> str:
    """What a JSON value is, as a message names it."""
    if isinstance(value, bool):
        return "true or false"
    names = {str: "a string", int: "a whole number", float: "a number with a fraction", list: "a list", dict: "a mapping"}
    return "nothing" if value is None else names.get(type(value), type(value).__name__)


def _field(entry: dict[str, object], key: str | None, name: str, what: str) -> object:
    if name not in entry:
        raise _LockError(key, f"'{name}' is missing; it should be {what}")
    return entry[name]


def _text(entry: dict[str, object], key: str | None, name: str) -> str:
    value = _field(entry, key, name, "text")
    if not isinstance(value, str):
        raise _LockError(key, f"'{name}' should be text, found {_kind(value)}")
    return value


def _whole(entry: dict[str, object], key: str | None, name: str, what: str) -> int:
    value = _field(entry, key, name, what)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        shown = f"{value}" if isinstance(value, (int, float)) and not isinstance(value, bool) else _kind(value)
        raise _LockError(key, f"'{name}' should be {what}, found {shown}")
    return value


def _names(entry: dict[str, object], key: str | None, name: str) -> tuple[str, ...]:
    value = _field(entry, key, name, "a list of names")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _LockError(key, f"'{name}' should be a list of names, found {_kind(value)}")
    return tuple(value)


def _mapping(value: object, key: str | None, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _LockError(key, f"{what} should be a mapping, found {_kind(value)}")
    return value


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def _optional_text(entry: dict[str, object], key: str | None, name: str) -> str | None:
    return _text(entry, key, name) if name in entry else None


def _version(entry: dict[str, object], key: str | None, name: str) -> str | None:
    """A deck version the lock records. It becomes a tag, whose spaces become `_`; a control
    character, or any other that is neither printable nor a space, is refused."""
    value = _optional_text(entry, key, name)
    if not _readable_version(value):
        raise _LockError(key, f"'{name}' should be a deck version, found a control character")
    return value


def _readable_version(value: str | None) -> bool:
    """Whether a deck version may be in a lock (deckgen.validate refuses any other in a deck)."""
    return value is None or unreadable_in_version(value) is None


def unreadable_in_version(version: str) -> str | None:
    """The first character of a deck version that a lock cannot hold (neither printable nor a
    space), or None."""
    return next((ch for ch in version if not ch.isprintable() and not ch.isspace()), None)


def _parse(data: object) -> tuple[dict[str, NoteTypeState], dict[str, NoteState], str | None]:
    """The note types, notes and released version of a parsed lock, each field checked; _LockError names what is wrong."""
    top = _mapping(data, None, "the lock")
    version = top.get("format")
    if version not in (1, 2, 3) or isinstance(version, bool):
        raise _LockError(None, f"'format' is {json.dumps(version)}; this deckgen reads formats 1 to 3 (a newer deckgen wrote it?)")
    offset = NOTE_TYPE_MTIME_OFFSET if version == 1 else 0
    released = _version(top, None, "version") if version == 3 else None
    seconds = "whole seconds since 1970"
    times: dict[int, int] = {}
    """Each time once: a build stamps every note it changes with the same one (an int of 28 bytes)."""
    note_types = {}
    for key, raw in _mapping(_field(top, None, "note_types", "a mapping"), None, "'note_types'").items():
        entry = _mapping(raw, key, f"note type '{key}'")
        mtime = _whole(entry, key, "mtime", seconds) - offset
        note_types[key] = NoteTypeState(
            key,
            _whole(entry, key, "id", "a note type id"),
            _text(entry, key, "name"),
            _names(entry, key, "fields"),
            _names(entry, key, "templates"),
            _text(entry, key, "hash"),
            max(mtime, 0),
        )
    notes = {}
    for key, raw in _mapping(_field(top, None, "notes", "a mapping"), None, "'notes'").items():
        entry = _mapping(raw, key, f"note '{key}'")
        kind = _text(entry, key, "type")
        if kind not in ("basic", "cloze"):
            raise _LockError(key, f"'type' should be basic or cloze, found '{kind}'")
        shipped, release = (_optional_text(entry, key, "shipped"), _version(entry, key, "release")) if version == 3 else (None, None)
        editions = []
        if version == 3 and "editions" in entry:
            for language, raw_edition in _mapping(entry["editions"], key, f"note '{key}' 'editions'").items():
                state = _mapping(raw_edition, key, f"note '{key}' edition '{language}'")
                digest, mtime = _text(state, key, "hash"), _whole(state, key, "mtime", seconds)  # in this order: the first wrong is named
                editions.append((sys.intern(language), digest, times.setdefault(mtime, mtime)))
        # The type, release, languages and times recur in every note: each is kept once.
        digest, mtime = _text(entry, key, "hash"), _whole(entry, key, "mtime", seconds)
        notes[key] = NoteState(
            sys.intern(kind),
            digest,
            times.setdefault(mtime, mtime),
            shipped,
            None if release is None else sys.intern(release),
            tuple(sorted(editions)),
        )
    return note_types, notes, released


def read_lock(bank_dir: Path) -> tuple[Lock | None, list[Diagnostic]]:
    """The bank's lock, None if there is none yet, with located errors if it cannot be read.

    The lock is read as hostile input: whatever it holds gives a located error, never a traceback.
    """
    lock, problems, _ = read_lock_file(bank_dir)
    return lock, problems


def read_lock_file(bank_dir: Path) -> tuple[Lock | None, list[Diagnostic], bytes | None]:
    """`read_lock`, and the file's bytes as read (None unless they hold a lock), so that a build
    can tell whether the lock it writes is the one it read without reading it again."""
    path = lock_path(bank_dir)
    display = path.as_posix()
    if path.is_symlink():
        return None, [_error(Location(display), f"{LOCK_FILE} is a link; deckgen reads and writes only the lock file itself", "lock")], None
    if not path.exists():
        return None, [], None
    if not path.is_file():
        return None, [_error(Location(display), f"{LOCK_FILE} is not a file; 'deckgen build' writes it", "lock")], None
    rewrite = "; 'deckgen build' writes it"
    try:
        data = path.read_bytes()
        text = data.decode("utf-8").removeprefix("\ufeff")
    except OSError as err:
        return None, [_error(Location(display), f"cannot read {LOCK_FILE}: {err.strerror or err}", "lock")], None
    except UnicodeDecodeError:
        return None, [_error(Location(display), f"{LOCK_FILE} is not UTF-8 text{rewrite}", "lock")], None
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        key = _opened_key(line)
        if key is not None:
            lines.setdefault(key, number)
    try:
        note_types, notes, released = _parse(json.loads(text, parse_constant=_refuse_constant))
    except json.JSONDecodeError as err:
        hint = " (a merge conflict?)" if "<<<<<<<" in text else ""
        return None, [
            _error(
                Location(display, err.lineno, err.colno),
                f"{LOCK_FILE} is not valid JSON{hint}: take the lock of the branch you merge into, then run 'deckgen build' to write it again",
                "lock",
            )
        ], None
    except RecursionError:
        return None, [_error(Location(display), f"{LOCK_FILE} is nested too deeply to be a deckgen lock{rewrite}", "lock")], None
    except ValueError as err:
        return None, [_error(Location(display), f"{LOCK_FILE} is not a deckgen lock: {err}{rewrite}", "lock")], None
    except _LockError as err:
        where = Location(display, lines.get(err.key, 1), 5) if err.key is not None else Location(display)
        return None, [_error(where, f"{LOCK_FILE}: {_subject(text, err.key)}{err.message}{rewrite}", "lock")], None
    return Lock(note_types, notes, _sharing_keys(lines, note_types, notes), released), [], data


def _opened_key(line: str) -> str | None:
    """The key whose entry a line of a lock opens (a note type's, a note's, or a table's), as
    written there, or None: where a diagnostic about that entry points."""
    match = re.match(r'\s*"([^"]+)": \{', line) if '": {' in line else None
    return match.group(1) if match else None


_Opened = tuple[int, tuple[tuple[int, str], ...]]
"""What `as_written` reads of a line of the lock: how many lines the reader counts in it, and
the key each of them opens (by its place among them), if any."""


def _opened(line: str) -> _Opened:
    pieces = line.splitlines()  # as the reader counts them: each line written ends with a newline
    return len(pieces), tuple((at, key) for at, piece in enumerate(pieces) if (key := _opened_key(piece)) is not None)


class LockLines:
    """The notes' lines of the lock as a process that builds again and again (`deckgen watch`)
    made them last, each with what `as_written` read of it: a note that the next build keeps as
    it was (the very same state, as `next_lock` keeps it) is neither written out nor read again.
    Each line is made of its note's id and state alone, so whatever build made it, it is the
    line `lock_lines` makes."""

    def __init__(self) -> None:
        self._lines: dict[str, tuple[NoteState, str]] = {}
        """Each note's state and its line, by note id, with the comma that follows all but the last."""
        self._opened: dict[str, _Opened] = {}
        """What `as_written` reads of each of those lines."""

    def notes(self, notes: Mapping[str, NoteState]) -> Iterator[str]:
        """`lock_lines`'s line for each of `notes`, in the order of their ids; those kept since
        the last time, the same strings. What is kept is then these lines alone."""
        ids = sorted(notes)
        last = len(ids) - 1
        kept: dict[str, tuple[NoteState, str]] = {}
        opened: dict[str, _Opened] = {}
        for i, nid in enumerate(ids):
            note = notes[nid]
            found = self._lines.get(nid)
            if found is not None and found[0] is note:
                line = found[1]
                known = self._opened.get(line)
            else:
                line, known = _note_line(nid, note) + ",\n", None
            kept[nid] = (note, line)
            opened[line] = _opened(line) if known is None else known
            yield line if i < last else line[:-2] + "\n"
        self._lines, self._opened = kept, opened

    def opened(self, line: str) -> _Opened:
        """What `as_written` reads of `line`."""
        found = self._opened.get(line)
        return _opened(line) if found is None else found


def as_written(lock: Lock, text: Iterable[str] | None = None, memo: LockLines | None = None) -> tuple[Lock | None, bytes]:
    """`lock` as `read_lock_file` reads it back from the file that `lock_lines` writes (its
    entries in the file's order, the line of each), and the SHA-256 of that file's bytes: what
    a build that writes the lock knows of the file without reading it again. `text` is
    `lock_lines(lock)`, if made already (with `memo`, if made with it). The lock is None when
    reading the file back would refuse it (a version it cannot hold), so that the next build
    reads it and says why."""
    digest = hashlib.sha256()
    lines: dict[str, int] = {}
    number = 0
    for line in lock_lines(lock, memo) if text is None else text:
        digest.update(line.encode("utf-8"))
        count, keys = _opened(line) if memo is None else memo.opened(line)
        for at, key in keys:
            lines.setdefault(key, number + at + 1)
        number += count
    note_types = {key: lock.note_types[key] for key in sorted(lock.note_types)}
    if not all(map(_readable_version, {lock.version, *(note.release for note in lock.notes.values())})):
        return None, digest.digest()
    notes = {nid: lock.notes[nid] for nid in sorted(lock.notes)}
    return Lock(note_types, notes, _sharing_keys(lines, note_types, notes), lock.version), digest.digest()


def _sharing_keys(lines: dict[str, int], note_types: dict[str, NoteTypeState], notes: dict[str, NoteState]) -> dict[str, int]:
    """`lines` keyed by the strings that key the note types and notes, not a copy of each that
    the file's lines were cut into (4.6 MB at 50,000 notes)."""
    shared = {key: lines[key] for table in (note_types, notes) for key in table if key in lines}
    for key, number in lines.items():
        shared.setdefault(key, number)
    return shared


def _subject(text: str, key: str | None) -> str:
    """How a message names the entry `key` of a lock: as a note type or as a note."""
    if key is None:
        return ""
    types_at, notes_at = text.find('"note_types"'), text.find('"notes"')
    at = text.find(json.dumps(key, ensure_ascii=False) + ":")
    if at == -1:
        at = text.find(json.dumps(key) + ":")
    is_type = types_at != -1 and at > types_at and (notes_at == -1 or notes_at < types_at or at < notes_at)
    return f"note type '{key}': " if is_type else f"note '{key}': "


def repaired(lock: Lock, now: int) -> tuple[Lock, int]:
    """The lock with every time later than `now` set to `now`, and how many times that changed.

    An edition's time never takes its note's: where setting either back would make them equal,
    the edition's goes one second further back (Anki's "Update notes: Always" skips a note whose
    time equals the learner's copy), and counts as changed.
    """
    types = {k: replace(t, mtime=min(t.mtime, now)) for k, t in lock.note_types.items()}
    count = sum(t.mtime > now for t in lock.note_types.values())
    notes = {}
    for k, n in lock.notes.items():
        mtime = min(n.mtime, now)
        editions = []
        for language, h, t in n.editions:
            back = min(t, now)
            if back == mtime and (back, mtime) != (t, n.mtime):
                back -= 1
            editions.append((language, h, back))
            count += back != t
        count += mtime != n.mtime
        kept = tuple(editions)
        notes[k] = n if (mtime, kept) == (n.mtime, n.editions) else replace(n, mtime=mtime, editions=kept)
    return Lock(types, notes, lock.lines, lock.version), count


def lock_lines(lock: Lock, memo: LockLines | None = None) -> Iterator[str]:
    """The lock as JSON with one note per line, sorted, so that its diffs read well; a line at
    a time, each with its newline: a build that writes the lock, or finds it unchanged, holds
    one line of it at a time, not the text of every note (9 MB at 50,000 notes, twice over while
    it was joined and encoded). The notes' lines come from `memo` where they can."""
    yield "{\n"
    yield f'  "format": {LOCK_FORMAT},\n'
    if lock.version is not None:
        yield f'  "version": {json.dumps(lock.version, ensure_ascii=False)},\n'
    yield '  "note_types": {\n'
    types = sorted(lock.note_types.values(), key=lambda t: t.key)
    for i, t in enumerate(types):
        body = json.dumps(
            {"fields": list(t.fields), "hash": t.hash, "id": t.id, "mtime": t.mtime, "name": t.name, "templates": list(t.templates)},
            ensure_ascii=False,
            sort_keys=True,
        )
        yield f"    {json.dumps(t.key)}: {body}" + ("," if i < len(types) - 1 else "") + "\n"
    yield "  },\n"
    yield '  "notes": {\n'
    if memo is not None:
        yield from memo.notes(lock.notes)
    else:
        ids = sorted(lock.notes)
        for i, nid in enumerate(ids):
            yield _note_line(nid, lock.notes[nid]) + ("," if i < len(ids) - 1 else "") + "\n"
    yield "  }\n"
    yield "}\n"


def next_lock(
    lock: Lock | None,
    note_types: dict[str, NoteTypeState],
    notes: Iterable[tuple[str, tuple[str, str, str]]],
    now: int,
    version: str,
    editions: dict[str, dict[str, str]] | None = None,
) -> Lock:
    """The lock after a build of the deck's `version`: times advance only for what changed.

    `note_types` carry hash but not yet a time; `notes` gives each note's id with its (type,
    content hash, text hash), in the deck's order. The build whose `version` differs from the
    lock's is a release: each note whose text differs from what the last release shipped (or
    that it did not ship) is marked as changed by this one, and what it ships becomes the new
    baseline. Any other build keeps both. A lock with no release yet (none, or format 1 or 2)
    takes the notes as they are as shipped at `version`.
    `editions` maps each edition in another language to its notes' content hashes, whose times
    advance in the same way, each edition on its own.
    """
    old_types = lock.note_types if lock else {}
    old_notes = lock.notes if lock else {}
    types = {}
    for key, current in note_types.items():
        old = old_types.get(key)
        unchanged = old is not None and old.hash == current.hash and old.schema == current.schema
        # A time never goes back: Anki applies only what is newer than the learner's copy.
        fresh = now if old is None else max(now, old.mtime + 1)
        types[key] = replace(current, mtime=old.mtime if old is not None and unchanged else fresh)
    released = None if lock is None else lock.version
    edition_hashes = editions or {}
    in_order = sorted(edition_hashes.items())
    states = {}
    for nid, (ntype, digest, text) in notes:
        old_note = old_notes.get(nid)
        if old_note is not None and _kept_as_it_was(old_note, nid, ntype, digest, text, released, version, in_order):
            states[nid] = old_note  # most notes, at most builds: nothing to make
            continue
        state = _next_note(old_note, nid, ntype, digest, text, now, released, version, edition_hashes)
        # A build keeps most notes as they were: the new lock shares those with the old one.
        states[nid] = old_note if state == old_note else state
    return Lock(types, states, {}, version)


def _kept_as_it_was(
    old_note: NoteState, nid: str, ntype: str, digest: str, text: str, released: str | None, version: str, in_order: list[tuple[str, dict[str, str]]]
) -> bool:
    """Whether `_next_note` would give `old_note` back as it was, told without making it: the
    same type and content, no release to record, and each edition with the same hash, in the
    same order, at a time of its own. tests/test_lock.py checks it against `_next_note`."""
    if old_note.hash != digest or old_note.type != ntype:
        return False
    if released != version and not (old_note.shipped == text and (released is not None or old_note.release is None)):
        return False
    editions = old_note.editions
    if not editions:
        return not any(nid in hashes for _, hashes in in_order)
    return all(t != old_note.mtime for _, _, t in editions) and tuple((language, h) for language, h, _ in editions) == tuple(
        (language, hashes[nid]) for language, hashes in in_order if nid in hashes
    )


def _next_note(
    old_note: NoteState | None,
    nid: str,
    ntype: str,
    digest: str,
    text: str,
    now: int,
    released: str | None,
    version: str,
    edition_hashes: dict[str, dict[str, str]],
) -> NoteState:
    """The note `nid`'s state after a build (see `next_lock`), given its state in the lock
    (`old_note`), its type, content and text hashes, and each edition's content hashes."""
    unchanged_note = old_note is not None and old_note.hash == digest and old_note.type == ntype
    kept = {language: (h, t) for language, h, t in old_note.editions} if old_note is not None else {}
    # The times of the editions whose note did not change: each keeps its own.
    held = {t for language, (h, t) in kept.items() if edition_hashes.get(language, {}).get(nid) == h}
    if old_note is not None and unchanged_note:
        mtime = old_note.mtime
    else:
        mtime = now if old_note is None else max(now, old_note.mtime + 1)
        # The source's time steps over the editions' (below): moving theirs instead would ship
        # an unchanged note again, and under a clock that stands still (SOURCE_DATE_EPOCH)
        # each edit of the source would push them on again.
        while mtime in held:
            mtime += 1
    shipped, release = (None, None) if old_note is None else (old_note.shipped, old_note.release)
    if released is None:  # no release recorded yet: the notes are shipped as they are
        shipped, release = text, None
    elif released != version:  # a release: what changed since the last one is this one's
        if shipped != text:
            release = version
        shipped = text
    # Anki's "Update notes: Always" skips an incoming note whose time equals the one it has
    # (seen in anki 26.9.3), and a learner may move between editions: a note's time in each
    # edition is its own, never the source's nor another edition's.
    taken = {mtime, *held}
    translated = []
    for language, hashes in sorted(edition_hashes.items()):
        if nid not in hashes:
            continue
        before = kept.get(language)
        if before is not None and before[0] == hashes[nid] and before[1] != mtime:
            when = before[1]
        else:
            when = now if before is None else max(now, before[1] + 1)
            while when in taken:
                when += 1
            taken.add(when)
        translated.append((language, hashes[nid], when))
    return NoteState(ntype, digest, mtime, shipped, release, tuple(translated))


_quoted: Callable[[str], str] = json.encoder.encode_basestring
"""A string as `json.dumps(text, ensure_ascii=False)` writes it (the same function)."""


def _note_line(nid: str, note: NoteState) -> str:
    """The note's line of the lock, without the comma and the newline that end it."""
    return f"    {_quoted(nid)}: {_note_json(note)}"


def _note_json(note: NoteState) -> str:
    """`json.dumps` of the note's entry, with `ensure_ascii=False` and `sort_keys=True`, written
    out: a build formats every note of the lock to hash it, and a dict and `json.dumps` per note
    took most of that time. tests/test_lock.py checks it against `json.dumps` on any note."""
    parts = []
    if note.editions:
        # As a mapping would hold them: one per language (the last), in the order of the languages.
        editions = sorted({language: (h, t) for language, h, t in note.editions}.items())
        written = (f'{_quoted(language)}: {{"hash": {_quoted(h)}, "mtime": {int.__repr__(t)}}}' for language, (h, t) in editions)
        parts.append('"editions": {' + ", ".join(written) + "}")
    parts.append(f'"hash": {_quoted(note.hash)}')
    parts.append(f'"mtime": {int.__repr__(note.mtime)}')
    if note.release is not None:
        parts.append(f'"release": {_quoted(note.release)}')
    if note.shipped is not None:
        parts.append(f'"shipped": {_quoted(note.shipped)}')
    parts.append(f'"type": {_quoted(note.type)}')
    return "{" + ", ".join(parts) + "}"


def write_lock(path: Path, lines: Iterable[str]) -> None:
    """Write the lock in one replace, through a new file that nothing else can have made: it is
    never missing or half-written, however a build ends, and no link in the bank redirects it.
    OSError when the file system refuses."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if leftover.is_symlink() or leftover.is_file():
                leftover.unlink()  # a killed build's, or a link: removing a link never touches its target
        except OSError:
            pass
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # O_EXCL: a fresh file
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.writelines(lines)
        os.chmod(name, 0o644)
        os.replace(name, path)
    except OSError:
        Path(name).unlink(missing_ok=True)
        raise


def repair_lock(bank_dir: Path, now: int) -> int:
    """Set every time in the bank's lock that is later than `now` back to `now`, and write the lock
    again in one replace; how many times changed. DeckgenError if there is no lock or it cannot be read."""
    lock, problems = read_lock(bank_dir)
    path = lock_path(bank_dir)
    if lock is None:
        raise DeckgenError(problems or [_error(Location(path.as_posix()), f"no {LOCK_FILE} to repair", "lock")])
    fixed, count = repaired(lock, now)
    if count:
        try:
            write_lock(path, lock_lines(fixed))
        except OSError as err:
            raise DeckgenError([_error(Location(path.as_posix()), f"cannot write {LOCK_FILE}: {err.strerror or err}", "lock")]) from err
    return count
