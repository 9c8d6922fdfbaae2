"""The notes of the deck: what each question becomes in Anki, field by field, with its tags.

A pure function of the bank (cached per question by the build): no genanki, no SQLite.
`note_layout` is the one place that decides a question's note type and fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from html import escape
from itertools import chain
from typing import TYPE_CHECKING

from deckgen.anki.ids import content_hash, note_guid, note_id_field
from deckgen.anki.notetypes import BASIC_FIELDS, CLOZE_FIELDS
from deckgen.cloze import mark_math_clozes
from deckgen.labels import labels
from deckgen.model import Bank, CompareRow, Location, Question, QuestionType, Topic, deck_part
from deckgen.links import with_media
from deckgen.render import plain_html, to_html, to_inline_html

if TYPE_CHECKING:
    from deckgen.cache import BuildCache

TAG_ROOT = "deckgen"
"""Every tag the deck ships lives under this one node of the learner's tag tree."""
RETIRED_TAG = f"{TAG_ROOT}::retired"
BANK_TAG = f"{TAG_ROOT}::tag::"
"""A question's own tags (`attention`) go under this prefix (`deckgen::tag::attention`)."""
RELEASE_TAG = f"{TAG_ROOT}::release::"
"""A note that a release added or changed carries that release's version under this prefix."""


@dataclass(frozen=True)
class NoteLayout:
    """The note type a question is written as, and its fields."""

    model: str
    """The note type's key: "basic" or "cloze"."""
    fields: tuple[str, ...]
    """The note type's field names, in order."""
    front: str
    """The field the card's front shows, which a retired note's banner goes above."""


def note_layout(question: Question) -> NoteLayout:
    """A cloze is a cloze note; a basic question, and each row of a compare, a basic note."""
    if question.type is QuestionType.CLOZE:
        return NoteLayout("cloze", CLOZE_FIELDS, "Text")
    return NoteLayout("basic", BASIC_FIELDS, "Question")


@dataclass(frozen=True)
class NoteSpec:
    """One note as deckgen writes it: which model, its GUID, its fields and tags."""

    guid: str
    model: str
    fields: tuple[str, ...]
    tags: tuple[str, ...]


def deck_name(bank: Bank, topic: Topic) -> str:
    """`Root::Section title::Topic title`; `::` inside a title would nest further, so it is replaced.
    Every edition names its decks in the source language: a learner who moves to another edition
    imports it over the same notes, whose cards stay in the decks they are in."""
    names = bank.edition_of or bank
    return _deck_path_name(names.deck.title, names.section(topic.section).title, names.topic(topic.id).title)


def _deck_path_name(*titles: str) -> str:
    """The Anki name of the deck under `titles`, from the root down."""
    return "::".join(deck_part(title) for title in titles)


def sources_html(bank: Bank, source_ids: tuple[str, ...]) -> str:
    """The Sources field: each cited source as a link with its site."""
    items = []
    for source_id in source_ids:
        source = bank.source(source_id)
        items.append(
            f'<li><a href="{escape(source.url)}">{plain_html(source.title)}</a> '
            f'<span class="dg-site">({plain_html(source.site)})</span></li>'
        )
    return "<ul>" + "".join(items) + "</ul>"


def compare_table_html(items: tuple[str, ...], values: tuple[str, ...]) -> str:
    """The back of a compare row: the items and their values side by side."""
    head = "".join(f"<th>{to_inline_html(item)}</th>" for item in items)
    cells = "".join(f"<td>{to_html(value)}</td>" for value in values)
    return f'<table class="dg-compare"><tr>{head}</tr><tr>{cells}</tr></table>'


def compare_front(items: tuple[str, ...], row: CompareRow, colon: str = ": ") -> str:
    """The front of a compare row: "XLNet vs BERT: <aspect>" (a full-width colon in Chinese), each
    piece rendered on its own, as it was checked."""
    return " vs ".join(to_inline_html(item) for item in items) + colon + to_inline_html(row.aspect)


def question_tags(question: Question) -> tuple[str, ...]:
    """`deckgen::<section>::<topic>` and the question's own tags under `deckgen::tag::`."""
    return (f"{TAG_ROOT}::{question.section}::{question.topic}", *(BANK_TAG + tag for tag in question.tags))


def retired_banner(reason: str, language: str = "en") -> str:
    """The banner a retired note carries above its old text, in the edition's language."""
    if language == "zh":
        return (
            '<div class="dg-retired"><strong>已停用：请删除这张卡片。</strong> '
            f"{to_inline_html(reason)}（在“浏览”中搜索 <code>tag:{RETIRED_TAG}</code>，全选后删除。）</div>"
        )
    return (
        '<div class="dg-retired"><strong>Retired: delete this card.</strong> '
        f"{to_inline_html(reason)} (Browse, search <code>tag:{RETIRED_TAG}</code>, select all, delete.)</div>"
    )


def topic_field(bank: Bank, topic: Topic) -> str:
    """The Topic field: the topic's title, marked with its language in an edition other than
    English, which the card's CSS reads to show its own labels in that language."""
    title = plain_html(topic.title)
    language = bank.deck.language
    return title if language == "en" else f'<span lang="{labels(language).html_lang}">{title}</span>'


def _note(layout: NoteLayout, question: Question, row: CompareRow | None, values: dict[str, str], retired: str | None, language: str) -> NoteSpec:
    """The note of the question (or of one of its rows), its fields in the layout's order."""
    row_id = None if row is None else row.id
    by_name = {**values, "ID": note_id_field(question.id, row_id)}
    fields = [by_name[name] for name in layout.fields]
    tags = question_tags(question)
    if retired is not None:
        front = layout.fields.index(layout.front)
        fields[front] = retired_banner(retired, language) + fields[front]
        tags = (*tags, RETIRED_TAG)
    return NoteSpec(note_guid(question.id, row_id), layout.model, tuple(fields), tags)


def question_notes(bank: Bank, topic: Topic, question: Question) -> list[NoteSpec]:
    """The notes one question becomes: one, or one per compare row; retired ones carry a banner."""
    layout = note_layout(question)
    media = question.media()
    shared = {
        "Extra": to_html(with_media(question.extra, media)),
        "Sources": sources_html(bank, question.sources),
        "Topic": topic_field(bank, topic),
    }
    if question.type is not QuestionType.COMPARE:
        front = to_html(with_media(question.question, media))
        values = {**shared, layout.front: mark_math_clozes(front) if question.type is QuestionType.CLOZE else front}
        if "Answer" in layout.fields:
            values["Answer"] = to_html(with_media(question.answer, media))
        return [_note(layout, question, None, values, question.retired, bank.deck.language)]
    notes = []
    for row in question.rows:
        values = {**shared, layout.front: compare_front(question.items, row, labels(bank.deck.language).colon), "Answer": compare_table_html(question.items, row.values)}
        if row.extra:
            # A row's own extra follows the question's, on that row's card only.
            values["Extra"] = to_html(with_media("\n\n".join(t for t in (question.extra, row.extra) if t), media))
        # A retired question retires every row, with its reason; else a row may be retired on its own.
        notes.append(_note(layout, question, row, values, question.retired if question.retired is not None else row.retired, bank.deck.language))
    return notes


@dataclass(frozen=True)
class NoteDeck:
    """One deck of the package: the root, a section or a topic."""

    path: tuple[str, ...]
    """Its id path: the deck's slug, then the section's id and the topic's."""
    name: str
    """Its name in Anki (`Root::Section::Topic`)."""
    topic: Topic | None
    """The topic whose notes it holds; None for the root and the sections, which hold none."""


@dataclass(frozen=True)
class DeckNotes:
    """Every note of the deck, by the deck it goes to, in deck order. With a build's cache, each
    topic's notes are read from it each time they are asked for, and not kept: a build holds one
    topic's notes at a time, not the deck's (tens of MB at 10,000 cards)."""

    bank: Bank
    decks: tuple[NoteDeck, ...]
    """The root, each section and each topic, in order."""
    cache: BuildCache | None
    rendered: Mapping[str, tuple[NoteSpec, ...]]
    """Without a cache, each topic's notes, rendered once (nothing would remember them); else empty."""

    def topic_notes(self, deck: NoteDeck) -> Sequence[NoteSpec]:
        """The notes of one of the `decks`."""
        if deck.topic is None:
            return ()
        if self.cache is None:
            return self.rendered[deck.topic.id]
        return topic_notes(self.bank, deck.topic, self.cache)

    def by_deck(self) -> Iterator[tuple[tuple[str, ...], str, Sequence[NoteSpec]]]:
        """(deck id path, deck name, notes) for each deck, in order."""
        for deck in self.decks:
            yield deck.path, deck.name, self.topic_notes(deck)

    def each(self) -> Iterator[NoteSpec]:
        """Every note, in order."""
        for _, _, notes in self.by_deck():
            yield from notes

    @property
    def notes(self) -> tuple[NoteSpec, ...]:
        """All notes, in order."""
        return tuple(self.each())

    def handed(self, most: int) -> HandedNotes | None:
        """Each deck's id path and notes, in order, as `by_deck` gives them, for a forked process
        (`deckgen.later.forked`) to read there, in a build that keeps no topic's notes from one
        build to the next (not a watch): a topic's notes that the last build's cache holds are
        read there, from that file (`BuildCache.left_in_last_build`), and those of the others
        (the topics an edit changed) are read now and held. None without a last build's cache,
        or when that would hold more than `most` notes: a cold build, or one after many edits,
        writes its package itself, a topic at a time."""
        cache = self.cache
        if cache is None:
            return None
        topics = [(deck, topic, *_question_keys(self.bank, topic, cache)) for deck in self.decks if (topic := deck.topic) is not None]
        named = [cache.fragment_key(_NOTES_TOPIC, keys) for *_, keys in topics]
        left = cache.left_in_last_build({key: ["notes:" + k for k in keys] for key, (*_, keys) in zip(named, topics)})
        if left is None:
            return None
        last, stored = left
        unread = [(deck, topic) for key, (deck, topic, *_) in zip(named, topics) if key not in stored]
        if sum(len(_rows(q)) for _, topic in unread for q in (*topic.questions, *topic.retired)) > most:
            return None
        held = {deck.path: topic_notes(self.bank, topic, cache) for deck, topic in unread}
        bank, decks = self.bank, self.decks
        by_path = {deck.path: (key, topic, questions, keys) for key, (deck, topic, questions, keys) in zip(named, topics)}
        refused: list[str] = []

        def read() -> Iterator[tuple[tuple[str, ...], Sequence[NoteSpec]]]:
            get = last.reader()
            for deck in decks:
                specs = held.get(deck.path)
                if specs is None and deck.path in by_path:
                    key, topic, questions, keys = by_path[deck.path]
                    specs = _read_there(questions, get(key))
                    if specs is None:
                        refused.append(key)
                        specs = [spec for q, k in zip(questions, keys) for spec in _question_read_there(bank, topic, q, get("notes:" + k))]
                yield deck.path, specs or ()

        def repair(keys: object) -> None:
            by_key = {key: topic for key, topic, *_ in by_path.values()}
            for key in keys if isinstance(keys, list) else ():
                if isinstance(key, str) and key in by_key:
                    topic_notes(bank, by_key[key], cache)

        return HandedNotes(read, refused, repair)

    def hashes(self) -> Iterator[NoteHashes]:
        """Every note as the lock records it, in order (see `topic_note_hashes`)."""
        for deck in self.decks:
            if deck.topic is None:
                continue
            if self.cache is None:
                yield from map(note_hashes, self.topic_notes(deck))
            else:
                yield from topic_note_hashes(self.bank, deck.topic, self.cache)

    def named(self) -> Iterator[tuple[tuple[str, ...], list[str], tuple[str, ...]]]:
        """What names the notes of each topic's deck without reading one, in order: its id path,
        its questions' keys in the build's cache (`BuildCache.question_key`, which names
        everything a question's notes show), and its notes' ids. Only with a build's cache."""
        cache = self.cache
        if cache is None:
            raise ValueError("the notes are named by their keys in a build's cache, and there is none")
        for deck in self.decks:
            if deck.topic is not None:
                questions, keys = _question_keys(self.bank, deck.topic, cache)
                ids = cache.derived("note-ids", (deck.topic,), None, lambda: tuple(i for q in questions for i in note_ids(q)))
                yield deck.path, keys, ids


NoteHashes = tuple[str, str, str, str]
"""A note as the lock records it: its id, its note type, and the hashes of its content
(`note_hash`) and of its text (`text_hash`)."""


def note_hashes(spec: NoteSpec) -> NoteHashes:
    """The note as the lock records it."""
    return spec.fields[0], spec.model, note_hash(spec), text_hash(spec.fields)


def _rows(question: Question) -> list[str | None]:
    """The rows a question has a note for, by id: each row of a compare, else the question alone (None)."""
    return [r.id for r in question.rows] if question.type is QuestionType.COMPARE else [None]


def note_ids(question: Question) -> list[str]:
    """The ids of the question's notes (their first field), in order, without rendering them."""
    return [note_id_field(question.id, row) for row in _rows(question)]


def _note_specs(value: object, question: Question, guids: Sequence[str] | None = None) -> list[NoteSpec] | None:
    """The question's notes as the cache stored them, or None unless the value is exactly what
    deckgen stores for it: its note type, its ids and GUIDs (`guids`, if given: `note_guids`),
    and a text for every field."""

    def texts(items: object) -> tuple[str, ...] | None:
        return tuple(items) if isinstance(items, list) and all(isinstance(i, str) for i in items) else None

    layout = note_layout(question)
    rows = _rows(question)
    if not isinstance(value, list) or len(value) != len(rows):
        return None
    if guids is None:
        guids = note_guids(question)
    specs = []
    for entry, row, guid in zip(value, rows, guids):
        if not (isinstance(entry, list) and len(entry) == 4):
            return None
        fields, tags = texts(entry[2]), texts(entry[3])
        if (
            fields is None
            or tags is None
            or entry[0] != guid
            or entry[1] != layout.model
            or len(fields) != len(layout.fields)
            or fields[0] != note_id_field(question.id, row)
        ):
            return None
        specs.append(NoteSpec(entry[0], layout.model, fields, tags))
    return specs


def note_guids(question: Question) -> tuple[str, ...]:
    """The GUIDs of the question's notes, in order, without rendering them."""
    return tuple(note_guid(question.id, row) for row in _rows(question))


def _stored(specs: list[NoteSpec]) -> list[list[object]]:
    """A question's notes as the cache stores them."""
    return [[s.guid, s.model, list(s.fields), list(s.tags)] for s in specs]


def cached_notes(bank: Bank, topic: Topic, question: Question, cache: BuildCache | None) -> list[NoteSpec]:
    """The question's notes from `cache` if it holds them, else rendered (and stored there)."""
    if cache is None:
        return question_notes(bank, topic, question)
    return cache.memo(
        "notes:" + cache.question_key(bank, topic, question),
        lambda: question_notes(bank, topic, question),
        lambda value: _note_specs(value, question),
        _stored,
    )


def topic_notes(bank: Bank, topic: Topic, cache: BuildCache | None) -> Sequence[NoteSpec]:
    """Every note of the topic, live and retired, in order: from `cache` where it can, the whole
    topic's at once, else each question's. A process that builds again and again keeps them as
    read (`BuildCache.fragment`'s `keep_decoded`), as the very same tuple: a rebuild reads again
    only the notes of a topic that changed, and what is made of the others' notes
    (`BuildCache.derived`) is kept with them. Notes made by this build come as a list, which
    nothing is to keep."""
    questions = (*topic.questions, *topic.retired)

    def make() -> Sequence[Sequence[NoteSpec]]:
        return [cached_notes(bank, topic, q, cache) for q in questions]

    def decode(value: object) -> tuple[tuple[NoteSpec, ...], ...] | None:
        if not isinstance(value, list) or len(value) != len(questions):
            return None
        # Hashed once a topic in a process that builds again and again (`BuildCache.derived`).
        guids = cache.derived("note-guids", (topic,), None, lambda: tuple(note_guids(q) for q in questions)) if cache is not None else [None] * len(questions)
        return _stored_topic_notes(value, questions, guids)

    if cache is None:
        return [spec for specs in make() for spec in specs]
    _, keys = _question_keys(bank, topic, cache)
    by_question = cache.fragment(
        _NOTES_TOPIC, keys, ["notes:" + key for key in keys], make, decode, lambda made: [_stored(list(specs)) for specs in made], keep_decoded=True
    )
    in_order = partial(_in_order, by_question)
    if isinstance(by_question, tuple):  # as read from the cache, which a watch keeps: so is this
        return cache.derived("notes-in-order", (by_question,), None, in_order)
    return list(in_order())  # made by this build, and let go: a list, so that nothing keeps it


def _stored_topic_notes(value: list[object], questions: Sequence[Question], guids: Sequence[Sequence[str] | None]) -> tuple[tuple[NoteSpec, ...], ...] | None:
    """A topic's notes, question by question, as the cache stored them (`topic_notes`), or None
    unless each question's are exactly what deckgen stores for it (`_note_specs`)."""
    found = [_note_specs(entry, q, ids) for entry, q, ids in zip(value, questions, guids)]
    return None if any(specs is None for specs in found) else tuple(tuple(specs) for specs in found if specs is not None)


def _in_order(by_question: Sequence[Sequence[NoteSpec]]) -> tuple[NoteSpec, ...]:
    """Each question's notes, one after the other."""
    return tuple(spec for specs in by_question for spec in specs)


@dataclass(frozen=True)
class HandedNotes:
    """The notes of a package's decks, for a forked process to read (`DeckNotes.handed`)."""

    read: Callable[[], Iterator[tuple[tuple[str, ...], Sequence[NoteSpec]]]]
    """Each deck's id path and notes, in order."""
    refused: list[str]
    """The keys of the topics whose notes the last build's cache did not hold as deckgen stores
    them, as `read` finds them, in the process that reads: their notes were read there a
    question at a time, or rendered."""
    repair: Callable[[object], None]
    """Given what `refused` held in that process, makes those topics' notes again into the
    build's cache, in the build's own process, as a build that read them itself would have:
    the next build finds them as deckgen stores them."""


def _read_there(questions: Sequence[Question], value: object) -> Sequence[NoteSpec] | None:
    """A topic's notes as the last build's cache stored them (`value`), read in a forked process
    (`DeckNotes.handed`); None if that entry is not what deckgen stores (a damaged file)."""
    if not isinstance(value, list) or len(value) != len(questions):
        return None
    by_question = _stored_topic_notes(value, questions, [note_guids(q) for q in questions])
    return None if by_question is None else _in_order(by_question)


def _question_read_there(bank: Bank, topic: Topic, question: Question, value: object) -> list[NoteSpec]:
    """A question's notes as the last build's cache stored them (`value`), read in a forked
    process; rendered there, as a build without a cache renders them, if that entry is not what
    deckgen stores."""
    found = _note_specs(value, question)
    return question_notes(bank, topic, question) if found is None else found


def _question_keys(bank: Bank, topic: Topic, cache: BuildCache) -> tuple[tuple[Question, ...], list[str]]:
    """The topic's questions, live and retired, in order, with their keys in `cache`."""
    return (*topic.questions, *topic.retired), list(cache.topic_keys(bank, topic))


_NOTES_TOPIC = "notes-topic"
"""The kind of a topic's notes in the build's cache, made of its questions' keys (`topic_notes`)."""


def topic_note_hashes(bank: Bank, topic: Topic, cache: BuildCache) -> tuple[NoteHashes, ...]:
    """Every note of the topic as the lock records it, in order: from `cache` where it can, the
    whole topic's at once, without reading its notes, else from its notes. Either way its notes
    stay in the cache for the next build, as when they are read. A process that builds again
    and again keeps them as read (16 bytes a hash: some 3 MB a language at 10,000 notes)."""
    questions, keys = _question_keys(bank, topic, cache)

    def make() -> tuple[NoteHashes, ...]:
        return tuple(note_hashes(spec) for spec in topic_notes(bank, topic, cache))

    def decode(value: object) -> tuple[NoteHashes, ...] | None:
        expected = [(i, note_layout(q).model) for q in questions for i in note_ids(q)]
        if not isinstance(value, list) or len(value) != len(expected):
            return None
        found: list[NoteHashes] = []
        for entry, (nid, model) in zip(value, expected):
            if not (isinstance(entry, list) and len(entry) == 4 and entry[0] == nid and entry[1] == model and all(isinstance(h, str) and _HASH.fullmatch(h) for h in entry[2:])):
                return None
            found.append((nid, model, entry[2], entry[3]))
        return tuple(found)

    # The entries `topic_notes` reads, under the same parts: named only when the cache sweeps.
    kept = chain((cache.fragment_key(_NOTES_TOPIC, keys),), ("notes:" + key for key in keys))
    return cache.fragment("note-hashes-topic", keys, kept, make, decode, lambda made: [list(entry) for entry in made], keep_decoded=True)


_HASH = re.compile("[0-9a-f]{16}")
"""What `content_hash` gives."""


def deck_notes(bank: Bank, cache: BuildCache | None = None) -> DeckNotes:
    """Every note of the bank, live and retired, in its deck: rendered now without `cache`, else
    read from it (or rendered into it) a topic at a time, whenever they are asked for."""
    # Named in the source language, as the topics' decks are (`deck_name`), with the same ids:
    # Anki imports a deck that holds no card only as the parent its children name, so a root or
    # a section named otherwise would never arrive, nor the root's description with it.
    names = bank.edition_of or bank
    slug = names.deck.slug
    decks = [NoteDeck((slug,), _deck_path_name(names.deck.title), None)]
    for section in bank.deck.sections:
        topics = [t for t in bank.ordered_topics() if t.section == section.id]
        if not topics:
            continue
        decks.append(NoteDeck((slug, section.id), _deck_path_name(names.deck.title, names.section(section.id).title), None))
        decks += [NoteDeck((slug, section.id, topic.id), deck_name(bank, topic), topic) for topic in topics]
    rendered = {} if cache is not None else {d.topic.id: tuple(topic_notes(bank, d.topic, None)) for d in decks if d.topic is not None}
    return DeckNotes(bank, tuple(decks), cache, rendered)


def note_kinds(bank: Bank) -> dict[str, tuple[str, Location]]:
    """Every note id in the banks (live and retired) with its note type and where it is written; no rendering."""
    return {nid: (model, question.location_of("type") if row is None else row.location) for nid, model, question, row in _each_note(bank)}


def note_types_by_id(bank: Bank) -> dict[str, str]:
    """Every note id in the banks (live and retired) with its note type: `note_kinds`, without
    where each is written (a build asks for it at every build, and for that only when it must
    name a note)."""
    return {nid: model for nid, model, _, _ in _each_note(bank)}


def _each_note(bank: Bank) -> Iterator[tuple[str, str, Question, CompareRow | None]]:
    """Each note of the banks (live and retired), in order: its id, its note type, its question
    and its compare row (None for a question that is one note)."""
    for topic in bank.topics:
        for question in (*topic.questions, *topic.retired):
            model = note_layout(question).model
            if question.type is QuestionType.COMPARE:
                for row in question.rows:
                    yield note_id_field(question.id, row.id), model, question, row
            else:
                yield question.id, model, question, None


def note_hash(spec: NoteSpec) -> str:
    """A hash of everything Anki stores for a note: its type, fields and tags (but its release tag,
    which follows from the lock)."""
    return content_hash(spec.model, *spec.fields, " ".join(spec.tags))


def text_hash(fields: tuple[str, ...]) -> str:
    """A hash of a note's text, its fields in order: what a learner sees change in a release."""
    return content_hash(*fields)


def release_tag(version: str) -> str:
    """The tag of the notes a release added or changed: `deckgen::release::0.2.0`. A space or
    `::` in a version would split or nest the tag, so they become `_` and `:`."""
    return RELEASE_TAG + "_".join(version.split()).replace("::", ":")
