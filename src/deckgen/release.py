"""What was released, read once per build: the bank's lock, what is wrong with it, and what a
build of the bank as it is now would change in it. Check and build share one `Release`.

The checks of a bank against its lock live here too: what a release must not do to learners."""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import Path

from deckgen.anki.notes import deck_notes, note_kinds, note_types_by_id, text_hash
from deckgen.anki.notetypes import note_type_states
from deckgen.cache import BuildCache
from deckgen.lock import LOCK_FILE, MAX_FUTURE, Lock, LockLines, NoteTypeState, as_written, lock_lines, lock_path, next_lock, read_lock, read_lock_file, write_lock
from deckgen.model import Bank, DeckgenError, Diagnostic, Location, Severity
from deckgen.references import DEFAULT_BANK_DIR


@dataclass(frozen=True)
class Release:
    """The bank's lock as read: None before the first release, or when it cannot be read."""

    bank_dir: Path
    lock: Lock | None
    problems: tuple[Diagnostic, ...]
    """Why the lock cannot be read, if it cannot."""
    digest: bytes | None
    """The SHA-256 of the lock file's bytes as read, or None when there are none to compare with
    (no file, or one that cannot be read as a lock): a build writes the lock only if it changes
    them. The digest, not the bytes, which are 9 MB at 50,000 notes."""

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
            if not _released_kept(self.lock, note_types_by_id(bank)):  # where each note is written, only to name it
                problems += released_problems(self.lock, self.bank_dir, note_kinds(bank))
            if not accept_schema_change:
                problems += schema_problems(self.lock, self.bank_dir, note_type_states(bank))
        return problems

    def next_lock(self, bank: Bank, now: int, editions: Sequence[Bank] = (), cache: BuildCache | None = None) -> Lock:
        """The lock after building `bank` (the whole bank) and each edition of it in another
        language: times advance only for what changed. The notes are rendered (from `cache` where
        it can) a topic at a time, and let go: only their hashes are kept, which `cache` keeps too,
        so that a build reads them from it without reading the notes."""
        translated = {made.deck.language: {nid: digest for nid, _, digest, _ in deck_notes(made, cache).hashes()} for made in editions}
        # The deck's own notes go through one at a time, as they are read.
        states = ((nid, (model, digest, text)) for nid, model, digest, text in deck_notes(bank, cache).hashes())
        return next_lock(self.lock, note_type_states(bank), states, now, bank.deck.version, translated)

    def changed(self, lock: Lock) -> bool:
        """Whether the lock file does not hold exactly `lock`'s text (which `lock_lines` writes)."""
        digest = hashlib.sha256()
        for line in lock_lines(lock):
            digest.update(line.encode("utf-8"))
        return self.digest != digest.digest()

    def written(self, lock: Lock, text: Sequence[str] | None = None, memo: LockLines | None = None) -> tuple[Release | None, bool]:
        """The release as the lock file records it once it holds `lock` (as `lock_lines` writes
        it, or as `text`, its lines made already, with `memo` if made with it): what
        `read_release` would read back, made without reading the file; None if reading it would
        refuse it (`as_written`). And whether the file must change to hold it."""
        read, digest = as_written(lock, text, memo)
        return (None if read is None else Release(self.bank_dir, read, (), digest)), digest != self.digest

    def unchanged(self) -> bool:
        """Whether the lock file still holds the very bytes this release was read from or written
        as (a regular file, not a link, with the same hash): a process that builds again and
        again (`deckgen watch`) then need not read it again."""
        if self.digest is None:
            return False
        try:
            # Never through a link, and never waiting on a pipe's writer.
            if self.path.is_symlink():
                return False
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return False
        digest = hashlib.sha256()
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
            while chunk := os.read(fd, 1 << 20):
                digest.update(chunk)
        except OSError:
            return False
        finally:
            os.close(fd)
        return digest.digest() == self.digest

    def stale_problems(self, bank: Bank, now: int, editions: Sequence[Bank] = (), cache: BuildCache | None = None) -> list[Diagnostic]:
        """Why the lock file is not the one a build of `bank` (the whole bank) and its `editions`
        would write: one error, at the first entry that differs, naming the command that writes
        it; none when a build would leave the file as it is.

        `now` changes nothing: a build keeps the time of whatever did not change, and gives
        whatever changed a time later than the one it had.
        """
        built = self.next_lock(bank, now, editions, cache)
        if not self.changed(built):
            return []
        path = self.path.as_posix()
        fix = f"run '{build_command(self.bank_dir)}' and commit the lock"
        if self.lock is None:
            return [_error(Location(path), f"{LOCK_FILE} is missing: {fix}", "stale-lock")]
        stale = _stale_entries(self.lock, built)
        if not stale:
            message = f"{LOCK_FILE} is not as deckgen writes it (an older format, or edited by hand): {fix}"
            return [_error(Location(path), message, "stale-lock")]
        # Named first: the first entry that has a line in the file, for the location to point at.
        what, key = ([entry for entry in stale if entry[1] in self.lock.lines] or stale)[0]
        more = f" (and {len(stale) - 1} more)" if len(stale) > 1 else ""
        where = _where(self.lock, self.bank_dir, key) if key in self.lock.lines else Location(path)
        return [_error(where, f"{LOCK_FILE} is out of date: {what}{more}; {fix}", "stale-lock")]


def read_release(bank_dir: Path) -> Release:
    """The bank's release as its lock records it, read once."""
    lock, problems, data = read_lock_file(bank_dir)
    return Release(bank_dir, lock, tuple(problems), None if data is None else hashlib.sha256(data).digest())


def build_command(bank_dir: Path) -> str:
    """The command that builds the bank in `bank_dir`, and so writes its lock."""
    if bank_dir == Path(DEFAULT_BANK_DIR):
        return "deckgen build"
    return f"deckgen build {shlex.quote(bank_dir.as_posix())}"


def _stale_entries(lock: Lock, built: Lock) -> list[tuple[str, str]]:
    """What differs between a lock and the one a build writes, with the key of each, in the
    file's order: note types, then notes. Times aside, which change only with the rest. A new
    deck version is named alone: that build is a release, which moves every note's baseline."""
    if lock.version is not None and lock.version != built.version:
        return [(f"the deck's version is {built.version}, but the lock's last release is {lock.version}", "")]
    types = _differences(
        "note type",
        {k: (t.hash, t.schema) for k, t in lock.note_types.items()},
        {k: (t.hash, t.schema) for k, t in built.note_types.items()},
    )
    notes = _differences(
        "note",
        {k: (n.type, n.hash, n.shipped, n.release) for k, n in lock.notes.items()},
        {k: (n.type, n.hash, n.shipped, n.release) for k, n in built.notes.items()},
    )
    return types + notes


def _differences(what: str, old: dict[str, object], new: dict[str, object]) -> list[tuple[str, str]]:
    """Each key whose content differs between `old` and `new`, sorted, with what a message says of it."""
    found = []
    for key in sorted(old.keys() | new.keys()):
        if key not in old:
            found.append((f"{what} '{key}' is not in the lock yet", key))
        elif key not in new:
            found.append((f"{what} '{key}' is in the lock but no longer in the banks", key))
        elif old[key] != new[key]:
            found.append((f"{what} '{key}' has changed since the lock was built", key))
    return found


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
    if _latest_time(lock) <= limit:  # as at almost every build: nothing to name
        return []
    problems = []
    entries = [(f"note type '{k}'", k, t.mtime) for k, t in lock.note_types.items()]
    entries += [(f"note '{k}'", k, n.mtime) for k, n in lock.notes.items()]
    entries += [(f"note '{k}' in the {language} edition", k, t) for k, n in lock.notes.items() for language, _, t in n.editions]
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


def _latest_time(lock: Lock) -> int:
    """The latest time the lock holds, of a note type, a note or a note's edition."""
    notes = lock.notes.values()
    editions = chain.from_iterable(map(attrgetter("editions"), notes))
    return max(
        max(map(attrgetter("mtime"), lock.note_types.values()), default=0),
        max(map(attrgetter("mtime"), notes), default=0),
        max(map(itemgetter(2), editions), default=0),
    )


def _date(seconds: int) -> str:
    """A time as a message shows it: UTC, to the second."""
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{seconds} seconds after 1970"


def _released_kept(lock: Lock, types: dict[str, str]) -> bool:
    """Whether every note the lock records is in the banks (`types`: each note id's note type),
    of the type it was released as: `released_problems` finds nothing."""
    return list(map(types.get, lock.notes.keys())) == list(map(attrgetter("type"), lock.notes.values()))


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
        write_lock(path, lock_lines(Lock(lock.note_types, notes, lock.lines, bank.deck.version)))
    except OSError as err:
        raise DeckgenError([_error(Location(path.as_posix()), f"cannot write {LOCK_FILE}: {err.strerror or err}", "lock")]) from err
    kept = sum(notes[nid].shipped == text for nid, text in current.items() if nid in notes)
    added = sum(nid not in notes or notes[nid].shipped is None for nid in current)
    return Baseline(bank.deck.version, kept, len(current) - kept - added, added)
