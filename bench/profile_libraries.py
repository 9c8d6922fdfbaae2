"""Where a build's time goes, by library: a sampling profile of the floor and of deckgen.

Runs `bench/floor.py`, then a cold `deckgen build` in one process (`DECKGEN_JOBS=1`: a
sampling profiler sees only its own process), each under pyinstrument, and prints each part's
share of the whole as JSON. A part is a library (the time of every call into it, whatever it
calls in turn: markdown-it-py's plug-ins count as markdown-it-py) or, for deckgen, the module
whose own code ran. Profiling slows Python code down, so only shares mean anything: the
benchmark multiplies them by the times it measured without a profiler.

    python bench/profile_libraries.py BANK WORK
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

LIBRARIES = {
    "markdown_it": "markdown-it-py",
    "mdit_py_plugins": "markdown-it-py",
    "yaml": "PyYAML",
    "genanki": "genanki",
    "json": "json",
    "sqlite3": "SQLite",
    "zipfile": "zip",
    "zlib": "zip",
}
"""The libraries a build spends its time in, by the folder or module their code is in."""
INTERVAL = 0.001
"""Seconds between samples."""


def part_of(file_path: str) -> str | None:
    """The library a frame's code belongs to; `deckgen/…` for deckgen's modules; None for the rest
    (Python's own modules, click, and the profiler), whose time goes to whoever called them."""
    path = file_path.replace(os.sep, "/")
    for folder, library in LIBRARIES.items():
        if f"/{folder}/" in path or path.endswith(f"/{folder}.py"):
            return library
    if "/deckgen/" in path:
        return "deckgen/" + path.rsplit("/deckgen/", 1)[1]
    return None


def shares(frame: Any, owner: str = "other", into: dict[str, float] | None = None) -> dict[str, float]:
    """Seconds by part under `frame` (a pyinstrument frame): a library's calls whole, at the
    outermost call into it; any other code's own time to its part, or to the part that called it."""
    into = {} if into is None else into
    part = part_of(frame.file_path or "")
    if part is not None and not part.startswith("deckgen/"):
        into[part] = into.get(part, 0.0) + frame.time
        return into
    owner = part or owner
    into[owner] = into.get(owner, 0.0) + frame.time - sum(child.time for child in frame.children)
    for child in frame.children:
        shares(child, owner, into)
    return into


def profiled(run: Callable[[], None]) -> dict[str, float]:
    """Each part's share of `run`'s time."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=INTERVAL)
    profiler.start()
    try:
        run()
    finally:
        profiler.stop()
    session = profiler.last_session
    assert session is not None
    seconds = shares(session.root_frame())
    total = sum(seconds.values())
    return {part: value / total for part, value in sorted(seconds.items(), key=lambda item: -item[1]) if value > 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bank", type=Path)
    parser.add_argument("work", type=Path, help="a folder for what the floor and the build write")
    args = parser.parse_args()
    os.environ["DECKGEN_JOBS"] = "1"
    args.work.mkdir(parents=True, exist_ok=True)

    def floor() -> None:
        sys.argv = ["floor.py", str(args.bank), str(args.work / "floor.apkg")]
        runpy.run_path(str(HERE / "floor.py"), run_name="__main__")

    from deckgen.build import build as build_bank

    def build() -> None:
        out = args.work / "profiled"
        shutil.rmtree(out, ignore_errors=True)
        build_bank(args.bank, out)

    print(json.dumps({"floor": profiled(floor), "build, one process": profiled(build)}))


if __name__ == "__main__":
    main()
