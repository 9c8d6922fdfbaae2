"""The output folder (`--out`): written whole into a new folder beside it, then switched in one step.

A build writes its outputs into `.<out>.new-XXXX/` beside `--out` and, once every output is
there, exchanges that folder with `--out` in one system call (Linux's
`renameat2(RENAME_EXCHANGE)`), so that `--out` holds the old set or the new one, never a mix,
however the build ends. deckgen owns `--out`: a marker file says that deckgen made it, it
refuses a folder that holds anything else, and builds into one folder take turns (`flock`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deckgen.model import DeckgenError, Diagnostic, Location, Severity, one_line

if sys.platform != "win32":
    import fcntl

MARKER = ".deckgen-output"
"""The file that says deckgen made a folder and may replace it whole."""

MARKER_TEXT = "This folder is written by deckgen build, which replaces it whole on every build.\n"

_OUTPUT_NAMES = ("review-sheet.md", "review-questions.md", "review-sheet.html", "review-questions.html", "review-sheet.pdf", "review-questions.pdf")
_FINGERPRINTS = frozenset({*_OUTPUT_NAMES[:4], ".deckgen-cache.sqlite", ".deckgen-cache.json"})
_OLD_MEDIA = re.compile(r"deckgen-[0-9a-f]{16}\.(?:png|jpe?g|gif|svg|webp)")
_OLD_TEMPORARY = re.compile(
    r"(?:\.[^/]+\.apkg|\.review-(?:sheet|questions)\.(?:md|html|pdf)|\.deckgen-cache\.sqlite)\.(?:[A-Za-z0-9_]+\.tmp|previous)"
)


def _written_by_an_older_deckgen(entries: list[Path]) -> bool:
    """True for what an older deckgen (before the marker) left in its output folder: its sheets or
    its cache, at most one package, its media and its own temporary files, and nothing else."""
    names = {e.name for e in entries}
    if names.isdisjoint(_FINGERPRINTS) or sum(name.endswith(".apkg") for name in names) > 1:
        return False
    for entry in entries:
        name = entry.name
        if entry.is_symlink():
            return False
        if entry.is_dir():
            if name != "media" or not all(c.is_file() and not c.is_symlink() and _OLD_MEDIA.fullmatch(c.name) for c in entry.iterdir()):
                return False
        elif not (name in _FINGERPRINTS or name in _OUTPUT_NAMES or name.endswith(".apkg") or _OLD_TEMPORARY.fullmatch(name)):
            return False
    return True


class OutputBusy(DeckgenError):
    """Another build holds the output folder: this one wrote nothing, and may be run again once it ends."""


def _fail(where: Path, message: str) -> DeckgenError:
    return DeckgenError([Diagnostic(Location(one_line(where.as_posix())), Severity.ERROR, message, "output")])


def _owned(out: Path) -> None:
    """Refuse an output folder that deckgen may not replace: a file, a mount point, a folder of
    other things, or one inside or around another deckgen output folder."""
    absolute = Path(os.path.abspath(out))
    for parent in absolute.parents:
        if (parent / MARKER).is_file():
            raise _fail(out, f"the output folder is inside '{one_line(parent.as_posix())}', another deckgen output folder: pick a --out outside it")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise _fail(out, "the output folder is a file or a link; pick another --out")
    if absolute.parent == absolute or (out.is_dir() and os.path.ismount(absolute)):
        raise _fail(out, "the output folder is a mount point, which deckgen cannot replace whole; pick a folder inside it")
    if absolute == Path(os.path.abspath(os.curdir)):
        raise _fail(out, "the output folder is the current folder, which deckgen cannot replace whole; pick a folder inside it")
    if not out.is_dir() or (out / MARKER).is_file():
        return
    try:
        entries = sorted(out.iterdir())
        if not entries or _written_by_an_older_deckgen(entries):
            return
    except OSError as err:
        raise _fail(out, f"cannot read the output folder: {err.strerror or err}") from err
    shown = ", ".join(one_line(e.name) for e in entries[:3]) + (", …" if len(entries) > 3 else "")
    raise _fail(
        out,
        f"the output folder holds files deckgen did not write ({shown}); deckgen replaces its output folder "
        "whole, so pick an empty or new --out",
    )


def _exchange_syscall() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step; False where the system cannot (then nothing happened)."""
    function = _exchange_syscall()
    if function is None:
        return False
    result = function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)  # type: ignore[operator]
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


class Staging:
    """A new output folder being written beside `--out`."""

    def __init__(self, out: Path, folder: Path) -> None:
        self.out = out
        self.folder = folder

    def path(self, target: Path) -> Path:
        """Where an output meant for `target` (inside `--out`) is written until the switch."""
        return self.folder / target.relative_to(self.out)

    def switch(self) -> None:
        """Put the new folder in the place of `--out`, in one step where the system allows it."""
        this = sys.modules[__name__]  # looked up when called, so that a test can watch each step
        place = _place(self.out)
        try:
            if not place.exists():
                os.rename(self.folder, place)
                return
            if this.exchange(self.folder, place):
                shutil.rmtree(self.folder, ignore_errors=True)  # now the old set
                return
            # No atomic exchange here (not Linux): two renames, with a moment between them.
            aside = self.folder.with_name(self.folder.name.replace(".new-", ".old-", 1))
            os.rename(place, aside)
            os.rename(self.folder, place)
            shutil.rmtree(aside, ignore_errors=True)
        except OSError as err:
            raise _fail(self.out, f"cannot put the new outputs in place: {err.strerror or err}") from err


def _place(out: Path) -> Path:
    """`--out` as an absolute path without `.` or `..`: its name and its parent are real ones."""
    return Path(os.path.abspath(out))


def _leftovers(out: Path) -> list[Path]:
    """What killed builds left beside `--out`, by the exact names deckgen gives them: new output
    folders, old ones not yet removed, and the cache's working file. Nothing else is touched."""
    place = _place(out)
    shape = re.compile(re.escape(f".{place.name}.") + r"(?:(?:new|old)-[A-Za-z0-9_]{8}|new-cache-[A-Za-z0-9_]{8}\.tmp)")
    try:
        found = [p for p in place.parent.iterdir() if shape.fullmatch(p.name) and not p.is_symlink()]
        # A folder is deckgen's if it holds the marker, or nothing (killed before writing it).
        return [p for p in found if not p.is_dir() or (p / MARKER).is_file() or not any(p.iterdir())]
    except OSError:
        return []


class Output:
    """An output folder this build holds: no other build writes it until the hold ends."""

    def __init__(self, out: Path) -> None:
        self.out = out

    @contextmanager
    def staging(self) -> Iterator[Staging]:
        """A new folder to write the whole output set into, beside `--out`.

        The caller writes every output, then calls `switch()`. If anything fails before, the
        new folder is removed and `--out` stays as it was.
        """
        place = _place(self.out)
        try:
            folder = Path(tempfile.mkdtemp(prefix=f".{place.name}.new-", dir=place.parent))
        except OSError as err:
            raise _fail(self.out, f"cannot write beside the output folder: {err.strerror or err}") from err
        try:
            os.chmod(folder, 0o755)
            (folder / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
            yield Staging(self.out, folder)
        finally:
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def held_output(out: Path) -> Iterator[Output]:
    """Hold `--out` for one build: check that deckgen owns it, keep other builds out, and remove
    what killed builds left beside it.

    Another build into the same folder is refused while this one runs; a killed build's hold
    ends with its process. The hold is a lock file beside `--out`, `.<out>.deckgen-lock`.
    """
    _owned(out)
    place = _place(out)
    try:
        place.parent.mkdir(parents=True, exist_ok=True)
        hold = os.open(place.parent / f".{place.name}.deckgen-lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise _fail(out, f"cannot write beside the output folder: {err.strerror or err}") from err
    try:
        try:
            if sys.platform != "win32":  # Windows: builds into one folder are not kept apart
                fcntl.flock(hold, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputBusy(_fail(out, "another deckgen build is writing this output folder now; run this one when it has finished").diagnostics) from None
        for leftover in _leftovers(out):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        yield Output(out)
    finally:
        os.close(hold)
