"""What is left of writing an output file, done on a second thread while the build goes on.

A package's last step is deflating its database into the zip: C code (zlib, file writes,
SHA-256) that lets go of Python's lock while it runs. A build hands that step to a second
thread and renders the sheets and the site meanwhile, on the machine's second core. Every
piece is waited for, in the order it was handed over, before the new outputs take the place of
`--out`; a build that fails waits for the pieces still running before its folder is removed.
What a piece finds is handed back to the build's own thread (`then`), which alone touches the
build's cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path


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
