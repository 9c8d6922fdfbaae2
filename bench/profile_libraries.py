"""Where a build's time goes, by library: a sampling profile of the floor and of deckgen.

Runs `bench/floor.py`, then a cold `deckgen build` in one process (`DECKGEN_JOBS=1`: a
sampling profiler sees only its own process), each under pyinstrument, and prints each part's
share of the whole as JSON. A part is a library whose own code ran (markdown-it-py's plug-ins
count as markdown-it-py, split into parsing and rendering) or a deckgen module whose own code
ran; the time of Python's own modules goes to the part that called them. Profiling slows
Python code down, so only shares mean anything: the benchmark multiplies them by the times it
measured without a profiler.

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
    "pygments": "Pygments",
    "json": "json",
    "zipfile": "zip",
}
"""The libraries a build spends its time in, by the folder or module their code is in."""
SQLITE_CALLS = ("Connection.", "Cursor.")
"""SQLite is called from C: its calls are these built-in methods."""
RENDERER = "markdown_it/renderer.py"
"""markdown-it-py's renderer: what it calls in the library is rendering; the rest is parsing."""
PARSE, RENDER = "markdown-it-py (parse)", "markdown-it-py (render)"
"""markdown-it-py's two parts."""
INTERVAL = 0.001
"""Seconds between samples."""


def part_of(file_path: str | None, function: str, deckgen: str) -> str | None:
    """The part a frame's own time belongs to: `deckgen/…` for a module of deckgen (installed in
    the folder `deckgen`), a library's name, or None for the rest (Python's own modules, click,
    the profiler, a sample's own time), whose time goes to the part that called it."""
    if file_path is None:
        return None
    if file_path == "<built-in>":
        return "SQLite" if function.startswith(SQLITE_CALLS) else None
    path = file_path.replace(os.sep, "/")
    if path.startswith(deckgen + "/"):
        return "deckgen/" + path.removeprefix(deckgen + "/")
    for folder, library in LIBRARIES.items():
        if f"/{folder}/" in path or path.endswith(f"/{folder}.py"):
            return library
    return None


def shares(frame: Any, deckgen: str, owner: str = "other", rendering: bool = False, into: dict[str, float] | None = None) -> dict[str, float]:
    """Seconds by part under `frame` (a pyinstrument frame), each frame's own time to its part
    (`part_of`), or to its caller's. markdown-it-py's time is parse or render: whatever runs in
    the library under its renderer is render. deckgen's own render rules, which the renderer
    calls, are deckgen's."""
    into = {} if into is None else into
    part = part_of(frame.file_path, frame.function or "", deckgen)
    rendering = rendering or (part == "markdown-it-py" and (frame.file_path or "").replace(os.sep, "/").endswith(RENDERER))
    if part == "markdown-it-py":
        part = RENDER if rendering else PARSE
    owner = part or owner
    into[owner] = into.get(owner, 0.0) + frame.time - sum(child.time for child in frame.children)
    for child in frame.children:
        shares(child, deckgen, owner, rendering, into)
    return into


def _deckgen_folder() -> str:
    import deckgen

    return Path(deckgen.__file__).resolve().parent.as_posix()


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
    seconds = shares(session.root_frame(), _deckgen_folder())
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
