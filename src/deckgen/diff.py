"""`deckgen diff`: what a release does to learners' decks, read from the packages themselves.

Two .apkg files are compared note by note, matched by GUID as Anki matches them. Two git
revisions of the banks are first built into packages, each with its own lock.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

from deckgen.anki import RETIRED_TAG
from deckgen.model import DeckgenError, Diagnostic, Location, Severity


@dataclass(frozen=True)
class PackageNote:
    """A note as it is stored in a package."""

    guid: str
    key: str
    """The note's first field: its deckgen id."""
    model_id: int
    fields: tuple[tuple[str, str], ...]
    """(field name, value) pairs."""
    tags: frozenset[str]


@dataclass(frozen=True)
class PackageNoteType:
    """A note type as it is stored in a package."""

    id: int
    name: str
    fields: tuple[str, ...]
    templates: tuple[str, ...]
    look: tuple[str, ...]
    """The CSS and each template's front and back."""


@dataclass(frozen=True)
class Package:
    """The notes and note types of one .apkg."""

    notes: dict[str, PackageNote]
    note_types: dict[int, PackageNoteType]


@dataclass
class DeckDiff:
    """Everything a release changes, as learners will see it."""

    added: list[PackageNote] = field(default_factory=list)
    changed: list[tuple[PackageNote, list[tuple[str, str, str]]]] = field(default_factory=list)
    retired: list[PackageNote] = field(default_factory=list)
    removed: list[PackageNote] = field(default_factory=list)
    guid_changed: list[tuple[str, str, str]] = field(default_factory=list)
    note_type_changes: list[str] = field(default_factory=list)
    schema_changes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        """Changes that cost learners something: lost history, or notes Anki stops updating."""
        return len(self.removed) + len(self.guid_changed) + len(self.schema_changes)


def _fail(where: str, message: str) -> DeckgenError:
    return DeckgenError([Diagnostic(Location(where), Severity.ERROR, message, "diff")])


def read_package(path: Path) -> Package:
    """Read a package written by deckgen (a `collection.anki2` inside a zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("collection.anki2")
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise _fail(path.as_posix(), f"not a deckgen .apkg ({err})") from err
    with tempfile.TemporaryDirectory(prefix="deckgen-diff-") as tmp:
        db_path = Path(tmp) / "collection.anki2"
        db_path.write_bytes(data)
        connection = sqlite3.connect(db_path)
        try:
            (models_raw,) = connection.execute("SELECT models FROM col").fetchone()
            rows = connection.execute("SELECT guid, mid, flds, tags FROM notes").fetchall()
        except (sqlite3.Error, TypeError) as err:
            raise _fail(path.as_posix(), f"not a deckgen .apkg ({err})") from err
        finally:
            connection.close()
    note_types = {}
    for raw in json.loads(models_raw).values():
        note_types[int(raw["id"])] = PackageNoteType(
            int(raw["id"]),
            raw["name"],
            tuple(f["name"] for f in raw["flds"]),
            tuple(t["name"] for t in raw["tmpls"]),
            (raw.get("css", ""), *(t["qfmt"] + "\x1f" + t["afmt"] for t in raw["tmpls"])),
        )
    notes = {}
    for guid, mid, flds, tags in rows:
        values = flds.split("\x1f")
        names = note_types[int(mid)].fields if int(mid) in note_types else tuple(f"Field {i + 1}" for i in range(len(values)))
        notes[guid] = PackageNote(guid, values[0], int(mid), tuple(zip(names, values)), frozenset(tags.split()))
    return Package(notes, note_types)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "li", "tr", "div", "br", "pre"):
            self.parts.append(" ")


def field_text(html: str) -> str:
    """A field's text as a reader sees it: tags dropped, entities decoded, space collapsed."""
    parser = _Text()
    parser.feed(html)
    return " ".join(unescape("".join(parser.parts)).split())


def diff_packages(old: Package, new: Package) -> DeckDiff:
    """Compare two packages note by note, by GUID, as Anki does on import."""
    result = DeckDiff()
    old_by_key = {n.key: n for n in old.notes.values()}
    for guid, note in sorted(new.notes.items(), key=lambda item: item[1].key):
        before = old.notes.get(guid)
        if before is None:
            moved = old_by_key.get(note.key)
            if moved is not None:
                result.guid_changed.append((note.key, moved.guid, guid))
            else:
                result.added.append(note)
            continue
        if RETIRED_TAG in note.tags and RETIRED_TAG not in before.tags:
            result.retired.append(note)
            continue
        fields = [
            (name, field_text(a), field_text(b))
            for (name, a), (_, b) in zip(before.fields, note.fields)
            if a != b
        ]
        if before.tags != note.tags:
            fields.append(("Tags", " ".join(sorted(before.tags)), " ".join(sorted(note.tags))))
        if fields:
            result.changed.append((note, fields))
    new_keys = {n.key for n in new.notes.values()}
    result.removed = sorted((n for g, n in old.notes.items() if g not in new.notes and n.key not in new_keys), key=lambda n: n.key)
    for model_id, before_type in sorted(old.note_types.items()):
        after = new.note_types.get(model_id)
        if after is None:
            result.schema_changes.append(f"note type '{before_type.name}' is gone")
        elif (before_type.fields, before_type.templates) != (after.fields, after.templates):
            result.schema_changes.append(
                f"note type '{after.name}' changed its fields ({', '.join(before_type.fields)} -> {', '.join(after.fields)}) "
                f"or templates ({', '.join(before_type.templates)} -> {', '.join(after.templates)}): Anki will add a copy "
                "and stop updating existing notes unless learners merge note types"
            )
        elif before_type.look != after.look:
            result.note_type_changes.append(f"note type '{after.name}': CSS or templates changed")
    return result


def _first_line(note: PackageNote) -> str:
    text = field_text(note.fields[1][1]) if len(note.fields) > 1 else ""
    return text if len(text) <= 90 else text[:87] + "..."


def format_diff(diff: DeckDiff, markdown: bool = False) -> str:
    """The diff as plain text, or as Markdown for a pull request or release notes."""
    counts = (
        f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.retired)} retired, "
        f"{diff.problems} problem{'' if diff.problems == 1 else 's'}"
    )
    lines = [f"## Deck changes: {counts}" if markdown else f"deck changes: {counts}"]

    def section(title: str, items: list[str]) -> None:
        if not items:
            return
        lines.extend(["", f"### {title}", ""] if markdown else ["", f"{title}:"])
        lines.extend(items)

    code = (lambda s: f"`{s}`") if markdown else (lambda s: s)
    bullet = "- " if markdown else "  "
    section(
        "Problems",
        [f"{bullet}removed without being retired: {code(n.key)}; learners keep it, and it is never updated again" for n in diff.removed]
        + [f"{bullet}GUID changed for {code(key)} ({old} -> {new}): learners get a duplicate and lose its history" for key, old, new in diff.guid_changed]
        + [f"{bullet}{change}" for change in diff.schema_changes],
    )
    section(f"Added ({len(diff.added)})", [f"{bullet}{code(n.key)}: {_first_line(n)}" for n in diff.added])
    changed: list[str] = []
    for note, fields in diff.changed:
        if markdown:
            changed += [f"- {code(note.key)}"]
            for name, before, after in fields:
                changed += [f"  - **{name}**", "    ```diff", f"    - {before}", f"    + {after}", "    ```"]
        else:
            changed += [f"  {note.key}"]
            for name, before, after in fields:
                changed += [f"    {name}:", f"      - {before}", f"      + {after}"]
    section(f"Changed ({len(diff.changed)})", changed)
    section(f"Retired ({len(diff.retired)})", [f"{bullet}{code(n.key)}: {_first_line(n)}" for n in diff.retired])
    section("Note types", [f"{bullet}{change}" for change in diff.note_type_changes])
    return "\n".join(lines) + "\n"


def _export_revision(revision: str, bank_dir: Path, target: Path) -> Path:
    """Extract the bank folder as it is at a git revision into `target`; return the extracted bank."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True).stdout.strip()
        rel = bank_dir.resolve().relative_to(Path(top).resolve()).as_posix()
        archive = subprocess.run(["git", "archive", "--format=tar", revision, rel], capture_output=True, check=True).stdout
    except (OSError, ValueError, subprocess.CalledProcessError) as err:
        stderr = getattr(err, "stderr", b"") or b""
        detail = stderr.decode(errors="replace").strip() if isinstance(stderr, bytes) else str(stderr)
        raise _fail(revision, f"cannot read the banks at git revision '{revision}': {detail or err}") from err
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / rel


def package_for(spec: str | None, bank_dir: Path, work: Path) -> Path:
    """An .apkg for OLD or NEW: the file itself, a build of the banks at a git revision, or
    (for None) a build of the banks as they are now. Builds happen in `work`, never in place."""
    from deckgen.build import build  # diff is a consumer of the pipeline, not a step of it

    if spec is not None and spec.endswith(".apkg"):
        path = Path(spec)
        if not path.is_file():
            raise _fail(spec, "no such .apkg file")
        return path
    if spec is None:
        bank = work / "tree" / bank_dir.name
        shutil.copytree(bank_dir, bank)
    else:
        bank = _export_revision(spec, bank_dir, work / "tree")
    result = build(bank, work / "out")
    return next(p for p in result.outputs if p.suffix == ".apkg")


def diff(old: str, new: str | None, bank_dir: Path) -> DeckDiff:
    """What NEW changes compared with OLD (each an .apkg or a git revision; NEW None is the working tree)."""
    with tempfile.TemporaryDirectory(prefix="deckgen-diff-") as tmp:
        work = Path(tmp)
        (work / "old").mkdir()
        (work / "new").mkdir()
        before = read_package(package_for(old, bank_dir, work / "old"))
        after = read_package(package_for(new, bank_dir, work / "new"))
    return diff_packages(before, after)
