"""The deck lock (`questions/deck.lock`): what has been released, so that releases never cost a learner their history.

The lock is machine-written JSON, committed with the banks. It records:

- the note types' schema (ids, field and template names) and a hash of their CSS and
  templates, with the time they last changed;
- every released note id, its note type, a hash of its content, and the time that
  content last changed.

A note's modification time advances only when its content changes, so a release updates
exactly the notes that changed, a learner's own edits to the others survive re-import, and
the same banks and lock always build the same bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from deckgen.model import Diagnostic, Location, Severity

LOCK_FILE = "deck.lock"
LOCK_FORMAT = 1

NOTE_TYPE_MTIME_OFFSET = 10 * 365 * 24 * 60 * 60
"""How far in the future a note type's modification time is set when its CSS or templates change.

Anki applies an incoming note type's CSS and templates only if it is newer than the
learner's copy. With "merge note types" on, that copy carries the time of the learner's
last import, which can be long after the release was built; ten years ahead keeps every
realistic import order working. See "How releases reach learners" in the README.
"""


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


@dataclass(frozen=True)
class NoteState:
    """A released note: its note type, a hash of its content, and when that content last changed."""

    type: str
    hash: str
    mtime: int


@dataclass(frozen=True)
class Lock:
    """The whole lock file."""

    note_types: dict[str, NoteTypeState]
    notes: dict[str, NoteState]
    lines: dict[str, int]
    """The line of each note id and note type key in the file, for diagnostics."""


def _error(location: Location, message: str, rule: str) -> Diagnostic:
    return Diagnostic(location, Severity.ERROR, message, rule)


def lock_path(bank_dir: Path) -> Path:
    """Where the lock of a bank folder lives."""
    return bank_dir / LOCK_FILE


def read_lock(bank_dir: Path) -> tuple[Lock | None, list[Diagnostic]]:
    """The bank's lock, None if there is none yet, with located errors if it cannot be read."""
    path = lock_path(bank_dir)
    display = path.as_posix()
    if not path.is_file():
        return None, []
    try:
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
        note_types = {
            key: NoteTypeState(
                key,
                int(v["id"]),
                str(v["name"]),
                tuple(v["fields"]),
                tuple(v["templates"]),
                str(v["hash"]),
                int(v["mtime"]),
            )
            for key, v in data["note_types"].items()
        }
        notes = {nid: NoteState(str(v["type"]), str(v["hash"]), int(v["mtime"])) for nid, v in data["notes"].items()}
        if data.get("format") != LOCK_FORMAT:
            raise ValueError(f"format {data.get('format')!r} is not {LOCK_FORMAT}")
    except json.JSONDecodeError as err:
        hint = " (a merge conflict?)" if "<<<<<<<" in text else ""
        return None, [
            _error(
                Location(display, err.lineno, err.colno),
                f"{LOCK_FILE} is not valid JSON{hint}: take the lock of the branch you merge into, then run 'deckgen build' to write it again",
                "lock",
            )
        ]
    except (KeyError, TypeError, ValueError, AttributeError, OSError) as err:
        return None, [_error(Location(display), f"{LOCK_FILE} is not a deckgen lock: {err}; it is written by 'deckgen build'", "lock")]
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(r'\s*"([^"]+)": \{', line)
        if match:
            lines.setdefault(match.group(1), number)
    return Lock(note_types, notes, lines), []


def format_lock(lock: Lock) -> str:
    """The lock as JSON with one note per line, sorted, so that its diffs read well."""
    out = ["{", f'  "format": {LOCK_FORMAT},', '  "note_types": {']
    types = sorted(lock.note_types.values(), key=lambda t: t.key)
    for i, t in enumerate(types):
        body = json.dumps(
            {"fields": list(t.fields), "hash": t.hash, "id": t.id, "mtime": t.mtime, "name": t.name, "templates": list(t.templates)},
            ensure_ascii=False,
            sort_keys=True,
        )
        out.append(f"    {json.dumps(t.key)}: {body}" + ("," if i < len(types) - 1 else ""))
    out += ["  },", '  "notes": {']
    ids = sorted(lock.notes)
    for i, nid in enumerate(ids):
        n = lock.notes[nid]
        body = json.dumps({"hash": n.hash, "mtime": n.mtime, "type": n.type}, sort_keys=True)
        out.append(f"    {json.dumps(nid, ensure_ascii=False)}: {body}" + ("," if i < len(ids) - 1 else ""))
    out += ["  }", "}"]
    return "\n".join(out) + "\n"


def _where(lock: Lock, bank_dir: Path, key: str) -> Location:
    return Location(lock_path(bank_dir).as_posix(), lock.lines.get(key, 1), 5)


def released_problems(lock: Lock, bank_dir: Path, notes: dict[str, tuple[str, Location]]) -> list[Diagnostic]:
    """Released notes that vanished without being retired, or whose note type changed.

    `notes` maps every note id in the banks (live and retired) to its note type and location.
    """
    problems = []
    for nid, state in sorted(lock.notes.items()):
        current = notes.get(nid)
        if current is None:
            problems.append(
                _error(
                    _where(lock, bank_dir, nid),
                    f"note '{nid}' was released but is no longer in the banks: learners still have it. "
                    "Move its question (or compare row) to a 'retired' list with a reason instead of deleting it",
                    "released-id",
                )
            )
        elif current[0] != state.type:
            problems.append(
                _error(
                    current[1],
                    f"note '{nid}' was released as a {state.type} note and is now {current[0]}: Anki would never update "
                    "it again. Keep its type, or retire this id and add the question under a new id",
                    "released-type",
                )
            )
    return problems


def schema_problems(lock: Lock, bank_dir: Path, note_types: dict[str, NoteTypeState]) -> list[Diagnostic]:
    """Note types whose id, fields or templates differ from the released ones."""
    problems = []
    for key, released in sorted(lock.note_types.items()):
        current = note_types.get(key)
        if current is not None and current.schema == released.schema:
            continue
        now = "gone" if current is None else f"id {current.id}, fields {', '.join(current.fields)}, templates {', '.join(current.templates)}"
        problems.append(
            _error(
                _where(lock, bank_dir, key),
                f"note type '{key}' changed (released: id {released.id}, fields {', '.join(released.fields)}, "
                f"templates {', '.join(released.templates)}; now: {now}). Anki would add it as a copy and stop updating "
                "every existing note, unless the learner ticks 'Merge note types'. If this is deliberate, build with "
                "--accept-schema-change and say so in the release notes",
                "note-type-schema",
            )
        )
    return problems


def next_lock(
    lock: Lock | None,
    note_types: dict[str, NoteTypeState],
    notes: dict[str, tuple[str, str]],
    now: int,
) -> Lock:
    """The lock after this build: times advance only for what changed.

    `note_types` carry hash but not yet a time; `notes` maps note id to (type, content hash).
    """
    old_types = lock.note_types if lock else {}
    old_notes = lock.notes if lock else {}
    types = {}
    for key, current in note_types.items():
        old = old_types.get(key)
        unchanged = old is not None and old.hash == current.hash and old.schema == current.schema
        # A time never goes back: Anki applies only what is newer than the learner's copy.
        fresh = now + NOTE_TYPE_MTIME_OFFSET if old is None else max(now + NOTE_TYPE_MTIME_OFFSET, old.mtime + 1)
        types[key] = replace(current, mtime=old.mtime if old is not None and unchanged else fresh)
    states = {}
    for nid, (ntype, digest) in notes.items():
        old_note = old_notes.get(nid)
        unchanged_note = old_note is not None and old_note.hash == digest and old_note.type == ntype
        fresh_note = now if old_note is None else max(now, old_note.mtime + 1)
        states[nid] = NoteState(ntype, digest, old_note.mtime if old_note is not None and unchanged_note else fresh_note)
    return Lock(types, states, {})
