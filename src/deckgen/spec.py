"""The bank's files, declared once: every record, its fields, and what kind of value each holds.

`deckgen check` reads bank files by interpreting these declarations (deckgen.validate),
`deckgen schema` turns them into the JSON Schemas that editors use (deckgen.schema), and
the README's reference is checked against them. A new field is one `Field` here, plus the
model attribute it fills; nothing else has to learn its name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from deckgen.lint import QUESTION_RULES, SOURCE_RULES, TOPIC_RULES
from deckgen.model import QuestionType, SourceKind

RESERVED_SECTION_IDS = ("release", "retired", "tag")
"""Section ids that would put a topic's tag (`deckgen::<section>::<topic>`) among the deck's own
tags (`deckgen::release::0.2.0`, `deckgen::retired`, `deckgen::tag::<tag>`)."""
KEBAB_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
YEAR_RE = re.compile(r"[0-9]{4}")
EDITION_LANGUAGES = ("en", "zh")
"""The languages deckgen builds an edition in: English, the banks' own, and those it has labels for."""
LANG_RE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]+)*")


@dataclass(frozen=True)
class Kind:
    """What a field's value is, and so how check reads it and what the JSON Schema says of it."""

    name: str
    description: str


TEXT = Kind("text", "plain text, shown as written")
TITLE = Kind("title", "plain text on one line without '::' (it names an Anki deck)")
MARKDOWN = Kind("markdown", "Markdown with math, code and http(s) links")
CARD_MARKDOWN = Kind("card-markdown", "Markdown with math, code, http(s) links and images from the bank folder")
ID = Kind("id", "kebab-case, starting with a letter")
REFERENCE = Kind("reference", "the id of an entry of another file")
URL = Kind("url", "an http(s) URL whose characters need no escaping")
TAG = Kind("tag", "an Anki tag: no spaces")
LANG = Kind("lang", "a language code such as 'en' or 'zh'")
YEAR = Kind("year", "a four-digit year")
CHOICE = Kind("choice", "one of a fixed set of words")
RULE = Kind("rule", "the id of a lint rule that applies here")
RECORD = Kind("record", "a mapping, itself declared here")

KINDS = (TEXT, TITLE, MARKDOWN, CARD_MARKDOWN, ID, REFERENCE, URL, TAG, LANG, YEAR, CHOICE, RULE, RECORD)


@dataclass(frozen=True)
class Field:
    """One key of a record."""

    name: str
    kind: Kind
    description: str
    required: bool = True
    many: bool = False
    """A list of values of `kind`, rather than one."""
    min_items: int = 0
    """For a list: how few items it may hold (an empty required list is an error whatever this says)."""
    choices: tuple[str, ...] = ()
    """For a CHOICE: the words allowed."""
    record: str = ""
    """For a RECORD: the name of the record it holds."""
    refers_to: str = ""
    """For a REFERENCE: what the id names ("section", "source")."""
    attr: str = ""
    """The model attribute the value fills, when it is not named as the key is."""
    noun: str = ""
    """For a list of records: what messages call its items, in the plural ("retired questions")."""
    first: str = ""
    """For a list whose items are each given once: the item it must start with, if any."""

    @property
    def attribute(self) -> str:
        """The model attribute this field fills."""
        return self.attr or self.name


@dataclass(frozen=True)
class Record:
    """A mapping in a bank file, with every key it may hold."""

    name: str
    what: str
    """How messages name it: "a source", "deck.yaml"."""
    description: str
    fields: tuple[Field, ...]
    applies_to: str = ""
    """For a `lint` record: what its rules apply to ("a question"), as messages say it."""

    @property
    def keys(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The required keys and the optional ones, in the order declared."""
        return (
            tuple(f.name for f in self.fields if f.required),
            tuple(f.name for f in self.fields if not f.required),
        )

    def field(self, name: str) -> Field:
        """The field declared for `name`."""
        return next(f for f in self.fields if f.name == name)


def _lint(name: str, rules: dict[str, str], applies_to: str) -> Record:
    return Record(
        name,
        "'lint'",
        "Silence lint rules for this entry only, with a reason.",
        (
            Field("ignore", RULE, "the lint rules to silence", many=True, min_items=1, choices=tuple(sorted(rules))),
            Field("reason", TEXT, "why this case is fine"),
        ),
        applies_to,
    )


def _lint_field(record: str) -> Field:
    return Field("lint", RECORD, "silence lint rules for this entry, with a reason", required=False, record=record, attr="lint_ignore")


SECTION = Record(
    "section",
    "a section",
    "A section of the reading list; topics belong to one.",
    (
        Field("id", ID, "the section's id, which topics and sources name"),
        Field("title", TITLE, "the section's title, also its deck's name in Anki"),
        Field("heading", TEXT, "the heading of the section in the reading list"),
    ),
)

DECK = Record(
    "deck",
    "deck.yaml",
    "questions/deck.yaml: the deck as a whole.",
    (
        Field("title", TITLE, "the deck's name in Anki and the sheets' title"),
        Field("version", TEXT, "the release, for example 0.2.0"),
        Field("description", MARKDOWN, "what the deck is, shown in Anki and on the sheets"),
        Field("homepage", URL, "where the deck lives; cards link to it to report a problem"),
        Field("sections", RECORD, "the sections, in reading-list order", many=True, min_items=1, record="section"),
        Field(
            "languages", CHOICE, "the editions to build, English (the source) first; each other one is translated in overlays (en when absent)",
            required=False, many=True, choices=EDITION_LANGUAGES, first="en",
        ),
    ),
)

SOURCE = Record(
    "source",
    "a source",
    "An article, paper, homepage or code that questions cite.",
    (
        Field("id", ID, "the source's id, which questions cite"),
        Field("title", TEXT, "the title as its author wrote it"),
        Field("title_en", TEXT, "an English translation of a title in another language, which the printed bibliography shows beside it", required=False),
        Field("title_zh", TEXT, "a Chinese translation of a title in another language, which the Chinese edition's printed bibliography shows beside it", required=False),
        Field("url", URL, "where to read it"),
        Field("section", REFERENCE, "the section of the reading list it belongs to", refers_to="section"),
        Field("lang", LANG, "the language it is written in", required=False),
        Field("kind", CHOICE, "what it is (article when absent)", required=False, choices=tuple(k.value for k in SourceKind)),
        Field("authors", TEXT, "who wrote it, in order, each as `Given Family` (or `Family, Given` for a family name of several words); the first gives the printed citation key", required=False, many=True),
        Field("year", YEAR, "when it was published", required=False),
        _lint_field("source-lint"),
    ),
)

SOURCES = Record(
    "sources",
    "sources.yaml",
    "questions/sources.yaml.",
    (Field("sources", RECORD, "every source the questions cite", many=True, min_items=1, record="source"),),
)


def _row(retired: bool) -> Record:
    reason = (Field("reason", MARKDOWN, "why the row was retired", attr="retired"),) if retired else ()
    return Record(
        "retired-row" if retired else "row",
        "a retired compare row" if retired else "a compare row",
        "A compare row that was retired: kept in the deck behind a banner." if retired else "One aspect of a compare question: one card.",
        (
            Field("id", ID, "the row's id, unique in its question"),
            Field("aspect", MARKDOWN, "what the row compares"),
            Field("values", MARKDOWN, "one value per item, in the items' order", many=True, min_items=1),
            *reason,
            Field("extra", MARKDOWN, "shown on this row's card after the answer", required=False),
        ),
    )


ROW = _row(False)
RETIRED_ROW = _row(True)

_ANSWER_WORDS = "a phrase or one sentence (about 25 words at most)"
_PROMPTS = {
    QuestionType.BASIC: "the prompt",
    QuestionType.CLOZE: "the text, with its deletions written {{c1::text}} or {{c1::text::hint}}",
    QuestionType.COMPARE: "what the table answers, shown above it on the sheets",
}


def _question(qtype: QuestionType, retired: bool) -> Record:
    """A question of one type, live or retired: the keys it holds depend on both."""
    compare = qtype is QuestionType.COMPARE
    fields = [
        Field("id", ID, "the question's id: stable forever, it keeps the learners' review history"),
        Field("type", CHOICE, "basic (when absent), cloze or compare", required=qtype is not QuestionType.BASIC, choices=(qtype.value,)),
        Field("question", CARD_MARKDOWN, _PROMPTS[qtype]),
    ]
    if qtype is QuestionType.BASIC:
        fields.append(Field("answer", CARD_MARKDOWN, _ANSWER_WORDS))
    if compare:
        fields.append(Field("items", MARKDOWN, "the things compared, one column each", many=True, min_items=2))
        fields.append(Field("rows", RECORD, "the aspects compared, one card each", many=True, min_items=1, record="row"))
    fields.append(Field("sources", REFERENCE, "source ids from sources.yaml", many=True, min_items=1, refers_to="source"))
    if retired:
        fields.append(Field("reason", MARKDOWN, "why the question was retired", attr="retired"))
    fields += [
        Field("extra", CARD_MARKDOWN, "what the card shows after the answer: the why, an example", required=False),
        Field("tags", TAG, "tags for filtered decks and `--tag` builds", required=False, many=True),
        _lint_field("question-lint"),
    ]
    if compare:
        fields.append(
            Field(
                "retired_rows", RECORD, "rows taken out of the deck", required=False, many=True, min_items=1,
                record="retired-row", noun="retired rows",
            )
        )
    what = f"a retired {qtype.value} question" if retired else f"a {qtype.value} question"
    description = f"A retired {qtype.value} question: kept in the deck behind a banner, never in the sheets." if retired else f"A {qtype.value} question."
    return Record(f"{'retired-' if retired else ''}{qtype.value}-question", what, description, tuple(fields))


QUESTIONS = {qtype: _question(qtype, False) for qtype in QuestionType}
RETIRED_QUESTIONS = {qtype: _question(qtype, True) for qtype in QuestionType}
QUESTION_TYPE = Field("type", CHOICE, "basic (when absent), cloze or compare", required=False, choices=tuple(t.value for t in QuestionType))
"""A question's `type`, read first: it chooses the record that the rest of the question is read as."""
VARIANTS = {"question": QUESTIONS, "retired-question": RETIRED_QUESTIONS}
"""Records whose keys depend on the question's type, by the name that fields refer to them by."""


def _any_question(retired: bool) -> Record:
    """A question of a type deckgen does not know: every question key is allowed, none required."""
    variants = (RETIRED_QUESTIONS if retired else QUESTIONS).values()
    fields = {f.name: replace(f, required=False) for record in variants for f in record.fields}
    name = "any-retired-question" if retired else "any-question"
    return Record(name, "a question", "A question whose type is not known.", tuple(fields[k] for k in sorted(fields)))

TOPIC = Record(
    "topic",
    "a topic file",
    "A topic bank: one YAML file of questions.",
    (
        Field("topic", TITLE, "the topic's title, also its deck's name in Anki", attr="title"),
        Field("id", ID, "the topic's id"),
        Field("section", REFERENCE, "the section it belongs to", refers_to="section"),
        Field("questions", RECORD, "the questions, in the order the sheets print them", many=True, min_items=1, record="question"),
        _lint_field("topic-lint"),
        Field(
            "retired", RECORD, "questions taken out of the deck", required=False, many=True, min_items=1,
            record="retired-question", noun="retired questions",
        ),
    ),
)

RECORDS: dict[str, Record] = {
    r.name: r
    for r in (
        DECK,
        SECTION,
        SOURCES,
        SOURCE,
        TOPIC,
        ROW,
        RETIRED_ROW,
        _lint("question-lint", QUESTION_RULES, "a question"),
        _lint("topic-lint", TOPIC_RULES, "a topic"),
        _lint("source-lint", SOURCE_RULES, "a source"),
        *QUESTIONS.values(),
        *RETIRED_QUESTIONS.values(),
        _any_question(False),
        _any_question(True),
    )
}
"""Every record, by name. The question records are chosen by the question's `type`."""

FILES = {"deck": DECK, "sources": SOURCES, "topic": TOPIC}
"""The record at the top of each kind of bank file."""

