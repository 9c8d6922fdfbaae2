"""Counts for `deckgen stats`, `build` and `check`: notes and cards as Anki counts them, per
section and topic, and sources no card cites."""

from __future__ import annotations

from dataclasses import dataclass

from deckgen.editions import editions
from deckgen.model import Bank, Question, QuestionType, Source, one_line
from deckgen.report import plural


@dataclass(frozen=True)
class TopicCount:
    """Questions, and the live notes and cards they become, in one topic."""

    section: str
    topic: str
    title: str
    questions: int
    notes: int
    cards: int


@dataclass(frozen=True)
class DeckCounts:
    """The notes and cards of the whole package, as Anki counts them after an import."""

    notes: int
    cards: int
    retired_notes: int
    """Of `notes`, those retired: kept behind a banner until learners delete them."""

    def phrase(self) -> str:
        """`582 notes and 603 cards (17 notes retired)`."""
        retired = f" ({plural(self.retired_notes, 'note')} retired)" if self.retired_notes else ""
        return f"{plural(self.notes, 'note')} and {plural(self.cards, 'card')}{retired}"


def _retired_counts(question: Question) -> tuple[int, int]:
    """The retired notes and their cards of a question: all of a retired one's, or its retired rows."""
    if question.retired is None:
        rows = len(question.rows) - len(question.live_rows)
        return rows, rows
    if question.type is QuestionType.COMPARE:
        return len(question.rows), len(question.rows)
    return 1, question.card_count


def deck_counts(bank: Bank) -> DeckCounts:
    """Every note and card the package holds, live and retired."""
    live = [q for t in bank.topics for q in t.questions]
    retired = [_retired_counts(q) for t in bank.topics for q in (*t.questions, *t.retired)]
    retired_notes = sum(n for n, _ in retired)
    return DeckCounts(
        sum(q.note_count for q in live) + retired_notes,
        sum(q.card_count for q in live) + sum(c for _, c in retired),
        retired_notes,
    )


@dataclass(frozen=True)
class Stats:
    """What `deckgen stats` reports."""

    topics: tuple[TopicCount, ...]
    uncited: tuple[Source, ...]

    @property
    def notes(self) -> int:
        """All live notes in the bank."""
        return sum(t.notes for t in self.topics)

    @property
    def cards(self) -> int:
        """All live cards in the bank."""
        return sum(t.cards for t in self.topics)


def bank_stats(bank: Bank) -> Stats:
    """Cards per topic in deck order, and the sources that no question cites."""
    topics = tuple(
        TopicCount(
            t.section, t.id, t.title, len(t.questions), sum(q.note_count for q in t.questions), sum(q.card_count for q in t.questions)
        )
        for t in bank.ordered_topics()
    )
    cited = {s for q in bank.questions for s in q.sources}
    return Stats(topics, tuple(s for s in bank.sources if s.id not in cited))


def format_stats(bank: Bank, stats: Stats) -> str:
    """The stats as aligned plain text."""
    lines = ["notes  cards"]
    for section in bank.deck.sections:
        counts = [t for t in stats.topics if t.section == section.id]
        notes, cards = sum(t.notes for t in counts), sum(t.cards for t in counts)
        lines.append(f"{notes:5d}  {cards:5d}  {section.title} [{section.id}]")
        for t in counts:
            lines.append(f"{t.notes:5d}  {t.cards:5d}    {t.title} [{t.topic}]")
    lines.append(f"{stats.notes:5d}  {stats.cards:5d}  in total, as Anki counts them (a cloze note has a card per deletion number)")
    retired = deck_counts(bank).retired_notes
    if retired:
        lines.append(f"and {plural(retired, 'retired note')}, kept in the deck until learners delete them")
    lines.append("")
    if stats.uncited:
        lines.append(f"{len(stats.uncited)} of {len(bank.sources)} sources are cited by no card:")
        lines.extend(f"  {s.id}  {s.title}" for s in stats.uncited)
    else:
        lines.append(f"every one of the {len(bank.sources)} sources is cited")
    for made in editions(bank)[0][1:]:
        covered = made.coverage
        stale = f", {plural(covered.stale, 'stale translation')}" if covered.stale else ", none stale"
        lines.append(f"{made.language}: {covered.translated} of {covered.total} questions translated ({covered.percent}%){stale}")
    return "\n".join(one_line(line) for line in lines) + "\n"
