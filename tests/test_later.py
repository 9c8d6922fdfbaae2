"""What a build leaves to its second thread (deckgen.later)."""

from __future__ import annotations

import errno
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from deckgen import later as later_module
from deckgen.later import Background, ForkedTraceback, Later, forked
from deckgen.parallel import JOBS_VARIABLE


def test_a_ctrl_c_while_the_build_waits_for_its_thread_is_raised_once_the_thread_has_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The build's folder is removed as its Background ends: a Ctrl-C that stopped the wait would
    # remove it while the thread still writes into it.
    started, finished = threading.Event(), threading.Event()

    def work() -> None:
        started.set()
        time.sleep(0.2)
        (tmp_path / "package").write_bytes(b"written")
        finished.set()

    real_shutdown = ThreadPoolExecutor.shutdown
    waits: list[bool] = []

    def shutdown(pool: ThreadPoolExecutor, wait: bool = True, **rest: Any) -> None:
        waits.append(wait)
        if len(waits) == 1:  # the Ctrl-C comes as it starts to wait
            raise KeyboardInterrupt
        real_shutdown(pool, wait=wait, **rest)

    monkeypatch.setattr(ThreadPoolExecutor, "shutdown", shutdown)
    with pytest.raises(KeyboardInterrupt):
        with Background() as background:
            background.run(tmp_path / "package", Later(work))
            assert started.wait(10)
    assert waits == [True, True]
    assert finished.is_set()
    assert (tmp_path / "package").read_bytes() == b"written"


def fork_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The processes forked from here on (by this process: the forked copy records nothing here)."""
    children: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            children.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return children


@pytest.fixture
def two_jobs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A build that may use two processes, whatever this machine has; the processes it forks."""
    monkeypatch.setenv(JOBS_VARIABLE, "2")
    return fork_counted(monkeypatch)


def test_forked_work_runs_in_a_copy_of_the_process_and_is_waited_for(tmp_path: Path, two_jobs: list[int]) -> None:
    seen: list[str] = []

    def work() -> None:
        time.sleep(0.2)
        seen.append("in the copy")  # the copy's list, not this process's
        (tmp_path / "pid").write_text(str(os.getpid()))

    later = forked(work)
    assert later is not None and len(two_jobs) == 1
    later.now()
    assert int((tmp_path / "pid").read_text()) == two_jobs[0] != os.getpid()
    assert seen == []
    with pytest.raises(ChildProcessError):  # waited for: nothing is left to wait for
        os.waitpid(two_jobs[0], os.WNOHANG)


@pytest.mark.parametrize("returned", [["notes-topic:1", "notes-topic:2"], None], ids=["a value", "none"])
def test_what_forked_work_returns_is_handed_to_the_build_s_own_thread_once_it_has_ended(two_jobs: list[int], returned: object) -> None:
    handed: list[tuple[object, str]] = []

    def work() -> object:
        time.sleep(0.2)
        return returned

    later = forked(work, lambda value: handed.append((value, threading.current_thread().name)))
    assert later is not None and len(two_jobs) == 1
    with Background() as background:
        background.run(Path("x.apkg"), later)
        assert handed == []
        for _, finish in background.unfinished():
            finish()
    assert handed == [(returned, threading.current_thread().name)]


class _Unpicklable(Exception):
    def __reduce__(self) -> Any:
        raise TypeError("cannot be pickled")


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "x.apkg"), OSError(errno.ENOSPC, "No space left on device", "x.apkg")),
        (ValueError("a fault of deckgen's own"), ValueError("a fault of deckgen's own")),
        (_Unpicklable("held open"), RuntimeError("_Unpicklable: held open")),
    ],
    ids=["OSError", "ValueError", "unpicklable"],
)
def test_what_forked_work_raises_is_raised_as_it_is_waited_for(two_jobs: list[int], raised: BaseException, expected: BaseException) -> None:
    def work() -> None:
        raise raised

    later = forked(work)
    assert later is not None
    with pytest.raises(type(expected)) as caught:
        later.now()
    assert type(caught.value) is type(expected) and caught.value.args == expected.args
    if isinstance(expected, OSError):
        assert (caught.value.errno, caught.value.strerror, caught.value.filename) == (expected.errno, expected.strerror, expected.filename)  # type: ignore[attr-defined]


def test_a_forked_process_that_is_killed_is_an_os_error(two_jobs: list[int]) -> None:
    later = forked(lambda: os.kill(os.getpid(), signal.SIGKILL))
    assert later is not None
    with pytest.raises(ChildProcessError) as caught:
        later.now()
    assert caught.value.strerror == "the process that wrote it was killed by signal 9"


def test_a_forked_process_finishes_its_work_through_a_ctrl_c(tmp_path: Path, two_jobs: list[int]) -> None:
    # A Ctrl-C reaches every process of the terminal's group: the copy goes on, and the build,
    # which waits for it, removes its folder only once it has finished.
    def work() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        (tmp_path / "package").write_bytes(b"written")

    later = forked(work)
    assert later is not None
    later.now()
    assert (tmp_path / "package").read_bytes() == b"written"


def test_nothing_is_forked_with_another_thread_running_or_a_build_kept_to_one_process(monkeypatch: pytest.MonkeyPatch, two_jobs: list[int]) -> None:
    ran: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert forked(lambda: ran.append("ran")) is None  # the thread could hold a lock the copy would wait for
    finally:
        stop.set()
        thread.join()
    monkeypatch.setenv(JOBS_VARIABLE, "1")
    assert forked(lambda: ran.append("ran")) is None
    assert two_jobs == [] and ran == []


def test_an_error_in_a_forked_process_comes_with_its_traceback_there(two_jobs: list[int]) -> None:
    def work() -> None:
        raise ValueError("a fault of deckgen's own")

    later = forked(work)
    assert later is not None
    with pytest.raises(ValueError) as caught:
        later.now()
    cause = caught.value.__cause__
    assert isinstance(cause, ForkedTraceback)
    told = str(cause).splitlines()
    assert told[0] == "" and told[1] == "Traceback (most recent call last):"
    assert any(line.strip() == 'raise ValueError("a fault of deckgen\'s own")' for line in told)
    assert told[-1] == "ValueError: a fault of deckgen's own"


class _TwoArguments(Exception):
    """An error that pickles, but cannot be made again from what it pickled (its message)."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} and {second}")


def test_an_error_that_cannot_come_back_from_a_pickle_is_raised_as_its_text(two_jobs: list[int]) -> None:
    def work() -> None:
        raise _TwoArguments("one", "two")

    later = forked(work)
    assert later is not None
    with pytest.raises(RuntimeError) as caught:
        later.now()
    assert caught.value.args == ("_TwoArguments: one and two",)


def test_a_ctrl_c_as_a_process_is_forked_is_raised_once_it_is_known_and_it_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_jobs: list[int]
) -> None:
    # The Ctrl-C comes just after the fork, before the build knows the process: it is raised
    # once the process is known, and a build that stops then still waits for it.
    forking = os.fork

    def fork() -> int:
        pid = forking()
        if pid:
            os.kill(os.getpid(), signal.SIGINT)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    # Ctrl-C raises KeyboardInterrupt, as in a terminal (a shell's background job, as CI may run
    # the tests in, starts Python with SIGINT ignored).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    def work() -> None:
        time.sleep(0.3)
        (tmp_path / "package").write_bytes(b"written")

    try:
        with pytest.raises(KeyboardInterrupt):
            forked(work)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(later_module._children) == 1
    (pid,) = later_module._children
    with Background():  # the build's, which it leaves as it stops
        pass
    assert (tmp_path / "package").read_bytes() == b"written" and later_module._children == {}
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
