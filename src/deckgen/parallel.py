"""Both cores for a build that has much to do: the expensive pure steps (reading a topic file,
rendering a question's notes, printed texts and sheet lines) run in worker processes, which
hand what they made to the build's cache; the build then reads each as any cache hit, so its
outputs are the same bytes as a single-process build's.

Workers are forked (on Linux), so they start with everything the build has read and are sent
nothing but which work to do. A build with little to do stays in one process: below
`MIN_QUESTIONS` questions to render, or `MIN_BANK_BYTES` of topic files to read, starting
the workers and copying their results back would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence

from deckgen.cache import BuildCache

Task = Callable[[BuildCache], None]
"""One piece of work: it computes a value through the given cache's `memo` (or `put`s it)."""

MIN_QUESTIONS = 1500
"""Fewer questions to render than this, and a build renders them in one process."""
MIN_BANK_BYTES = 1_000_000
"""Fewer bytes of topic files to read than this, and they are read in one process."""
CHUNK = 256
"""At most this many tasks (questions to render, files to read) go to a worker at a time, so
that what a chunk makes, which the build holds twice while it takes it in (sent, then read),
stays small however large the bank."""
JOBS_VARIABLE = "DECKGEN_JOBS"
"""The environment variable that sets how many processes a build uses (1: only its own)."""

_tasks: Sequence[Task] = ()
"""The work of the current `run`, which forked workers inherit."""


def jobs() -> int:
    """How many processes a build may use: DECKGEN_JOBS, or else the cores this process may run
    on; 1 where processes cannot be forked (then the build runs as it always did)."""
    if sys.platform != "linux":  # forking is safe on Linux; elsewhere a build keeps to one process
        return 1
    setting = os.environ.get(JOBS_VARIABLE, "").strip()
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    return len(os.sched_getaffinity(0))


def worth(amount: int, least: int) -> bool:
    """Whether `amount` of work (at most; questions, or bytes) could be worth the workers: there
    are processes to use and it reaches `least`. Checked before looking for what is uncached."""
    return amount >= least and jobs() > 1


def _work(chunk: range) -> list[tuple[str, str]]:
    """In a worker: run the tasks of `chunk` into a cache of its own, and return what they made."""
    made = BuildCache(None, writable=False)
    for index in chunk:
        _tasks[index](made)
    return made.made()


def run(cache: BuildCache, tasks: Sequence[Task], enough: bool, chunk: int | None = None) -> bool:
    """Run `tasks` in worker processes, at most `chunk` (by default `CHUNK`) at a time, putting what they make into
    `cache`, and say so; or, if there is not `enough` work or only one process to use, do nothing
    and return False (the build computes each value when it needs it, as for any cache miss)."""
    global _tasks
    workers = min(jobs(), len(tasks))
    if workers < 2 or not enough:
        return False
    # More chunks than workers, so that one slow chunk does not leave a core idle at the end.
    count = max(workers * 4, -(-len(tasks) // (chunk or CHUNK)))
    chunks = [range(len(tasks) * i // count, len(tasks) * (i + 1) // count) for i in range(count)]
    _tasks = tasks
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for made in pool.imap_unordered(_work, chunks):
                for key, text in made:
                    cache.put_json(key, text, handed=True)
    finally:
        _tasks = ()
    return True


def run_missing(cache: BuildCache, work: Sequence[tuple[str, int, Task]], least: int, chunk: int | None = None) -> bool:
    """`run` each task of `work` (its value's cache key, how much it has to do, the task) whose
    key `cache` does not hold, when what is missing reaches `least`, at most `chunk` at a time
    (by default `CHUNK`; 1 for a build, which renders each file's questions as it reads it), and
    say whether it did. When even the whole of `work` does not, or there is one process, nothing
    is looked up."""
    if not worth(sum(size for _, size, _ in work), least):
        return False
    missing = [(size, task) for key, size, task in work if not cache.has(key)]
    return run(cache, [task for _, task in missing], sum(size for size, _ in missing) >= least, chunk)
