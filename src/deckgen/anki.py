"""The Anki export: note types, ids, GUIDs and the .apkg. The only module that imports genanki.

Everything a learner's review history hangs on is fixed here and pinned by tests:
the model ids, the field and template names, and GUIDs derived from question ids
(never from content), so fixing a typo or moving a question keeps its history.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from html import escape
from pathlib import Path

import genanki  # type: ignore[import-untyped]

from deckgen.model import Bank, CompareRow, Question, QuestionType, Topic
from deckgen.render import code_css, plain_html, to_html, to_inline_html

GUID_NAMESPACE = "deckgen"

BASIC_MODEL_ID = 1691839207
CLOZE_MODEL_ID = 1691839208
BASIC_MODEL_NAME = "deckgen Basic"
CLOZE_MODEL_NAME = "deckgen Cloze"
BASIC_FIELDS = ("ID", "Question", "Answer", "Extra", "Sources", "Topic")
CLOZE_FIELDS = ("ID", "Text", "Extra", "Sources", "Topic")
BASIC_TEMPLATE = "Recall"
CLOZE_TEMPLATE = "Cloze"

_CONTEXT = '<div class="dg-context">{{Topic}}</div>'
_BACK_MATTER = (
    '{{#Extra}}<div class="dg-extra">{{Extra}}</div>{{/Extra}}\n'
    '<div class="dg-sources">{{Sources}}</div>\n'
    '<div class="dg-id">{{ID}}</div>'
)
BASIC_QFMT = f'{_CONTEXT}\n<div class="dg-question">{{{{Question}}}}</div>'
BASIC_AFMT = '{{FrontSide}}\n<hr id="answer">\n<div class="dg-answer">{{Answer}}</div>\n' + _BACK_MATTER
CLOZE_QFMT = f'{_CONTEXT}\n<div class="dg-question">{{{{cloze:Text}}}}</div>'
CLOZE_AFMT = f'{_CONTEXT}\n<div class="dg-question">{{{{cloze:Text}}}}</div>\n<hr id="answer">\n' + _BACK_MATTER

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
"""


def card_css() -> str:
    """The note types' CSS: the card styles, then Pygments' light and night styles for code."""
    return CARD_CSS + code_css()


def basic_model() -> genanki.Model:
    """The note type of basic questions and compare rows."""
    return genanki.Model(
        BASIC_MODEL_ID,
        BASIC_MODEL_NAME,
        fields=[{"name": name} for name in BASIC_FIELDS],
        templates=[{"name": BASIC_TEMPLATE, "qfmt": BASIC_QFMT, "afmt": BASIC_AFMT}],
        css=card_css(),
        sort_field_index=BASIC_FIELDS.index("Question"),
    )


def cloze_model() -> genanki.Model:
    """The note type of cloze questions."""
    return genanki.Model(
        CLOZE_MODEL_ID,
        CLOZE_MODEL_NAME,
        fields=[{"name": name} for name in CLOZE_FIELDS],
        templates=[{"name": CLOZE_TEMPLATE, "qfmt": CLOZE_QFMT, "afmt": CLOZE_AFMT}],
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
    by_id = {s.id: s for s in bank.sources}
    items = []
    for source_id in source_ids:
        source = by_id[source_id]
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
    """The front of a compare row: "XLNet vs BERT: <aspect>"."""
    return to_inline_html(" vs ".join(items) + ": " + row.aspect)


@dataclass(frozen=True)
class NoteSpec:
    """One note as deckgen writes it: which model, its GUID, its fields and tags."""

    guid: str
    model: str
    fields: tuple[str, ...]
    tags: tuple[str, ...]


def question_tags(question: Question) -> tuple[str, ...]:
    """`deckgen::<section>::<topic>` and the question's own tags."""
    return (f"deckgen::{question.section}::{question.topic}", *question.tags)


def question_notes(bank: Bank, topic: Topic, question: Question) -> list[NoteSpec]:
    """The notes one question becomes: one, or one per compare row."""
    sources = sources_html(bank, question.sources)
    extra = to_html(question.extra)
    topic_label = plain_html(topic.title)
    tags = question_tags(question)
    if question.type is QuestionType.CLOZE:
        cloze_fields = (note_id_field(question.id), to_html(question.question), extra, sources, topic_label)
        return [NoteSpec(note_guid(question.id), "cloze", cloze_fields, tags)]
    if question.type is QuestionType.BASIC:
        basic_fields = (
            note_id_field(question.id),
            to_html(question.question),
            to_html(question.answer),
            extra,
            sources,
            topic_label,
        )
        return [NoteSpec(note_guid(question.id), "basic", basic_fields, tags)]
    return [
        NoteSpec(
            note_guid(question.id, row.id),
            "basic",
            (
                note_id_field(question.id, row.id),
                compare_front(question.items, row),
                compare_table_html(question.items, row.values),
                extra,
                sources,
                topic_label,
            ),
            tags,
        )
        for row in question.rows
    ]


def deck_description_html(bank: Bank) -> str:
    """The root deck's description: the deck's own text, its version and homepage."""
    deck = bank.deck
    return (
        f"{to_html(deck.description)}\n"
        f"<p>Version {plain_html(deck.version)} · "
        f'<a href="{escape(deck.homepage)}">{plain_html(deck.homepage)}</a></p>'
    )


def write_apkg(bank: Bank, path: Path, timestamp: float) -> None:
    """Write the bank as an Anki package; `timestamp` is every note's modification time."""
    models = {"basic": basic_model(), "cloze": cloze_model()}
    slug = bank.deck.slug
    root = genanki.Deck(deck_id(slug), bank.deck.title, description=deck_description_html(bank))
    decks = [root]
    for section in bank.deck.sections:
        topics = [t for t in bank.ordered_topics() if t.section == section.id]
        if not topics:
            continue
        decks.append(genanki.Deck(deck_id(slug, section.id), f"{bank.deck.title}::{section.title}"))
        for topic in topics:
            deck = genanki.Deck(deck_id(slug, section.id, topic.id), deck_name(bank, topic))
            for question in topic.questions:
                for spec in question_notes(bank, topic, question):
                    deck.add_note(
                        genanki.Note(model=models[spec.model], fields=list(spec.fields), tags=list(spec.tags), guid=spec.guid)
                    )
            decks.append(deck)
    for model in models.values():
        root.add_model(model)
    package = genanki.Package(decks)
    with warnings.catch_warnings():
        # genanki warns about HTML it does not know; our fields are rendered by markdown-it.
        warnings.simplefilter("ignore")
        package.write_to_file(str(path), timestamp=timestamp)
