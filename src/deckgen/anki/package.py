"""The .apkg: the collection.anki2 SQLite database and the zip around it, the same bytes for the same inputs.

The only module that writes Anki's database; genanki gives the schema, the note types'
and decks' JSON and each note's cards, deckgen every id and every time.
"""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
import tempfile
import zipfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from html import escape
from pathlib import Path

import genanki  # type: ignore[import-untyped]
from genanki.apkg_col import APKG_COL  # type: ignore[import-untyped]
from genanki.apkg_schema import APKG_SCHEMA  # type: ignore[import-untyped]

from deckgen.anki.ids import card_id, deck_id, note_id
from deckgen.anki.notes import DeckNotes, NoteSpec, release_tag
from deckgen.anki.notetypes import changelog_url, note_models, site_url
from deckgen.cache import BuildCache, parts_digest
from deckgen.later import Later, can_fork, forked
from deckgen.lock import NOTE_TYPE_MTIME_OFFSET, Lock
from deckgen.model import Bank, media_name
from deckgen.render import plain_html, to_html


def deck_description_html(bank: Bank, lock: Lock) -> str:
    """The root deck's description, in the edition's language: the deck's own text; its version,
    changelog and homepage; how to find what this release changed; the study settings deckgen
    suggests."""
    deck = bank.deck
    words = DESCRIPTION_WORDS[deck.language]
    changed = lock.released(deck.version) if lock.version == deck.version else 0
    version = plain_html(deck.version)
    site = site_url(deck.homepage)
    parts = [
        to_html(deck.description),
        f"<p>{words['version'].format(version=version)} · "
        f'<a href="{changelog_url(deck.homepage, deck.version)}">{words["changes"].format(version=version)}</a> · '
        f'<a href="{escape(deck.homepage)}">{plain_html(deck.homepage)}</a>'
        + (f' · <a href="{escape(site)}{"" if deck.language == "en" else deck.language + "/"}">{words["web"]}</a>' if site else "")
        + "</p>",
    ]
    if changed:
        key = "changed_one" if changed == 1 else "changed"
        parts.append(f"<p>{words[key].format(count=changed, tag=escape(release_tag(deck.version)))}</p>")
    parts.append(f"<p>{words['advice']}</p>")
    return "\n".join(parts)


DESCRIPTION_WORDS = {
    "en": {
        "version": "Version {version}",
        "changes": "what changed in {version}",
        "web": "every card on the web",
        "changed_one": "The {count} note this release added or changed: <em>Browse</em>, search <code>tag:{tag}</code>.",
        "changed": "The {count} notes this release added or changed: <em>Browse</em>, search <code>tag:{tag}</code>.",
        "advice": (
            "Suggested settings (deck options): 10–20 new cards a day; FSRS on, with the default desired "
            "retention of 0.90. Mark cards with flags, not tags: an update replaces the tags of the notes it changes. "
            "When you import an update, leave <em>Import any deck presets</em> off."
        ),
    },
    "zh": {
        "version": "版本 {version}",
        "changes": "{version} 的更新内容",
        "web": "网页版：每张卡片",
        "changed_one": "本次发布新增或修改了 {count} 条笔记：在<em>浏览</em>（Browse）中搜索 <code>tag:{tag}</code>。",
        "changed": "本次发布新增或修改了 {count} 条笔记：在<em>浏览</em>（Browse）中搜索 <code>tag:{tag}</code>。",
        "advice": (
            "建议设置（牌组选项）：每天 10–20 张新卡片；开启 FSRS，保持默认的期望保留率 0.90。"
            "请用旗标而不是标签标记卡片：更新会替换被修改笔记的标签。"
            "导入更新时，不要勾选 <em>Import any deck presets</em>（导入牌组预设）。"
        ),
    },
}
"""The words of the deck description deckgen writes, per edition; the README says the same at more length."""


NoteIds = tuple[int, tuple[tuple[int, int], ...]]
"""A note's id in the collection, with the id and the ordinal of each of its cards."""

NoteRow = tuple[genanki.Model, NoteSpec, NoteIds, str, int, int, int]
"""A note as the database is written from it (see `Collection.notes`)."""


@dataclass(frozen=True)
class Collection:
    """What a package's database holds: the note types, the decks, and each note in the order
    it is written, with its tags, deck, position and time."""

    models: str
    """The note types' JSON."""
    decks: str
    """The decks' JSON."""
    notes: Callable[[], Iterable[NoteRow]]
    """Each note, in order, made afresh on each call (with a build's cache, read from it a topic at
    a time, so that a build never holds the deck's notes all at once): its note type, what it
    shows, its ids, its tags as stored, its deck id, its position among new cards and the time
    its content last changed."""
    hold: Callable[[], Collection | None] | None = None
    """Gives this collection as a process that must not read the build's cache reads it (see
    `held`), or None when that would hold more than `MOST_HELD` notes that nothing else keeps;
    None when `notes` reads from no cache."""
    refused: Callable[[], object] = lambda: None
    """In the process that wrote the database from `notes`, what it found in the last build's
    cache that deckgen does not store there (see `deckgen.anki.notes.HandedNotes`)."""
    repair: Callable[[object], None] | None = None
    """Given what `refused` gave in that process, makes it again into the build's cache, in the
    build's own process."""

    def held(self) -> Collection | None:
        """This collection as a process that must not read the build's cache reads it
        (`deckgen.later.forked`): in a watch, which keeps the notes of every topic anyway, with
        every topic's notes read now and held; in any other build, with the notes of the topics
        it changed read now and held, and the others' read in that process from the last build's
        cache file (`DeckNotes.handed`). None when more than `MOST_HELD` notes were made by this
        build and are kept by nothing else (a cold build, or one after many edits)."""
        return self if self.hold is None else self.hold()

    def rows(self) -> Iterator[tuple[tuple[object, ...], list[tuple[object, ...]]]]:
        """Each note's row, with its cards' rows, new (usn -1) and unscheduled, with the ids derived from its GUID."""
        for model, spec, (nid, cards), tags, did, due, mtime in self.notes():
            note = (nid, spec.guid, model.model_id, mtime, tags, "\x1f".join(spec.fields), spec.fields[model.sort_field_index])
            yield note, [(cid, nid, did, ordinal, mtime, due) for cid, ordinal in cards]


@dataclass(frozen=True)
class RowIds:
    """The ids of some notes and of their cards, and their cards' ordinals, packed 8 bytes each.
    A watch keeps them with each topic's notes: as a tuple per note and per card they were some
    40,000 objects at 10,000 cards (2.4 MB), packed they are a few hundred kilobytes."""

    notes: bytes
    cards: bytes
    ordinals: bytes
    ends: bytes
    """For each note, where its cards end in `cards` and `ordinals`."""

    def each(self) -> Iterator[NoteIds]:
        """Each note's ids, in order."""
        cards, ordinals, start = memoryview(self.cards).cast("q"), memoryview(self.ordinals).cast("q"), 0
        for nid, end in zip(memoryview(self.notes).cast("q"), memoryview(self.ends).cast("q")):
            yield nid, tuple(zip(cards[start:end], ordinals[start:end]))
            start = end


def note_row_ids(models: dict[str, genanki.Model], specs: Iterable[NoteSpec]) -> RowIds:
    """The ids of these notes and of their cards, and their cards' ordinals: derived from the GUIDs
    and from which fields are filled in, so made once a topic in a process that builds again and
    again (`BuildCache.derived`)."""
    known: dict[tuple[int, tuple[bool, ...]], list[int]] = {}
    notes, cards, ordinals, ends = array("q"), array("q"), array("q"), array("q")
    for spec in specs:
        notes.append(note_id(spec.guid))
        for ordinal in _card_ordinals(models[spec.model], spec, known):
            cards.append(card_id(spec.guid, ordinal))
            ordinals.append(ordinal)
        ends.append(len(cards))
    return RowIds(notes.tobytes(), cards.tobytes(), ordinals.tobytes(), ends.tobytes())


def _card_ordinals(model: genanki.Model, spec: NoteSpec, known: dict[tuple[int, tuple[bool, ...]], list[int]]) -> list[int]:
    """The note's cards, as genanki decides them: one per template whose fields are filled in,
    or one per cloze number. A note type with templates decides by which fields are empty, so
    its answer is kept in `known`, per note type and pattern of empty fields."""
    if model.model_type != model.FRONT_BACK:
        return [card.ord for card in genanki.Note(model=model, fields=list(spec.fields), guid=spec.guid).cards]
    filled = (model.model_id, tuple(bool(field) for field in spec.fields))
    found = known.get(filled)
    if found is None:
        found = known[filled] = [card.ord for card in genanki.Note(model=model, fields=list(spec.fields), guid=spec.guid).cards]
    return found


def collection(bank: Bank, notes: DeckNotes, lock: Lock) -> Collection:
    """What the package's `collection.anki2` holds for the notes, with the lock's times.

    Note and card ids derive from GUIDs, each note carries the time its content last
    changed, and note types the time their look last changed, all from the lock.
    """
    models = note_models(bank.deck.homepage)
    root_id = deck_id(*notes.decks[0].path)
    model_json = {
        str(m.model_id): m.to_json(lock.note_types[key].mtime + NOTE_TYPE_MTIME_OFFSET, root_id) for key, m in models.items()
    }
    decks_json = json.loads(_default_decks())
    for deck in notes.decks:
        did = deck_id(*deck.path)
        description = deck_description_html(bank, lock) if len(deck.path) == 1 else ""
        decks_json[str(did)] = genanki.Deck(did, deck.name, description=description).to_json()

    def topics() -> Iterator[tuple[int, Sequence[NoteSpec], RowIds]]:
        for path, _, specs in notes.by_deck():
            make_ids = partial(note_row_ids, models, specs)
            # Kept with the notes when a watch keeps them (a tuple; notes made afresh are a list).
            ids = notes.cache.derived("note-row-ids", (specs,), bank.deck.homepage, make_ids) if notes.cache is not None and isinstance(specs, tuple) else make_ids()
            yield deck_id(*path), specs, ids

    def made(read: Callable[[], Iterable[tuple[int, Sequence[NoteSpec], RowIds]]] = topics) -> Iterator[NoteRow]:
        position = 0
        for did, specs, ids in read():
            for spec, spec_ids in zip(specs, ids.each()):
                position += 1
                mtime, release = lock.stamp(spec.fields[0])
                tags = spec.tags if release is None else (*spec.tags, release_tag(release))
                # A space at each end, as Anki and genanki write tags, so that a search for
                # ' tag ' matches the first and the last tag too.
                yield models[spec.model], spec, spec_ids, " " + " ".join(tags) + " ", did, position, mtime

    model_text, decks_text = json.dumps(model_json, sort_keys=True), json.dumps(decks_json, sort_keys=True)

    def hold() -> Collection | None:
        if notes.cache is not None and notes.cache.resident is None:
            handed = notes.handed(MOST_HELD)
            if handed is None:
                return None

            def read_there(read: Callable[[], Iterator[tuple[tuple[str, ...], Sequence[NoteSpec]]]] = handed.read) -> Iterator[tuple[int, Sequence[NoteSpec], RowIds]]:
                for path, specs in read():
                    yield deck_id(*path), specs, note_row_ids(models, specs)

            return Collection(model_text, decks_text, partial(made, read_there), refused=partial(list, handed.refused), repair=handed.repair)
        read, made_now = [], 0
        for topic in topics():
            if not isinstance(topic[1], tuple):  # made by this build: nothing else keeps it
                made_now += len(topic[1])
                if made_now > MOST_HELD:
                    return None
            read.append(topic)
        return Collection(model_text, decks_text, partial(made, lambda: read))

    return Collection(model_text, decks_text, made, hold if notes.cache is not None else None)


MOST_HELD = 2000
"""The most notes made by a build (not kept by a watch, nor left in the last build's cache) that
it holds at once to write its package in a forked process: those of the topics an edit changed.
A build that made more writes its package in its own process, a topic at a time."""


PAGE_CACHE_KIB = 8 * 1024
"""The page cache of the database a build writes (SQLite's default is 2 MB). Notes go in by id,
which is a hash: all over the file, so a cache that holds too little makes each insert read a
page back. With 8 MB a 50,000-card database of 88 MB is written in 1.13x the time it takes with
a cache that holds every page, as fast as with 16 MB (1.12x) and faster than with 4 MB (1.22x)
or SQLite's default (1.32x); the rest of the file is written out as it grows instead of staying
in memory until the end: some 84 MB less at that size (bench/page_cache.py, bench/REPORT.md)."""


FORKED_PAGE_CACHE_KIB = 256 * 1024
"""The page cache of the database a forked process writes (`_write_whole`), at most: enough for
every page of a 50,000-card database (88 MB), taken only as the file grows. That process's memory
is its own, given back when it ends, and the build it was forked from goes on without it: no
page is written out and read back, and the database is written in about 0.8x the time it takes
with `PAGE_CACHE_KIB` (bench/REPORT.md)."""


SQLITE_FULL = 13
"""SQLite's result code for a full disk (`sqlite3.SQLITE_FULL` from Python 3.11)."""


def write_rows(made: Collection, db_path: Path, page_cache_kib: int | None = None) -> None:
    """Write `made` as a `collection.anki2` SQLite database to `db_path` (a new file), with a
    page cache of `page_cache_kib` (`PAGE_CACHE_KIB` if not given)."""
    connection = sqlite3.connect(db_path)
    try:
        # A new file of its own: no journal, no waiting for the disk, and a page cache of its
        # own size. None of these changes a byte of the database.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB if page_cache_kib is None else page_cache_kib}")
        cursor = connection.cursor()
        cursor.executescript(APKG_SCHEMA)
        cursor.executescript(APKG_COL)
        # Each note, then its cards: the order in which pages are given to the two tables,
        # so the bytes of the file, depend on it.
        for note, cards in made.rows():
            cursor.execute(_INSERT_NOTE, note)
            cursor.executemany(_INSERT_CARD, cards)
        cursor.execute("UPDATE col SET models = ?, decks = ?", (made.models, made.decks))
        connection.commit()
    finally:
        connection.close()


_INSERT_NOTE = "INSERT INTO notes (id, guid, mid, mod, usn, tags, flds, sfld, csum, flags, data) VALUES (?, ?, ?, ?, -1, ?, ?, ?, 0, 0, '')"
_INSERT_CARD = (
    "INSERT INTO cards (id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, reps, lapses, left, odue, odid, flags, data)"
    " VALUES (?, ?, ?, ?, ?, -1, 0, 0, ?, 0, 0, 0, 0, 0, 0, 0, 0, '')"
)


@lru_cache(maxsize=1)
def _default_decks() -> str:
    """The decks' JSON of genanki's empty collection."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(APKG_SCHEMA)
        connection.executescript(APKG_COL)
        (decks,) = connection.execute("SELECT decks FROM col").fetchone()
        return str(decks)
    finally:
        connection.close()


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""Zip entry times: fixed, the earliest a zip can hold, so the package depends only on its content."""


def write_package(path: Path, collection: Path, media: dict[str, Path]) -> None:
    """Write an .apkg: the collection, the media map and the media files, in a fixed order
    with fixed metadata. Each file is streamed into the package, never held whole in memory."""
    names = sorted(media)
    entries: list[tuple[str, Path | bytes]] = [
        ("collection.anki2", collection),
        ("media", json.dumps({str(i): n for i, n in enumerate(names)}).encode()),
    ]
    entries += [(str(i), media[name]) for i, name in enumerate(names)]
    # Each entry is deflated at zlib's default level (6), as every package deckgen has written
    # was: an entry given as a ZipInfo takes no level from the ZipFile. (Level 9 would make the
    # database about 1% smaller, in nearly twice the time: bench/REPORT.md.)
    with zipfile.ZipFile(path, "w") as package:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            if isinstance(data, bytes):
                package.writestr(info, data)
            else:
                with data.open("rb") as source, package.open(info, "w") as target:
                    shutil.copyfileobj(source, target, 1 << 20)


def bank_media(bank: Bank) -> dict[str, Path]:
    """Every image the bank's notes use, by packed name."""
    return {media_name(path): path for path in bank.image_files()}


def write_apkg(bank: Bank, path: Path, notes: DeckNotes, lock: Lock, cache: BuildCache | None = None, name: str = "") -> Later | None:
    """Write the bank as an Anki package, with its images and the times recorded in `lock`; with
    a build cache, a copy of the package the last build wrote as `name` (its path in `--out`),
    when the database and the images are the same.

    The database is written at once; what is left, packing it and the images into `path`, is
    returned, for a second thread (`deckgen.later`): None when there is nothing left. With a
    build cache, when the notes of the topics that changed are few (`Collection.held`), the
    whole package is written in a forked process where one can be (`deckgen.later.forked`),
    while the build writes its other outputs: it reads the other topics' notes there, from the
    last build's cache file, or, in a watch, from the notes the watch keeps."""
    made = collection(bank, notes, lock)
    media = bank_media(bank)
    if cache is None:
        return _write_apkg(made, media, path)
    # An image's packed name is a hash of its bytes.
    parts = (made.models, made.decks, list(_written_from(notes, lock)), sorted(media))
    return cache.whole("apkg", parts, name, path, lambda target: _write_apkg(made, media, target, fork=True))


def _written_from(notes: DeckNotes, lock: Lock) -> Iterator[tuple[int, str]]:
    """What the database's notes are written from, named without reading one: for each topic's
    deck, its id and a hash of its questions' keys in the cache (which name all that their notes
    show), its notes' ids, and the time and release the lock gives each. With the note types
    and the decks, these name every byte of the database: each note's tags, position and ids
    follow from them. A rebuild that changes none copies the last build's package."""
    cache = notes.cache
    for path, keys, ids in notes.named():

        def named(path: tuple[str, ...] = path, keys: list[str] = keys, ids: tuple[str, ...] = ids) -> tuple[int, str]:
            return deck_id(*path), parts_digest((keys, [(nid, *lock.stamp(nid)) for nid in ids]))

        if cache is None or cache.resident is None:
            yield named()
        else:
            # A process that builds again and again names again only a deck whose notes changed.
            states, language = lock.stamped_from(ids)
            yield cache.derived("package-deck", states, (path, tuple(keys), ids, language), named)


def _write_apkg(made: Collection, media: dict[str, Path], path: Path, fork: bool = False, page_cache_kib: int | None = None) -> Later:
    """Write the database now (with a page cache of `page_cache_kib`, see `write_rows`); pack it
    into `path` later (then remove it). With `fork`, both in a forked process, from the notes
    read now, where one can be forked."""
    held = made.held() if fork and can_fork() else None
    if held is not None:
        later = forked(partial(_write_whole, held, media, path), held.repair)
        if later is not None:
            return later
        made = held
    folder = Path(tempfile.mkdtemp(prefix="deckgen-"))
    database = folder / "collection.anki2"
    try:
        write_rows(made, database, page_cache_kib)
    except sqlite3.Error as err:
        shutil.rmtree(folder, ignore_errors=True)
        # SQLite says why in its own terms; the build names the package, and this the folder.
        full = getattr(err, "sqlite_errorcode", None) == SQLITE_FULL
        raise OSError(errno.ENOSPC if full else errno.EIO, f"{err} (writing the package's database in {folder})") from err
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def packed() -> None:
        try:
            write_package(path, database, media)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return Later(packed)


def _write_whole(made: Collection, media: dict[str, Path], path: Path) -> object:
    """Write the database, and pack it into `path`, in a forked process (`deckgen.later.forked`),
    with a page cache that holds every page of the database (`FORKED_PAGE_CACHE_KIB`); what it
    found in the last build's cache that deckgen does not store there, for the build to repair."""
    _write_apkg(made, media, path, page_cache_kib=FORKED_PAGE_CACHE_KIB).now()
    return made.refused()
