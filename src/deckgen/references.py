"""What a bank file is checked against beyond itself: the other files of the bank.

Which files are topic banks (never a file outside the bank folder), ids unique across
files, references to sections and sources that exist, and images that are files inside
the bank.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from deckgen.model import Diagnostic, Location, Severity, one_line
from deckgen.svg import svg_problem

DEFAULT_BANK_DIR = "questions"
"""The bank folder that commands read when they are given none."""
DECK_FILE = "deck"
SOURCES_FILE = "sources"
YAML_SUFFIXES = (".yaml", ".yml")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
MAX_IMAGE_BYTES = 1024 * 1024
LISTED_IN = {"section": "deck.yaml", "source": "sources.yaml"}
"""Where the ids that each kind of reference names are listed."""
SOURCE_PLACEHOLDER = "TODO-pick-a-source"
"""What `deckgen new` cites until its author picks the sources."""


def is_placeholder(reference: str) -> bool:
    """Whether a cited source is a placeholder, such as `deckgen new` writes, rather than an id
    (which is lowercase, so never holds TODO)."""
    return "TODO" in reference


def suggest(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest of `choices`, or nothing."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


@dataclass
class Known:
    """What every topic is checked against: the ids the other files define, and those seen so far."""

    ids: dict[str, set[str] | None]
    """The ids each kind of reference may name ("section", "source"); None when the file that
    lists them could not be read, so that references to it are not checked."""
    root: Path = Path(".")
    folder: Path = Path(".")
    """The folder of the topic file being read: image paths are relative to it."""
    question_ids: dict[str, Location] = field(default_factory=dict)
    topic_ids: dict[str, Location] = field(default_factory=dict)

    def reference_problem(self, what: str, value: str) -> str | None:
        """Why `value` names no `what` ("section", "source"), or None when it does (or cannot be known)."""
        known = self.ids.get(what)
        if known is None or value in known:
            return None
        return f"unknown {what} '{value}'{suggest(value, known)}; {what}s are listed in {LISTED_IN[what]}"

    def image_file(self, target: str) -> Path | str:
        """The image file a target names, or why it cannot be used."""
        return image_file(target, self.folder, self.root)


def image_file(target: str, folder: Path, root: Path) -> Path | str:
    """The image file `target` names, relative to `folder` and inside `root`, or why it cannot be used."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
        return f"image '{target}' is not a file in the bank folder; a remote image would be fetched on every review"
    if target.startswith(("/", "\\")):
        return f"image '{target}' is an absolute path; write it relative to the YAML file"
    try:
        path = (folder / target).resolve()
        if not path.is_relative_to(root.resolve()):
            return f"image '{target}' is outside the bank folder"
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            return f"image '{target}' is not a {', '.join(s[1:] for s in IMAGE_SUFFIXES)} file"
        if not path.is_file():
            return f"image '{target}' not found"
        size = path.stat().st_size
    except (OSError, RuntimeError) as err:
        return f"image '{target}' cannot be read: {getattr(err, 'strerror', None) or err}"
    if size > MAX_IMAGE_BYTES:
        return f"image '{target}' is {-(-size // 1024)} KiB; at most {MAX_IMAGE_BYTES // 1024} KiB, so it stays quick on phones"
    if path.suffix.lower() == ".svg":
        try:
            problem = svg_problem(path.read_bytes())
        except OSError as err:
            return f"image '{target}' cannot be read: {err.strerror or err}"
        if problem is not None:
            return f"image '{target}': {problem}"
    return path


def find_file(root: Path, stem: str) -> list[Path]:
    """`stem.yaml` and `stem.yml` in `root`, those that exist."""
    return [root / f"{stem}{suffix}" for suffix in YAML_SUFFIXES if (root / f"{stem}{suffix}").is_file()]


def display(root: Path, path: Path) -> str:
    """A bank file's name in messages: the bank folder as given, then the path inside it."""
    return (root / path.relative_to(root)).as_posix()


def link_problem(root: Path, path: Path) -> str | None:
    """Why deckgen does not read the link `path`, or None for a link to a file inside the bank."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return "is a link to a file that does not exist"
    except (OSError, RuntimeError):
        return "is a link that leads nowhere (a loop of links)"
    if not target.is_relative_to(root.resolve()):
        return "is a link that leads outside the bank folder; deckgen reads only files inside it"
    if target.is_dir():
        return "is a link to a folder; deckgen does not follow links to folders: move the files into the bank"
    if not is_utf8(target.relative_to(root.resolve()).as_posix()):
        return "is a link to a file whose name is not UTF-8 (a byte is shown as \\udcXX): rename it"
    return None


def is_utf8(name: str) -> bool:
    """Whether a file name read from the system was UTF-8 (Python reads each byte that is not as a lone surrogate)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def topic_files(root: Path, languages: tuple[str, ...] = ()) -> tuple[list[Path], list[Diagnostic]]:
    """Every topic bank under `root` (YAML files other than deck and sources, hidden ones skipped,
    and the translation overlays of the editions in `languages`, `<name>.<language>.yaml`), and
    what stopped a file or folder from being read: nothing outside the bank is ever read."""
    found: list[Path] = []
    problems: list[Diagnostic] = []

    def problem(path: Path, message: str) -> None:
        problems.append(Diagnostic(Location(one_line(display(root, path))), Severity.ERROR, message, "bank-file"))

    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            problem(folder, f"cannot read this folder: {err.strerror or err}")
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith(".") or (folder == root and path.stem in (DECK_FILE, SOURCES_FILE)):
                continue  # deck and sources are read, and checked, on their own
            is_yaml = path.suffix in YAML_SUFFIXES
            if not is_utf8(entry.name) and (is_yaml or entry.is_dir()):
                # Its name, in messages, keys and links, would be text that cannot be written.
                problem(path, "has a name that is not UTF-8 (a byte is shown as \\udcXX): rename it")
                continue
            if is_yaml and any(path.stem.endswith(f".{lang}") for lang in languages if lang != "en"):
                continue  # a translation, read with its edition (deckgen.editions)
            if entry.is_symlink():
                link = link_problem(root, path)
                if link is not None and (is_yaml or path.is_dir()):
                    problem(path, link)
                    continue
            elif entry.is_dir(follow_symlinks=False):
                folders.append(path)
                continue
            if not is_yaml:
                continue
            if path.is_file():
                found.append(path)
            else:
                problem(path, "is not a regular file (a pipe, socket or device?); a topic file is a plain YAML file")
    return sorted(found, key=lambda p: p.relative_to(root).as_posix()), problems
