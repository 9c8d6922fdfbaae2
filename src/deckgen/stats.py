"""Counts for `deckgen stats`: cards per section and topic, and sources no card cites."""

from __future__ import annotations

from dataclasses import dataclass

from deckgen.model import Bank, Source, one_line


@dataclass(frozen=True)
class TopicCount:
    """Questions and cards in one topic."""

    section: str
    topic: str
    title: str
    questions: int
    cards: int


@dataclass(frozen=True)
class Stats:
    """What `deckgen stats` reports."""

    topics: tuple[TopicCount, ...]
    uncited: tuple[Source, ...]

    @property
    def cards(self) -> int:
        """All cards in the bank."""
        return sum(t.cards for t in self.topics)


def bank_stats(bank: Bank) -> Stats:
    """Cards per topic in deck order, and the sources that no question cites."""
    topics = tuple(
        TopicCount(t.section, t.id, t.title, len(t.questions), sum(q.card_count for q in t.questions))
        for t in bank.ordered_topics()
    )
    cited = {s for q in bank.questions for s in q.sources}
    return Stats(topics, tuple(s for s in bank.sources if s.id not in cited))


def format_stats(bank: Bank, stats: Stats) -> str:
    """The stats as aligned plain text."""
    lines = []
    for section in bank.deck.sections:
        counts = [t for t in stats.topics if t.section == section.id]
        cards = sum(t.cards for t in counts)
        lines.append(f"{cards:5d}  {section.title} [{section.id}]")
        for t in counts:
            lines.append(f"{t.cards:5d}    {t.title} [{t.topic}]")
    lines.append(f"{stats.cards:5d}  cards in total")
    lines.append("")
    if stats.uncited:
        lines.append(f"{len(stats.uncited)} of {len(bank.sources)} sources are cited by no card:")
        lines.extend(f"  {s.id}  {s.title}" for s in stats.uncited)
    else:
        lines.append(f"every one of the {len(bank.sources)} sources is cited")
    return "\n".join(one_line(line) for line in lines) + "\n"
