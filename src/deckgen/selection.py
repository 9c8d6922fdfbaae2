"""Selecting part of a bank to build: `--topic`, `--section` and `--tag` filters."""

from __future__ import annotations

from dataclasses import dataclass, replace

from deckgen.model import Bank, DeckgenError, Diagnostic, Location, Question, Severity


@dataclass(frozen=True)
class Selection:
    """Which part of the bank to build: a question is kept if it matches every filter given."""

    topics: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.topics or self.sections or self.tags)

    def keeps(self, question: Question) -> bool:
        """True if the question passes every filter."""
        return (
            (not self.topics or question.topic in self.topics)
            and (not self.sections or question.section in self.sections)
            and (not self.tags or any(tag in self.tags for tag in question.tags))
        )


def select(bank: Bank, selection: Selection) -> Bank:
    """The bank narrowed to the selection; unknown filter values are errors, as is an empty result."""
    if not selection:
        return bank
    problems = []
    known = {
        "topic": (selection.topics, {t.id for t in bank.topics}),
        "section": (selection.sections, {s.id for s in bank.deck.sections}),
        "tag": (selection.tags, {tag for q in bank.questions for tag in q.tags}),
    }
    for kind, (wanted, available) in known.items():
        for value in wanted:
            if value not in available:
                problems.append(
                    Diagnostic(Location(bank.root.as_posix()), Severity.ERROR, f"no {kind} '{value}' in this bank", "unknown-filter")
                )
    if problems:
        raise DeckgenError(problems)
    topics = []
    for topic in bank.topics:
        kept = tuple(q for q in topic.questions if selection.keeps(q))
        if kept:
            topics.append(replace(topic, questions=kept))
    if not topics:
        raise DeckgenError(
            [Diagnostic(Location(bank.root.as_posix()), Severity.ERROR, "the filters select no question", "unknown-filter")]
        )
    return replace(bank, topics=tuple(topics))


def handout_title(bank: Bank, selection: Selection) -> str | None:
    """What a subset build holds, for its sheets' title: the topics' titles ("LoRA vs Adapter"),
    else the sections' titles, with the tags asked for; None for the whole deck."""
    if not selection:
        return None
    topics = {t.id: t.title for t in bank.topics}
    sections = {s.id: s.title for s in bank.deck.sections}
    names = [topics[t] for t in selection.topics if t in topics] or [sections[s] for s in selection.sections if s in sections]
    title = ", ".join(names)
    if selection.tags:
        tagged = "tagged " + ", ".join(selection.tags)
        title = f"{title}, {tagged}" if title else f"Questions {tagged}"
    return title
