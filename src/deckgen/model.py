"""The validated bank: frozen dataclasses that every later step reads."""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import NamedTuple


class Location(NamedTuple):
    """A 1-based position in a bank file. A named tuple: the loader makes one for every
    node of every file, so it must be cheap to make."""

    path: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


_PLACE = struct.Struct("<III")
"""One field's place, packed: the index of its file among the question's files, line, column."""

_SHARED: dict[tuple[str, ...], tuple[str, ...]] = {}
"""The field names and file lists that questions have in common, each kept once. It keeps every
one it has seen for the life of the process: a few per bank file."""


def _shared(values: tuple[str, ...]) -> tuple[str, ...]:
    """`values`, as the one copy that every question with the same values holds."""
    return _SHARED.setdefault(values, values)


class FieldLocations:
    """Where each field of a question is written: `(key, Location)` pairs, in the order of the
    file. A bank holds one per question of every edition, so they are packed: the keys and files
    are shared between questions, and the lines and columns are 12 bytes a field. A Location is
    made only when one is asked for (a diagnostic, a card's source line)."""

    __slots__ = ("_names", "_paths", "_places")

    def __init__(self, pairs: Iterable[tuple[str, tuple[str, int, int]]] = ()) -> None:
        names: list[str] = []
        paths: dict[str, int] = {}
        places: list[int] = []
        for name, (path, line, col) in pairs:
            names.append(name)
            places += (paths.setdefault(path, len(paths)), line, col)
        self._packed(names, list(paths), places)

    def _packed(self, names: list[str], paths: list[str], places: list[int]) -> None:
        """Hold the field names, the files and the places (file index, line, column per field)."""
        # The first question's key strings and file list are the ones every later one keeps.
        self._names = _shared(tuple(names))
        self._paths = _shared(tuple(paths))
        try:
            self._places = struct.pack(f"<{len(places)}I", *places)
        except struct.error as err:
            raise ValueError(f"a line or column out of range: {err}") from None

    def stored(self) -> list[list[str] | list[int]]:
        """As the build cache stores it (`deckgen.serial`): the field names, the files, and each
        field's file (its index among them), line and column, one after the other."""
        return [list(self._names), list(self._paths), list(struct.unpack(f"<{3 * len(self._names)}I", self._places))]

    @classmethod
    def from_stored(cls, value: object) -> FieldLocations:
        """What `stored` gave, checked: TypeError or ValueError for anything else."""
        if type(value) is not list or len(value) != 3:
            raise TypeError("not a question's field locations")
        names, paths, places = value
        if not (type(names) is list and type(paths) is list and type(places) is list):
            raise TypeError("not a question's field locations")
        if not all(type(name) is str for name in names) or not all(type(path) is str for path in paths) or not all(type(n) is int for n in places):
            raise TypeError("not a question's field locations")
        if len(places) != 3 * len(names) or (names and max(places[0::3]) >= len(paths)):
            raise ValueError("not a question's field locations")
        made = cls.__new__(cls)
        made._packed(names, paths, places)
        return made

    def get(self, key: str) -> Location | None:
        """Where `key` is written, or None if the question does not write it."""
        if key not in self._names:
            return None
        path, line, col = _PLACE.unpack_from(self._places, self._names.index(key) * _PLACE.size)
        return Location(self._paths[path], line, col)

    def __iter__(self) -> Iterator[tuple[str, Location]]:
        for name, (path, line, col) in zip(self._names, _PLACE.iter_unpack(self._places)):
            yield name, Location(self._paths[path], line, col)

    def __len__(self) -> int:
        return len(self._names)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldLocations):
            return NotImplemented
        return (self._names, self._paths, self._places) == (other._names, other._paths, other._places)

    def __hash__(self) -> int:
        return hash((self._names, self._paths, self._places))

    def __repr__(self) -> str:
        # As the tuple of pairs it stands for (the lint cache keys a topic by this text), written
        # out directly: it is made for every question of a build, and a Location's repr is slow.
        paths = self._paths
        pairs = [
            f"({name!r}, Location(path={paths[path]!r}, line={line!r}, col={col!r}))"
            for name, (path, line, col) in zip(self._names, _PLACE.iter_unpack(self._places))
        ]
        return f"({pairs[0]},)" if len(pairs) == 1 else f"({', '.join(pairs)})"


NO_FIELD_LOCATIONS = FieldLocations()
"""A question made in code, with no file behind it."""

NOTHING_IGNORED: frozenset[str] = frozenset()
"""No lint rule silenced: one set that every question without a `lint` entry shares (an empty
frozenset is a new object each time it is made)."""


class Severity(str, Enum):
    """How bad a diagnostic is: errors fail every command, warnings only `--strict`."""

    ERROR = "error"
    WARNING = "warning"


def clipped(text: str, limit: int = 60) -> str:
    """A value as a one-line message quotes it: on one line (see `one_line`), at most `limit` characters."""
    shown = one_line(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def one_line(text: str) -> str:
    """`text` as one line of output: a line break, tab or other unprintable character as its escape.

    What deckgen prints comes partly from banks, locks and packages: no value may start a line
    of its own, where a CI log would read it as a command (GitHub's `::error …`)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in the banks, at the node that causes it."""

    location: Location
    severity: Severity
    message: str
    rule: str

    def __str__(self) -> str:
        return one_line(f"{self.location}: {self.severity.value}: {self.message} [{self.rule}]")

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Order diagnostics by file, then position, then text."""
        loc = self.location
        return (loc.path, loc.line, loc.col, self.rule, self.message)


def deck_part(title: str) -> str:
    """A title as one part of an Anki deck name: `::` inside it would nest a deck, so it becomes `:`."""
    return title.replace("::", ":")


def deck_part_key(title: str) -> str:
    """What Anki compares when it tells two sibling decks apart: the part in NFC, without
    surrounding spaces, case-folded. Two titles with one key are one deck name to Anki, which
    renames the second deck it imports (`Title_`)."""
    return unicodedata.normalize("NFC", deck_part(title)).strip().casefold()


def media_name(path: Path) -> str:
    """An image's packed name: unique by content, as Anki's media folder is shared by every deck."""
    stat = path.stat()
    return _media_name(path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def forget_media_names() -> None:
    """Forget which name each image was packed under: at the end of a build, so that a process
    that builds again (`deckgen watch`) hashes each image again, even one rewritten within one
    tick of a coarse file-system clock, whose size, times and inode may all be as they were."""
    _media_name.cache_clear()


@lru_cache(maxsize=1024)
def _media_name(path: Path, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> str:
    # Every render of a question asks for its images' names: each file is hashed once, and
    # again if it changes, even to the same size and modification time (`cp -p`, a file
    # system whose times are whole seconds): its change time then moves, or its inode.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"deckgen-{digest}{path.suffix.lower().replace('.jpeg', '.jpg')}"


class DeckgenError(Exception):
    """A failure the user caused and can fix; carries the diagnostics that explain it."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("\n".join(str(d) for d in diagnostics))
        self.diagnostics = diagnostics


class LockNotWritten(DeckgenError):
    """A build that wrote its outputs, then could not write the lock they were built from: the
    outputs are the new ones, the lock is as it was."""


class QuestionType(str, Enum):
    """The kinds of question a bank can hold."""

    BASIC = "basic"
    CLOZE = "cloze"
    COMPARE = "compare"


class SourceKind(str, Enum):
    """What a source is."""

    ARTICLE = "article"
    PAPER = "paper"
    HOMEPAGE = "homepage"
    CODE = "code"
    """A reference implementation, cited where a claim comes from code rather than a paper."""

    @property
    def from_reading_list(self) -> bool:
        """Articles and homepages are what the reading list links to; papers and code are added beside them."""
        return self in (SourceKind.ARTICLE, SourceKind.HOMEPAGE)


@dataclass(frozen=True)
class Section:
    """A section of the reading list; topics belong to one."""

    id: str
    title: str
    heading: str
    location: Location


@dataclass(frozen=True)
class Source:
    """An article, paper or homepage that questions cite."""

    id: str
    title: str
    url: str
    section: str
    location: Location
    kind: SourceKind = SourceKind.ARTICLE
    lang: str | None = None
    authors: tuple[str, ...] = ()
    year: str | None = None
    lint_ignore: frozenset[str] = NOTHING_IGNORED
    title_en: str | None = None
    """An English translation of a title in another language, for the printed bibliography."""
    title_zh: str | None = None
    """A Chinese translation of a title in another language, for the Chinese edition's bibliography."""

    @property
    def site(self) -> str:
        """The host name shown next to the title, without a leading `www.`."""
        from urllib.parse import urlsplit

        try:
            host = urlsplit(self.url).hostname or ""
        except ValueError:
            host = ""
        return host.removeprefix("www.")


@dataclass(frozen=True, slots=True)
class CompareRow:
    """One aspect of a compare question; it becomes one note."""

    id: str
    aspect: str
    values: tuple[str, ...]
    location: Location
    retired: str | None = None
    """Why the row was retired, for a row in `retired_rows`; None for a live row."""
    extra: str = ""
    """What this row's card shows after the answer, besides the question's own extra."""


@dataclass(frozen=True, slots=True)
class Question:
    """One question of a topic bank."""

    id: str
    type: QuestionType
    question: str
    location: Location
    topic: str
    section: str
    answer: str = ""
    extra: str = ""
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    rows: tuple[CompareRow, ...] = ()
    lint_ignore: frozenset[str] = NOTHING_IGNORED
    field_locations: FieldLocations = NO_FIELD_LOCATIONS
    retired: str | None = None
    """Why the question was retired, for a question in a topic's `retired` list; None when live."""
    images: tuple[tuple[str, Path], ...] = ()
    """Each image target as written in the question's Markdown, with the file it names."""

    def media(self, prefix: str = "") -> dict[str, str]:
        """Image targets as written, to their packed names (with `prefix`, e.g. a folder)."""
        return {target: prefix + media_name(path) for target, path in self.images}

    def location_of(self, key: str) -> Location:
        """Where the value of `key` was written, or the question itself if it was not."""
        return self.field_locations.get(key) or self.location

    @property
    def note_count(self) -> int:
        """The live notes the question becomes in Anki: one, or one per live compare row."""
        return len(self.live_rows) if self.type is QuestionType.COMPARE else 1

    @property
    def card_count(self) -> int:
        """The cards of those notes, as Anki counts them: one per note, but a cloze note has one
        per deletion number (`{{c1::…}} {{c2::…}}` is two cards; two `c1` deletions are one)."""
        if self.type is QuestionType.CLOZE:
            from deckgen.cloze import clozes  # cloze reads math spans through render, which needs this module

            return len({int(c.ordinal) for c in clozes(self.question)})
        return self.note_count

    @property
    def live_rows(self) -> tuple[CompareRow, ...]:
        """The compare rows that are not retired."""
        return tuple(r for r in self.rows if r.retired is None)

    @property
    def row_extras(self) -> tuple[str, ...]:
        """The live rows' extras as a page prints them, each once: `**aspect:** extra`, with the
        aspects of every row that shares the extra (`**a; b:** extra`), in the order of the rows."""
        shared: dict[str, list[str]] = {}
        for row in self.live_rows:
            if row.extra:
                shared.setdefault(row.extra, []).append(row.aspect)
        return tuple(f"**{'; '.join(aspects)}:** {extra}" for extra, aspects in shared.items())


@dataclass(frozen=True)
class Topic:
    """One bank file: a topic of one section."""

    id: str
    title: str
    section: str
    path: Path
    location: Location
    questions: tuple[Question, ...]
    lint_ignore: frozenset[str] = NOTHING_IGNORED
    retired: tuple[Question, ...] = ()
    """Questions moved to the topic's `retired` list: kept in the deck behind a banner, never in the sheets."""
    title_location: Location | None = None
    """Where the topic's title is written."""


@dataclass(frozen=True)
class GlossaryTerm:
    """One concept's agreed term in an edition's language, with its English and the variants to avoid."""

    english: str
    term: str
    avoid: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class Deck:
    """What `deck.yaml` says about the deck as a whole."""

    title: str
    version: str
    description: str
    homepage: str
    sections: tuple[Section, ...]
    languages: tuple[str, ...] = ("en",)
    """The editions the deck is built in, the source language (English) first."""
    language: str = "en"
    """The language this deck's text is in: the source language, or an edition's."""
    glossary: tuple[GlossaryTerm, ...] = ()
    """For an edition in another language: its agreed terms (`glossary.<language>.yaml`)."""

    @property
    def slug(self) -> str:
        """The title as a file name and id stem: `NLP Pretraining` -> `nlp-pretraining`."""
        words = re.findall(r"[a-z0-9]+", self.title.lower())
        return "-".join(words) or "deck"


@dataclass(frozen=True)
class Bank:
    """Everything in a bank folder, validated."""

    root: Path
    deck: Deck
    sources: tuple[Source, ...]
    topics: tuple[Topic, ...]
    edition_of: Bank | None = None
    """For an edition in another language: the bank in the source language, which names its
    decks in Anki (so that a learner can move between editions without moving cards)."""

    def section(self, section_id: str) -> Section:
        """The section with this id."""
        return next(s for s in self.deck.sections if s.id == section_id)

    def source(self, source_id: str) -> Source:
        """The source with this id."""
        return self._sources_by_id[source_id]

    @cached_property
    def _sources_by_id(self) -> dict[str, Source]:
        return {s.id: s for s in self.sources}

    @property
    def questions(self) -> tuple[Question, ...]:
        """Every question, in deck order."""
        return tuple(q for t in self.ordered_topics() for q in t.questions)

    def topic(self, topic_id: str) -> Topic:
        """The topic with this id."""
        return next(t for t in self.topics if t.id == topic_id)

    def image_files(self) -> Iterator[Path]:
        """The file of each image a question shows, live or retired, in the order of the topics (once per use)."""
        return (path for topic in self.topics for question in (*topic.questions, *topic.retired) for _, path in question.images)

    def ordered_topics(self) -> tuple[Topic, ...]:
        """Topics in the order of their sections in `deck.yaml`, then by file name."""
        order = {s.id: i for i, s in enumerate(self.deck.sections)}
        return tuple(sorted(self.topics, key=lambda t: (order.get(t.section, len(order)), t.path.name)))
