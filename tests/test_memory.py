"""What a build's steps free is given back to the system between them (deckgen.memory)."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import deckgen.build
import deckgen.editions
from deckgen.build import build, check
from deckgen.timing import Timings
from tests.conftest import ROOT

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
    """Each step's end, in order, and each time memory was given back, with the step it was in."""
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
            seen.append("end " + name)

    def given_back() -> bool:
        seen.append("given back in " + (current[-1] if current else "no step"))
        return True

    monkeypatch.setattr(Timings, "phase", phase)
    monkeypatch.setattr(deckgen.build, "return_freed_memory", given_back)
    monkeypatch.setattr(deckgen.editions, "return_freed_memory", given_back)
    yield seen


def _given_back_at_each_end(seen: list[str]) -> list[str]:
    """What `seen` would be if memory were given back only at the end of each step."""
    ends = [event.removeprefix("end ") for event in seen if event.startswith("end ")]
    return [event for name in ends for event in ("given back in " + name, "end " + name)]


def test_each_step_gives_back_what_it_freed(mini_bank: Path, tmp_path: Path, steps: list[str]) -> None:
    build(mini_bank, tmp_path / "out", timings=Timings())
    # Once at the end of every step, and once in the editions' step between reading the
    # editions and their lint (whose join has the largest transient of a build).
    expected = _given_back_at_each_end(steps)
    expected.insert(expected.index("given back in editions"), "given back in editions")
    assert steps == expected
    assert [event for event in steps if event.startswith("end ")][:4] == ["end validate", "end lock", "end lint", "end editions"]

    steps.clear()
    check(mini_bank, timings=Timings(), locked=True)
    assert steps == [
        *("given back in validate", "end validate", "given back in lock", "end lock", "given back in lint", "end lint"),
        *("given back in editions", "given back in editions", "end editions", "given back in locked", "end locked"),
    ]


def test_an_edition_gives_back_its_topic_files_as_it_reads_them(tmp_path: Path, steps: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Each topic's English file and overlay are let go once the topic is read, and memory is
    # given back whenever what was let go since reaches _GIVE_BACK_BYTES: here, after each topic.
    bank = tmp_path / "questions"
    shutil.copytree(ROOT / "questions", bank)
    topics = [path for path in bank.rglob("*.yaml") if path.name != "deck.yaml" and path.with_suffix(".zh.yaml").is_file()]
    assert len(topics) >= 2
    monkeypatch.setattr(deckgen.editions, "_GIVE_BACK_BYTES", 1)
    check(bank, timings=Timings())
    in_editions = [event for event in steps if event == "given back in editions"]
    assert len(in_editions) == len(topics) + 2  # each topic, before the lint, and at the end
