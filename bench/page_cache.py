"""How the page cache of the package's database changes the time and memory of writing it.

    python bench/page_cache.py PACKAGE.apkg [--copies N] [--rounds R] [--sizes KIB ...]

Reads the notes of a package deckgen wrote (one the benchmark built, say), makes `--copies`
copies of each under new GUIDs (so 5 copies of a 10,000-card package give a 50,000-card
database), and writes them with deckgen's own `write_rows` once per page cache size, each in a
process of its own, sizes alternating over the rounds. Prints, for each size, the median time
against the largest size's, how far the process's memory grew above what it held before
writing, and the database's digest: the same for every size, or the page cache would change
the package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from deckgen.anki import package
from deckgen.anki.notes import NoteSpec
from deckgen.anki.notetypes import note_models
from deckgen.timing import peak_memory_mb


def _peak_mb() -> float:
    """This process's peak resident memory so far, as deckgen's `--timings` reads it."""
    peak = peak_memory_mb()
    if peak is None:
        raise SystemExit("bench/page_cache.py reads this process's peak memory from /proc: Linux only")
    return peak


def _reset_peak() -> float:
    """Start this process's peak resident memory again from what it holds now, and return that."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError as err:
        raise SystemExit(f"bench/page_cache.py resets this process's peak memory in /proc: Linux only ({err})") from err
    return _peak_mb()


def _rows(apkg: Path, copies: int) -> package.Collection:
    """The package's notes, `copies` times over, as `write_rows` takes them."""
    with tempfile.TemporaryDirectory(prefix="deckgen-bench-") as tmp:
        with zipfile.ZipFile(apkg) as zipped:
            zipped.extract("collection.anki2", tmp)
        connection = sqlite3.connect(Path(tmp) / "collection.anki2")
        try:
            models, decks = connection.execute("SELECT models, decks FROM col").fetchone()
            found = connection.execute("SELECT n.guid, n.mid, n.tags, n.flds, c.did, c.due, n.mod FROM notes n JOIN cards c ON c.nid = n.id AND c.ord = 0").fetchall()
        finally:
            connection.close()
    # Model ids do not depend on the homepage, which only the templates show.
    models_by_key = note_models("https://example.org")
    by_id = {m.model_id: (key, m) for key, m in models_by_key.items()}
    notes = []
    for copy in range(copies):
        for guid, mid, tags, fields, did, due, mtime in found:
            key, model = by_id[mid]
            spec = NoteSpec(f"{guid}{copy}" if copy else guid, key, tuple(fields.split("\x1f")), tuple(tags.split()))
            (ids,) = package.note_row_ids(models_by_key, [spec]).each()
            notes.append((model, spec, ids, tags, did, due, mtime))
    return package.Collection(models, decks, lambda: notes)


def _one(apkg: Path, copies: int, kib: int) -> None:
    """In a process of its own: write the database with a page cache of `kib` and print what it took."""
    made = _rows(apkg, copies)
    before = _reset_peak()
    package.PAGE_CACHE_KIB = kib
    with tempfile.TemporaryDirectory(prefix="deckgen-bench-") as tmp:
        path = Path(tmp) / "collection.anki2"
        start = time.perf_counter()
        package.write_rows(made, path)
        seconds = time.perf_counter() - start
        grew = _peak_mb() - before
        digest = hashlib.sha256()
        with path.open("rb") as written:
            for block in iter(lambda: written.read(1 << 20), b""):
                digest.update(block)
        size = path.stat().st_size
    print(json.dumps({"seconds": seconds, "grew_mb": grew, "digest": digest.hexdigest()[:16], "bytes": size}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", type=Path)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 4096, 16384, 65536, 262144], help="page cache sizes in KiB (2000: SQLite's default)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        _one(args.package, args.copies, args.one)
        return
    runs: dict[int, list[dict[str, float | str]]] = {size: [] for size in args.sizes}
    for _ in range(args.rounds):
        for size in args.sizes:
            command = [sys.executable, __file__, str(args.package), "--copies", str(args.copies), "--one", str(size)]
            out = subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}).stdout
            runs[size].append(json.loads(out))
    largest = statistics.median(float(r["seconds"]) for r in runs[max(args.sizes)])
    print(f"{sum(1 for _ in _rows(args.package, 1).notes()) * args.copies} notes, {runs[max(args.sizes)][0]['bytes']} bytes; medians of {args.rounds} rounds")
    print("| page cache | seconds | against the largest | grew MB | digest |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        seconds = statistics.median(float(r["seconds"]) for r in runs[size])
        grew = statistics.median(float(r["grew_mb"]) for r in runs[size])
        digests = sorted({str(r["digest"]) for r in runs[size]})
        print(f"| {size} KiB | {seconds:.2f} | {seconds / largest:.2f}x | {grew:.0f} | {', '.join(digests)} |")


if __name__ == "__main__":
    main()
