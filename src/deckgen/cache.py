"""A cache in the build folder, so that a rebuild after editing one question does only the
work that edit calls for: unchanged files are not parsed or validated again, and unchanged
questions are not rendered again.

Entries are keyed by a hash of everything they depend on (a file's bytes and what it is
checked against; a question's content, its topic's title, the sources it cites, its
images, the deck's homepage) and by a salt of deckgen's version, a hash of its code and
the versions of the libraries that render. Rendered entries leave locations out, so moving
a question or editing the one above it costs nothing.

The cache is an SQLite file of JSON values: reading it can never run code, and entries
are looked up one at a time, so a build never holds the whole cache in memory. A build
writes the entries it makes to a new file beside the old one; at the end it moves the old
file into the new output folder and, in one transaction, adds the ones it made and, once
builds have added a tenth to what the cache kept at its last sweep (`SWEEP_SHARE`), drops the
entries it did not use (all but about one in 20,000, see `BuildCache._used`). The first build,
or one on another file system, moves the new file there instead. A build that fails
before that leaves the old cache as it was. A cache that cannot be read or written is
ignored: it never fails a build. A build that fails with a fault of deckgen's own removes
it, so that a value no check foresaw is never read again. Validated topics are stored as
deckgen.serial writes them.
"""

from __future__ import annotations

import errno
import hashlib
from functools import lru_cache
import json
import os
import re
import shutil
import sqlite3
import stat
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TypeVar, cast

from deckgen.later import Later
from deckgen.model import Bank, CompareRow, Question, Source, Topic, media_name

T = TypeVar("T")

CACHE_FILE = ".deckgen-cache.sqlite"
PENDING_ENTRIES = 1024
PENDING_CHARACTERS = 1 << 20
"""A writable cache keeps what a build made in memory until it holds this many entries or this
many characters of JSON, then writes them to its file. Entries differ a thousandfold in size
(a topic file read holds each of its questions), so the count alone would keep the JSON of a
whole bank's topics in memory at once. A million characters are 1 to 4 MB (Python keeps a
Chinese text in 2 bytes a character); at four million, what waited to be written was the largest
thing a 10,000-card build added at its peak, while the package was written (bench/REPORT.md)."""
SWEEP_SHARE = 0.1
"""How many entries builds may add to a cache after its last sweep, as a share of the entries it
kept then, before a build sweeps it: keeps only the entries it used or made (0: every build
sweeps). Between sweeps a cache only grows, by at most this share; an entry a build replaces
(a block written at a new place, say) is not added. A build that does not sweep keeps every old
entry and adds what it made, without noting, entry by entry, which it used: at 10,000 cards that
noting and the sweep were most of a rebuild's cache step (bench/REPORT.md)."""
_SWEPT = "swept"
"""The cache's note of its last sweep: how many entries it kept then (the note aside), and how
many builds have added since."""
_SCHEMA = "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_MASTER = [
    ("table", "entries", _SCHEMA.replace(" IF NOT EXISTS", "")),
    ("index", "sqlite_autoindex_entries_1", None),
]
"""What `sqlite_master` holds in a cache that deckgen made."""
_CHANGE_TIMES = os.name != "nt"
"""Whether a file's `st_ctime` is its time of change, which every write moves (on Windows it is
the time the file was made): only then can a watch settle the last build's files (`Resident.settle`)."""
RECENT_NS = 3_000_000_000
"""A file changed less than this long ago may change again without moving its times: on a file
system whose times are whole seconds (or two), a second write in the same second, of the same
size, keeps every time the first gave it (git calls such files "racy"). Looked at once it is
older, a file whose size, times and inode stay as they were has not changed since."""


@lru_cache(maxsize=1)
def _salt() -> str:
    """The versions of deckgen and its renderers, and a hash of deckgen's own code (a changed
    renderer invalidates the cache even before a version bump). Read once per process: each
    worker's cache would read every module again."""
    from importlib.metadata import PackageNotFoundError, version

    # Every module and stylesheet, in subpackages too, each with its name: a change to
    # anki/card.css or anki/notes.py changes what a cached entry would hold.
    root = Path(__file__).parent
    code = hashlib.sha256()
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix in (".py", ".css") and p.is_file())
    for name in names:
        data = (root / name).read_bytes()
        code.update(f"{name}\0{len(data)}\0".encode())
        code.update(data)
    # Python's version too: markdown-it reads Unicode character classes from `unicodedata`.
    parts = [f"code={code.hexdigest()[:16]}", f"python={sys.version_info[0]}.{sys.version_info[1]}", f"unicode={unicodedata.unidata_version}"]
    for package in ("deckgen", "markdown-it-py", "mdit-py-plugins", "pygments", "latex2mathml", "genanki", "pyyaml"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=?")
    return ";".join(parts)


def _open(path: Path) -> sqlite3.Connection:
    # A URI connection, so that ATTACH below reads the old cache through a read-only URI.
    db = sqlite3.connect(path.resolve().as_uri(), uri=True, timeout=1.0, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    return db


class BuildCache:
    """The entries of the last build's cache, and the ones this build used or made (which a
    writable cache keeps for the next build)."""

    def __init__(self, out_dir: Path | None, *, writable: bool = True, keep_made: bool = True, resident: Resident | None = None) -> None:
        """The cache of the build folder `out_dir`. One that is not `writable` reads that folder's
        cache and keeps what it makes in memory, for this process only (a worker's, whose `made`
        the build takes in), or not at all if not `keep_made` (`check`'s: it reads back nothing
        it made, tests/test_parallel.py counts that, and holding it all was most of what
        `check --locked` held); with no `out_dir` too, it starts empty. `resident` holds what
        `decoded` read in the builds before this one, in a process that builds again and again."""
        self.path = (out_dir or Path(".")) / CACHE_FILE
        self.resident = resident
        self.writable = writable and out_dir is not None
        self.keep_made = keep_made or self.writable
        self.salt = _salt()
        self._keys: dict[tuple[str, str], _TopicKeys] = {}
        """The keys of each topic's questions (`question_key`), by language and topic id."""
        self._sources: dict[str, str] = {}
        self._contents: dict[int, tuple[Topic, bytes]] = {}
        """What each topic's questions hold (`content`), by the topic's identity, with the topic."""
        self._old: sqlite3.Connection | None = None
        self._new: sqlite3.Connection | None = None
        self._new_path: Path | None = None
        self._temporary: list[Path] = []
        """Files this build made and has not yet moved into place: removed if it fails."""
        self._used = _Seen()
        """The keys of the last build's entries that this build used, which `save` keeps when it
        sweeps: none without a last build's cache, which then has nothing to keep, in a cache
        that is not writable, which keeps nothing, or in a build that does not sweep, which
        keeps every old entry. Of the old entries it did not use, about one in 20,000 is kept
        too at 100,000 keys used: keyed by what it depends on, it is as true as any entry, and a
        later build that does not use it drops it."""
        self._swept: tuple[int, int] | None = None
        """The old cache's note of its last sweep (`_SWEPT`): how many entries it kept then, and
        how many builds added since; None without one that agrees with the cache, and then this
        build sweeps."""
        self._made = _Seen()
        """The keys this build made: only those are looked for in the new cache file."""
        self._pending: dict[str, str] = {}
        self._pending_characters = 0
        self._handed: dict[str, str] = {}
        """In a cache that is not writable, what workers handed over (`put_json` with `handed`),
        given up once read: `check` reads each once, and holding it all to the end was check's
        peak on both cores (bench/REPORT.md). Read again, a value is made again, as on any miss."""
        self._failed = False
        self._old_files = _OpenFiles()
        """The last build's output files that blocks are read back from."""
        self._wrote: dict[str, list[Part]] = {}
        """The parts this build wrote, by output file (`wrote_parts`), with a `resident` store."""
        self._where: dict[str, Where] = {}
        """Where this build wrote each block, by its key (`wrote_parts`), with a `resident` store."""
        self._moved: tuple[Path, Path] | None = None
        """Where `save` moved the old cache to, and from."""
        self._old_uri: str | None = None
        """Where `_old` was opened from."""
        try:
            if out_dir is not None and self.path.is_file() and not self.path.is_symlink():  # a link's file is not the folder's
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                old = sqlite3.connect(uri, uri=True, timeout=1.0)
                row = old.execute("SELECT value FROM entries WHERE key = 'salt'").fetchone()
                if row is not None and row[0] == json.dumps(self.salt):
                    self._old = old
                    self._old_uri = uri
                    self._swept = _sweep_note(old)
                else:
                    old.close()
        except (OSError, sqlite3.Error):
            self._old = None

    def _writer(self) -> sqlite3.Connection | None:
        """The new cache file, made beside the old one on the first write; none for a cache that
        is not writable, whose entries then stay in memory."""
        if self._new is None and not self._failed and self.writable:
            try:
                # Beside the old cache when the build folder exists; a build must not make
                # its folder before it knows it will write there.
                # Beside the output folder, named as deckgen.outdir's leftovers are: a killed
                # build's file is removed by the next build, and never lies in the live folder.
                out = Path(os.path.abspath(self.path.parent))
                folder = out.parent if out.parent.is_dir() else None
                fd, name = tempfile.mkstemp(prefix=f".{out.name}.new-cache-", suffix=".tmp", dir=folder)
                os.close(fd)
                self._new_path = Path(name)
                self._temporary.append(self._new_path)
                self._new = _open(self._new_path)
                self._new.execute(_SCHEMA)
                self._new.execute("BEGIN")
            except (OSError, sqlite3.Error):
                self._discard()
        return self._new

    def get(self, key: str) -> Any:
        """A cached value, from the last build (it is kept for the next) or made earlier in
        this one; None if there is none."""
        try:
            if key in self._pending:
                return json.loads(self._pending[key])
            handed = self._handed.pop(key, None)
            if handed is not None:
                return json.loads(handed)
            # What this build made, then the last build's: a value made again replaces the old one.
            for db in (self._new, self._old) if key in self._made else (self._old,):
                row = db.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone() if db is not None else None
                if row is not None:
                    break
            value = json.loads(row[0]) if row is not None else None
        except (sqlite3.Error, ValueError, TypeError, RecursionError):
            return None
        if value is not None and db is self._old:
            self._keep((key,))
        return value

    def decoded(self, key: str, where: object, decode: Callable[[Any], T]) -> T | None:
        """The value cached under `key` as `decode` reads it (`where` is all else it reads: a
        path), or None when there is none or `decode` refuses it (KeyError, TypeError, ValueError
        or RecursionError). `decode` must make a frozen value: the resident store, when the
        cache has one, hands the very same value to every later build that asks."""
        if self.resident is not None:
            value = self.resident.get((key, where))
            if value is not None:
                self._keep((key,))
                return cast(T, value)
        data = self.get(key)
        if data is None:
            return None
        try:
            value = decode(data)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError):
            return None
        if self.resident is not None and value is not None:
            self.resident.put((key, where), value)
        return value

    def refuse(self, key: str, where: object) -> None:
        """Say that the value `decoded` gave for `key` and `where` was refused by its reader
        (it checks what decoding cannot): a later build reads the file, not that value."""
        if self.resident is not None:
            self.resident.drop((key, where))

    def memo(self, key: str, compute: Callable[[], T], decode: Callable[[Any], T | None], encode: Callable[[T], Any] | None = None) -> T:
        """The value cached under `key` as `decode` reads it, or else `compute()`, which is then
        cached (as `encode` writes it, by default as it is). Whatever the cache holds, a value that
        cannot be read or that `decode` refuses (None, or an error) is a miss, never a failed build."""
        cached = self.get(key)
        if cached is not None:
            try:
                value = decode(cached)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError):
                value = None
            if value is not None:
                return value
        value = compute()
        self.put(key, value if encode is None else encode(value))
        return value

    def fragment(
        self,
        kind: str,
        parts: object,
        kept: Iterable[str],
        compute: Callable[[], T],
        decode: Callable[[Any], T | None],
        encode: Callable[[T], Any] | None = None,
        *,
        keep_decoded: bool = False,
    ) -> T:
        """`memo` for what is made of many cached values (a topic's part of an output), under a
        hash of `parts`, which must name everything it shows: the key of each question in it
        (`question_key`), and whatever else it reads. The entries it is made of, `kept`, stay in
        the cache when it is found there, so that an edit to one question of the topic renders
        that question again, not the others. A small value that a process which builds again
        and again is to keep as decoded (`decoded`) is asked for with `keep_decoded`: `decode`
        must then make it frozen (tuples, not lists)."""
        key = self.fragment_key(kind, parts)
        if keep_decoded:
            found = self.decoded(key, None, decode)
            value = compute() if found is None else found
            if found is None:
                self.put(key, value if encode is None else encode(value))
        else:
            value = self.memo(key, compute, decode, encode)
        self._keep(kept)
        return value

    @staticmethod
    def fragment_key(kind: str, parts: object) -> str:
        """The key `fragment` keeps the value of that `kind` made of `parts` under."""
        return f"{kind}:{parts_digest(parts)}"

    def blocks(self, kinds: Sequence[str], parts: object, kept: Iterable[str], make: Callable[[], list[list[str]]]) -> list[Block]:
        """Parts of output files made of many cached values (a topic's part of each sheet), one of
        each of `kinds`, all made by `make` as lines: read back from the files the last build wrote
        when every one of them is there, byte for byte as written, else made. `parts` must name
        everything they show (see `fragment`); `kept` are the entries they are made of."""
        digest = parts_digest(parts)
        keys = [f"{kind}:{digest}" for kind in kinds]
        found: list[Block] = []
        for key in keys:
            block = self._written(key)
            if block is None:
                return [Block.made(key, lines) for key, lines in zip(keys, make())]
            found.append(block)
        self._keep(kept)
        return found

    def block(self, kind: str, parts: object, kept: Iterable[str], make: Callable[[], list[str]]) -> Block:
        """One of `blocks`."""
        return self.blocks([kind], parts, kept, lambda: [make()])[0]

    def text_block(self, kind: str, parts: object, kept: Iterable[str], make: Callable[[], str]) -> Block:
        """A `block` that is text, not lines (a topic's part of the site's search index)."""
        key = f"{kind}:{parts_digest(parts)}"
        block = self._written(key)
        if block is None:
            return Block.of(key, make().encode("utf-8"))
        self._keep(kept)
        return block

    def whole(self, kind: str, parts: object, name: str, path: Path, write: Callable[[Path], Later | None]) -> Later | None:
        """Write the output file `name` (at `path`), which is made of `parts` alone (they must name
        every byte it holds): a copy of the file that the last build wrote, when it is there as
        written (see `blocks`), else by `write`; what `write` leaves to a second thread is
        returned, with the file's hash after it (see `deckgen.later`)."""
        key = f"{kind}:{parts_digest(parts)}"
        block = self._written(key)
        if block is not None:
            block.write_to(path)
            self.wrote(name, block, 0)
            return None
        # The file's size and SHA-256, read a megabyte at a time: a package is not held whole.
        found: list[tuple[int, str]] = []

        def hashed() -> None:
            found.append(file_digest(path))

        def remembered() -> None:
            size, sha256 = found[0]
            self._remember(name, key, 0, size, sha256)

        later = write(path)
        if later is None:
            Later(hashed, remembered).now()
            return None
        return later.followed_by(hashed, remembered)

    def wrote(self, name: str, block: Block, at: int) -> None:
        """Remember that this build wrote `block` at byte `at` of its output file `name` (its path
        in the output folder, with `/`), where the next build reads it back."""
        self._remember(name, block.key, at, block.size, block.sha256)

    def _remember(self, name: str, key: str, at: int, size: int, sha256: str) -> None:
        self.put(_BLOCK + key, {"file": name, "at": at, "size": size, "sha256": sha256})
        if self.resident is not None:  # only a watch settles them (`Resident.built`)
            part = (at, size, sha256)
            self._wrote.setdefault(name, []).append(part)
            self._where[key] = Where(name, tuple(name.split("/")), part)

    def wrote_parts(self) -> tuple[dict[str, list[Part]], dict[str, Where]]:
        """Every part this build wrote into its output files (`wrote`), by file, and where it
        wrote each block, by its key: in a build with a `resident` store, the only one that asks."""
        return self._wrote, self._where

    def _written(self, key: str) -> Block | None:
        """The block `key` from the file the last build wrote it to, if it is there as
        written: a regular file in the output folder, reached through no link, with the same bytes
        (size and hash) in the same place. None otherwise, whatever the entry or the folder holds."""
        if self._old is None:
            return None
        if self.resident is not None:
            block = self._settled_block(key)
            if block is not None:
                return block
        try:
            row = self._old.execute("SELECT value FROM entries WHERE key = ?", (_BLOCK + key,)).fetchone()
            where = json.loads(row[0]) if row is not None else None
        except (sqlite3.Error, ValueError, TypeError, RecursionError):
            return None
        if not (isinstance(where, dict) and isinstance(where.get("file"), str) and isinstance(where.get("sha256"), str)):
            return None
        at, size, name = where.get("at"), where.get("size"), where["file"]
        if not (isinstance(at, int) and isinstance(size, int) and at >= 0 and size >= 0):
            return None
        parts = tuple(name.split("/"))
        if not all(_FILE_NAME.fullmatch(part) for part in parts):
            return None
        settled = self.resident.settled(name, (at, size, where["sha256"])) if self.resident is not None else None
        if settled is not None:
            # Checked byte for byte while the watch waited, and unchanged since: taken unread.
            source = self._old_files.source(self.path.parent, parts, at, size, settled, where["sha256"])
            if source is not None:
                self._keep((_BLOCK + key,))
                return Block(key, None, where["sha256"], size, source.whole_file(), source)
        data = self._old_files.read(self.path.parent, parts, at, size)
        digest = hashlib.sha256(data).hexdigest() if data is not None else None
        if data is None or digest != where["sha256"]:
            return None
        self._keep((_BLOCK + key,))
        return Block(key, data, where["sha256"], size, self._old_files.whole_file(self.path.parent, parts, at, size))

    def _settled_block(self, key: str) -> Block | None:
        """The block `key` taken unread from where the last build that succeeded in this process
        wrote it, as its cache entry says (`Resident.where`), in a file that `Resident.settle` has
        checked and that is unchanged since; else None."""
        assert self.resident is not None
        where = self.resident.where(key)
        settled = None if where is None else self.resident.settled(where.name, where.part)
        if where is None or settled is None:
            return None
        at, size, sha256 = where.part
        source = self._old_files.source(self.path.parent, where.parts, at, size, settled, sha256)
        if source is None:
            return None
        self._keep((_BLOCK + key,))
        return Block(key, None, sha256, size, source.whole_file(), source)

    def _keep(self, keys: Iterable[str]) -> None:
        """Keep the last build's entries `keys` (if it has them) for the next build: in a build
        that sweeps (`sweeps`), where the others are dropped."""
        if self._old is not None and self.writable and self.sweeps:
            self._used.update(keys)

    @property
    def sweeps(self) -> bool:
        """Whether this build drops the old entries it does not use when it saves the cache: when
        builds have added `SWEEP_SHARE` of the entries it kept at its last sweep, or the cache
        has no note of it that agrees with it."""
        return self._swept is None or _due(self._swept)

    def has(self, key: str) -> bool:
        """Whether the cache holds a value under `key` (which `get` may yet refuse; in a cache
        that is not writable, the `get` that reads what workers handed over gives it up)."""
        if key in self._pending or key in self._handed:
            return True
        try:
            dbs = (self._new, self._old) if key in self._made else (self._old,)
            return any(db.execute("SELECT 1 FROM entries WHERE key = ?", (key,)).fetchone() is not None for db in dbs if db is not None)
        except sqlite3.Error:
            return False

    def present(self, keys: list[str]) -> set[str]:
        """Which of `keys` the cache holds a value under: `has` for many keys, in a few queries."""
        found = {key for key in keys if key in self._pending or key in self._handed}
        try:
            for db in [db for db in (self._new, self._old) if db is not None]:
                rest = [key for key in keys if key not in found and (db is self._old or key in self._made)]
                for start in range(0, len(rest), 500):
                    chunk = rest[start : start + 500]
                    query = f"SELECT key FROM entries WHERE key IN ({','.join('?' * len(chunk))})"
                    found.update(row[0] for row in db.execute(query, chunk))
        except sqlite3.Error:
            pass
        return found

    def left_in_last_build(self, wanted: dict[str, list[str]]) -> tuple[LastBuild, set[str]] | None:
        """Which of the `wanted` keys a forked process (`deckgen.later.forked`) may read from the
        last build's cache file (`LastBuild`) rather than have this build read them: those that
        file holds and this build has not made again. Each of them, and the entries its value is
        made of (`wanted[key]`), are kept for the next build as if this build had read them. None
        without a last build's cache."""
        if self._old is None or self._old_uri is None:
            return None
        unmade = [key for key in wanted if key not in self._made and key not in self._pending and key not in self._handed]
        found = self.present(unmade)
        for key in found:
            self._keep((key, *wanted[key]))
        return LastBuild(self._old_uri, json.dumps(self.salt)), found

    def put(self, key: str, value: Any) -> None:
        """Remember a value for the rest of this build and for the next one."""
        self.put_json(key, json.dumps(value, ensure_ascii=False))

    def put_json(self, key: str, text: str, *, handed: bool = False) -> None:
        """`put` a value that is already JSON: what another process's cache made (`made`), which
        is `handed` over. A cache that is not writable gives that up once it is read."""
        if self._failed:
            return
        if handed and not self.writable:
            self._handed[key] = text
            return
        if not self.keep_made:  # only a cache that is not writable keeps nothing it made
            return
        if self.writable:  # only a writable cache has a file to look for them in
            self._made.add(key)
        self._pending[key] = text
        self._pending_characters += len(text)
        if (len(self._pending) >= PENDING_ENTRIES or self._pending_characters >= PENDING_CHARACTERS) and self.writable:
            self._flush()

    def made(self) -> list[tuple[str, str]]:
        """What this cache made and still holds in memory, as JSON: all of it, for one that is not writable."""
        return list(self._pending.items())

    def _flush(self) -> None:
        db = self._writer()
        if db is None:
            return
        try:
            db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)", self._pending.items())
            self._pending.clear()
            self._pending_characters = 0
        except sqlite3.Error:
            self._discard()

    def save(self, target: Path | None = None) -> None:
        """Keep the entries this build used or made, and (when it `sweeps`) drop the rest, in
        `target` (by default where the cache was read from); best effort, as a cache must never
        fail a build.

        With an old cache, its file is moved to `target` and brought up to date in place, in one
        transaction, so that a rebuild writes what changed rather than every entry again."""
        target = self.path if target is None else target
        self._old_files.close()
        self.put("salt", self.salt)
        self._flush()
        try:
            if self._new is None or self._new_path is None:
                return
            if self._old is None:
                self._note_sweep(self._new, 0)
            self._new.execute("COMMIT")
            self._new.close()
            self._new = None
            if self._old is not None:
                self._old.close()  # before its file is moved (Windows cannot move an open file)
                self._old = None
                if self._update_in_place(target):
                    return
                self._copy_used()
            self._move_new(target)
        except (OSError, sqlite3.Error):
            pass
        finally:
            self._discard()

    def _update_in_place(self, target: Path) -> bool:
        """Move the old cache to `target` and, in one transaction, drop what this build did not use
        (see `_used`) and add what it made; whether it did. A file system that cannot move it
        there leaves it where it was; a transaction that fails is rolled back, and the file moved
        back."""
        made = self._new_path
        assert made is not None
        moved = os.path.abspath(target) != os.path.abspath(self.path)
        try:
            if moved:
                os.rename(self.path, target)  # beside the old folder, so on its file system
        except OSError:
            return False
        db: sqlite3.Connection | None = None
        try:
            # A rollback journal (not _open's none), so that a failed update leaves the file whole.
            db = sqlite3.connect(Path(os.path.abspath(target)).as_uri(), uri=True, timeout=1.0, isolation_level=None)
            db.execute("PRAGMA synchronous=OFF")
            # Only a file as deckgen writes it is kept: not one that another program put in WAL
            # mode (which `check` would then write beside) or gave another table or a trigger.
            mode = db.execute("PRAGMA journal_mode=DELETE").fetchone()
            if mode != ("delete",) or db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() != _MASTER:
                raise sqlite3.DatabaseError("not a cache as deckgen writes it")
            db.execute("BEGIN IMMEDIATE")
            # What this build made is added below, whether or not the old cache held it too.
            if self.sweeps:
                self._used_function(db)
                db.execute("DELETE FROM entries WHERE NOT deckgen_used(CAST(key AS BLOB))")
            db.execute("ATTACH DATABASE ? AS made", (f"{made.resolve().as_uri()}?mode=ro",))
            added = _added(db, "made.entries", "main.entries")
            db.execute("INSERT OR REPLACE INTO main.entries SELECT key, value FROM made.entries")
            self._note_sweep(db, added)
            db.execute("COMMIT")
            db.execute("DETACH DATABASE made")
            db.close()
        except sqlite3.Error:
            try:
                if db is not None:
                    db.close()  # an unfinished transaction is rolled back
                if moved:
                    os.rename(target, self.path)
            except (OSError, sqlite3.Error):
                pass
            return False
        made.unlink(missing_ok=True)
        self._temporary.remove(made)
        self._new_path = None
        self._moved = (Path(target), self.path) if moved else None
        return True

    def give_back(self) -> None:
        """Move the saved cache back to the old output folder, for a build whose new folder could
        not take the place of the old one: the old folder keeps a cache (this build's, which is as
        good: every entry is keyed by what it depends on)."""
        if self._moved is not None:
            saved, home = self._moved
            self._moved = None
            try:
                os.rename(saved, home)
            except OSError:
                pass

    def _used_function(self, db: sqlite3.Connection) -> None:
        """Let `db`'s SQL ask `deckgen_used(CAST(key AS BLOB))`: whether this build used the old
        entry `key`. As bytes, so that a key that is not UTF-8 (a cache file that deckgen did not
        write) is asked about as any other, and not used, where its text would fail the query."""

        def used(key: bytes | None) -> bool:
            return key is not None and key.decode("utf-8", "surrogateescape") in self._used

        db.create_function("deckgen_used", 1, used, deterministic=True)

    def _copy_used(self) -> None:
        """Copy the old cache's entries that this build used into the new file: every one, in a
        build that does not sweep."""
        if self._new_path is None:
            return
        db = _open(self._new_path)
        try:
            db.execute("BEGIN")
            db.execute("ATTACH DATABASE ? AS old", (f"{self.path.resolve().as_uri()}?mode=ro",))
            added = _added(db, "main.entries", "old.entries")
            if not self.sweeps:
                db.execute("INSERT OR IGNORE INTO main.entries SELECT key, value FROM old.entries")
            elif not self._used.empty:
                self._used_function(db)
                db.execute("INSERT OR IGNORE INTO main.entries SELECT key, value FROM old.entries WHERE deckgen_used(CAST(key AS BLOB))")
            self._note_sweep(db, added)
            db.execute("COMMIT")
        finally:
            db.close()

    def _note_sweep(self, db: sqlite3.Connection, added: int) -> None:
        """Write the saved cache's note of its last sweep into `db` (the saved cache, in a
        transaction), where this build added `added` entries to the old cache: after a sweep (or
        into a new cache), how many entries it keeps; else the old note, with those added."""
        if self.sweeps or self._swept is None:
            note = [db.execute("SELECT count(*) FROM main.entries WHERE key != ?", (_SWEPT,)).fetchone()[0], 0]
        else:
            note = [self._swept[0], self._swept[1] + added]
        db.execute("INSERT OR REPLACE INTO main.entries VALUES (?, ?)", (_SWEPT, json.dumps(note)))

    def _move_new(self, target: Path) -> None:
        """Move the new cache file, which holds every entry this build keeps, to `target`."""
        made = self._new_path
        assert made is not None
        try:
            os.replace(made, target)
        except OSError:
            try:
                shutil.copyfile(made, target)  # another file system; the target is not live yet
            except OSError:
                target.unlink(missing_ok=True)  # a half-copied cache would only be read again to be refused
                raise
            made.unlink(missing_ok=True)
        self._temporary.remove(made)
        self._new_path = None

    def _discard(self) -> None:
        """Close everything and remove the unfinished new file (a failed build keeps the old cache);
        the cache is then off for the rest of the build."""
        self._failed = True
        self._old_files.close()
        self._pending.clear()
        self._pending_characters = 0
        self._handed.clear()
        self._made = _Seen()
        for db in (self._old, self._new):
            if db is not None:
                try:
                    db.close()
                except sqlite3.Error:
                    pass
        self._old = self._new = None
        self._new_path = None
        for path in self._temporary:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
        self._temporary.clear()

    def close(self) -> None:
        """Give up this build's entries (the build failed): the old cache stays as it was."""
        self._discard()

    def forget(self) -> None:
        """Give up this build's entries and remove the old cache too, so that the next build
        starts cold: for a build that failed in a way no check of a cached value foresaw."""
        self._discard()
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass

    def question_key(self, bank: Bank, topic: Topic, question: Question) -> str:
        """What a question's rendering depends on, hashed; its place in the files is not part of it."""
        table = self._topic_keys(bank, topic)
        index = table.places.get(question.id)
        if index is None or table.questions[index] is not question:
            return self._key(bank, topic, question, _content_digest(question))  # not one of the topic's own (never so today)
        return table.keys[index]

    def topic_keys(self, bank: Bank, topic: Topic) -> tuple[str, ...]:
        """The `question_key` of each of the topic's questions, live then retired, in order."""
        return self._topic_keys(bank, topic).keys

    def _topic_keys(self, bank: Bank, topic: Topic) -> _TopicKeys:
        """The keys of a topic's questions, made once a build for each edition's topic. In a
        process that builds again and again, they are kept with the topic (`derived`) under what
        else they read: the sources its questions cite, its images' packed names, the deck's
        homepage and language. A topic read again from a file that did not change, and around
        which nothing changed, is not hashed again; a rebuild asks for every question's key."""
        language = bank.deck.language  # each edition renders the question in its own language
        found = self._keys.get((language, topic.id))
        if found is not None and found.topic is topic:
            return found
        questions = (*topic.questions, *topic.retired)
        # Asked for at every build, so that it is kept while the topic is: an edit to what is
        # around the topic (a cited source's title) then does not hash its questions again.
        every = self.derived("question-content", (topic,), None, lambda: self.content(topic))

        def make() -> _TopicKeys:
            keys = tuple(self._key(bank, topic, q, every[32 * i : 32 * i + 32]) for i, q in enumerate(questions))
            return _TopicKeys(topic, questions, keys, {q.id: i for i, q in enumerate(questions)})

        if self.resident is None:
            table = make()
        else:
            cited = self.derived("cited-sources", (topic,), None, lambda: tuple(dict.fromkeys(s for q in questions for s in q.sources)))
            images = tuple((target, media_name(path)) for q in questions for target, path in q.images)
            around = (language, bank.deck.homepage, tuple(self._source_part(bank, s) for s in cited), images)
            table = self.derived("question-keys", (topic,), around, make)
        self._keys[(language, topic.id)] = table
        return table

    def content(self, topic: Topic) -> bytes:
        """A hash of what each of the topic's questions holds that renders it (`_content_digest`),
        live then retired, 32 bytes each: made once a build, unless the topic came from this
        cache, which keeps them with it (`knows_content`)."""
        found = self._contents.get(id(topic))
        if found is not None and found[0] is topic:
            return found[1]
        made = b"".join(_content_digest(q) for q in (*topic.questions, *topic.retired))
        self._contents[id(topic)] = (topic, made)
        return made

    def knows_content(self, topic: Topic, content: bytes) -> None:
        """Take `content` for `content(topic)`: what a topic read back from this cache was stored
        with (it is made of the topic alone), or what a topic whose questions hold the same was
        given. It must be 32 bytes a question."""
        if len(content) != 32 * (len(topic.questions) + len(topic.retired)):
            raise ValueError("not a hash for each question")
        self._contents[id(topic)] = (topic, content)

    def moves_content(self, old: Topic, new: Topic) -> None:
        """Give `new`, whose questions hold what `old`'s hold, the hashes of `old`'s (`content`),
        and let `old` go: the build keeps only `new`."""
        content = self.content(old)
        del self._contents[id(old)]
        self.knows_content(new, content)

    def _key(self, bank: Bank, topic: Topic, question: Question, content: bytes) -> str:
        """A question's key, given the hash of what it holds (`_content_digest`)."""
        language = bank.deck.language
        sources = tuple(self._source_part(bank, s) for s in question.sources)
        images = tuple((target, media_name(path)) for target, path in question.images)
        blob = repr((content.hex(), topic.title, sources, images, bank.deck.homepage, *((language,) if language != "en" else ())))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def derived(self, kind: str, owners: tuple[object, ...], around: Hashable, make: Callable[[], T]) -> T:
        """`make()`, which must read nothing but `owners` (frozen values) and `around` (small and
        hashable: what else it depends on). In a process that builds again and again (`deckgen
        watch`), it is kept from one build to the next under `kind`, the owners themselves and
        `around` (see `Resident.derived`): what a build reads again from a file that did not
        change is the same object, and what is made of it is not made again."""
        if self.resident is None:
            return make()
        return self.resident.derived(kind, owners, around, make)

    def digest(self, kind: str, owners: tuple[object, ...], around: Hashable, parts: Callable[[], object]) -> Digest:
        """`parts_digest(parts())`, kept from one build to the next as `derived` keeps a value
        (`parts()` must read nothing but `owners` and `around`), for `fragment` and `blocks` to
        use as their parts."""
        return Digest(self.derived(kind, owners, around, lambda: parts_digest(parts())))

    def topic_digest(
        self, kind: str, bank: Bank, topic: Topic, questions: Sequence[Question], around: Hashable, parts: Callable[[tuple[str, ...]], object]
    ) -> tuple[tuple[str, ...], Digest]:
        """The keys of `questions`, some of the topic's (`question_key`), and the digest of
        `parts(keys)`: what a topic's part of an output shows, for `fragment` and `blocks`, which
        must read nothing but the topic, those keys and `around` (small and hashable: all else
        it shows). In a process that builds again and again, the digest is kept while they are
        all unchanged (`digest`): a rebuild does not hash again what each topic's part shows."""
        own = topic.questions
        if len(questions) <= len(own) and all(a is b for a, b in zip(questions, own)):
            keys = self.topic_keys(bank, topic)[: len(questions)]
        else:
            keys = tuple(self.question_key(bank, topic, q) for q in questions)
        return keys, self.digest(kind, (topic,), (keys, around), lambda: parts(keys))

    def _source_part(self, bank: Bank, source_id: str) -> str:
        part = self._sources.get(source_id)
        if part is None:
            source = bank.source(source_id)
            part = self._sources[source_id] = repr(tuple(getattr(source, name) for name in _SOURCE_CONTENT))
        return part


@dataclass(frozen=True)
class LastBuild:
    """The last build's cache file, for a forked process (`deckgen.later.forked`) to read by a
    connection of its own: a connection does not cross a fork. The build that forked it never
    writes that file (what it makes goes to a new one), and replaces it only once every process
    it forked has ended."""

    uri: str
    salt: str
    """The salt the build found in it, as stored (`BuildCache.salt`)."""

    def reader(self) -> Callable[[str], Any]:
        """A `BuildCache.get` of that file's entries alone, opened now: None for a key it does not
        hold or cannot read, as for a file it cannot open or that has another salt (another
        program put another file in its place). The process that calls it never closes it: it
        ends without running anything of the build's."""
        connection: sqlite3.Connection | None = None
        try:
            opened = sqlite3.connect(self.uri, uri=True, timeout=1.0)
            if opened.execute("SELECT value FROM entries WHERE key = 'salt'").fetchone() == (self.salt,):
                connection = opened
        except sqlite3.Error:
            pass

        def get(key: str) -> Any:
            if connection is None:
                return None
            try:
                row = connection.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
                return json.loads(row[0]) if row is not None else None
            except (sqlite3.Error, ValueError, TypeError, RecursionError):
                return None

        return get


def file_digest(path: Path) -> tuple[int, str]:
    """The size and the SHA-256 (in hex) of the file at `path`, read a megabyte at a time."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class Resident:
    """Values read back from the cache that a process which builds again and again (`deckgen
    watch`) keeps from one build to the next, so that what an edit did not touch is not decoded
    again: frozen values only, each under its cache key and what else its reading depended on.
    Each is true for as long as the process runs, since the key names all it depends on and the
    salt (deckgen's code) does not change within one. What neither the last build nor the last
    that succeeded asked for is dropped after each (`sweep`): at most two builds' worth.

    It also keeps what builds make of those values alone (`derived`): the hashes of a topic's
    questions, a topic's part of a cache key, an edition's topic made of its translation and its
    English, each under the very objects it was made of."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, object], object] = {}
        self._derived: dict[tuple[str, object], _Derived] = {}
        """What `derived` keeps, apart from the values read back (its keys start with `=`)."""
        self._asked: set[tuple[str, object]] = set()
        self._last: set[tuple[str, object]] = set()
        """What the last build that succeeded asked for."""
        self._wrote: dict[str, frozenset[Part]] = {}
        """The parts of its output files the last build that succeeded wrote, by file (`built`)."""
        self._where: dict[str, Where] = {}
        """Where it wrote each block, by its key (`built`)."""
        self._settled: dict[str, tuple[_Origin, frozenset[Part]]] = {}
        """The files of those whose parts `settle` found as written, as it found them, with the parts."""
        self._refused: dict[str, _Origin] = {}
        """The files of those whose parts `settle` did not find as written, as it found them."""
        self._own: dict[object, object] = {}
        """What `own` keeps, by its type."""

    def __len__(self) -> int:
        """How many values read back from the cache it holds."""
        return len(self._values)

    def count(self, *kinds: str) -> int:
        """How many values read back from the cache it holds under keys of these `kinds` (what
        starts a key, before its first colon: `topic`, `note-hashes-topic`)."""
        return sum(key.partition(":")[0] in kinds for key, _ in self._values)

    @property
    def derived_count(self) -> int:
        """How many values made of others (`derived`) it holds."""
        return len(self._derived)

    def get(self, key: tuple[str, object]) -> object | None:
        """The value kept under `key`, if any."""
        value = self._values.get(key)
        if value is not None:
            self._asked.add(key)
        return value

    def put(self, key: tuple[str, object], value: object) -> None:
        """Keep `value` under `key`."""
        self._values[key] = value
        self._asked.add(key)

    def derived(self, kind: str, owners: tuple[object, ...], around: Hashable, make: Callable[[], T]) -> T:
        """What `make()` made of `owners` and `around` (see `BuildCache.derived`), kept since the
        last build or the last that succeeded asked for it; else `make()`, kept. Kept under the
        owners' identities and held with them, so that no other object can take an identity
        while its entry is kept; a value made of an object read again (a file that changed) is
        never found."""
        key = ("=" + kind, (tuple(id(owner) for owner in owners), around))
        found = self._derived.get(key)
        if found is not None and len(found.owners) == len(owners) and all(a is b for a, b in zip(found.owners, owners)):
            self._asked.add(key)
            return cast(T, found.value)
        value = make()
        self._derived[key] = _Derived(owners, value)
        self._asked.add(key)
        return value

    def own(self, kind: Callable[[], T]) -> T:
        """The one `kind()` that this process keeps from build to build: a step's own memo,
        whose values are true for as long as the process runs (the lock's lines, `LockLines`)."""
        found = self._own.get(kind)
        if found is None:
            found = self._own[kind] = kind()
        return cast(T, found)

    def drop(self, key: tuple[str, object]) -> None:
        """Forget the value under `key`: its reader refused it, and reads the file instead."""
        self._values.pop(key, None)

    def sweep(self, succeeded: bool) -> None:
        """After a build: drop every value that neither it nor the last build that succeeded
        asked for (a file edited since, or removed), so that the store holds at most two builds'
        worth, however many fail in a row."""
        keep = self._asked if succeeded else self._asked | self._last
        self._values = {key: value for key, value in self._values.items() if key in keep}
        self._derived = {key: value for key, value in self._derived.items() if key in keep}
        if succeeded:
            self._last = self._asked
        self._asked = set()

    def clear(self) -> None:
        """Drop every value: after a build that failed in a way no check foresaw (see `BuildCache.forget`)."""
        self._values = {}
        self._derived = {}
        self._asked = set()
        self._last = set()
        self._own = {}
        self.built(({}, {}))

    def built(self, wrote: tuple[dict[str, list[Part]], dict[str, Where]]) -> None:
        """After a build that succeeded: the parts it wrote into its output files, by file (its
        path in the output folder, with `/`), none of them settled yet; and where it wrote each
        block, by its key (`BuildCache.wrote_parts`)."""
        self._wrote = {name: frozenset(parts) for name, parts in wrote[0].items()}
        self._where = wrote[1]
        self.settle_again()

    def where(self, key: str) -> Where | None:
        """Where the last build that succeeded wrote the block `key`, as its cache entry says."""
        return self._where.get(key)

    def settle_again(self) -> None:
        """Settle the last build's files again (`settle`): after a build that failed, which may
        have linked them and so moved their times of change, but left them as they were."""
        self._settled = {}
        self._refused = {}

    def settle(self, root: Path, now_ns: int | None = None, budget: float | None = None) -> int:
        """Check, byte for byte, the parts the last build that succeeded wrote into its output
        folder `root`, in each of its files that has not changed for `RECENT_NS` (at `now_ns`,
        else now by the clock of the file system that holds the folder, which gave the files
        their times): a file that holds them all as written is settled as it was found (its
        size, times, inode and owner), and the next build takes its parts unread while it
        stays so (`settled`). Any later change to the file moves its time of change past the
        one recorded, which was already `RECENT_NS` old. For a process that waits between
        builds (`deckgen watch`), for about `budget` seconds at a time if given (one file at
        least, checked whole); a file is checked once, however often this is called. The number
        of files settled so far."""
        left = [name for name in self._wrote if name not in self._settled]
        now = None if not left or not _CHANGE_TIMES else _file_system_now(root) if now_ns is None else now_ns
        if now is None:
            return len(self._settled)
        until = None if budget is None else time.monotonic() + budget
        files = _OpenFiles()
        try:
            for name in left:
                self._settle(files, root, name, self._wrote[name], now)
                if until is not None and time.monotonic() > until:
                    break
        finally:
            files.close()
        return len(self._settled)

    def _settle(self, files: _OpenFiles, root: Path, name: str, parts: frozenset[Part], now: int) -> None:
        path = name.split("/")
        try:
            found = files.opened(root, path)
        except OSError:
            return
        if found is None:
            return
        fd, origin = found
        try:
            # A file with no times cannot show a change by them.
            if not (origin.mtime_ns and origin.ctime_ns) or now - max(origin.mtime_ns, origin.ctime_ns) < RECENT_NS:
                return
            refused = self._refused.get(name)
            if refused is not None and refused.stamp == origin.stamp:
                return
            whole = all(_part_digest(fd, at, size) == sha256 for at, size, sha256 in sorted(parts))
            unchanged = _Origin.of(origin.path, os.fstat(fd)).stamp == origin.stamp
        except OSError:
            return
        finally:
            os.close(fd)
        if whole and unchanged:
            self._settled[name] = (origin, parts)
        else:
            self._refused[name] = origin

    def settled(self, name: str, part: Part) -> _Origin | None:
        """The output file `name` as `settle` found it holding `part` as written, if it did."""
        found = self._settled.get(name)
        return found[0] if found is not None and part in found[1] else None


@dataclass(frozen=True)
class _Derived:
    """A value `Resident.derived` keeps, with the objects it was made of."""

    owners: tuple[object, ...]
    value: object


class _Seen:
    """A set of strings that may say a string is in it when it is not, in a fixed megabyte (a
    Bloom filter): whether this build may have made a key, or used an old entry. A key added is
    always found; of the others, about one in 20,000 is too at 100,000 keys added, one in 200 at
    500,000. For the keys made, each costs a query that finds nothing; for the entries used, an
    entry kept one build longer. A set of the keys themselves held 18 MB at 10,000 cards."""

    _BITS = 23  # 2**23 bits: a megabyte
    _MASK = (1 << _BITS) - 1

    def __init__(self) -> None:
        self._bits = bytearray()
        """Empty until a key is added: most caches a build makes (a worker's, `check`'s) never add one."""

    @property
    def empty(self) -> bool:
        """Whether no key was added."""
        return not self._bits

    # Each key sets three bits: three slices of its hash (stable within a process, which is all
    # the set lives). Written out rather than looped over: a rebuild adds and asks about every
    # key of the cache (over 100,000 at 10,000 cards).

    def add(self, key: str) -> None:
        self.update((key,))

    def update(self, keys: Iterable[str]) -> None:
        """Add each of `keys`."""
        bits, mask, second, third = self._bits, self._MASK, self._BITS, 64 - self._BITS
        if not bits:
            bits = self._bits = bytearray(1 << (self._BITS - 3))
        for key in keys:
            code = hash(key)
            at = code & mask
            bits[at >> 3] |= 1 << (at & 7)
            at = (code >> second) & mask
            bits[at >> 3] |= 1 << (at & 7)
            at = (code >> third) & mask
            bits[at >> 3] |= 1 << (at & 7)

    def __contains__(self, key: str) -> bool:
        bits, mask = self._bits, self._MASK
        if not bits:
            return False
        code = hash(key)
        at = code & mask
        if not bits[at >> 3] >> (at & 7) & 1:
            return False
        at = (code >> self._BITS) & mask
        if not bits[at >> 3] >> (at & 7) & 1:
            return False
        at = (code >> (64 - self._BITS)) & mask
        return bool(bits[at >> 3] >> (at & 7) & 1)


def _sweep_note(db: sqlite3.Connection) -> tuple[int, int] | None:
    """A cache's note of its last sweep (`_SWEPT`), or None when it has none that can be read,
    or one that does not agree with the cache: a build that will not sweep checks that the cache
    holds exactly the entries the note counts (the note too), since between sweeps builds only
    add entries. A note edited by hand, or by another program, is then refused, and the build
    sweeps, which writes a true one."""
    try:
        row = db.execute("SELECT value FROM entries WHERE key = ?", (_SWEPT,)).fetchone()
        note = json.loads(row[0]) if row is not None else None
        if not (isinstance(note, list) and len(note) == 2 and all(type(n) is int and 0 <= n < 1 << 53 for n in note)):
            return None
        kept, added = note
        if _due((kept, added)):
            return kept, added  # swept, whatever the cache holds
        if db.execute("SELECT count(*) FROM entries").fetchone()[0] != kept + added + 1:
            return None
    except (sqlite3.Error, ValueError, TypeError, RecursionError):
        return None
    return kept, added


def _due(note: tuple[int, int]) -> bool:
    """Whether a cache with this note of its last sweep is swept by the next build."""
    kept, added = note
    return added >= SWEEP_SHARE * kept


def _added(db: sqlite3.Connection, made: str, old: str) -> int:
    """How many of the entries in the table `made` the table `old` has no entry under."""
    return int(db.execute(f"SELECT count(*) FROM {made} WHERE key NOT IN (SELECT key FROM {old})").fetchone()[0])


@dataclass(frozen=True)
class _TopicKeys:
    """The keys of a topic's questions (`BuildCache.question_key`), with the topic and its
    questions, live then retired, that they were made of, and where each question is among them
    by its id (a question asked about is one of them only if it is the very object there)."""

    topic: Topic
    questions: tuple[Question, ...]
    keys: tuple[str, ...]
    places: dict[str, int]


@dataclass(frozen=True)
class Digest:
    """The `parts_digest` of some parts, made already (`BuildCache.digest`): given as parts, it
    is their digest as it stands."""

    hex: str


def _content_digest(question: Question) -> bytes:
    """A hash of what a question itself holds that renders it: every field but its location
    and the others in `_UNRENDERED`, its compare rows' too."""
    content = tuple(getattr(question, name) for name in _QUESTION_CONTENT)
    rows = tuple(tuple(getattr(row, name) for name in _ROW_CONTENT) for row in question.rows)
    return hashlib.sha256(repr((content, rows)).encode("utf-8")).digest()


def parts_digest(parts: object) -> str:
    """A hash of what a value is made of (a topic's part of an output, see `BuildCache.fragment`;
    what a package is written from): of its `repr`, so `parts` must be made of values whose
    `repr` says all they hold (strings, numbers, None, tuples and lists of them), or a `Digest`."""
    if isinstance(parts, Digest):
        return parts.hex
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


_BLOCK = "block:"
"""What the cache's entries about the blocks that a build wrote start with."""


_LINKS = hasattr(os, "O_NOFOLLOW") and hasattr(os, "geteuid")
"""Whether a file the last build wrote may be linked into the new output folder: only where it
was opened without following a link, and its owner is known."""


@dataclass(frozen=True)
class _Origin:
    """A file of the last build's output folder as it was read back: where, which file, and its
    size, time of change and owner then."""

    path: Path
    device: int
    inode: int
    size: int
    mtime_ns: int
    owner: int
    ctime_ns: int = field(default=0, compare=False)
    """Its time of change, which a link to it moves: compared only in `stamp`."""

    @classmethod
    def of(cls, path: Path, info: os.stat_result) -> _Origin:
        return cls(path, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_uid, info.st_ctime_ns)

    @property
    def stamp(self) -> tuple[int, int, int, int, int, int]:
        """All it was found as, its time of change included: any write moves that time."""
        return (self.device, self.inode, self.size, self.mtime_ns, self.ctime_ns, self.owner)

    def reached_by(self, path: Path) -> bool:
        """Whether the link `path` reaches this very file, unchanged, and nothing else does (a
        file that another name also reaches could be changed through that name)."""
        try:
            found = os.lstat(path)
        except OSError:
            return False
        return stat.S_ISREG(found.st_mode) and found.st_nlink == 2 and _Origin.of(self.path, found) == self


@dataclass(frozen=True)
class Block:
    """Part of an output file that is made of many cached values (a topic's part of a sheet), as
    the bytes written: made by this build, or read back from the file the last build wrote, or
    taken unread from a file of it that `Resident.settle` checked (`source`)."""

    key: str
    held: bytes | None
    """Its bytes; None for a part taken unread, which is read (`data`) or copied (`write_into`)
    from its `source` when it is asked for."""
    sha256: str
    """The SHA-256 of its bytes, in hex: what the next build checks the bytes it reads back against."""
    size: int

    origin: _Origin | None = field(default=None, compare=False, repr=False)
    """When the block is all of a file the last build wrote: that file, as it was read."""
    source: _Source | None = field(default=None, compare=False, repr=False)
    """For a part taken unread: where it is."""

    @property
    def data(self) -> bytes:
        """Its bytes."""
        if self.held is not None:
            return self.held
        if self.source is None:
            raise ValueError("a block holds its bytes or says where they are")
        return self.source.read()

    def write_into(self, out: BinaryIO) -> None:
        """Write its bytes into `out`, where it stands: a part taken unread is copied by the
        system from its file, without passing through deckgen."""
        if self.held is not None:
            out.write(self.held)
        elif self.source is not None:
            self.source.copy_into(out)
        else:
            raise ValueError("a block holds its bytes or says where they are")

    def write_to(self, path: Path) -> None:
        """Write the block as the new file `path`: as a hard link to the file the last build wrote,
        when the block is all of it and the link reaches that very file (the one whose bytes were
        checked, unchanged since: same size and time of change), owned by this user, with nothing
        else linking to it; else as its bytes. A rebuild then writes no byte of a page that did
        not change."""
        if self.origin is not None:
            try:
                os.link(self.origin.path, path, follow_symlinks=False)
            except OSError:
                pass
            else:
                if self.origin.reached_by(path):
                    return
                path.unlink()
        with open(path, "xb") as written:  # a new file: never one that a link above reached
            self.write_into(written)

    @classmethod
    def made(cls, key: str, lines: list[str]) -> Block:
        """The block of `lines`, each followed by a newline."""
        return cls.of(key, "".join(line + "\n" for line in lines).encode("utf-8"))

    @classmethod
    def of(cls, key: str, data: bytes, sha256: str | None = None) -> Block:
        """The block of `data` (whose SHA-256 is `sha256`, if known)."""
        return cls(key, data, hashlib.sha256(data).hexdigest() if sha256 is None else sha256, len(data))

    def lines(self) -> list[str]:
        """Its lines, without their newlines."""
        return self.data.decode("utf-8").split("\n")[:-1]


Part = tuple[int, int, str]
"""A part of an output file: where it starts, its size, and the SHA-256 of its bytes (in hex)."""


class Where(NamedTuple):
    """Where a build wrote a block: its output file (by its path in the output folder, with
    `/`, and that path's parts) and the part of it."""

    name: str
    parts: tuple[str, ...]
    part: Part

_CHANGED = "a file of the last build changed while this build copied from it; build again"

_NO_COPY = {errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.EBADF}
"""What `os.copy_file_range` says where it cannot copy between two files that a read and a write can."""


@dataclass(frozen=True)
class _Source:
    """Where a part taken unread is: in a file of the last build's output folder that
    `Resident.settle` checked, and that is to be found just as it was then."""

    files: _OpenFiles
    root: Path
    parts: tuple[str, ...]
    at: int
    size: int
    settled: _Origin
    sha256: str

    def whole_file(self) -> _Origin | None:
        """The file, when the part is all of it and it may be linked (see `_OpenFiles.whole_file`)."""
        return self.files.whole_file(self.root, self.parts, self.at, self.size)

    def read(self) -> bytes:
        """The part's bytes. OSError if the file is no longer as it was settled, and the bytes
        read are not the part's."""
        fd = self.files.settled(self.root, self.parts, self.settled)
        data = _pread(fd, self.at, self.size)
        if not self._unchanged(fd) and (data is None or hashlib.sha256(data).hexdigest() != self.sha256):
            raise OSError(errno.ESTALE, _CHANGED)
        if data is None:
            raise OSError(errno.EIO, _CHANGED)
        return data

    def copy_into(self, out: BinaryIO) -> None:
        """Copy the part into `out` where it stands, by the system where it can. If its file
        changed meanwhile (a link to it made and undone moves its time of change), the part is
        read again and written only if its bytes are still the part's; else OSError."""
        fd = self.files.settled(self.root, self.parts, self.settled)
        out.flush()
        start = out.tell()
        if self._copied(fd, out) and self._unchanged(fd):
            return
        out.seek(start)
        out.truncate()
        out.write(self.read())

    def _copied(self, fd: int, out: BinaryIO) -> bool:
        """Copy the part's bytes as the file holds them now; False if it is shorter."""
        at, left = self.at, self.size
        copy = getattr(os, "copy_file_range", None)
        try:
            while left and copy is not None:
                copied = copy(fd, out.fileno(), left, at)
                if not copied:  # shorter: the reads below say so
                    break
                at, left = at + copied, left - copied
        except OSError as err:
            if err.errno not in _NO_COPY:
                raise
        while left:
            chunk = _read_at(fd, min(left, 1 << 20), at)
            if not chunk:
                return False
            out.write(chunk)
            at, left = at + len(chunk), left - len(chunk)
        return True

    def _unchanged(self, fd: int) -> bool:
        return _Origin.of(self.settled.path, os.fstat(fd)).stamp == self.settled.stamp


def _file_system_now(root: Path) -> int | None:
    """The time now by the clock of the file system that holds the folder `root` (on a network
    share, the server's): the time of change of a file made beside it, and removed. None where
    none can be made."""
    try:
        fd, name = tempfile.mkstemp(prefix=".deckgen-clock-", suffix=".tmp", dir=root.parent)
    except OSError:
        return None
    try:
        return os.fstat(fd).st_ctime_ns
    except OSError:
        return None
    finally:
        os.close(fd)
        Path(name).unlink(missing_ok=True)


def _read_at(fd: int, size: int, at: int) -> bytes:
    """At most `size` bytes from byte `at` of the open file `fd` (with `pread`, where there is one)."""
    pread = getattr(os, "pread", None)
    if pread is not None:
        return cast(bytes, pread(fd, size, at))
    os.lseek(fd, at, os.SEEK_SET)
    return os.read(fd, size)


def _pread(fd: int, at: int, size: int) -> bytes | None:
    """`size` bytes from byte `at` of the open file `fd`; None if it is shorter."""
    data = b"".join(_chunks(fd, at, size, 1 << 24))
    return data if len(data) == size else None


def _part_digest(fd: int, at: int, size: int) -> str | None:
    """The SHA-256 (in hex) of `size` bytes from byte `at` of the open file `fd`, read a megabyte
    at a time; None if it is shorter."""
    digest, found = hashlib.sha256(), 0
    for chunk in _chunks(fd, at, size, 1 << 20):
        digest.update(chunk)
        found += len(chunk)
    return digest.hexdigest() if found == size else None


def _chunks(fd: int, at: int, size: int, most: int) -> Iterator[bytes]:
    """The `size` bytes from byte `at` of the open file `fd`, `most` at a time, up to its end."""
    while size > 0:
        chunk = _read_at(fd, min(size, most), at)
        if not chunk:
            return
        yield chunk
        at, size = at + len(chunk), size - len(chunk)


def joined(lines: Iterable[str | Block]) -> str:
    """Lines and blocks as the text of a file: each line followed by a newline."""
    return "".join(line + "\n" if isinstance(line, str) else line.data.decode("utf-8") for line in lines)


_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""A file or folder name that deckgen writes into the output folder: none is `.`, `..` or hidden."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
"""A file read back is opened without following a link, and without waiting (a FIFO would)."""


class _OpenFiles:
    """The last few files read back from, kept open: the pages of a pair are made together. Only
    regular files are read, in the output folder and not through a link."""

    def __init__(self) -> None:
        self._open: dict[tuple[Path, tuple[str, ...]], tuple[int, _Origin]] = {}
        """Each file's descriptor, and the file as it was opened, by its folder and path in it."""

    def read(self, root: Path, parts: tuple[str, ...], at: int, size: int) -> bytes | None:
        """`size` bytes from byte `at` of the file `parts` in the folder `root`; None when it is not
        there as a regular file, is reached through a link, or is shorter."""
        try:
            found = self._kept(root, parts)
        except OSError:
            return None
        if found is None:
            return None
        fd, length = found[0], found[1].size
        if at > length or size > length - at:
            return None
        try:
            return _pread(fd, at, size)
        except OSError:
            return None

    def source(self, root: Path, parts: tuple[str, ...], at: int, size: int, settled: _Origin, sha256: str) -> _Source | None:
        """Where the part of `size` bytes from byte `at` of the file `parts` is, when the file is
        there as `Resident.settle` found it (`settled`); else None."""
        try:
            self.settled(root, parts, settled)
        except OSError:
            return None
        if at > settled.size or size > settled.size - at:
            return None
        return _Source(self, root, parts, at, size, settled, sha256)

    def settled(self, root: Path, parts: tuple[str, ...], settled: _Origin) -> int:
        """The open file `parts` in `root`, which is as `Resident.settle` found it (`settled`).
        OSError if it is not."""
        found = self._kept(root, parts)
        if found is None or found[1].stamp != settled.stamp:
            raise OSError(errno.ESTALE, _CHANGED)
        return found[0]

    def _kept(self, root: Path, parts: tuple[str, ...]) -> tuple[int, _Origin] | None:
        """The file `parts` in `root`, opened, and kept open as the last one used."""
        found = self._open.pop((root, parts), None) or self.opened(root, parts)
        if found is not None:
            self._open[root, parts] = found
        return found

    def whole_file(self, root: Path, parts: tuple[str, ...], at: int, size: int) -> _Origin | None:
        """The file `parts` in `root` as it was opened, if it is open, this user's, and the `size`
        bytes from `at` are all of it; else None, and always None where a file cannot be opened
        without following a link (`_LINKS`)."""
        found = self._open.get((root, parts))
        if found is None or at != 0 or size != found[1].size or not _LINKS or found[1].owner != os.geteuid():
            return None
        return found[1]

    def opened(self, root: Path, parts: Sequence[str]) -> tuple[int, _Origin] | None:
        """The file `parts` in `root` opened (its descriptor, to be closed by the caller, unless
        it is kept), when it is a regular file reached through no link; else None."""
        for depth in range(1, len(parts)):
            if not stat.S_ISDIR(os.lstat(root.joinpath(*parts[:depth])).st_mode):  # a folder, not a link to one
                return None
        fd = os.open(root.joinpath(*parts), _OPEN_FLAGS)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return None
        if len(self._open) >= 2:
            os.close(self._open.pop(next(iter(self._open)))[0])
        return fd, _Origin.of(root.joinpath(*parts), info)

    def close(self) -> None:
        for fd, _ in self._open.values():
            os.close(fd)
        self._open.clear()


# What rendering reads of each: every field but where it is written and which lint rules it silences.
_UNRENDERED = {"location", "field_locations", "lint_ignore", "rows", "images"}
_QUESTION_CONTENT = tuple(f.name for f in fields(Question) if f.name not in _UNRENDERED)
_ROW_CONTENT = tuple(f.name for f in fields(CompareRow) if f.name not in _UNRENDERED)
_SOURCE_CONTENT = tuple(f.name for f in fields(Source) if f.name not in _UNRENDERED)
