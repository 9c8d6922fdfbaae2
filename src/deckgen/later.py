"""What is left of writing an output file, done on a second thread while the build goes on.

A package's last step is deflating its database into the zip: C code (zlib, file writes,
SHA-256) that lets go of Python's lock while it runs. A build hands that step to a second
thread and renders the sheets and the site meanwhile, on the machine's second core. Every
piece is waited for, in the order it was handed over, before the new outputs take the place of
`--out`; a build that fails waits for the pieces still running before its folder is removed.
What a piece finds is handed back to the build's own thread (`then`), which alone touches the
build's cache.

A piece that is Python, not C (writing a package's database row by row), would hold Python's
lock, and the two threads would take turns rather than run side by side. Where the build can
hand it all it reads (a rebuild after an edit, and `deckgen watch`), such a piece runs in a
forked process instead (`forked`), which shares nothing with the build once it has started, and
the second thread only waits for it.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Later:
    """A file's last step: `work` runs on the second thread and must not touch the build's
    cache; `then` runs on the build's own thread once `work` has finished."""

    work: Callable[[], None]
    then: Callable[[], None] = _nothing

    def followed_by(self, work: Callable[[], None], then: Callable[[], None] = _nothing) -> Later:
        """This step, then `work` on the same thread, and this step's `then`, then `then`."""

        def both_works() -> None:
            self.work()
            work()

        def both_thens() -> None:
            self.then()
            then()

        return Later(both_works, both_thens)

    def now(self) -> None:
        """Do the whole step on this thread."""
        self.work()
        self.then()


class Background:
    """The second thread of one build, and the steps handed to it, for the output files they
    finish (by their path in `--out`). A context: leaving it waits for every step still running."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[tuple[Path, Later, Future[None]]] = []

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *_: object) -> None:
        # Nothing of the build may still be writing when its folder is removed or replaced, nor
        # a thread left to a worker process the next build forks. A step not yet started runs
        # too, after a failure: each removes its own working files as it ends.
        # A Ctrl-C while it waits (a second one, after the one that stopped the build) is
        # raised once the thread has finished, not before: the folder would go under it.
        self._pending.clear()
        pool, self._pool = self._pool, None
        interrupted: KeyboardInterrupt | None = None
        while pool is not None:
            try:
                pool.shutdown(wait=True)
                pool = None
            except KeyboardInterrupt as err:
                interrupted = err
        try:
            wait_for_forked()
        except KeyboardInterrupt as err:
            interrupted = err
        if interrupted is not None:
            raise interrupted

    def run(self, target: Path, later: Later) -> None:
        """Start `later`, which finishes the output file `target`; on this thread, at once, when
        no thread can be started (a process at its system's limit)."""
        try:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deckgen-background")
            future = self._pool.submit(later.work)
        except RuntimeError:  # "can't start new thread"
            future = Future()
            try:
                later.work()
            except Exception as err:  # reported as the thread's would be, when it is waited for
                future.set_exception(err)
            else:
                future.set_result(None)
        self._pending.append((target, later, future))

    def unfinished(self) -> Iterator[tuple[Path, Callable[[], None]]]:
        """Each step handed over, in order, as the file it finishes and what waits for it and
        then runs its `then` (raising what its work raised)."""
        while self._pending:
            target, later, future = self._pending.pop(0)

            def finish(later: Later = later, future: Future[None] = future) -> None:
                future.result()
                later.then()

            yield target, finish


def can_fork() -> bool:
    """Whether `forked` would fork: on Linux, in a build that may use more than one process
    (`deckgen.parallel.jobs`), and with no other thread running, which could hold a lock that
    the copy would then wait for forever."""
    from deckgen.parallel import jobs  # a build's processes; imported here, as parallel imports the cache

    return jobs() >= 2 and threading.active_count() == 1


_children: dict[int, int] = {}
"""Each forked process not yet waited for, with the end of the pipe it reports through."""


def forked(work: Callable[[], object], then: Callable[[Any], None] | None = None) -> Later | None:
    """Start `work` now in a forked process, which runs it on the machine's other core without
    Python's lock, and return the step that waits for it and raises what `work` raised there:
    None, and nothing started, where a process is not forked (`can_fork`, or a system that
    refuses). What `work` returns there (pickled back, unless None) is handed to `then`, on the
    build's own thread, once it has ended.

    `work` runs on a copy of this process: what it changes in memory stays in that copy, so it
    must only write files of its own, never the build's cache or anything the build reads
    afterwards. A Ctrl-C does not stop it: the build waits for it (`Background`, which also
    waits for a process whose step a Ctrl-C kept from being handed to it), and it removes its
    own working files as it ends."""
    if not can_fork():
        return None
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    # Until the process is in `_children`, a Ctrl-C would leave it running with nothing to wait for it.
    interrupts = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return None
        if pid == 0:  # pragma: no cover - the forked copy: measured by what it writes and reports
            _run_forked(work, read_end, write_end, interrupts)
        os.close(write_end)
        _children[pid] = read_end
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, interrupts)
    returned: list[object] = []

    def wait() -> None:
        returned.append(_waited(pid))

    return Later(wait) if then is None else Later(wait, lambda: then(returned[0]))


def _run_forked(work: Callable[[], object], read_end: int, write_end: int, interrupts: set[int | signal.Signals]) -> None:  # pragma: no cover - in the forked copy
    """In the forked copy: run `work`, send back what it returned (pickled, in a tuple of one,
    unless None) or what it raised (pickled, with its traceback as text), and end the process
    without running anything of the build's (no cleanup, no flushed buffer of its output)."""
    code = 1
    try:
        os.close(read_end)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, interrupts)
        gc.disable()  # a collection would touch, and so copy, every page of the build's objects
        report = b""
        try:
            returned = work()
            report = b"" if returned is None else pickle.dumps((returned,))
            code = 0
        except BaseException as err:  # noqa: BLE001 - whatever it is, the build raises it
            report = _report(err)
        view = memoryview(report)
        while view:
            view = view[os.write(write_end, view) :]
    finally:
        os._exit(code)


def _report(err: BaseException) -> bytes:  # pragma: no cover - in the forked copy
    """What the forked copy sends back of `err`: the error and its traceback's text, pickled; an
    error that does not come back whole from a pickle is sent as a RuntimeError of its text."""
    told = "".join(traceback.format_exception(err))
    try:
        sent = pickle.dumps((err, told))
        pickle.loads(sent)
        return sent
    except Exception:  # noqa: BLE001 - any error of pickling, either way
        return pickle.dumps((RuntimeError(f"{type(err).__name__}: {err}"), told))


class ForkedTraceback(Exception):
    """Where an error raised in a forked process was raised there: its traceback, as text."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0])


def _waited(pid: int) -> object:
    """Wait for the forked process `pid` to end (if it has not been waited for), and give what
    its work returned there (None if it has been waited for already); raise what its work
    raised there, caused by its traceback there, or ChildProcessError (an OSError) if it ended
    any other way (killed)."""
    read_end = _children.get(pid)
    if read_end is None:
        return None
    report, status = _drained(pid, read_end)
    try:
        sent = pickle.loads(report) if report else None
    except Exception:  # noqa: BLE001 - cut short: the process was killed as it sent it
        sent = None
    if isinstance(sent, tuple) and len(sent) == 2:
        raised, told = sent
        raise raised from ForkedTraceback(told)
    if status != 0:
        how = f"was killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"ended with status {os.waitstatus_to_exitcode(status)}"
        raise ChildProcessError(0, f"the process that wrote it {how}")
    return sent[0] if isinstance(sent, tuple) and len(sent) == 1 else None


def _drained(pid: int, read_end: int) -> tuple[bytes, int]:
    """Everything the forked process `pid` sent through `read_end` until it ended, and how it
    ended (its wait status); then it is no longer in `_children`. A Ctrl-C meanwhile (on the
    build's own thread) leaves it there, to be waited for again."""
    chunks = []
    try:
        while chunk := os.read(read_end, 1 << 16):
            chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
    except OSError:
        _forget(pid)
        raise
    _forget(pid)
    return b"".join(chunks), status


def _forget(pid: int) -> None:
    read_end = _children.pop(pid, None)
    if read_end is not None:
        os.close(read_end)


def wait_for_forked() -> None:
    """Wait for every forked process that no step waited for (a Ctrl-C or an error stopped the
    build before it could hand the step over), and forget what each reported: the build has
    already failed. A Ctrl-C meanwhile is raised once they have all ended."""
    interrupted: KeyboardInterrupt | None = None
    while _children:
        pid, read_end = next(iter(_children.items()))
        try:
            _drained(pid, read_end)
        except KeyboardInterrupt as err:
            interrupted = err
        except OSError:
            pass  # forgotten: there is nothing more to wait for
    if interrupted is not None:
        raise interrupted
