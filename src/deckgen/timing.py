"""Where a build's time and memory go: named phases, timed with a monotonic clock, with the
peak memory of the process after each and what it grew by in each, for `--timings` and the
benchmark's breakdown."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

try:
    import resource
except ImportError:  # not on Windows: memory is then not reported
    resource = None  # type: ignore[assignment]


def peak_memory_mb() -> float | None:
    """The most memory this process has held so far, in MB, where the system tells.

    On Linux, from /proc: the peak that getrusage gives starts at the peak of the process that
    started deckgen, when that process shared its memory until deckgen started (vfork, as
    Python's subprocess does): from a large process, deckgen's own peak would be hidden."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError):
        pass
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


class Timings:
    """Seconds spent in each named phase, in the order the phases first ran; the peak memory
    when each last ended; and how much the peak grew while each ran (all its runs together:
    an output is made once per edition)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.grown_mb: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the time spent in the block to `name`, and what the peak memory grew by."""
        start = time.perf_counter()
        before = peak_memory_mb()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            peak = peak_memory_mb()
            if peak is not None and before is not None:
                self.peak_mb[name] = peak
                # A peak never falls, but the kernel counts a process's pages a few at a time,
                # and may report a little more than it then settles on: not "-0 MB".
                self.grown_mb[name] = self.grown_mb.get(name, 0.0) + max(peak - before, 0.0)

    def format(self) -> str:
        """`timings: validate 1.20 s, lint 0.52 s, ...`, then a line of the peak memory after each,
        and one of what the peak grew by in each."""
        lines = ["timings: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.seconds.items())]
        if self.peak_mb:
            lines.append("peak memory after: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in self.peak_mb.items()))
            lines.append("peak memory grew: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in self.grown_mb.items()))
        return "\n".join(lines)


@contextmanager
def phase(timings: Timings | None, name: str) -> Iterator[None]:
    """`timings.phase(name)`, or nothing when no one is timing."""
    if timings is None:
        yield
    else:
        with timings.phase(name):
            yield
