"""What a build leaves to its second thread (deckgen.later)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from deckgen.later import Background, Later


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
