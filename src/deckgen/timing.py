"""Where a build's time goes: named phases, timed with a monotonic clock, for `--timings`
and the benchmark's breakdown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Timings:
    """Seconds spent in each named phase, in the order the phases first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the time spent in the block to `name`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def format(self) -> str:
        """One line: `timings: validate 1.20 s, lint 0.52 s, ...`."""
        return "timings: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.seconds.items())


@contextmanager
def phase(timings: Timings | None, name: str) -> Iterator[None]:
    """`timings.phase(name)`, or nothing when no one is timing."""
    if timings is None:
        yield
    else:
        with timings.phase(name):
            yield
