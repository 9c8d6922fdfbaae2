"""What was released, read once per build: the bank's lock, what is wrong with it, and what a
build of the bank as it is now would change in it. Check and build share one `Release`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deckgen.anki.notes import DeckNotes, note_hash, note_kinds
from deckgen.anki.notetypes import note_type_states
from deckgen.lock import Lock, format_lock, lock_path, next_lock, read_lock_file, released_problems, schema_problems, time_problems
from deckgen.model import Bank, Diagnostic


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
        return next_lock(self.lock, note_type_states(bank), {n.fields[0]: (n.model, note_hash(n)) for n in notes.notes}, now)

    def changed_text(self, lock: Lock) -> str | None:
        """The lock's text to write, or None when the file already holds exactly that."""
        text = format_lock(lock)
        return None if self.data == text.encode("utf-8") else text


def read_release(bank_dir: Path) -> Release:
    """The bank's release as its lock records it, read once."""
    lock, problems, data = read_lock_file(bank_dir)
    return Release(bank_dir, lock, tuple(problems), data)
