"""The Anki export: note types, ids, GUIDs and the .apkg. The only module that imports genanki.

Everything a learner's review history hangs on is fixed here and pinned by tests:
the model ids, the field and template names, and GUIDs derived from question ids
(never from content), so fixing a typo or moving a question keeps its history.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
import zipfile
from urllib.parse import urlsplit
from dataclasses import dataclass
from html import escape
from pathlib import Path

import genanki  # type: ignore[import-untyped]
from genanki.apkg_col import APKG_COL  # type: ignore[import-untyped]
from genanki.apkg_schema import APKG_SCHEMA  # type: ignore[import-untyped]

from deckgen.cache import BuildCache
from deckgen.lock import NOTE_TYPE_MTIME_OFFSET, Lock, NoteTypeState
from deckgen.model import Bank, CompareRow, Location, Question, QuestionType, Topic, media_name
from deckgen.links import with_media
from deckgen.render import code_css, plain_html, to_html, to_inline_html

GUID_NAMESPACE = "deckgen"

BASIC_MODEL_ID = 1691839207
CLOZE_MODEL_ID = 1691839208
BASIC_MODEL_NAME = "deckgen Basic"
CLOZE_MODEL_NAME = "deckgen Cloze"
BASIC_FIELDS = ("ID", "Question", "Answer", "Extra", "Sources", "Topic")
CLOZE_FIELDS = ("ID", "Text", "Extra", "Sources", "Topic")
MODEL_FIELDS = {"basic": BASIC_FIELDS, "cloze": CLOZE_FIELDS}
BASIC_TEMPLATE = "Recall"
CLOZE_TEMPLATE = "Cloze"

_CONTEXT = '<div class="dg-context">{{Topic}}</div>'
BASIC_QFMT = f'{_CONTEXT}\n<div class="dg-question">{{{{Question}}}}</div>'
CLOZE_QFMT = f'{_CONTEXT}\n<div class="dg-question">{{{{cloze:Text}}}}</div>'
REPORT_FORM = "card-problem.yml"
"""The issue form (.github/ISSUE_TEMPLATE/) that a card's "report a problem" link opens."""


def report_url(homepage: str) -> str:
    """Where a learner reports a card: the repository's issue form with the card id filled in.

    `{{ID}}` is filled by Anki when the card is shown. A homepage that is not a GitHub
    repository gets a plain link to itself.
    """
    base = homepage.rstrip("/")
    if urlsplit(base).hostname not in ("github.com", "www.github.com"):
        return escape(base)
    return f"{escape(base)}/issues/new?template={REPORT_FORM}&amp;title=Card%3A+{{{{ID}}}}&amp;card={{{{ID}}}}"


def _back_matter(homepage: str) -> str:
    return (
        '{{#Extra}}<div class="dg-extra">{{Extra}}</div>{{/Extra}}\n'
        '<div class="dg-sources">{{Sources}}</div>\n'
        f'<div class="dg-id">{{{{ID}}}} · <a class="dg-report" href="{report_url(homepage)}">report a problem</a></div>'
    )


def basic_afmt(homepage: str) -> str:
    """The back of a basic card: the front, the answer, then extra, sources, id and report link."""
    return '{{FrontSide}}\n<hr id="answer">\n<div class="dg-answer">{{Answer}}</div>\n' + _back_matter(homepage)


def cloze_afmt(homepage: str) -> str:
    """The back of a cloze card: the text with its deletion shown, then the back matter."""
    return f'{_CONTEXT}\n<div class="dg-question">{{{{cloze:Text}}}}</div>\n<hr id="answer">\n' + _back_matter(homepage)

CARD_CSS = """\
.card {
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC",
    "PingFang SC", "Microsoft YaHei", sans-serif;
  font-size: 20px;
  line-height: 1.45;
  text-align: left;
  color: #1f2328;
  background-color: #ffffff;
  max-width: 40em;
  margin: 0 auto;
  padding: 0 0.6em;
  overflow-wrap: break-word;
}
.card.nightMode, .card.night_mode, .nightMode .card, .night_mode .card { color: #e6edf3; background-color: #1e1e1e; }
.dg-context { font-size: 0.7em; color: #57606a; text-transform: none; margin-bottom: 0.6em; }
.nightMode .dg-context, .night_mode .dg-context { color: #9da7b3; }
.dg-question { font-weight: 600; }
.dg-answer, .dg-extra { margin-top: 0.4em; }
.dg-extra { font-size: 0.85em; color: #3b434b; border-left: 3px solid #d0d7de; padding-left: 0.7em; margin-top: 1em; }
.nightMode .dg-extra, .night_mode .dg-extra { color: #c9d1d9; border-left-color: #3d444d; }
.dg-sources { font-size: 0.7em; margin-top: 1.2em; color: #57606a; }
.nightMode .dg-sources, .night_mode .dg-sources { color: #9da7b3; }
.dg-sources ul { margin: 0.2em 0; padding-left: 1.2em; }
.dg-site { color: #6e7781; }
.nightMode .dg-site, .night_mode .dg-site { color: #8b949e; }
.dg-report { color: inherit; }
.dg-id { font-size: 0.6em; color: #8c959f; margin-top: 1em; font-family: ui-monospace, Menlo, Consolas, monospace; }
.nightMode .dg-id, .night_mode .dg-id { color: #6e7681; }
a { color: #0969da; }
.nightMode a, .night_mode a { color: #58a6ff; }
p { margin: 0.3em 0; }
hr#answer { border: none; border-top: 1px solid #d0d7de; margin: 0.8em 0; }
.nightMode hr#answer, .night_mode hr#answer { border-top-color: #3d444d; }
table { border-collapse: collapse; margin: 0.4em 0; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.5em; vertical-align: top; text-align: left; }
th { background-color: #f6f8fa; }
.nightMode th, .nightMode td, .night_mode th, .night_mode td { border-color: #3d444d; }
.nightMode th, .night_mode th { background-color: #262c36; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.9em; background-color: #eff1f3; padding: 0.05em 0.25em; border-radius: 3px; }
.nightMode code, .night_mode code { background-color: #2d333b; }
pre.dg-code { padding: 0.6em; overflow-x: auto; border-radius: 4px; background-color: #f6f8fa; font-size: 0.8em; }
.nightMode pre.dg-code, .night_mode pre.dg-code { background-color: #272822; color: #f8f8f2; }
pre.dg-code code { background: none; padding: 0; }
.cloze { font-weight: 700; color: #0550ae; }
.nightMode .cloze, .night_mode .cloze { color: #79c0ff; }
.card img { max-width: 100%; height: auto; }
.dg-retired { border: 2px solid #cf222e; color: #cf222e; border-radius: 4px; padding: 0.4em 0.6em; margin-bottom: 0.6em; font-weight: 400; font-size: 0.85em; }
.nightMode .dg-retired, .night_mode .dg-retired { border-color: #ff7b72; color: #ff7b72; }
"""


def card_css() -> str:
    """The note types' CSS: the card styles, then Pygments' light and night styles for code."""
    return CARD_CSS + code_css()


def basic_model(homepage: str) -> genanki.Model:
    """The note type of basic questions and compare rows."""
    return genanki.Model(
        BASIC_MODEL_ID,
        BASIC_MODEL_NAME,
        fields=[{"name": name} for name in BASIC_FIELDS],
        templates=[{"name": BASIC_TEMPLATE, "qfmt": BASIC_QFMT, "afmt": basic_afmt(homepage)}],
        css=card_css(),
        sort_field_index=BASIC_FIELDS.index("Question"),
    )


def cloze_model(homepage: str) -> genanki.Model:
    """The note type of cloze questions."""
    return genanki.Model(
        CLOZE_MODEL_ID,
        CLOZE_MODEL_NAME,
        fields=[{"name": name} for name in CLOZE_FIELDS],
        templates=[{"name": CLOZE_TEMPLATE, "qfmt": CLOZE_QFMT, "afmt": cloze_afmt(homepage)}],
        css=card_css(),
        model_type=genanki.Model.CLOZE,
        sort_field_index=CLOZE_FIELDS.index("Text"),
    )


_BASE91 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&()*+,-./:;<=>?@[]^_`{|}~"


def note_guid(question_id: str, row_id: str | None = None) -> str:
    """A note's GUID: from deckgen's namespace and the question (and row) id, never from content.

    The 64-bit SHA-256 prefix in Anki's base-91 alphabet, as genanki computes it, written
    out here so that no dependency update can ever change a released GUID.
    """
    parts = (GUID_NAMESPACE, question_id) if row_id is None else (GUID_NAMESPACE, question_id, row_id)
    number = int.from_bytes(hashlib.sha256("__".join(parts).encode("utf-8")).digest()[:8], "big")
    digits = []
    while number:
        number, digit = divmod(number, len(_BASE91))
        digits.append(_BASE91[digit])
    return "".join(reversed(digits))


def note_id_field(question_id: str, row_id: str | None = None) -> str:
    """The ID field: the question id, or `question-id/row-id` for a compare row."""
    return question_id if row_id is None else f"{question_id}/{row_id}"


def deck_id(*path: str) -> int:
    """A deck id derived from the slugs of its path, so it is the same in every build."""
    digest = hashlib.sha256(("deckgen-deck:" + "/".join(path)).encode()).digest()
    return (int.from_bytes(digest[:7], "big") | (1 << 40)) & ((1 << 53) - 1)


def deck_name(bank: Bank, topic: Topic) -> str:
    """`Root::Section title::Topic title`; `::` inside a title would nest further, so it is replaced."""
    parts = (bank.deck.title, bank.section(topic.section).title, topic.title)
    return "::".join(p.replace("::", ":") for p in parts)


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


def compare_front(items: tuple[str, ...], row: CompareRow) -> str:
    """The front of a compare row: "XLNet vs BERT: <aspect>", each piece rendered on its own, as it was checked."""
    return " vs ".join(to_inline_html(item) for item in items) + ": " + to_inline_html(row.aspect)


@dataclass(frozen=True)
class NoteSpec:
    """One note as deckgen writes it: which model, its GUID, its fields and tags."""

    guid: str
    model: str
    fields: tuple[str, ...]
    tags: tuple[str, ...]


RETIRED_TAG = "deckgen::retired"


def question_tags(question: Question) -> tuple[str, ...]:
    """`deckgen::<section>::<topic>` and the question's own tags."""
    return (f"deckgen::{question.section}::{question.topic}", *question.tags)


def retired_banner(reason: str) -> str:
    """The banner a retired note carries above its old text."""
    return (
        '<div class="dg-retired"><strong>Retired: delete this card.</strong> '
        f"{to_inline_html(reason)} (Browse, search <code>tag:{RETIRED_TAG}</code>, select all, delete.)</div>"
    )


def _retire(spec: NoteSpec, reason: str, front: int) -> NoteSpec:
    fields = list(spec.fields)
    fields[front] = retired_banner(reason) + fields[front]
    return NoteSpec(spec.guid, spec.model, tuple(fields), (*spec.tags, RETIRED_TAG))


def question_notes(bank: Bank, topic: Topic, question: Question) -> list[NoteSpec]:
    """The notes one question becomes: one, or one per compare row; retired ones carry a banner."""
    sources = sources_html(bank, question.sources)
    media = question.media()
    extra = to_html(with_media(question.extra, media))
    topic_label = plain_html(topic.title)
    tags = question_tags(question)
    if question.type is QuestionType.CLOZE:
        cloze_fields = (note_id_field(question.id), to_html(with_media(question.question, media)), extra, sources, topic_label)
        specs = [NoteSpec(note_guid(question.id), "cloze", cloze_fields, tags)]
    elif question.type is QuestionType.BASIC:
        basic_fields = (
            note_id_field(question.id),
            to_html(with_media(question.question, media)),
            to_html(with_media(question.answer, media)),
            extra,
            sources,
            topic_label,
        )
        specs = [NoteSpec(note_guid(question.id), "basic", basic_fields, tags)]
    else:
        specs = []
        for row in question.rows:
            row_fields = (
                note_id_field(question.id, row.id),
                compare_front(question.items, row),
                compare_table_html(question.items, row.values),
                to_html(with_media("\n\n".join(t for t in (question.extra, row.extra) if t), media)) if row.extra else extra,
                sources,
                topic_label,
            )
            spec = NoteSpec(note_guid(question.id, row.id), "basic", row_fields, tags)
            specs.append(_retire(spec, row.retired, 1) if row.retired is not None and question.retired is None else spec)
    if question.retired is not None:
        specs = [_retire(spec, question.retired, 1) for spec in specs]
    return specs


@dataclass(frozen=True)
class DeckNotes:
    """Every note of the deck, by the deck it goes to, in deck order."""

    decks: tuple[tuple[tuple[str, ...], str, tuple[NoteSpec, ...]], ...]
    """(deck id path, deck name, notes) for the root, each section and each topic."""

    @property
    def notes(self) -> tuple[NoteSpec, ...]:
        """All notes, in order."""
        return tuple(n for _, _, notes in self.decks for n in notes)


def _note_specs(value: object, question: Question) -> list[NoteSpec] | None:
    """The question's notes as the cache stored them, or None unless the value is exactly what
    deckgen stores for it: its note type, its ids and GUIDs, and a text for every field."""

    def texts(items: object) -> tuple[str, ...] | None:
        return tuple(items) if isinstance(items, list) and all(isinstance(i, str) for i in items) else None

    model = "cloze" if question.type is QuestionType.CLOZE else "basic"
    rows: list[str | None] = [r.id for r in question.rows] if question.type is QuestionType.COMPARE else [None]
    if not isinstance(value, list) or len(value) != len(rows):
        return None
    specs = []
    for entry, row in zip(value, rows):
        if not (isinstance(entry, list) and len(entry) == 4):
            return None
        fields, tags = texts(entry[2]), texts(entry[3])
        if (
            fields is None
            or tags is None
            or entry[0] != note_guid(question.id, row)
            or entry[1] != model
            or len(fields) != len(MODEL_FIELDS[model])
            or fields[0] != note_id_field(question.id, row)
        ):
            return None
        specs.append(NoteSpec(entry[0], model, fields, tags))
    return specs


def _cached_notes(bank: Bank, topic: Topic, question: Question, cache: BuildCache | None) -> list[NoteSpec]:
    if cache is None:
        return question_notes(bank, topic, question)
    key = "notes:" + cache.question_key(bank, topic, question)
    cached = _note_specs(cache.get(key), question)
    if cached is not None:
        return cached
    specs = question_notes(bank, topic, question)
    cache.put(key, [[s.guid, s.model, list(s.fields), list(s.tags)] for s in specs])
    return specs


def deck_notes(bank: Bank, cache: BuildCache | None = None) -> DeckNotes:
    """Render every note of the bank, live and retired, into its deck (from `cache` where it can)."""
    slug = bank.deck.slug
    decks: list[tuple[tuple[str, ...], str, tuple[NoteSpec, ...]]] = [((slug,), bank.deck.title, ())]
    for section in bank.deck.sections:
        topics = [t for t in bank.ordered_topics() if t.section == section.id]
        if not topics:
            continue
        decks.append(((slug, section.id), "::".join(p.replace("::", ":") for p in (bank.deck.title, section.title)), ()))
        for topic in topics:
            notes = [spec for q in (*topic.questions, *topic.retired) for spec in _cached_notes(bank, topic, q, cache)]
            decks.append(((slug, section.id, topic.id), deck_name(bank, topic), tuple(notes)))
    return DeckNotes(tuple(decks))


def note_kinds(bank: Bank) -> dict[str, tuple[str, Location]]:
    """Every note id in the banks (live and retired) with its note type and where it is written; no rendering."""
    kinds: dict[str, tuple[str, Location]] = {}
    for topic in bank.topics:
        for question in (*topic.questions, *topic.retired):
            model = "cloze" if question.type is QuestionType.CLOZE else "basic"
            if question.type is QuestionType.COMPARE:
                for row in question.rows:
                    kinds[note_id_field(question.id, row.id)] = (model, row.location)
            else:
                kinds[question.id] = (model, question.location_of("type"))
    return kinds


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def note_hash(spec: NoteSpec) -> str:
    """A hash of everything Anki stores for a note: its type, fields and tags."""
    return _digest(spec.model, *spec.fields, " ".join(spec.tags))


def note_type_states(bank: Bank) -> dict[str, NoteTypeState]:
    """The two note types as the lock records them (their time is filled in by the lock)."""
    states = {}
    for key, model in (("basic", basic_model(bank.deck.homepage)), ("cloze", cloze_model(bank.deck.homepage))):
        look = _digest(model.css, *(t["name"] + t["qfmt"] + t["afmt"] for t in model.templates))
        states[key] = NoteTypeState(
            key,
            model.model_id,
            model.name,
            tuple(f["name"] for f in model.fields),
            tuple(t["name"] for t in model.templates),
            look,
            0,
        )
    return states


def deck_description_html(bank: Bank) -> str:
    """The root deck's description: the deck's own text, its version and homepage."""
    deck = bank.deck
    return (
        f"{to_html(deck.description)}\n"
        f"<p>Version {plain_html(deck.version)} · "
        f'<a href="{changelog_url(deck.homepage)}">what changed</a> · '
        f'<a href="{escape(deck.homepage)}">{plain_html(deck.homepage)}</a></p>'
    )


def changelog_url(homepage: str) -> str:
    """The changelog on the repository's default branch (the homepage itself elsewhere)."""
    base = homepage.rstrip("/")
    if urlsplit(base).hostname not in ("github.com", "www.github.com"):
        return escape(base)
    return escape(f"{base}/blob/main/CHANGELOG.md")


def _stable_id(*parts: str) -> int:
    """A positive id below 2**53 derived from `parts`, so note and card ids are the same in every build."""
    digest = hashlib.sha256("/".join(parts).encode("utf-8")).digest()
    return (int.from_bytes(digest[:6], "big") | (1 << 40)) + 10**12


def write_collection(bank: Bank, notes: DeckNotes, lock: Lock, db_path: Path) -> None:
    """Write the package's `collection.anki2` SQLite database to `db_path` (a new file), the
    same bytes for the same inputs.

    Note and card ids derive from GUIDs, each note carries the time its content last
    changed, and note types the time their look last changed, all from the lock.
    """
    models = {"basic": basic_model(bank.deck.homepage), "cloze": cloze_model(bank.deck.homepage)}
    root_id = deck_id(*notes.decks[0][0])
    connection = sqlite3.connect(db_path)
    try:
        cursor = connection.cursor()
        cursor.executescript(APKG_SCHEMA)
        cursor.executescript(APKG_COL)
        model_json = {
            str(m.model_id): m.to_json(lock.note_types[key].mtime + NOTE_TYPE_MTIME_OFFSET, root_id) for key, m in models.items()
        }
        (decks_raw,) = cursor.execute("SELECT decks FROM col").fetchone()
        decks_json = json.loads(decks_raw)
        position = 0
        for path, name, specs in notes.decks:
            did = deck_id(*path)
            description = deck_description_html(bank) if len(path) == 1 else ""
            decks_json[str(did)] = genanki.Deck(did, name, description=description).to_json()
            for spec in specs:
                position += 1
                _insert_note(cursor, models[spec.model], spec, did, position, lock.notes[spec.fields[0]].mtime)
        cursor.execute("UPDATE col SET models = ?, decks = ?", (json.dumps(model_json, sort_keys=True), json.dumps(decks_json, sort_keys=True)))
        connection.commit()
    finally:
        connection.close()


def _insert_note(cursor: sqlite3.Cursor, model: genanki.Model, spec: NoteSpec, did: int, due: int, mtime: int) -> None:
    note = genanki.Note(model=model, fields=list(spec.fields), tags=list(spec.tags), guid=spec.guid)
    note_id = _stable_id("note", spec.guid)
    cursor.execute(
        "INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?)",
        (note_id, spec.guid, model.model_id, mtime, -1, note._format_tags(), note._format_fields(), note.sort_field, 0, 0, ""),
    )
    for card in note.cards:
        cursor.execute(
            "INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (_stable_id("card", spec.guid, str(card.ord)), note_id, did, card.ord, mtime, -1, 0, 0, due, 0, 0, 0, 0, 0, 0, 0, 0, ""),
        )


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
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as package:
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
    return {
        media_name(path): path
        for topic in bank.topics
        for question in (*topic.questions, *topic.retired)
        for _, path in question.images
    }


def write_apkg(bank: Bank, path: Path, notes: DeckNotes, lock: Lock) -> None:
    """Write the bank as an Anki package, with its images and the times recorded in `lock`."""
    with tempfile.TemporaryDirectory(prefix="deckgen-") as tmp:
        collection = Path(tmp) / "collection.anki2"
        write_collection(bank, notes, lock, collection)
        write_package(path, collection, bank_media(bank))
