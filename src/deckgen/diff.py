"""`deckgen diff`: what a release does to learners' decks, read from the packages themselves.

Two .apkg files are compared note by note, matched by GUID as Anki matches them. Two git
revisions of the banks are first built into packages, each with its own lock.

Both are untrusted: a package is checked at every layer (zip, size, SQLite schema, JSON,
column types) and refused with one located error, and is read within COLLECTION_LIMIT,
NOTE_TYPES_LIMIT and NOTE_LIMIT; a revision reaches git only as a name to resolve to a
commit, whose SHA is all that git archive is given.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

from deckgen.anki.notes import RETIRED_TAG
from deckgen.model import DeckgenError, Diagnostic, Location, Severity, one_line


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
    # A location is a path or a revision the user typed: it, too, must print on one line.
    return DeckgenError([Diagnostic(Location(one_line(where)), Severity.ERROR, message, "diff")])


MiB = 1024 * 1024
COLLECTION = "collection.anki2"
COLLECTION_LIMIT = 128 * MiB
"""The largest collection.anki2 read, inflated: over 60,000 deckgen notes of about 2 KiB."""
NOTE_TYPES_LIMIT = 16 * MiB
"""The largest note-type JSON read: deckgen's two note types take 32 KiB."""
NOTE_LIMIT = 100_000
"""The most notes read. With the size limit, a package read stays well under 1 GiB of memory."""
_CHUNK = MiB
_LATER_COLLECTIONS = ("collection.anki21b", "collection.anki21")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_DECIMAL_ID = re.compile(r"-?[0-9]{1,19}")
_SQL_KINDS = {"text": "text", "blob": "a blob", "integer": "an integer", "real": "a real number", "null": "NULL"}


def _not_package(path: Path, reason: str) -> DeckgenError:
    return _fail(path.as_posix(), f"not a deckgen .apkg ({reason})")


def _collection_chunks(path: Path) -> Iterator[bytes]:
    """The package's collection.anki2, inflated chunk by chunk; refused before inflating if it is too large."""
    try:
        handle = path.open("rb")
    except OSError as err:
        raise _not_package(path, f"cannot read it: {err.strerror or err}") from err
    try:
        with handle, zipfile.ZipFile(handle) as archive:
            names = set(archive.namelist())
            # Anki 2.1.28+ exports keep the real collection there and a placeholder note in
            # collection.anki2: diffing the placeholder would report nonsense.
            for later in _LATER_COLLECTIONS:
                if later in names:
                    raise _not_package(path, f"it holds {later}, from a later Anki; deckgen diff reads the {COLLECTION} that deckgen writes")
            if COLLECTION not in names:
                raise _not_package(path, f"it has no {COLLECTION}")
            info = archive.getinfo(COLLECTION)
            if info.flag_bits & 0x1:
                raise _not_package(path, f"its {COLLECTION} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _not_package(path, f"its {COLLECTION} is compressed with zip method {info.compress_type}, not deflate")
            if info.file_size > COLLECTION_LIMIT:
                raise _not_package(path, f"its {COLLECTION} declares {info.file_size} bytes, more than the {COLLECTION_LIMIT // MiB} MiB deckgen diff reads")
            # In chunks, and never past the declared size, whatever the compressed data holds:
            # a header that lies about the size cannot make this read more.
            with archive.open(info) as member:
                size = 0
                while chunk := member.read(_CHUNK):
                    size += len(chunk)
                    if size > info.file_size:
                        raise _not_package(path, f"its {COLLECTION} inflates to more than the {info.file_size} bytes it declares")
                    yield chunk
    except EOFError as err:
        raise _not_package(path, "not a readable zip: its compressed data ends early") from err
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, ValueError, OSError) as err:
        # NotImplementedError: a zip version the zip module does not read; ValueError and
        # OSError: its answers to some impossible offsets and names.
        raise _not_package(path, f"not a readable zip: {one_line(str(err))}") from err


def _check_schema(path: Path, connection: sqlite3.Connection) -> None:
    """Refuse a collection whose col and notes are not plain tables with the columns read."""
    for table, columns in (("col", ("models",)), ("notes", ("id", "guid", "mid", "flds", "tags"))):
        kinds = connection.execute("SELECT type, sql FROM sqlite_master WHERE lower(name) = ?", (table,)).fetchall()
        # A view or a virtual table could compute rows without end; only stored rows are read.
        if len(kinds) != 1 or kinds[0][0] != b"table" or bytes(kinds[0][1] or b"").upper().startswith(b"CREATE VIRTUAL"):
            raise _not_package(path, f"its collection has no {table} table")
        stored = {row[1] for row in connection.execute(f"PRAGMA table_xinfo({table})") if row[6] == 0}
        for column in columns:
            if column.encode() not in stored:
                raise _not_package(path, f"its collection has no {table}.{column} column")


def _note_type(path: Path, raw: object) -> PackageNoteType:
    """One note type from the models JSON, checked shape by shape."""
    if not isinstance(raw, dict):
        raise _not_package(path, "a note type is not a JSON object")
    raw_id = raw.get("id")
    # genanki writes the id as a string of digits, Anki as a number.
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        type_id = raw_id
    elif isinstance(raw_id, str) and _DECIMAL_ID.fullmatch(raw_id):
        type_id = int(raw_id)
    else:
        raise _not_package(path, "a note type has no numeric id")
    name = raw.get("name")
    if not isinstance(name, str):
        raise _not_package(path, f"note type {type_id} has no name")
    fields = raw.get("flds")
    if not isinstance(fields, list) or not all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields):
        raise _not_package(path, f"note type {type_id}: its fields are not a list of named fields")
    templates = raw.get("tmpls")
    if not isinstance(templates, list) or not all(
        isinstance(t, dict) and all(isinstance(t.get(key), str) for key in ("name", "qfmt", "afmt")) for t in templates
    ):
        raise _not_package(path, f"note type {type_id}: its templates are not a list of named templates")
    css = raw.get("css", "")
    if not isinstance(css, str):
        raise _not_package(path, f"note type {type_id}: its CSS is not text")
    return PackageNoteType(
        type_id,
        name,
        tuple(f["name"] for f in fields),
        tuple(t["name"] for t in templates),
        (css, *(t["qfmt"] + "\x1f" + t["afmt"] for t in templates)),
    )


def _note_types(path: Path, connection: sqlite3.Connection) -> dict[int, PackageNoteType]:
    """The note types of the collection's one col row."""
    rows = connection.execute("SELECT typeof(models), length(CAST(models AS BLOB)) FROM col").fetchall()
    if len(rows) != 1:
        raise _not_package(path, f"its col table has {len(rows)} rows, not 1")
    kind, size = rows[0]
    if kind != b"text":
        raise _not_package(path, f"its note types are {_SQL_KINDS.get(kind.decode(), 'not text')}, not JSON text")
    if size > NOTE_TYPES_LIMIT:
        raise _not_package(path, f"its note types take {size} bytes, more than the {NOTE_TYPES_LIMIT // MiB} MiB deckgen diff reads")
    (models_raw,) = connection.execute("SELECT models FROM col").fetchone()
    try:
        models = json.loads(models_raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise _not_package(path, "its note types are not UTF-8 text") from err
    except ValueError as err:
        raise _not_package(path, "its note types are not JSON") from err
    except RecursionError as err:
        raise _not_package(path, "its note types are JSON nested too deeply") from err
    if not isinstance(models, dict):
        raise _not_package(path, "its note types are not a JSON object")
    note_types = {}
    for raw in models.values():
        note_type = _note_type(path, raw)
        note_types[note_type.id] = note_type
    return note_types


def _text(path: Path, note: str, what: str, kind: bytes, value: object) -> str:
    """A text column of a note, decoded, or a located refusal; `what` is its name and verb."""
    if kind != b"text" or not isinstance(value, bytes):
        raise _not_package(path, f"{note}: its {what} {_SQL_KINDS.get(kind.decode(), 'not text')}, not text")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _not_package(path, f"{note}: its {what} not UTF-8 text") from err


def _notes(path: Path, connection: sqlite3.Connection, note_types: dict[int, PackageNoteType]) -> dict[str, PackageNote]:
    """The notes of the collection, each column checked for the type Anki stores."""
    ((count,),) = connection.execute("SELECT count(*) FROM notes").fetchall()
    if count > NOTE_LIMIT:
        raise _not_package(path, f"it holds {count} notes, more than the {NOTE_LIMIT} deckgen diff reads")
    query = "SELECT id, guid, typeof(guid), mid, typeof(mid), flds, typeof(flds), tags, typeof(tags) FROM notes"
    notes = {}
    for row, (nid, guid_raw, guid_kind, mid, mid_kind, flds_raw, flds_kind, tags_raw, tags_kind) in enumerate(connection.execute(query), 1):
        note = f"note {nid}" if isinstance(nid, int) else f"note on row {row}"
        if mid_kind != b"integer" or not isinstance(mid, int):
            raise _not_package(path, f"{note}: its note type id (mid) is {_SQL_KINDS.get(mid_kind.decode(), 'not a number')}, not an integer")
        guid = _text(path, note, "GUID is", guid_kind, guid_raw)
        flds = _text(path, note, "fields are", flds_kind, flds_raw)
        tags = _text(path, note, "tags are", tags_kind, tags_raw)
        values = flds.split("\x1f")
        names = note_types[mid].fields if mid in note_types else tuple(f"Field {i + 1}" for i in range(len(values)))
        notes[guid] = PackageNote(guid, values[0], mid, tuple(zip(names, values)), frozenset(tags.split()))
    return notes


def read_package(path: Path) -> Package:
    """Read a package written by deckgen (a `collection.anki2` inside a zip); anything else is refused, never trusted."""
    with tempfile.TemporaryDirectory(prefix="deckgen-diff-") as tmp:
        db_path = Path(tmp) / COLLECTION
        with db_path.open("wb") as out:
            for chunk in _collection_chunks(path):
                out.write(chunk)
        try:
            # Read-only and immutable: a hostile database can neither be written nor make
            # SQLite look for a journal beside it.
            connection = sqlite3.connect(f"{db_path.as_uri()}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error as err:
            raise _not_package(path, f"its {COLLECTION} is not a readable SQLite database: {one_line(str(err))}") from err
        try:
            # Every text arrives as bytes, so that text that is not UTF-8 is reported, not raised.
            connection.text_factory = bytes
            connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, COLLECTION_LIMIT)
            # SQLite's own advice for databases from strangers: no functions from the schema
            # beyond innocuous ones, every cell's size checked, no memory map of the file.
            connection.execute("PRAGMA trusted_schema = OFF")
            connection.execute("PRAGMA cell_size_check = ON")
            connection.execute("PRAGMA mmap_size = 0")
            _check_schema(path, connection)
            note_types = _note_types(path, connection)
            notes = _notes(path, connection, note_types)
        except sqlite3.Error as err:
            raise _not_package(path, f"its {COLLECTION} is not a readable SQLite database: {one_line(str(err))}") from err
        except UnicodeDecodeError as err:
            # SQLite's message itself was not UTF-8 (it quotes a damaged schema): Python
            # raises this instead of the sqlite3.Error.
            raise _not_package(path, f"its {COLLECTION} is not a readable SQLite database") from err
        finally:
            connection.close()
    return Package(notes, note_types)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        """Skip `<![...>` as HTML does (a bogus comment), where the base class asserts on names it does not know."""
        end = self.rawdata.find(">", i + 3)
        return -1 if end < 0 else end + 1

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


def _code(text: str) -> str:
    """`text` as a Markdown code span that no backtick in it can end."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if fence != "`" else f"`{text}`"


def _markdown_text(text: str) -> str:
    """Text from a package as Markdown that shows it as written: no link, image, emphasis or HTML."""
    return "".join("\\" + c if c in "\\`*_[]<>!#|~$&" else c for c in text)


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

    code = _code if markdown else (lambda s: s)
    text = _markdown_text if markdown else (lambda s: s)
    bullet = "- " if markdown else "  "
    section(
        "Problems",
        [f"{bullet}removed without being retired: {code(n.key)}; learners keep it, and it is never updated again" for n in diff.removed]
        + [f"{bullet}GUID changed for {code(key)} ({old} -> {new}): learners get a duplicate and lose its history" for key, old, new in diff.guid_changed]
        + [f"{bullet}{change}" for change in diff.schema_changes],
    )
    section(f"Added ({len(diff.added)})", [f"{bullet}{code(n.key)}: {text(_first_line(n))}" for n in diff.added])
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
    section(f"Retired ({len(diff.retired)})", [f"{bullet}{code(n.key)}: {text(_first_line(n))}" for n in diff.retired])
    section("Note types", [f"{bullet}{change}" for change in diff.note_type_changes])
    # Field text, keys and GUIDs come from the package: a control character in them must not
    # reach the terminal (an escape sequence could rewrite what the reader sees).
    return "\n".join(one_line(line) for line in lines) + "\n"


def _git_message(err: subprocess.CalledProcessError) -> str:
    """The first line git wrote to standard error, without its `fatal: `."""
    lines = (err.stderr or b"").decode(errors="replace").strip().splitlines()
    return one_line(lines[0].removeprefix("fatal: ")) if lines else f"git exited with status {err.returncode}"


def resolve_revision(revision: str, top: str) -> str:
    """The full SHA of the commit that `revision` names in the repository at `top`."""
    shown = one_line(revision)
    try:
        # --end-of-options: a revision such as `--output=FILE` is a name to look up, never
        # an option; ^{commit} refuses trees, blobs and ranges.
        found = subprocess.run(
            ["git", "-C", top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"],
            capture_output=True,
            text=True,
        )
    except ValueError as err:  # a NUL byte, which no revision holds
        raise _fail(shown, f"revision '{shown}' is not a commit in this repository") from err
    except OSError as err:
        raise _fail(shown, f"cannot run git to read revision '{shown}': {err.strerror or err}") from err
    sha = found.stdout.strip()
    # rev-parse can answer 0 with something else than one SHA (`^HEAD` prints `^<sha>`).
    if found.returncode != 0 or not _SHA.fullmatch(sha):
        raise _fail(shown, f"revision '{shown}' is not a commit in this repository")
    return sha


def _export_revision(revision: str, bank_dir: Path, target: Path) -> Path:
    """Extract the bank folder as it is at a git revision into `target`; return the extracted bank."""
    shown = one_line(revision)
    try:
        top = os.fsdecode(subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, check=True).stdout).strip()
    except subprocess.CalledProcessError as err:
        raise _fail(shown, f"cannot read git revision '{shown}': {_git_message(err)}") from err
    except OSError as err:
        raise _fail(shown, f"cannot run git to read revision '{shown}': {err.strerror or err}") from err
    try:
        rel = bank_dir.resolve().relative_to(Path(top).resolve()).as_posix()
    except ValueError as err:
        raise _fail(shown, f"cannot read the banks at git revision '{shown}': {one_line(bank_dir.as_posix())} is outside the repository {one_line(top)}") from err
    sha = resolve_revision(revision, top)
    try:
        # Only the SHA reaches git archive, and the path comes after `--`; `-C top`, as a
        # pathspec is read from the current folder.
        archive = subprocess.run(["git", "-C", top, "archive", "--format=tar", sha, "--", rel], capture_output=True, check=True).stdout
    except subprocess.CalledProcessError as err:
        raise _fail(shown, f"cannot read the banks at git revision '{shown}': {_git_message(err)}") from err
    except OSError as err:
        raise _fail(shown, f"cannot run git to read revision '{shown}': {err.strerror or err}") from err
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
    except tarfile.TarError as err:  # e.g. a symlink out of the bank, which the data filter refuses
        raise _fail(shown, f"cannot read the banks at git revision '{shown}': {one_line(str(err))}") from err
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
        if not bank_dir.is_dir():
            raise _fail(bank_dir.as_posix(), "bank folder not found")
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
