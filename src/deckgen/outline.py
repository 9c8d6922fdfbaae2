"""The outline every sheet is written from: the deck's title data and counts, its sections,
their topics, and the live questions numbered in deck order, then the answer key.

Every output that lists the questions (the Markdown sheets, the printable HTML, a website
one day) renders this one outline, so that numbers, order and contents agree everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar

from deckgen.model import Bank, Deck, Question, Section, Topic
from deckgen.labels import labels

T = TypeVar("T")


@dataclass(frozen=True)
class NumberedQuestion:
    """A live question with its number, the same in every sheet."""

    number: int
    question: Question


@dataclass(frozen=True)
class TopicOutline:
    """A topic and its numbered questions (none when every question of it is retired)."""

    topic: Topic
    questions: tuple[NumberedQuestion, ...]


@dataclass(frozen=True)
class SectionOutline:
    """A section of `deck.yaml` and its topics, in deck order."""

    section: Section
    topics: tuple[TopicOutline, ...]

    @property
    def has_questions(self) -> bool:
        """True if any topic of the section has a live question: the sheets' body shows only those."""
        return any(t.questions for t in self.topics)


@dataclass(frozen=True)
class Outline:
    """What every sheet shows, in order; sections without topics are left out."""

    bank: Bank
    """The bank outlined, for what a sheet looks up: its sources."""
    question_count: int
    note_count: int
    """The live notes the questions become in Anki (a compare question is a note per row)."""
    card_count: int
    """Their cards, as Anki counts them (a cloze note has a card per deletion number)."""
    sections: tuple[SectionOutline, ...]
    answer_key: tuple[NumberedQuestion, ...]
    """Every numbered question again, in order, for the answer key of the questions sheets."""
    handout: str | None = None
    """What a handout (a subset build) holds, as its title says it ("LoRA vs Adapter"); None
    for the whole deck. A handout has no cover: no deck description, no contents page."""

    @property
    def counts(self) -> str:
        """`491 questions: 565 notes and 586 cards in Anki`, as a sheet's header says it."""
        return labels(self.deck.language).counts(self.question_count, self.note_count, self.card_count)

    @property
    def deck(self) -> Deck:
        """The deck's title, version, homepage and description."""
        return self.bank.deck


def deck_numbers(bank: Bank) -> dict[str, int]:
    """Each live question's number in the whole deck, by id: topics in the order of their
    sections, then by file name; questions numbered from 1."""
    ids = (question.id for topic in bank.ordered_topics() for question in topic.questions)
    return {question_id: number for number, question_id in enumerate(ids, start=1)}


class Keep(Protocol):
    """What a build's cache keeps of a topic in a process that builds again and again
    (`BuildCache.derived`): `make()`, which reads nothing but `owners` and `around`."""

    def __call__(self, kind: str, owners: tuple[object, ...], around: Hashable, make: Callable[[], T]) -> T: ...


def _made(kind: str, owners: tuple[object, ...], around: Hashable, make: Callable[[], T]) -> T:
    return make()


def outline(bank: Bank, whole: Bank | None = None, handout: str | None = None, keep: Keep = _made) -> Outline:
    """The bank's outline: topics in the order of their sections, then by file name; questions
    numbered as in `whole` (the deck `bank` was selected from; `bank` itself if none), so that
    a handout, its answer key and the full sheet give a question the same number. A build
    passes what its cache keeps (`keep`): a watch then numbers again, and counts the cards of,
    only the topics that changed or moved."""
    ordered = bank.ordered_topics()
    numbered: dict[str, TopicOutline] = {}
    if whole is None or whole is bank:
        # The whole deck: each topic's questions are numbered on from the last topic's.
        start = 1
        for topic in ordered:
            questions = keep("numbered", (topic,), start, partial(_numbered, topic, start))
            numbered[topic.id] = TopicOutline(topic, questions)
            start += len(questions)
    else:
        numbers = deck_numbers(whole)
        for topic in ordered:
            numbered[topic.id] = TopicOutline(topic, tuple(NumberedQuestion(numbers[q.id], q) for q in topic.questions))
    sections = []
    for section in bank.deck.sections:
        topics = tuple(numbered[t.id] for t in ordered if t.section == section.id)
        if topics:
            sections.append(SectionOutline(section, topics))
    key = tuple(n for t in numbered.values() for n in t.questions)
    counts = [keep("counts", (t.topic,), None, partial(_counts, t.topic.questions)) for t in numbered.values()]
    return Outline(bank, len(key), sum(n for n, _ in counts), sum(c for _, c in counts), tuple(sections), key, handout)


def _numbered(topic: Topic, start: int) -> tuple[NumberedQuestion, ...]:
    """The topic's live questions, numbered from `start`."""
    return tuple(NumberedQuestion(number, q) for number, q in enumerate(topic.questions, start=start))


def _counts(questions: tuple[Question, ...]) -> tuple[int, int]:
    """The notes and the cards of these questions."""
    return sum(q.note_count for q in questions), sum(q.card_count for q in questions)
