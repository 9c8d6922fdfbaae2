"""The rebuild that `deckgen watch` runs after an edit, for the benchmark (bench/run.py).

    python bench/watch_rebuild.py BANK OUT

Builds BANK into OUT twice, as a watch's first build and a build that finds every topic in
the cache, then prints `ready`. Each line then read from standard input (the benchmark has
just edited BANK) runs the build a watch runs for what changed, and prints, as one line of
JSON, its seconds (the build alone: not the watch's wait for the bank to be still), the
files it built, deckgen's own timings by step, and the process's peak memory during it (MB:
on Linux, where the peak can be started again; elsewhere, the process's peak so far).

Before each build it does, untimed, what `deckgen watch` does while it waits for an edit
(`Watcher.idle`: it checks the last build's output files, so that the build takes their
unchanged parts unread), once `RECENT_NS` has passed since the last build ended, as it has
between two edits a person makes seconds apart: it waits for the rest of that time if the
benchmark's other steps took less. Its seconds are printed too (`idle_seconds`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from deckgen.build import BuildOptions
from deckgen.cache import RECENT_NS
from deckgen.timing import Timings, peak_memory_mb
from deckgen.watch import Watcher


def main() -> None:
    bank, out = Path(sys.argv[1]), Path(sys.argv[2])
    watcher = Watcher(BuildOptions(bank, out, timings=Timings()))
    for _ in range(2):
        if watcher.build().error is not None:
            raise SystemExit(f"{bank}: the bank does not build")
    built = time.monotonic_ns()
    print("ready", flush=True)
    for _ in sys.stdin:
        time.sleep(max(0, built + RECENT_NS - time.monotonic_ns()) / 1e9)
        start = time.perf_counter()
        watcher.idle()
        idle = time.perf_counter() - start
        _reset_peak()
        changed = watcher.changes()
        start = time.perf_counter()
        outcome = watcher.build(changed)
        seconds = time.perf_counter() - start
        built = time.monotonic_ns()
        if outcome.error is not None or outcome.timings is None:
            raise SystemExit(f"{bank}: the rebuild failed: {outcome.error}")
        print(json.dumps({"seconds": seconds, "idle_seconds": idle, "changed": changed, "steps": outcome.timings.seconds, "peak_mb": peak_memory_mb() or 0.0}), flush=True)


def _reset_peak() -> None:
    """Start the process's peak memory again from what it holds now (Linux), so that the peak
    after a rebuild is the rebuild's, not the first build's."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass


if __name__ == "__main__":
    main()
