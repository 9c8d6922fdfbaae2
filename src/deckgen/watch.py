"""`deckgen watch`: build, then build again whenever a file of the bank changes, in one process.

Each build is the build `deckgen build` runs, all or nothing, and writes the same bytes. Staying
running spares each one what a new process pays: starting Python and importing deckgen, and
decoding again every topic file that did not change (the builds share a `Resident` store).

The bank is watched by looking at its files (size, times and inode, and the bytes of a file
changed in the seconds before the look) every `interval` seconds: no library to install, and
the same on every system. A change is built once the bank has stopped changing for one
interval, so that an editor's save (often a new file renamed over the old) is built once, when
it is whole.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path

from deckgen.build import BuildOptions, BuildResult, build_deck
from deckgen.cache import RECENT_NS, Resident, file_digest
from deckgen.model import DeckgenError
from deckgen.outdir import MARKER, OutputBusy
from deckgen.release import Release
from deckgen.timing import Timings, phase

__all__ = ["BankState", "Outcome", "Watcher", "bank_state", "changed_files"]

Signature = tuple[int, int, int, int, str]
"""A file's size, modification and change times (nanoseconds), inode, and, for a file that
changed just before it was looked at, a hash of its bytes (else "")."""

BankState = dict[str, Signature]
"""Every file of the bank, by its path relative to the bank folder (with `/`)."""

SETTLE_LIMIT = 20
"""The most intervals a change waits for the bank to stop changing before it is built anyway
(a file written to without end would otherwise never be built)."""


def bank_state(bank_dir: Path, skip: tuple[Path, ...] = (), rehash: Collection[str] = frozenset(), also: Collection[str] = ()) -> BankState:
    """What the bank folder holds now: every regular file under it, as deckgen reads the bank:
    no hidden file or folder (`.git`, an editor's `.x.yaml.swp`), no backup file (`x.yaml~`), no
    folder reached through a link, and nothing in the folders `skip` (a build folder inside the
    bank) or in any other deckgen output folder; and the files named in `also` (the images the
    bank shows, wherever they are). A file changed less than `RECENT_NS` ago is hashed too, and
    so are the files named in `rehash` (those hashed at the look this one is compared with),
    however long ago they changed."""
    state: BankState = {}
    skipped = {_identity(path) for path in skip} - {None}
    root = os.path.abspath(bank_dir)
    now = time.time_ns()

    def add(name: str, path: str) -> None:
        try:
            info = os.stat(path)
        except OSError:  # removed while the folder was read, or a broken link: the next look sees it
            return
        if stat.S_ISREG(info.st_mode):
            recent = name in rehash or now - max(info.st_mtime_ns, info.st_ctime_ns) < RECENT_NS
            state[name] = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, _hash(path) if recent else "")

    folders = [root]
    while folders:  # not os.walk, which recurses: a bank may nest folders deeper than Python's stack
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:  # gone, or unreadable: the build says so
            continue
        if any(entry.name == MARKER for entry in entries) or _identity(Path(folder)) in skipped:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                    continue
            except OSError:
                continue
            if not entry.name.endswith("~"):
                add(os.path.relpath(entry.path, root).replace(os.sep, "/"), entry.path)
    for name in also:
        if name not in state:
            add(name, os.path.join(root, name))
    return state


def settled(state: BankState, now: int) -> BankState:
    """`state`, looked at when it was `now`, as the watch keeps it for the looks after: a file
    that had not changed for `RECENT_NS` then keeps no hash, since any change to it will move
    its times; the others keep theirs, and are hashed again at every look, until the next build."""
    return {name: s if now - max(s[1], s[2]) < RECENT_NS else (*s[:4], "") for name, s in state.items()}


def still(before: BankState, after: BankState) -> bool:
    """Whether nothing changed between two looks, a file hashed at one look and not at the other
    (it grew old in between) compared by its times alone."""
    return before.keys() == after.keys() and all(
        b[:4] == a[:4] and (b[4] == a[4] or not b[4] or not a[4]) for b, a in ((before[name], after[name]) for name in before)
    )


def _identity(folder: Path) -> tuple[int, int] | None:
    """A folder's device and inode, however its path is spelt (through a link, `..`); None if it is not there."""
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _hash(path: str) -> str:
    """A hash of the file's bytes ("" if it cannot be read: the build says why)."""
    try:
        return file_digest(Path(path))[1]
    except OSError:
        return ""


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
        self._look = look or self._bank_state
        self._seen: BankState = {}
        self._images: tuple[str, ...] = ()
        """The images the last build that succeeded showed, by their path in the bank."""
        self._release: Release | None = None
        """The release the last build that succeeded left in the lock file: read, or written by
        it. The next build reads the file again only if it no longer holds it."""

    def _bank_state(self) -> BankState:
        """The bank's state, each file hashed that was hashed when the last build looked."""
        rehash = {name for name, signature in self._seen.items() if signature[4]}
        return bank_state(self.options.bank_dir, (self.options.out_dir,), rehash, self._images)

    def build(self, changed: list[str] | None = None) -> Outcome:
        """Build the bank as it is now. The files this build wrote into the bank (its lock) are
        taken as seen; a file edited while it ran is not, and is built next."""
        looked = time.time_ns()
        before = self._look()
        clock = Timings() if self.options.timings is not None else None
        options = replace(self.options, timings=clock)
        try:
            with phase(clock, "total"):
                kept = self._release if self._release is not None and self._release.unchanged() else None
                result = build_deck(options, self.resident, kept)
        except OutputBusy as err:  # another build wrote nothing of this one's: the change is built at the next look
            return Outcome(None, err, changed or [], clock)
        except DeckgenError as err:
            self._seen = settled(before, looked)
            return Outcome(None, err, changed or [], clock)
        except Exception:  # a fault of deckgen's own: built again when the bank next changes, not at once
            self._seen = settled(before, looked)
            self._release = None  # as the resident store is cleared: the next build starts from the files
            raise
        self._release = result.release
        root = Path(os.path.abspath(self.options.bank_dir))
        real = Path(os.path.realpath(root))  # an image's path is its file's real one
        self._images = tuple(sorted({path.relative_to(real).as_posix() for path in result.bank.image_files() if path.is_relative_to(real)}))
        looked_after = time.time_ns()
        after = self._look()
        absolute = (Path(os.path.abspath(path)) for path in result.outputs)
        written = {path.relative_to(root).as_posix() for path in absolute if path.is_relative_to(root)}
        self._seen = {name: signature for name, signature in settled(before, looked).items() if name not in written}
        self._seen.update({name: signature for name, signature in settled(after, looked_after).items() if name in written})
        return Outcome(result, None, changed or [], clock)

    def idle(self, now_ns: int | None = None, budget: float | None = None) -> int:
        """What the watch does while the bank stays as it is: check the last build's output
        files, once each has not changed for a few seconds, so that the next build takes their
        unchanged parts without reading them (`Resident.settle`), for about `budget` seconds
        if given. The files settled so far."""
        return self.resident.settle(Path(self.options.out_dir), now_ns, budget)

    def changes(self) -> list[str]:
        """The files changed since the last build looked, none if the bank is as it was."""
        return changed_files(self._seen, self._look())

    def wait(self, interval: float, sleep: Callable[[float], None] = time.sleep) -> list[str]:
        """Wait until the bank changes and then stays unchanged for one interval (or for
        `SETTLE_LIMIT` intervals at most); the files changed. A change undone meanwhile (a
        file that an editor made and removed) is no change."""
        while True:
            sleep(interval)
            state = self._look()
            if not changed_files(self._seen, state):
                self.idle(budget=interval)  # then looks again: a change waits an interval at most
                continue
            for _ in range(SETTLE_LIMIT):
                sleep(interval)
                later = self._look()
                if still(state, later):
                    break
                state = later
            changed = changed_files(self._seen, state)
            if changed:
                return changed
