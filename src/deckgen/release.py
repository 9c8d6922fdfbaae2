"""What was released, read once per build: the bank's lock, what is wrong with it, and what a
build of the bank as it is now would change in it. Check and build share one `Release`.

The checks of a bank against its lock live here too: what a release must not do to learners."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from deckgen.anki.notes import DeckNotes, deck_notes, note_hash, note_kinds, text_hash
from deckgen.anki.notetypes import note_type_states
from deckgen.lock import LOCK_FILE, MAX_FUTURE, Lock, NoteTypeState, format_lock, lock_path, next_lock, read_lock, read_lock_file, write_lock
from deckgen.model import Bank, DeckgenError, Diagnostic, Location, Severity


@dataclass(frozen=True)
class Release:
    """The bank's lock as read: None before the first release, or when it cannot be read."""

    bank_dir: Path
    lock: Lock | None
    problems: tuple[Diagnostic, ...]
    """Why the lock cannot be read, if it cannot."""
    data: bytes | None
    """The lock file's bytes as read: a build writes the lock only if it changes them."""

    @property
    def path(self) -> Path:
        """Where the lock lives."""
        return lock_path(self.bank_dir)

    def bank_problems(self, bank: Bank, accept_schema_change: bool, now: float) -> list[Diagnostic]:
        """What keeps the bank from being released over this lock: the lock's own problems, times
        in the future, released notes gone or changed in type, and (unless accepted) changed note types."""
        problems = list(self.problems)
        if self.lock is not None:
            problems += time_problems(self.lock, self.bank_dir, now)
            problems += released_problems(self.lock, self.bank_dir, note_kinds(bank))
            if not accept_schema_change:
                problems += schema_problems(self.lock, self.bank_dir, note_type_states(bank))
        return problems

    def next_lock(self, bank: Bank, notes: DeckNotes, now: int) -> Lock:
        """The lock after building `bank` (the whole bank) with its `notes`: times advance only for what changed."""
        states = {n.fields[0]: (n.model, note_hash(n), text_hash(n.fields)) for n in notes.notes}
        return next_lock(self.lock, note_type_states(bank), states, now, bank.deck.version)

    def changed_text(self, lock: Lock) -> str | None:
        """The lock's text to write, or None when the file already holds exactly that."""
        text = format_lock(lock)
        return None if self.data == text.encode("utf-8") else text


def read_release(bank_dir: Path) -> Release:
    """The bank's release as its lock records it, read once."""
    lock, problems, data = read_lock_file(bank_dir)
    return Release(bank_dir, lock, tuple(problems), data)


def _error(location: Location, message: str, rule: str) -> Diagnostic:
    return Diagnostic(location, Severity.ERROR, message, rule)


def _where(lock: Lock, bank_dir: Path, key: str) -> Location:
    """Where the lock records `key`: its line in deck.lock."""
    return Location(lock_path(bank_dir).as_posix(), lock.lines.get(key, 1), 5)


def time_problems(lock: Lock, bank_dir: Path, now: float) -> list[Diagnostic]:
    """Times in the lock later than tomorrow: a build whose clock or SOURCE_DATE_EPOCH was in the future wrote them.

    Such a time never goes back by itself: every later release would ship that note as newer
    than the learner's copy and replace the learner's own edits, release after release.
    """
    limit = now + MAX_FUTURE
    problems = []
    entries = [(f"note type '{k}'", k, t.mtime) for k, t in lock.note_types.items()]
    entries += [(f"note '{k}'", k, n.mtime) for k, n in lock.notes.items()]
    for what, key, mtime in sorted(entries, key=lambda e: lock.lines.get(e[1], 0)):
        if mtime > limit:
            problems.append(
                _error(
                    _where(lock, bank_dir, key),
                    f"{what} has the time {_date(mtime)}, later than tomorrow: every release would overwrite learners' "
                    "own edits of it. A build with a wrong clock or SOURCE_DATE_EPOCH wrote it; run 'deckgen repair-lock'",
                    "lock-time",
                )
            )
    return problems


def _date(seconds: int) -> str:
    """A time as a message shows it: UTC, to the second."""
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{seconds} seconds after 1970"


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


@dataclass(frozen=True)
class Baseline:
    """What `record_release` found: how the bank's notes compare with the package learners have."""

    version: str
    kept: int
    """Notes whose text is as the package shipped it."""
    changed: int
    """Notes in the package whose text has changed since."""
    added: int
    """Notes the package does not have."""


def record_release(bank_dir: Path, package: Path) -> Baseline:
    """Record `package`, the .apkg of the deck's current version as learners have it, as what the
    last release shipped: the next version then tags the notes whose text differs from it.

    For a lock written before deckgen recorded releases (format 1 or 2) when the banks have
    changed since that release. DeckgenError if the bank, its lock or the package cannot be read.
    """
    from deckgen.anki.read import read_package  # reading a package is this command's alone
    from deckgen.validate import validate_bank

    bank, problems = validate_bank(bank_dir)
    if bank is None:
        raise DeckgenError([d for d in problems if d.severity is Severity.ERROR])
    lock, lock_errors = read_lock(bank_dir)
    path = lock_path(bank_dir)
    if lock is None:
        raise DeckgenError(lock_errors or [_error(Location(path.as_posix()), f"no {LOCK_FILE} yet: run 'deckgen build' first", "lock")])
    shipped = {note.key: note for note in read_package(package).notes.values()}
    current = {n.fields[0]: text_hash(n.fields) for n in deck_notes(bank).notes}
    notes = {}
    for nid, state in lock.notes.items():
        note = shipped.get(nid)
        text = None if note is None else text_hash(tuple(value for _, value in note.fields))
        notes[nid] = replace(state, shipped=text, release=None)
    try:
        write_lock(path, format_lock(Lock(lock.note_types, notes, lock.lines, bank.deck.version)))
    except OSError as err:
        raise DeckgenError([_error(Location(path.as_posix()), f"cannot write {LOCK_FILE}: {err.strerror or err}", "lock")]) from err
    kept = sum(notes[nid].shipped == text for nid, text in current.items() if nid in notes)
    added = sum(nid not in notes or notes[nid].shipped is None for nid in current)
    return Baseline(bank.deck.version, kept, len(current) - kept - added, added)
