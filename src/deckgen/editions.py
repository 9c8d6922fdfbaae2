"""Editions: the deck in another language, from translation overlays beside the English banks.

English is the banks' own language. Another edition (`languages: [en, zh]` in deck.yaml) is
read from overlays: `deck.zh.yaml` beside deck.yaml (the deck's title, description and section
titles) and `<topic>.zh.yaml` beside each topic file (per question id, and per compare row id,
the translated `question`, `answer`, `extra`, `items`, `aspect` and `values`, and the topic's
`title`). Ids, sources, tags, math and code are never translated.

Each translated entry remembers what it translated: `from` maps each field it translates to a
short hash of the English text it was made from (`text_hash`). When the English changes, the
hash no longer matches, and check warns `translation-stale` at the overlay's line, naming the
field and the hash to write once the translation is brought up to date.

A translation is checked as the English is: the overlay's texts are put in place of the
English ones in the topic's own nodes, and the topic is read again, so that every field
policy applies, located in the overlay. Then what a translation must keep is compared with the
English: its formulas, its code, its cloze numbers.

A question with no translation is shown in English in the edition, marked (`UNTRANSLATED`);
check warns `translation-missing` for each such question of a topic whose overlay exists (a
translator's work in progress), and `deckgen stats` counts the coverage of every edition.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deckgen import parallel
from deckgen.memory import return_freed_memory
from deckgen.cache import BuildCache
from deckgen.cloze import clozes
from deckgen.labels import UNTRANSLATED
from deckgen.load import LoadedFile, Mapping, Node, Scalar, Sequence, load_file, read_bank_file
from deckgen.model import Bank, Deck, Diagnostic, GlossaryTerm, Location, Question, QuestionType, Severity, Topic, clipped
from deckgen.reader import Reader, location_of
from deckgen.references import DECK_FILE, Known, display
from deckgen.render import math_spans, reading_for_a_build
from deckgen.serial import stored_content, topic_from_json, topic_json, with_content

if TYPE_CHECKING:
    from deckgen.validate import Warm

SOURCE_LANGUAGE = "en"
TRANSLATE_MARK = "TODO translate: "
"""What starts each text `deckgen new --translate` writes, before the English to translate: an
entry that still holds one is shown in English, and check warns `translation-todo`."""
HASH_LENGTH = 8

QUESTION_FIELDS = ("question", "answer", "extra", "items")
ROW_FIELDS = ("aspect", "values", "extra")
DECK_FIELDS = ("title", "description")
_ENTRY_KEYS = ("id", "from", *QUESTION_FIELDS, "rows")
_ROW_KEYS = ("id", "from", *ROW_FIELDS)
_CODE_RE = re.compile(r"`[^`\n]+`")


def text_hash(value: str | tuple[str, ...]) -> str:
    """The short hash of an English text (or list of texts) that a translation records in `from`."""
    text = value if isinstance(value, str) else "\x1f".join(value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def overlay_path(path: Path, language: str) -> Path:
    """The overlay of a bank file in `language`: `positional-encoding.zh.yaml` beside `positional-encoding.yaml`."""
    return path.with_name(f"{path.stem}.{language}{path.suffix}")



@dataclass(frozen=True)
class Coverage:
    """How much of an edition is translated: questions (a compare counts once) and stale fields."""

    translated: int
    total: int
    stale: int = 0

    @property
    def percent(self) -> int:
        """The share translated, in whole percent (rounded down, so that 100 means all)."""
        return 100 if self.total == 0 else self.translated * 100 // self.total


@dataclass(frozen=True)
class Edition:
    """The bank in one language, and how much of it is translated."""

    language: str
    bank: Bank
    coverage: Coverage


@dataclass
class _Overlay:
    """One overlay file as read: its entries by id, and where it is."""

    loaded: LoadedFile
    entries: dict[str, Mapping] = field(default_factory=dict)
    title: Scalar | None = None


def _scalar(node: Node | None) -> Scalar | None:
    return node if isinstance(node, Scalar) and not node.is_null else None


def _english(node: Mapping, key: str) -> str | tuple[str, ...] | None:
    """The English value of `key` in a question or row node: text, a list of texts, or None."""
    value = node.get(key)
    if isinstance(value, Scalar):
        return None if value.is_null else value.value
    if isinstance(value, Sequence):
        return tuple(item.value for item in value.items if isinstance(item, Scalar))
    return None


class _Checker:
    """Reads one language's overlays against the English bank, collecting located problems."""

    def __init__(self, bank: Bank, language: str) -> None:
        self.bank = bank
        self.language = language
        self.diagnostics: list[Diagnostic] = []
        self.stale = 0

    def error(self, location: Location, message: str, rule: str) -> None:
        self.diagnostics.append(Diagnostic(location, Severity.ERROR, message, rule))

    def warning(self, location: Location, message: str, rule: str) -> None:
        self.diagnostics.append(Diagnostic(location, Severity.WARNING, message, rule))

    def keys(self, node: Mapping, allowed: tuple[str, ...], what: str) -> None:
        for key, _ in node.items:
            if key.value not in allowed:
                self.error(key.location, f"unknown key '{key.value}' in {what}; a translation holds {', '.join(allowed)}", "translation-key")

    def entries(self, node: Node | None, allowed: tuple[str, ...], what: str, where: Location) -> dict[str, Mapping]:
        """The mappings of a list of entries, by their id; problems reported."""
        found: dict[str, Mapping] = {}
        if node is None:
            return found
        if not isinstance(node, Sequence):
            self.error(node.location, f"expected a list of {what}s", "translation-key")
            return found
        for item in node.items:
            if not isinstance(item, Mapping):
                self.error(item.location, f"expected {what} to be a mapping with an id", "translation-key")
                continue
            self.keys(item, allowed, what)
            ident = _scalar(item.get("id"))
            if ident is None:
                self.error(item.location, f"missing required key 'id' in {what}", "translation-key")
            elif ident.value in found:
                self.error(ident.location, f"'{clipped(ident.value)}' is translated twice; keep one entry", "translation-duplicate")
            else:
                found[ident.value] = item
        return found

    def hashes(self, entry: Mapping, english: Mapping, fields: tuple[str, ...], name: str) -> None:
        """Check an entry's `from` against the English it translates: present, well formed, current."""
        translated = [key for key in fields if entry.get(key) is not None]
        written = entry.get("from")
        recorded: dict[str, Scalar] = {}
        if isinstance(written, Mapping):
            for named, value in written.items:
                if named.value not in translated:
                    self.error(named.location, f"'from' names {named.value}, which this entry does not translate", "translation-from")
                elif not isinstance(value, Scalar) or not re.fullmatch(f"[0-9a-f]{{{HASH_LENGTH}}}", value.value):
                    self.error(value.location, f"from.{named.value} should be the {HASH_LENGTH}-character hash of the English it translates", "translation-from")
                else:
                    recorded[named.value] = value
        elif written is not None:
            self.error(written.location, "'from' should map each translated field to the hash of its English", "translation-from")
        for key in translated:
            source = _english(english, key)
            if source is None:
                continue
            current = text_hash(source)
            hashed = recorded.get(key)
            if hashed is None:
                if isinstance(written, Mapping) or written is None:
                    self.error(location_of(entry, "from") if written is not None else entry.location,
                               f"from.{key} is missing: record the hash of the English {key} this translates, {current}", "translation-from")
            elif hashed.value != current:
                self.stale += 1
                self.warning(
                    hashed.location,
                    f"the English {key} of {name} changed since it was translated: bring the translation up to date, then set from.{key} to {current}",
                    "translation-stale",
                )

    def todo(self, entry: Mapping, fields: tuple[str, ...], name: str) -> bool:
        """Whether an entry still holds English to translate (as `deckgen new --translate` writes
        it); each such text is warned about."""
        found = False
        for key in fields:
            node = entry.get(key)
            for item in node.items if isinstance(node, Sequence) else [node]:
                if isinstance(item, Scalar) and item.value.startswith(TRANSLATE_MARK):
                    self.warning(item.location, f"the {key} of {name} is still the English to translate", "translation-todo")
                    found = True
                    break
        return found

    def keeps(self, entry: Mapping, english: Mapping, fields: tuple[str, ...], name: str) -> None:
        """A translation keeps the English's formulas, code and cloze numbers, field by field."""
        for key in fields:
            node = entry.get(key)
            source = _english(english, key)
            if node is None or source is None:
                continue
            if isinstance(node, Sequence) and isinstance(source, tuple) and len(node.items) != len(source):
                self.error(node.location, f"{name} has {len(source)} {key} in English, but {len(node.items)} here", "translation-values")
                continue
            texts = [item for item in (node.items if isinstance(node, Sequence) else [node]) if isinstance(item, Scalar)]
            for item, original in zip(texts, source if isinstance(source, tuple) else (source,)):
                self.same(item, original, key, name)

    def same(self, item: Scalar, original: str, key: str, name: str) -> None:
        for what, pieces in (("math", _formulas), ("code", _code)):
            mine, theirs = Counter(pieces(item.value)), Counter(pieces(original))
            if mine != theirs:
                added, lost = list((mine - theirs).elements()), list((theirs - mine).elements())
                detail = f"'{clipped(added[0])}' is not in the English" if added else f"the English '{clipped(lost[0])}' is missing"
                self.error(item.location, f"the {key} of {name} must keep the English {what} as written: {detail}", f"translation-{what}")
        if key == "question" and {c.ordinal for c in clozes(item.value)} != {c.ordinal for c in clozes(original)}:
            self.error(item.location, f"the question of {name} must keep the English cloze numbers", "translation-cloze")


def _formulas(text: str) -> list[str]:
    return [text[start:end] for start, end in math_spans(text)]


def _code(text: str) -> list[str]:
    return _CODE_RE.findall(text)


def _merged(english: Mapping, entry: Mapping, fields: tuple[str, ...], rows: dict[str, Mapping] | None) -> Mapping:
    """`english` with each translated field's node taken from `entry` (rows likewise, by id)."""
    items: list[tuple[Scalar, Node]] = []
    for key, value in english.items:
        if key.value in fields and entry.get(key.value) is not None:
            value = entry.get(key.value)  # type: ignore[assignment]
        elif key.value == "rows" and rows is not None and isinstance(value, Sequence):
            merged_rows: list[Node] = []
            for row in value.items:
                row_id = _scalar(row.get("id")) if isinstance(row, Mapping) else None
                translated = rows.get(row_id.value) if row_id is not None else None
                merged_rows.append(_merged(row, translated, ROW_FIELDS, None) if isinstance(row, Mapping) and translated else row)
            value = Sequence(merged_rows, value.location)
        items.append((key, value))
    return Mapping(items, english.location)


def _marked(question: Question, language: str, translated_rows: set[str]) -> Question:
    """A question the edition shows in English, its front marked as untranslated."""
    mark = UNTRANSLATED[language]
    if question.type is QuestionType.COMPARE:
        rows = tuple(row if row.id in translated_rows else replace(row, aspect=mark + row.aspect) for row in question.rows)
        return replace(question, question=mark + question.question if not translated_rows else question.question, rows=rows)
    return replace(question, question=mark + question.question)


@dataclass(frozen=True)
class _Files:
    """A topic's overlay and English file, each read once, and the cache key of its translation
    (None when it cannot be cached)."""

    overlay: bytes | None
    english: bytes | None
    key: str | None


def _files(bank: Bank, topic: Topic, language: str, known: Known) -> _Files | None:
    """What a topic's translation is read from; None when the topic has no overlay."""
    path = overlay_path(topic.path, language)
    if not path.is_file():
        return None
    from deckgen.validate import topic_key

    overlay, english = read_bank_file(path), read_bank_file(topic.path)
    english_key = topic_key(english, display(bank.root, topic.path), known) if english is not None else None
    if overlay is None or english_key is None:
        return _Files(overlay, english, None)
    # What a translation's reading depends on: the overlay (its language, name and bytes) and
    # everything the English topic's reading depends on.
    parts = [language, display(bank.root, path), hashlib.sha256(overlay).hexdigest(), english_key]
    return _Files(overlay, english, "edition:" + hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest())


def _entry(checker: _Checker, start: int, stale: int, topic: Topic, done: int) -> dict[str, Any] | None:
    """What the cache keeps of a translated topic, read into `checker` since its `start`th
    diagnostic and `stale`th stale field: None unless it passed (warnings only) and can be cached."""
    found = checker.diagnostics[start:]
    if any(d.severity is not Severity.WARNING for d in found):
        return None
    stored = topic_json(topic, topic.location, found)
    return None if stored is None else {"translated": stored, "done": done, "stale": checker.stale - stale}


def _stored_translation(path: Path, stored: Any) -> tuple[Topic, tuple[Diagnostic, ...], object, object, bytes]:
    """A topic's translation as the cache stores it (`_entry`): the topic, its warnings, the
    counts of its questions translated and stale (checked by the caller), and what its
    questions hold (`BuildCache.content`)."""
    if not isinstance(stored, dict):
        raise TypeError("not an object")
    translated, _, warnings = topic_from_json(stored["translated"], path)
    return translated, tuple(warnings), stored["done"], stored["stale"], stored_content(stored)


def _cached(checker: _Checker, cache: BuildCache, key: str, topic: Topic) -> tuple[Topic, int, int] | None:
    """A topic's translation as an earlier build read it from the same files, its warnings
    given to `checker`; None when the cache holds none that can be read."""
    found = cache.decoded(key, topic.path, partial(_stored_translation, topic.path))
    if found is None:
        return None
    translated, warnings, done, stale, content = found
    if (
        type(done) is not int
        or type(stale) is not int
        or [q.id for q in translated.questions] != [q.id for q in topic.questions]
        or len(content) != 32 * (len(translated.questions) + len(translated.retired))
    ):
        cache.refuse(key, topic.path)
        return None  # not what deckgen stored: read the files instead
    cache.knows_content(translated, content)
    checker.diagnostics += warnings
    checker.stale += stale
    return translated, done, len(topic.questions)


@dataclass(frozen=True)
class _Warming:
    """What a build renders of each translated topic as soon as it has read it (see
    `deckgen.validate.Warm`), and the edition's deck that it renders it in."""

    warm: Warm
    deck: Deck

    def __call__(self, bank: Bank, checker: _Checker, topic: Topic, cache: BuildCache) -> None:
        """`warm` the topic if what `checker` found (in this edition so far) is warnings at most:
        after an error the build will fail, and renders nothing more."""
        if all(d.severity is Severity.WARNING for d in checker.diagnostics):
            self.warm(Bank(bank.root, self.deck, bank.sources, (topic,), edition_of=bank), topic, cache)


def _translate_into_cache(bank: Bank, language: str, index: int, files: _Files, warming: _Warming | None, cache: BuildCache) -> None:
    """Read one topic's translation, as `edition` does, and cache it if it passed (in a worker
    of `deckgen.parallel`), and what `warming` renders of it."""
    checker = _Checker(bank, language)
    topic = bank.topics[index]
    with reading_for_a_build() if warming is not None else nullcontext():
        translated, done, _ = _translate_topic(checker, topic, _known(bank), files)
        entry = _entry(checker, 0, 0, translated, done)
        if entry is not None and files.key is not None:
            cache.put(files.key, with_content(entry, cache.content(translated)))
        if warming is not None:
            warming(bank, checker, translated, cache)


def _translate_in_workers(bank: Bank, language: str, inputs: list[_Files | None], warming: _Warming | None, cache: BuildCache) -> bool:
    """Read, in worker processes, the translations that `cache` does not hold, when there are
    enough, and say whether it did."""
    work = [
        (files.key, len(files.overlay), partial(_translate_into_cache, bank, language, index, files, warming))
        for index, files in enumerate(inputs)
        if files is not None and files.key is not None and files.overlay is not None
    ]
    return parallel.run_missing(cache, work, parallel.MIN_BANK_BYTES, 1 if warming is not None else None)


def _translation(
    checker: _Checker, topic: Topic, known: Known, files: _Files | None, cache: BuildCache | None, warming: _Warming | None = None
) -> tuple[Topic, int, int]:
    """The topic in the checker's language, from `cache` when an earlier build read the same files
    (else read, and what `warming` renders of it rendered into `cache`)."""
    if cache is None:
        return _translate_topic(checker, topic, known, files)
    key = files.key if files is not None else None
    if key is not None:
        cached = _cached(checker, cache, key, topic)
        if cached is not None:
            return cached
    start, stale = len(checker.diagnostics), checker.stale
    with reading_for_a_build() if warming is not None else nullcontext():
        translated, done, total = _translate_topic(checker, topic, known, files, cache)
        entry = _entry(checker, start, stale, translated, done) if cache.writable and key is not None else None
        if entry is not None and key is not None:
            cache.put(key, with_content(entry, cache.content(translated)))
        if warming is not None:
            warming(checker.bank, checker, translated, cache)
    return translated, done, total


def _translate_topic(checker: _Checker, topic: Topic, known: Known, files: _Files | None, cache: BuildCache | None = None) -> tuple[Topic, int, int]:
    """The topic in the checker's language, with how many of its questions are translated
    (`files`: its overlay and English file as read, or None when it has no overlay), its texts
    checked with `cache` (see `Reader.cache`)."""
    language, bank = checker.language, checker.bank
    path = overlay_path(topic.path, language)
    live = topic.questions
    if files is None:
        return replace(topic, questions=tuple(_marked(q, language, set()) for q in live)), 0, len(live)
    name = display(bank.root, path)
    loaded = load_file(path, name, files.overlay)
    checker.diagnostics.extend(loaded.diagnostics)
    top = loaded.root
    if not isinstance(top, Mapping):
        if top is not None:
            checker.error(top.location, "expected a translation: a mapping with 'title' and 'questions'", "translation-key")
        return replace(topic, questions=tuple(_marked(q, language, set()) for q in live)), 0, len(live)
    checker.keys(top, ("title", "questions"), "a translation")
    entries = checker.entries(top.get("questions"), _ENTRY_KEYS, "a translated question", top.location)
    english_file = load_file(topic.path, display(bank.root, topic.path), files.english)
    english_top = english_file.root
    assert isinstance(english_top, Mapping)  # the bank was read from it a moment ago
    english_entries: dict[str, Mapping] = {}
    english_list = english_top.get("questions")
    for node in english_list.items if isinstance(english_list, Sequence) else []:
        ident = _scalar(node.get("id")) if isinstance(node, Mapping) else None
        if ident is not None and isinstance(node, Mapping):
            english_entries[ident.value] = node
    live_ids = {q.id for q in live}
    merged_items: list[Node] = []
    translated_rows: dict[str, set[str]] = {}
    for qid, entry in entries.items():
        if qid not in live_ids:
            retired = any(q.id == qid for q in topic.retired)
            why = "is retired: a retired question is not translated" if retired else f"is no question of {topic.path.name}"
            checker.error(location_of(entry, "id"), f"'{clipped(qid)}' {why}", "translation-id")
    for qid, english in english_entries.items():
        found = entries.get(qid)
        if found is None or qid not in live_ids:
            merged_items.append(english)
            continue
        entry = found
        label = f"'{qid}'"
        if checker.todo(entry, QUESTION_FIELDS, label):
            merged_items.append(english)
            continue
        for key in QUESTION_FIELDS:
            if entry.get(key) is not None and english.get(key) is None:
                checker.error(location_of(entry, key), f"{label} has no {key} in English to translate", "translation-key")
        if entry.get("question") is None:
            checker.error(entry.location, f"missing required key 'question' in the translation of {label}", "translation-key")
        checker.hashes(entry, english, QUESTION_FIELDS, label)
        checker.keeps(entry, english, QUESTION_FIELDS, label)
        rows: dict[str, Mapping] | None = None
        if entry.get("rows") is not None or english.get("rows") is not None:
            rows = checker.entries(entry.get("rows"), _ROW_KEYS, "a translated row", entry.location)
            english_rows = {
                r.value: node
                for node in (english.get("rows").items if isinstance(english.get("rows"), Sequence) else [])  # type: ignore[union-attr]
                if isinstance(node, Mapping) and (r := _scalar(node.get("id"))) is not None
            }
            waiting = {row_id for row_id, row in rows.items() if checker.todo(row, ROW_FIELDS, f"{label}'s row '{row_id}'")}
            rows = {row_id: row for row_id, row in rows.items() if row_id not in waiting}
            for row_id, row in rows.items():
                original = english_rows.get(row_id)
                if original is None:
                    checker.error(location_of(row, "id"), f"'{clipped(row_id)}' is no row of {label}", "translation-id")
                    continue
                checker.hashes(row, original, ROW_FIELDS, f"{label}'s row '{row_id}'")
                checker.keeps(row, original, ROW_FIELDS, f"{label}'s row '{row_id}'")
            for row_id in english_rows:
                if row_id not in rows and row_id not in waiting:
                    checker.warning(entry.location, f"no {language} translation of {label}'s row '{row_id}': the {language} edition shows it in English", "translation-missing")
            translated_rows[qid] = {r for r in rows if r in english_rows}
        merged_items.append(_merged(english, entry, QUESTION_FIELDS, rows))
    for question in live:
        if question.id not in entries:
            checker.warning(location_of(top, "questions"), f"no {language} translation of '{question.id}': the {language} edition shows it in English", "translation-missing")
    title = _scalar(top.get("title"))
    if title is not None and title.value.startswith(TRANSLATE_MARK):
        checker.warning(title.location, f"the title of {topic.path.name} is still the English to translate", "translation-todo")
        title = None
    top_items: list[tuple[Scalar, Node]] = []
    for top_key, top_value in english_top.items:
        if top_key.value == "topic" and title is not None:
            top_value = title
        elif top_key.value == "questions" and isinstance(top_value, Sequence):
            top_value = Sequence(merged_items, top_value.location)
        top_items.append((top_key, top_value))
    # Read the topic again with the translated texts in place: every field policy applies, and
    # what it finds in a translated text is located in the overlay.
    from deckgen.validate import read_topic

    reader = Reader(known, cache=cache)
    known.folder = topic.path.parent
    known.question_ids, known.topic_ids = {}, {}
    again = read_topic(reader, LoadedFile(topic.path, english_file.display, Mapping(top_items, english_top.location), []))
    checker.diagnostics += [d for d in reader.diagnostics if d.location.path == name]
    if again is None or any(d.severity is Severity.ERROR for d in reader.diagnostics if d.location.path == name):
        return replace(topic, questions=tuple(_marked(q, language, set()) for q in live)), 0, len(live)
    by_id = {q.id: q for q in again.questions}
    questions = []
    done = 0
    for question in live:
        if question.id in entries and question.id in by_id:
            translated = by_id[question.id]
            rows_done = translated_rows.get(question.id)
            if rows_done is not None and len(rows_done) < len(question.rows):
                translated = _marked(translated, language, rows_done)
            questions.append(translated)
            done += 1
        else:
            questions.append(_marked(question, language, set()))
    return replace(topic, title=again.title, questions=tuple(questions)), done, len(live)


def _translate_deck(checker: _Checker) -> Deck:
    """The deck's title, description and section titles in the checker's language (English where untranslated)."""
    bank, language = checker.bank, checker.language
    deck = replace(bank.deck, language=language)
    path = overlay_path(bank.root / f"{DECK_FILE}.yaml", language)
    if not path.is_file():
        return deck
    loaded = load_file(path, display(bank.root, path))
    checker.diagnostics.extend(loaded.diagnostics)
    top = loaded.root
    if not isinstance(top, Mapping):
        return deck
    checker.keys(top, ("title", "description", "sections", "from"), "a translation of deck.yaml")
    english = load_file(bank.root / f"{DECK_FILE}.yaml", display(bank.root, bank.root / f"{DECK_FILE}.yaml")).root
    if not isinstance(english, Mapping):
        return deck
    checker.hashes(top, english, DECK_FIELDS, "the deck")
    checker.keeps(top, english, ("description",), "the deck")
    sections = checker.entries(top.get("sections"), ("id", "title", "from"), "a translated section", top.location)
    english_sections = {
        i.value: node
        for node in (english.get("sections").items if isinstance(english.get("sections"), Sequence) else [])  # type: ignore[union-attr]
        if isinstance(node, Mapping) and (i := _scalar(node.get("id"))) is not None
    }
    titles = {}
    for section_id, entry in sections.items():
        original = english_sections.get(section_id)
        if original is None:
            checker.error(location_of(entry, "id"), f"'{clipped(section_id)}' is no section of deck.yaml", "translation-id")
            continue
        checker.hashes(entry, original, ("title",), f"section '{section_id}'")
        title = _scalar(entry.get("title"))
        if title is not None:
            titles[section_id] = title.value
    title, description = _scalar(top.get("title")), _scalar(top.get("description"))
    return replace(
        deck,
        title=title.value if title else deck.title,
        description=(description.unfolded or description.value) if description else deck.description,
        sections=tuple(replace(s, title=titles.get(s.id, s.title)) for s in deck.sections),
    )


def _glossary(checker: _Checker) -> tuple[GlossaryTerm, ...]:
    """The edition's agreed terms, from `glossary.<language>.yaml` in the bank folder, if there is one."""
    path = checker.bank.root / f"glossary.{checker.language}.yaml"
    if not path.is_file():
        return ()
    loaded = load_file(path, display(checker.bank.root, path))
    checker.diagnostics.extend(loaded.diagnostics)
    top = loaded.root
    entries = top.get("terms") if isinstance(top, Mapping) else None
    if not isinstance(top, Mapping) or not isinstance(entries, Sequence):
        checker.error(top.location if top is not None else Location(loaded.display), "expected a glossary: a mapping with a list of 'terms'", "glossary")
        return ()
    checker.keys(top, ("terms",), "a glossary")
    terms: list[GlossaryTerm] = []
    seen: dict[str, Location] = {}
    for node in entries.items:
        english, term = (_scalar(node.get(k)) for k in ("en", "zh")) if isinstance(node, Mapping) else (None, None)
        if not isinstance(node, Mapping) or english is None or term is None:
            checker.error(node.location, "expected a term: {en: …, zh: …, avoid: [...]}", "glossary")
            continue
        checker.keys(node, ("en", "zh", "avoid"), "a glossary term")
        avoid = node.get("avoid")
        variants = tuple(v.value for v in avoid.items if isinstance(v, Scalar)) if isinstance(avoid, Sequence) else ()
        empty = next((v for v in (english, term, *(avoid.items if isinstance(avoid, Sequence) else ())) if isinstance(v, Scalar) and not v.value.strip()), None)
        if empty is not None:
            checker.error(empty.location, "a glossary term, its English and each variant to avoid are text: this one is empty", "glossary")
            continue
        if term.value in seen:
            checker.error(term.location, f"{term.value} is in the glossary twice (also at {seen[term.value]})", "glossary")
            continue
        seen[term.value] = term.location
        terms.append(GlossaryTerm(english.value, term.value, variants, term.location))
    return tuple(terms)


def _known(bank: Bank) -> Known:
    """What a translated topic is checked against: the ids of a valid bank's sections and sources."""
    return Known({"section": {s.id for s in bank.deck.sections}, "source": {s.id for s in bank.sources}}, root=bank.root)


_SHARED_FIELDS = ("id", "location", "sources", "tags", "items", "images")
"""What a translated question most often has as its English has it, which the edition then
shares with the English question instead of holding a copy."""


def _sharing(english: Topic, translated: Topic) -> Topic:
    """`translated`, each question of which holds the English question's own value of each of
    `_SHARED_FIELDS` that it equals, where a question read from an overlay or from the cache
    has a copy of each (about 250 bytes a question), and the English retired questions when
    they are the same: the same edition."""
    by_id = {question.id: question for question in english.questions}
    questions = []
    for question in translated.questions:
        original = by_id.get(question.id)
        same = {}
        for name in _SHARED_FIELDS if original is not None else ():
            value, shared = getattr(question, name), getattr(original, name)
            if value is not shared and value == shared:
                same[name] = shared
        questions.append(replace(question, **same) if same else question)
    retired = english.retired if translated.retired is not english.retired and translated.retired == english.retired else translated.retired
    return replace(translated, questions=tuple(questions), retired=retired)


_GIVE_BACK_BYTES = 4_000_000
"""How many bytes of topic files an edition lets go between giving memory back to the system."""


def edition(bank: Bank, language: str, cache: BuildCache | None = None, warm: Warm | None = None) -> tuple[Edition | None, list[Diagnostic]]:
    """The bank in `language`, read from its overlays; None when an overlay has an error.

    With a build's cache, a topic whose overlay and English file are unchanged since the last
    build is taken from it instead of being read again, and the others are read in worker
    processes when there are enough of them; with `warm` too, each topic read with no error is
    rendered into it at once."""
    if language == SOURCE_LANGUAGE:
        total = len(bank.questions)
        return Edition(language, bank, Coverage(total, total)), []
    checker = _Checker(bank, language)
    deck = replace(_translate_deck(checker), glossary=_glossary(checker))
    known = _known(bank)
    inputs = [_files(bank, topic, language, known) for topic in bank.topics]
    warming = _Warming(warm, deck) if warm is not None and cache is not None else None
    # As for the topic files (see `deckgen.validate.validate_bank`): what is read here is rendered
    # at once with one process, or when the workers read the rest.
    if cache is not None and not _translate_in_workers(bank, language, inputs, warming, cache) and parallel.jobs() > 1:
        warming = None
    topics, done, total = [], 0, 0
    let_go = 0
    for index, topic in enumerate(bank.topics):
        # A topic's files are needed until the topic is read (here, or by the workers above), and
        # no longer: each goes as soon as its topic is read, and what they took is given back as
        # the edition's model grows (at 50,000 cards every topic's English file and overlay came
        # to 54 MB, held until the last topic was read).
        files, inputs[index] = inputs[index], None
        translated, topic_done, topic_total = _translation(checker, topic, known, files, cache, warming)
        if cache is None:
            topics.append(_sharing(topic, translated))
        else:
            shared = cache.derived("sharing", (topic, translated), None, partial(_sharing, topic, translated))
            cache.moves_content(translated, shared)  # its questions hold what the translation's do
            topics.append(shared)
        done, total = done + topic_done, total + topic_total
        let_go += len(files.overlay or b"") + len(files.english or b"") if files is not None else 0
        if let_go >= _GIVE_BACK_BYTES:
            del files  # this topic's too
            return_freed_memory()
            let_go = 0
    diagnostics = sorted(checker.diagnostics, key=Diagnostic.sort_key)
    if any(d.severity is Severity.ERROR for d in diagnostics):
        return None, diagnostics
    translated_bank = Bank(bank.root, deck, bank.sources, tuple(topics), edition_of=bank)
    return Edition(language, translated_bank, Coverage(done, total, checker.stale)), diagnostics


def editions(
    bank: Bank, languages: tuple[str, ...] | None = None, cache: BuildCache | None = None, warm: Warm | None = None
) -> tuple[list[Edition], list[Diagnostic]]:
    """Every edition of the deck (or those in `languages`), English first, with the overlays'
    problems; read through a build's `cache` when there is one, and rendered into it as read
    with `warm` (see `edition`)."""
    found: list[Edition] = []
    problems: list[Diagnostic] = []
    for language in bank.deck.languages:
        if languages is not None and language not in languages:
            continue
        made, diagnostics = edition(bank, language, cache, warm)
        problems += diagnostics
        if made is not None:
            found.append(made)
    return found, problems
