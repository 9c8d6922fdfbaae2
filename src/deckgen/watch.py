"""`deckgen watch`: build, then build again whenever a file of the bank changes, in one process.

Each build is the build `deckgen build` runs, all or nothing, and writes the same bytes. Staying
running spares each one what a new process pays: starting Python and importing deckgen, and
decoding again every topic file that did not change (the builds share a `Resident` store).

The bank is watched by looking at its files (size, times and inode) every `interval` seconds:
no library to install, and the same on every system. A change is built once the bank has
stopped changing for one interval, so that an editor's save (often a new file renamed over
the old) is built once, when it is whole.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from deckgen.build import BuildOptions, BuildResult, build_deck
from deckgen.cache import Resident
from deckgen.model import DeckgenError
from deckgen.timing import Timings, phase

__all__ = ["BankState", "Outcome", "Watcher", "bank_state", "changed_files"]

Signature = tuple[int, int, int, int]
"""A file's size, modification and change times (nanoseconds) and inode."""

BankState = dict[str, Signature]
"""Every file of the bank, by its path relative to the bank folder (with `/`)."""

SETTLE_LIMIT = 20
"""The most intervals a change waits for the bank to stop changing before it is built anyway
(a file written to without end would otherwise never be built)."""


def bank_state(bank_dir: Path, skip: tuple[Path, ...] = ()) -> BankState:
    """What the bank folder holds now: every regular file under it, but none in a hidden folder
    (`.git`) or in the folders `skip` (a build folder inside the bank)."""
    state: BankState = {}
    skipped = {os.path.abspath(path) for path in skip}
    root = os.path.abspath(bank_dir)
    for folder, names, files in os.walk(root):
        names[:] = sorted(n for n in names if not n.startswith(".") and os.path.join(folder, n) not in skipped)
        for name in files:
            path = os.path.join(folder, name)
            try:
                info = os.stat(path)
            except OSError:  # removed while the folder was read: the next look sees it gone
                continue
            if not os.path.isfile(path):
                continue
            state[os.path.relpath(path, root).replace(os.sep, "/")] = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
    return state


def changed_files(before: BankState, after: BankState) -> list[str]:
    """The files added, changed or removed between two states, in order."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


@dataclass
class Outcome:
    """One build of a watch: its result, or the error that stopped it (the outputs are then as
    they were); and the files whose change it built, none for the first."""

    result: BuildResult | None
    error: DeckgenError | None
    changed: list[str]
    timings: Timings | None = None
    """The seconds each step took, when the watch was asked to time its builds."""


class Watcher:
    """Builds a bank again each time its files change, keeping what the builds share."""

    def __init__(self, options: BuildOptions, look: Callable[[], BankState] | None = None) -> None:
        self.options = options
        self.resident = Resident()
        out = options.out_dir
        self._look = look or (lambda: bank_state(options.bank_dir, (out,)))
        self._seen: BankState = {}

    def build(self, changed: list[str] | None = None) -> Outcome:
        """Build the bank as it is now. The files this build wrote into the bank (its lock) are
        taken as seen; a file edited while it ran is not, and is built next."""
        before = self._look()
        clock = Timings() if self.options.timings is not None else None
        options = replace(self.options, timings=clock)
        try:
            with phase(clock, "total"):
                result = build_deck(options, self.resident)
        except DeckgenError as err:
            self._seen = before
            return Outcome(None, err, changed or [], clock)
        after = self._look()
        root = Path(os.path.abspath(self.options.bank_dir))
        written = {
            Path(os.path.abspath(path)).relative_to(root).as_posix() for path in result.outputs if Path(os.path.abspath(path)).is_relative_to(root)
        }
        self._seen = {name: signature for name, signature in before.items() if name not in written}
        self._seen.update({name: after[name] for name in written if name in after})
        return Outcome(result, None, changed or [], clock)

    def changes(self) -> list[str]:
        """The files changed since the last build looked, none if the bank is as it was."""
        return changed_files(self._seen, self._look())

    def wait(self, interval: float, sleep: Callable[[float], None] = time.sleep) -> list[str]:
        """Wait until the bank changes and then stays unchanged for one interval (or for
        `SETTLE_LIMIT` intervals at most); the files changed."""
        while True:
            sleep(interval)
            state = self._look()
            if changed_files(self._seen, state):
                break
        for _ in range(SETTLE_LIMIT):
            sleep(interval)
            later = self._look()
            if later == state:
                break
            state = later
        return changed_files(self._seen, state)
