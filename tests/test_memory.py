"""What a build's steps free is given back to the system between them (deckgen.memory)."""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import deckgen.build
from deckgen.build import build, check
from deckgen.timing import Timings

# In a process of its own, so that its heap holds only what the probe makes: 40 MB of objects
# over 512 bytes (which CPython takes from the C library's malloc), of which one in sixteen is
# kept, the last one included, so that the heap's top stays in use and glibc cannot give back
# the rest by itself. Pages that hold a kept object stay: about three quarters can go back.
_PROBE = """
from deckgen.memory import return_freed_memory

def resident_mb():
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) / 1024

made = [bytes(1000) for _ in range(40_000)]
kept = made[15::16]
del made
before = resident_mb()
given = return_freed_memory()
print(given, round(before - resident_mb()))
"""


def test_freed_memory_goes_back_to_the_system() -> None:
    found = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout.split()
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        # What glibc held free in the middle of its heap, resident until given back.
        assert found[0] == "True"
        assert int(found[1]) >= 20, found
    else:  # no malloc_trim: nothing is given back, and nothing fails
        assert found[0] == "False"


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The steps, in order, and each time memory was given back, with the step it was in."""
    seen: list[str] = []
    current: list[str] = []
    original = Timings.phase

    @contextmanager
    def phase(self: Timings, name: str) -> Iterator[None]:
        current.append(name)
        try:
            with original(self, name):
                yield
        finally:
            current.pop()

    def given_back() -> bool:
        seen.append("given back in " + (current[-1] if current else "no step"))
        return True

    monkeypatch.setattr(Timings, "phase", phase)
    monkeypatch.setattr(deckgen.build, "return_freed_memory", given_back)
    yield seen


def test_each_step_gives_back_what_it_freed(mini_bank: Path, tmp_path: Path, steps: list[str]) -> None:
    timings = Timings()
    build(mini_bank, tmp_path / "out", timings=timings)
    # Once at the end of every step, and once in the editions' step between reading the
    # editions and their lint (whose join has the largest transient of a build).
    expected = [f"given back in {name}" for name in timings.seconds]
    expected.insert(expected.index("given back in editions"), "given back in editions")
    assert steps == expected
    assert list(timings.seconds)[:4] == ["validate", "lock", "lint", "editions"]

    steps.clear()
    checked = Timings()
    check(mini_bank, timings=checked, locked=True)
    assert list(checked.seconds) == ["validate", "lock", "lint", "editions", "locked"]
    assert steps == [f"given back in {name}" for name in ["validate", "lock", "lint", "editions", "editions", "locked"]]
