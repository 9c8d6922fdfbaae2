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
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deckgen.model import DeckgenError, Diagnostic, Location, Severity

if sys.platform != "win32":
    import fcntl

MARKER = ".deckgen-output"
"""The file that says deckgen made a folder and may replace it whole."""

MARKER_TEXT = "This folder is written by deckgen build, which replaces it whole on every build.\n"

_OLDER_DECKGEN = frozenset(
    {
        "review-sheet.md",
        "review-questions.md",
        "review-sheet.html",
        "review-questions.html",
        "review-sheet.pdf",
        "review-questions.pdf",
        ".deckgen-cache.sqlite",
        ".deckgen-cache.json",
    }
)
"""What deckgen wrote into its output folder before the marker existed (with `*.apkg`, `media/`
and its dot-named temporary files)."""


def _fail(where: Path, message: str) -> DeckgenError:
    return DeckgenError([Diagnostic(Location(where.as_posix()), Severity.ERROR, message, "output")])


def _older_deckgen(entry: Path) -> bool:
    """True for what an older deckgen left in its output folder."""
    name = entry.name
    if entry.is_symlink():
        return False
    if entry.is_dir():
        return name == "media" and all(child.is_file() and child.name.startswith("deckgen-") for child in entry.iterdir())
    return name in _OLDER_DECKGEN or name.endswith(".apkg") or (name.startswith(".") and name.endswith((".tmp", ".previous")))


def _owned(out: Path) -> None:
    """Refuse an output folder that deckgen may not replace: a file, a folder of other things, or
    one inside or around another deckgen output folder."""
    for parent in out.absolute().parents:
        if (parent / MARKER).is_file():
            raise _fail(out, f"the output folder is inside '{parent.as_posix()}', another deckgen output folder: pick a --out outside it")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise _fail(out, "the output folder is a file or a link; pick another --out")
    if not out.is_dir() or (out / MARKER).is_file():
        return
    try:
        entries = sorted(out.iterdir())
    except OSError as err:
        raise _fail(out, f"cannot read the output folder: {err.strerror or err}") from err
    foreign = [e.name for e in entries if not _older_deckgen(e)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
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
        if not self.out.exists():
            os.rename(self.folder, self.out)
            return
        if this.exchange(self.folder, self.out):
            shutil.rmtree(self.folder, ignore_errors=True)  # now the old set
            return
        # No atomic exchange here (not Linux): two renames, with a moment between them.
        aside = self.folder.with_name(self.folder.name.replace(".new-", ".old-", 1))
        os.rename(self.out, aside)
        os.rename(self.folder, self.out)
        shutil.rmtree(aside, ignore_errors=True)


def _stale(out: Path) -> list[Path]:
    """What killed builds left beside `--out`: unfinished new folders and old ones not yet removed."""
    parent = out.absolute().parent
    prefix = f".{out.name}."
    try:
        return [p for p in parent.iterdir() if p.name.startswith(prefix) and (".new-" in p.name or ".old-" in p.name)]
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
        parent = self.out.absolute().parent
        try:
            folder = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.new-", dir=parent))
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
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        hold = os.open(parent / f".{out.name}.deckgen-lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise _fail(out, f"cannot write beside the output folder: {err.strerror or err}") from err
    try:
        try:
            if sys.platform != "win32":  # Windows: builds into one folder are not kept apart
                fcntl.flock(hold, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _fail(out, "another deckgen build is writing this output folder now; run this one when it has finished") from None
        for leftover in _stale(out):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        yield Output(out)
    finally:
        os.close(hold)
