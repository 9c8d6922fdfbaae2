"""Turn loaded YAML nodes into a validated Bank, collecting every problem on the way.

Each file is read by its record in deckgen.spec (deckgen.reader), then checked against
the other files (deckgen.references); what comes out is the model (deckgen.model).
Validation never stops at the first problem: a contributor sees all of them at once,
each located at the node that causes it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from contextlib import nullcontext
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from deckgen import parallel
from deckgen.cache import BuildCache
from deckgen.serial import stored_content, topic_from_json, topic_json, with_content
from deckgen.content import cloze_problems
from deckgen.load import LoadedFile, Mapping, Scalar, load_file, read_bank_file
from deckgen.lock import unreadable_in_version
from deckgen.model import (
    Bank,
    CompareRow,
    Deck,
    Diagnostic,
    FieldLocations,
    Location,
    Question,
    QuestionType,
    Section,
    Severity,
    Source,
    SourceKind,
    Topic,
    clipped,
    deck_part_key,
    one_line,
)
from deckgen.reader import Reader, location_of
from deckgen.render import reading_for_a_build
from deckgen.references import DECK_FILE, SOURCES_FILE, Known, display, find_file, is_utf8, link_problem, topic_files
from deckgen.spec import DECK, QUESTION_TYPE, QUESTIONS, RECORDS, RESERVED_SECTION_IDS, RETIRED_QUESTIONS, SECTION, SOURCE, SOURCES, TOPIC


def _read_deck(reader: Reader, loaded: LoadedFile) -> tuple[Deck | None, set[str]]:
    """The deck, and the section ids it defines even when the rest of it is broken."""
    top = reader.mapping(loaded.root, DECK.what, Location(loaded.display))
    if top is None:
        return None, set()
    deck = reader.read(top, DECK)
    sections: list[Section] = []
    seen: dict[str, Location] = {}
    titles: dict[str, Location] = {}
    for node in deck["sections"]:
        entry = reader.mapping(node, SECTION.what, node.location)
        if entry is None:
            continue
        values = reader.read(entry, SECTION)
        if values["id"] is None or values["title"] is None or values["heading"] is None:
            continue
        reader.unique(seen, values["id"], location_of(entry, "id"), "section id")
        if values["id"] in RESERVED_SECTION_IDS:
            reader.error(
                location_of(entry, "id"),
                f"section id '{values['id']}' is reserved: the deck's own tags use deckgen::{values['id']}::, and a section's topics would be tagged there too",
                "reserved-id",
            )
        title_key = deck_part_key(values["title"])
        if title_key in titles:
            reader.error(
                location_of(entry, "title"),
                f"section title '{clipped(values['title'])}' is the deck name of the section at {titles[title_key]}; "
                "Anki would rename one of them with a trailing _: give each section a title of its own",
                "duplicate-deck-name",
            )
        else:
            titles[title_key] = location_of(entry, "title")
        sections.append(Section(values["id"], values["title"], values["heading"], entry.location))
    section_ids = {s.id for s in sections}
    languages = tuple(item.value for item in deck["languages"] or [])
    if languages and (languages[0] != "en" or len(set(languages)) != len(languages)):
        reader.error(location_of(top, "languages"), "list English (en) first, then each other edition once: English is the language the banks are written in", "languages")
        return None, section_ids
    if any(deck[key] is None for key in ("title", "version", "description", "homepage")):
        return None, section_ids
    odd = unreadable_in_version(deck["version"])
    if odd is not None:  # the lock records the version, and would refuse it when read back
        reader.error(location_of(top, "version"), f"the version holds U+{ord(odd):04X}, which is not a printable character: the version names the release in the lock, and in a tag on each note the release changes", "version")
        return None, section_ids
    return Deck(deck["title"], deck["version"], deck["description"], deck["homepage"], tuple(sections), languages or ("en",)), section_ids


def _read_sources(reader: Reader, loaded: LoadedFile) -> list[Source]:
    top = reader.mapping(loaded.root, SOURCES.what, Location(loaded.display))
    if top is None:
        return []
    sources: list[Source] = []
    seen_ids: dict[str, Location] = {}
    seen_urls: dict[str, Location] = {}
    for node in reader.read(top, SOURCES)["sources"]:
        entry = reader.mapping(node, SOURCE.what, node.location)
        if entry is None:
            continue
        values = reader.read(entry, SOURCE)
        if values["id"] is not None:
            reader.unique(seen_ids, values["id"], location_of(entry, "id"), "source id")
        if values["url"] is not None:
            reader.unique(seen_urls, values["url"], location_of(entry, "url"), "source url", "duplicate-url")
        if any(values[key] is None for key in ("id", "title", "url", "section")):
            continue
        sources.append(
            Source(
                id=values["id"],
                title=values["title"],
                url=values["url"],
                section=values["section"],
                location=entry.location,
                title_en=values["title_en"],
                title_zh=values["title_zh"],
                kind=SourceKind(values["kind"] or SourceKind.ARTICLE.value),
                lang=values["lang"],
                authors=tuple(a.value for a in values["authors"] or []),
                year=values["year"],
                lint_ignore=values["lint"],
            )
        )
    return sources


def _read_rows(reader: Reader, question: dict[str, Any], item_count: int) -> list[CompareRow]:
    rows: list[CompareRow] = []
    seen: dict[str, Location] = {}
    for key in ("rows", "retired_rows"):
        record = RECORDS["retired-row" if key == "retired_rows" else "row"]
        for node in question.get(key) or []:
            row = reader.mapping(node, record.what, node.location)
            if row is None:
                continue
            values = reader.read(row, record)
            if values["id"] is not None:
                reader.unique(seen, values["id"], location_of(row, "id"), "row id")
            cells = values["values"]
            if cells is not None and item_count and len(cells) != item_count:
                reader.error(
                    location_of(row, "values"),
                    f"row has {len(cells)} values but the question compares {item_count} items",
                    "compare-values",
                )
            if values["id"] is None or values["aspect"] is None or cells is None or values.get("reason", "") is None:
                continue
            rows.append(
                CompareRow(values["id"], values["aspect"], tuple(v.value for v in cells), row.location, values.get("reason"), values["extra"] or "")
            )
    return rows


def _question_type(reader: Reader, entry: Mapping) -> QuestionType | None:
    """The question's type, which chooses its record; a `type` that is not text is reported
    when the question is read by that record (as basic), and only then."""
    written = entry.get("type")
    if not isinstance(written, Scalar) or written.reported or written.is_null or not written.value.strip():
        return QuestionType.BASIC
    raw = written.value
    if reader.check(QUESTIONS[QuestionType.BASIC], QUESTION_TYPE, raw, location_of(entry, "type")) is None:
        return None
    return QuestionType(raw)


def _read_question(reader: Reader, entry: Mapping, topic_id: str, section: str, retired: bool) -> Question | None:
    qtype = _question_type(reader, entry)
    if qtype is None:
        reader.keys(entry, RECORDS["any-retired-question" if retired else "any-question"])
        return None
    record = (RETIRED_QUESTIONS if retired else QUESTIONS)[qtype]
    reader.take_media()
    values = reader.read(entry, record)
    media = reader.take_media()
    qid, text = values["id"], values["question"]
    if qid is not None:
        reader.unique(reader.known.question_ids, qid, location_of(entry, "id"), "question id")
    at_question = location_of(entry, "question")
    if qtype is QuestionType.CLOZE and text is not None and at_question not in reader.flawed:
        reader.report(at_question, cloze_problems(text))
    items = values.get("items") or []
    rows: list[CompareRow] = []
    if qtype is QuestionType.COMPARE:
        if entry.get("items") is not None and 0 < len(items) < 2:
            reader.error(location_of(entry, "items"), "a compare question needs at least two items", "compare-values")
        rows = _read_rows(reader, values, len(items))
    sources = values["sources"]
    answer = values.get("answer")
    # No source left is an error reported already, or only placeholders (a warning): the
    # question is kept, so that check reports the rest of what `deckgen new` left to write.
    if qid is None or text is None or (qtype is QuestionType.BASIC and answer is None) or sources is None:
        return None
    if retired and values["reason"] is None:
        return None
    return Question(
        id=qid,
        type=qtype,
        question=text,
        location=entry.location,
        topic=topic_id,
        section=section,
        answer=answer or "",
        extra=values["extra"] or "",
        # Source ids and tags recur in every question: each is kept once.
        sources=tuple(sys.intern(s.value) for s in sources),
        tags=tuple(sys.intern(t.value) for t in values["tags"] or []),
        items=tuple(i.value for i in items),
        rows=tuple(rows),
        lint_ignore=values["lint"],
        field_locations=FieldLocations((key.value, value.location) for key, value in entry.items),
        retired=values.get("reason"),
        images=tuple(sorted(media.items())),
    )


def read_topic(reader: Reader, loaded: LoadedFile) -> Topic | None:
    top = reader.mapping(loaded.root, TOPIC.what, Location(loaded.display))
    if top is None:
        return None
    values = reader.read(top, TOPIC)
    topic_id, title, section = values["id"], values["topic"], values["section"]
    if topic_id is not None:
        reader.unique(reader.known.topic_ids, topic_id, location_of(top, "id"), "topic id")
    questions: list[Question] = []
    retired: list[Question] = []
    for key, what, into in (("questions", "a question", questions), ("retired", "a retired question", retired)):
        for node in values[key]:
            entry = reader.mapping(node, what, node.location)
            if entry is None:
                continue
            question = _read_question(reader, entry, topic_id or "", section or "", key == "retired")
            if question is not None:
                into.append(question)
    if topic_id is None or title is None or section is None:
        return None
    return Topic(
        topic_id, title, section, loaded.path, top.location, tuple(questions), values["lint"], tuple(retired), location_of(top, "topic")
    )


def _load_one(reader: Reader, root: Path, stem: str) -> LoadedFile | None:
    candidates = find_file(root, stem)
    for candidate in candidates:
        link = link_problem(root, candidate) if candidate.is_symlink() else None
        if link is not None:
            reader.error(Location(display(root, candidate)), link, "bank-file")
            return None
    if not candidates:
        reader.error(Location((root / f"{stem}.yaml").as_posix()), f"missing {stem}.yaml: every bank folder needs one", "missing-file")
        return None
    if len(candidates) > 1:
        reader.error(
            Location(display(root, candidates[1])),
            f"both {candidates[0].name} and {candidates[1].name} exist; keep one",
            "duplicate-file",
        )
    loaded = load_file(candidates[0], display(root, candidates[0]))
    reader.diagnostics.extend(loaded.diagnostics)
    return loaded


def topic_key(data: bytes, name: str, known: Known) -> str | None:
    """What a topic file's reading depends on, hashed: its bytes, its name, and the ids it may refer to."""
    sections, sources = known.ids["section"], known.ids["source"]
    if sections is None or sources is None:
        return None
    parts = [name, hashlib.sha256(data).hexdigest(), sorted(sections), sorted(sources)]
    return "topic:" + hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


def _stored_topic(path: Path, data: Any) -> tuple[Topic, Location, tuple[Diagnostic, ...], bytes]:
    """A topic file's reading as the cache stores it (`deckgen.serial`), with what its
    questions hold (`BuildCache.content`)."""
    if not isinstance(data, dict):
        raise TypeError("not an object")
    topic, id_location, warnings = topic_from_json(data, path)
    return topic, id_location, tuple(warnings), stored_content(data)


def _cached_topic(reader: Reader, cache: BuildCache, key: str, path: Path) -> Topic | None:
    """A topic file as the last build read it, if it is unchanged; its ids are checked
    against the other files' as if it had been read again."""
    found = cache.decoded(key, path, partial(_stored_topic, path))
    if found is None:
        return None
    topic, id_location, warnings, content = found
    questions = (*topic.questions, *topic.retired)
    sections, sources = reader.known.ids["section"], reader.known.ids["source"]
    if (
        sections is None
        or sources is None
        or topic.section not in sections
        or len({q.id for q in questions}) != len(questions)
        or any(len({r.id for r in q.rows}) != len(q.rows) for q in questions)
        or any(q.topic != topic.id or q.section != topic.section or not sources.issuperset(q.sources) for q in questions)
        or len(content) != 32 * len(questions)
    ):
        cache.refuse(key, path)
        return None  # not what deckgen stored for a file that passed: read the file instead
    cache.knows_content(topic, content)
    reader.diagnostics.extend(warnings)
    reader.unique(reader.known.topic_ids, topic.id, id_location, "topic id")
    for question in questions:
        reader.unique(reader.known.question_ids, question.id, question.location_of("id"), "question id")
    return topic


def _deck_name_problems(reader: Reader, topics: list[Topic]) -> None:
    """Two topics of a section whose titles Anki reads as one deck name: an error at the second title."""
    seen: dict[tuple[str, str], Location] = {}
    for topic in topics:
        where = topic.title_location or topic.location
        key = (topic.section, deck_part_key(topic.title))
        if key in seen:
            reader.error(
                where,
                f"topic title '{clipped(topic.title)}' is the deck name of the topic at {seen[key]}; "
                "Anki would rename one of them with a trailing _: give each topic a title of its own",
                "duplicate-deck-name",
            )
        else:
            seen[key] = where


Warm = Callable[[Bank, Topic, BuildCache], None]
"""What a build renders of a topic as soon as it has read it without an error (see `deckgen.build`),
given the bank that the topic is part of, so far as it is known: its deck and sources, and that
topic. Its texts are then parsed once, to be checked and to be rendered."""


def _read_into_cache(path: Path, name: str, data: bytes, key: str, known: Known, warm: Callable[[Topic, BuildCache], None] | None, cache: BuildCache) -> None:
    """Read one topic file, as `validate_bank` does, and cache it if it passed (in a worker of
    `deckgen.parallel`), and what `warm` renders of it. Its ids are checked against the other
    files' when the cached topic is taken, as for any file unchanged since the last build."""
    reader = Reader(Known(dict(known.ids), root=known.root, folder=path.parent))
    loaded = load_file(path, name, data)
    reader.diagnostics.extend(loaded.diagnostics)
    if loaded.root is None or not isinstance(loaded.root, Mapping):
        return
    with reading_for_a_build() if warm is not None else nullcontext():
        topic = read_topic(reader, loaded)
        entry = _cache_entry(topic, loaded, reader.diagnostics)
        if entry is not None and topic is not None:
            cache.put(key, with_content(entry, cache.content(topic)))
        if warm is not None and topic is not None and _passed(reader.diagnostics):
            warm(topic, cache)


def _passed(found: Sequence[Diagnostic]) -> bool:
    """Whether what a file gave is warnings at most."""
    return all(d.severity is Severity.WARNING for d in found)


def _warm_in(warm: Warm, root: Path, deck: Deck, sources: tuple[Source, ...], topic: Topic, cache: BuildCache) -> None:
    """`warm` the topic as part of a bank of its own, with the deck and the sources of the bank."""
    warm(Bank(root, deck, sources, (topic,)), topic, cache)


def _cache_entry(topic: Topic | None, loaded: LoadedFile, found: list[Diagnostic]) -> dict[str, Any] | None:
    """What the cache keeps of a topic file read with the diagnostics `found`: None unless it
    passed (warnings only) and can be cached."""
    if topic is None or not isinstance(loaded.root, Mapping) or not _passed(found):
        return None
    return topic_json(topic, location_of(loaded.root, "id"), found)


def _read_in_workers(
    root: Path, files: dict[Path, tuple[bytes | None, str | None]], known: Known, warm: Callable[[Topic, BuildCache], None] | None, cache: BuildCache
) -> bool:
    """Read the topic files (`files`: each one's bytes and cache key) that `cache` does not hold
    in worker processes, when there are enough of them, and say whether it did."""
    work = [
        (key, len(data), partial(_read_into_cache, path, display(root, path), data, key, known, warm))
        for path, (data, key) in files.items()
        if data is not None and key is not None
    ]
    return parallel.run_missing(cache, work, parallel.MIN_BANK_BYTES, 1 if warm is not None else None)


def validate_bank(root: Path, cache: BuildCache | None = None, warm: Warm | None = None) -> tuple[Bank | None, list[Diagnostic]]:
    """Load and check every file of a bank folder; the bank is None when any error was found.

    With a build's cache, a topic file that is unchanged since the last build (and checked
    against the same sections and sources) is taken from it instead of being read again; and
    with `warm` too, each topic file that is read and has no error is rendered into it at once.
    """
    # When deck.yaml or sources.yaml cannot be read, ids that refer to them are not
    # checked (None): every reference would be reported as unknown, hiding the real problem.
    known = Known({"section": None, "source": None}, root=root)
    reader = Reader(known, cache=cache)
    if not root.is_dir():
        reader.error(Location(one_line(root.as_posix())), "bank folder not found", "missing-file")
        return None, reader.diagnostics
    if not is_utf8(str(root)):
        # Every file's name in messages, keys and links starts with it.
        reader.error(
            Location(one_line(root.as_posix())),
            "the bank folder's path is not UTF-8 (a byte is shown as \\udcXX): rename the folder, or give a path to it that is",
            "bank-file",
        )
        return None, reader.diagnostics
    deck_file = _load_one(reader, root, DECK_FILE)
    sources_file = _load_one(reader, root, SOURCES_FILE)
    deck = None
    if deck_file and deck_file.root is not None:
        deck, known.ids["section"] = _read_deck(reader, deck_file)
    sources: list[Source] = []
    if sources_file and sources_file.root is not None:
        sources = _read_sources(reader, sources_file)
        known.ids["source"] = {s.id for s in sources}
    paths, unreadable = topic_files(root, deck.languages if deck is not None else ())
    reader.diagnostics.extend(unreadable)
    if not paths:
        reader.error(Location(root.as_posix()), "no topic banks: add a YAML file with 'topic:' and 'questions:'", "no-banks")
    # With a cache, each file is read once: the bytes that are hashed for its key are the bytes that are parsed.
    files: dict[Path, tuple[bytes | None, str | None]] = {}
    # Rendering needs the deck and every source the topics cite: with an error in either, or in
    # a file read before, nothing is rendered (the build will fail), as after any error below.
    readable = known.ids["source"] is not None and _passed(reader.diagnostics)
    warm_topic = partial(_warm_in, warm, root, deck, tuple(sources)) if warm is not None and deck is not None and readable and cache is not None else None
    if cache is not None:
        for path in paths:
            data = read_bank_file(path)
            files[path] = (data, topic_key(data, display(root, path), known) if data is not None else None)
        # What the workers did not read is read here, and rendered at once only where rendering
        # goes no faster elsewhere: with one process, or when the workers read the bank (this is
        # then what they could not cache, or a file edited since the last build). Otherwise the
        # render step may yet give the bank's questions to the workers, which would be faster.
        if not _read_in_workers(root, files, known, warm_topic, cache) and parallel.jobs() > 1:
            warm_topic = None
    topics: list[Topic] = []
    for path in paths:
        known.folder = path.parent
        name = display(root, path)
        data, key = files.get(path, (None, None))
        if cache is not None and key is not None:
            cached = _cached_topic(reader, cache, key, path)
            if cached is not None:
                topics.append(cached)
                continue
        start = len(reader.diagnostics)
        loaded = load_file(path, name, data)
        reader.diagnostics.extend(loaded.diagnostics)
        if loaded.root is None:
            continue
        with reading_for_a_build() if warm_topic is not None else nullcontext():
            topic = read_topic(reader, loaded)
            if topic is None:
                continue
            topics.append(topic)
            if cache is not None and cache.writable and key is not None:
                entry = _cache_entry(topic, loaded, reader.diagnostics[start:])
                if entry is not None:
                    cache.put(key, with_content(entry, cache.content(topic)))
            if warm_topic is not None and cache is not None and _passed(reader.diagnostics):
                warm_topic(topic, cache)
    _deck_name_problems(reader, topics)
    diagnostics = sorted(reader.diagnostics, key=Diagnostic.sort_key)
    if deck is None or any(d.severity is Severity.ERROR for d in diagnostics):
        return None, diagnostics
    return Bank(root, deck, tuple(sources), tuple(topics)), diagnostics
