"""Reading an .apkg that deckgen wrote, for `deckgen diff`: its notes and note types.

A package is untrusted: it is checked at every layer (zip, size, SQLite schema, JSON,
column types) and refused with one located error, and is read within COLLECTION_LIMIT,
NOTE_TYPES_LIMIT and NOTE_LIMIT.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

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
_DECIMAL_ID = re.compile(r"-?[0-9]{1,19}")
_SQL_KINDS = {"text": "text", "blob": "a blob", "integer": "an integer", "real": "a real number", "null": "NULL"}


def _not_package(path: Path, reason: str) -> DeckgenError:
    # Reported under `diff`, the command that reads packages; the path, which the user
    # typed, must print on one line.
    return DeckgenError([Diagnostic(Location(one_line(path.as_posix())), Severity.ERROR, f"not a deckgen .apkg ({reason})", "diff")])


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
