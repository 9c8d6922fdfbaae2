"""What every output is: a name, and the files it writes given the build's render context."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from deckgen.cache import Block, BuildCache
from deckgen.later import Later
from deckgen.lock import Lock
from deckgen.model import Bank
from deckgen.outline import Outline
from deckgen.printsheet import PrintStyle
from deckgen.release import Release
from deckgen.selection import Selection

Writer = Callable[[Path], Later | None]
"""Writes one output file at the path it is given (in the staging folder, beside `--out`), and
returns what is left of writing it, if anything, for a second thread (`deckgen.later`)."""


@dataclass(frozen=True)
class RenderContext:
    """Everything an output renders from, made once per build."""

    out_dir: Path
    bank: Bank
    """The selected part of the bank: what the outputs show."""
    outline: Outline
    """The outline of `bank`, which every sheet renders."""
    selection: Selection
    whole: Bank
    """The whole bank, which the lock always describes."""
    release: Release
    lock: Lock
    """The lock after this build."""
    cache: BuildCache
    pdf: bool
    """Whether PDFs were asked for."""
    style: PrintStyle = PrintStyle()
    """The printed sheets' layout and paper."""
    language: str = "en"
    """The edition's language: files of an edition other than the source one carry it before
    their extension (`review-sheet.zh.md`)."""

    def name(self, path: Path) -> str:
        """A file's path in `--out`, with `/`: what the cache remembers it by."""
        return path.relative_to(self.out_dir).as_posix()

    def path(self, name: str) -> Path:
        """Where the file `name` of this edition goes in `--out`."""
        if self.language == "en":
            return self.out_dir / name
        stem, dot, extension = name.rpartition(".")
        return self.out_dir / f"{stem}.{self.language}{dot}{extension}"


class Format(Protocol):
    """An output of the build: one module, and one line in `deckgen.outputs.FORMATS`."""

    name: str
    late: bool
    """True for an output written after every other one is staged, from them (the PDFs print the
    staged HTML); its failure costs only its own files, reported as its problems."""

    def files(self, context: RenderContext) -> dict[Path, Writer]:
        """The files this output writes, by their path inside `--out`, each with its writer."""
        ...


def lines_writer(lines: Iterable[str | Block], cache: BuildCache | None = None, name: str = "") -> Writer:
    """Write each line followed by a newline, and each block as it is, without joining them in
    memory first (and holding one at a time, when `lines` makes them as they are asked for);
    tell `cache` where each block went in the file `name` (its path in `--out`). `lines` is
    read once: the writer writes its file once, as a build does."""

    def write(path: Path) -> None:
        write_parts(path, lines, cache, name, b"\n")

    return write


def write_parts(path: Path, parts: Iterable[str | Block], cache: BuildCache | None, name: str, end: bytes = b"") -> None:
    """Write each text of `parts` followed by `end`, and each block as it is, as the new file
    `path`, one at a time; tell `cache` where each block went in the file `name` (its path in
    `--out`)."""
    at = 0
    with path.open("wb") as out:
        for part in parts:
            if isinstance(part, str):
                data = part.encode("utf-8") + end
                out.write(data)
                at += len(data)
                continue
            if cache is not None:
                cache.wrote(name, part, at)
            part.write_into(out)
            at += part.size


def copy_writer(source: Path) -> Writer:
    """Write a copy of the file `source`."""

    def write(path: Path) -> None:
        path.write_bytes(source.read_bytes())

    return write
