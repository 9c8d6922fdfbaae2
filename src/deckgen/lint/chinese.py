"""Rules on the Chinese edition's translated questions (docs/CARDS.md, "Chinese cards").

They read an edition's bank (deckgen.editions), whose translated texts are located in the
overlays; a question the edition shows in English is left to the English rules. A rule is
silenced as any other, with `lint: {ignore: [...]}` on the English question.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from deckgen.labels import UNTRANSLATED
from deckgen.lint.registry import Context, Finding, Scope, rule
from deckgen.model import GlossaryTerm, Location, Question, QuestionType
from deckgen.render import math_spans

MAX_ANSWER_CHARACTERS = 50
_GLOSS_REACH = 12
"""How far after a term its English may start: `注意力掩码（attention mask）` glosses 注意力."""
_CLAUSE_ENDS = frozenset("，。；：、！？,;:!?\n")


def _translated(question: Question) -> bool:
    return not question.question.startswith(UNTRANSLATED["zh"])


def _cards(question: Question) -> Iterator[list[tuple[str, str, Location]]]:
    """The texts of each card a translated question makes, in the order the card shows them,
    each with what to call it and where it is: one card, or one per compare row (which shows
    the items, its aspect and values, its own extra and the question's)."""
    at = question.location_of("question")
    extra = [("extra", question.extra, question.location_of("extra"))] if question.extra else []
    if question.type is not QuestionType.COMPARE:
        answer = [("answer", question.answer, question.location_of("answer"))] if question.answer else []
        yield [("question", question.question, at), *answer, *extra]
        return
    for row in question.live_rows:
        if row.aspect.startswith(UNTRANSLATED["zh"]):
            continue
        name = f"row '{row.id}'"
        texts = [("items", item, question.location_of("items")) for item in question.items]
        texts += [(name, text, at) for text in (row.aspect, *row.values, *([row.extra] if row.extra else []))]
        yield texts + extra


def _texts(question: Question) -> Iterator[tuple[str, str, Location]]:
    """Each text of a translated question once, with what to call it and where it is."""
    seen: set[tuple[str, str]] = set()
    for card in _cards(question):
        for name, text, where in card:
            if (name, text) not in seen:
                seen.add((name, text))
                yield name, text, where


def _prose_length(text: str) -> int:
    """How long `text` reads: each Chinese character counts one, and so do a Latin word and a
    formula; punctuation, spaces and an English gloss in full-width parentheses count nothing."""
    length, last = 0, 0
    for start, end in math_spans(text):
        length += _words(text[last:start]) + 1
        last = end
    return length + _words(text[last:])


def _words(text: str) -> int:
    closes, close = [-1] * len(text), -1  # where the next "）" is, from each place: one pass back
    for index in range(len(text) - 1, -1, -1):
        if text[index] == "）":
            close = index
        closes[index] = close
    count, in_word, gloss = 0, False, False
    for index, character in enumerate(text):
        if character == "（":
            close = closes[index]
            gloss = close != -1 and text[index + 1 : close].isascii()
        elif character == "）":
            gloss = False
        if gloss:
            continue
        latin = character.isascii() and character.isalnum()
        if latin and not in_word:
            count += 1
        elif "\u4e00" <= character <= "\u9fff":
            count += 1
        in_word = latin
    return count


@rule(
    "zh-answer-length",
    Scope.QUESTION,
    f"a Chinese answer longer than about {MAX_ANSWER_CHARACTERS} characters (a formula counts as one)",
    language="zh",
)
def zh_answer_length(question: Question, context: Context) -> Iterator[Finding]:
    """A Chinese answer is one sentence of about 50 characters at most."""
    if question.type is not QuestionType.BASIC or not _translated(question):
        return
    length = _prose_length(question.answer)
    if length > MAX_ANSWER_CHARACTERS:
        yield Finding(
            question.location_of("answer"),
            f"answer has {length} characters (at most about {MAX_ANSWER_CHARACTERS}): keep the core, move reasoning to 'extra'",
        )


@rule("zh-yes-no-question", Scope.QUESTION, "a Chinese question answered yes or no (是否…？, …吗？)", language="zh")
def zh_yes_no_question(question: Question, context: Context) -> Iterator[Finding]:
    """是否 and 吗 ask for a coin toss, not a recall."""
    if question.type is QuestionType.CLOZE or not _translated(question):
        return
    text = question.question.rstrip()
    if "是否" in text or text.endswith(("吗？", "吗?")):
        yield Finding(question.location_of("question"), "a yes/no question (是否, 吗): ask for the fact itself (什么, 为什么, 如何)")


@rule("zh-vague-start", Scope.QUESTION, "a Chinese question that opens with 它 or 这, which name nothing on their own", language="zh")
def zh_vague_start(question: Question, context: Context) -> Iterator[Finding]:
    """A card is seen alone: 它 and 这 point at nothing."""
    if not _translated(question):
        return
    if question.question.lstrip().startswith(("它", "这")):
        yield Finding(question.location_of("question"), "the question opens with 它 or 这: name what it asks about")


@dataclass(frozen=True)
class Terms:
    """A glossary's terms by their first character, longest first, and a search for the places
    where any of them may start."""

    by_first: dict[str, tuple[GlossaryTerm, ...]]
    starts: re.Pattern[str] | None


@lru_cache(maxsize=4)
def _terms(glossary: tuple[GlossaryTerm, ...]) -> Terms:
    by_first: dict[str, list[GlossaryTerm]] = {}
    for term in sorted(glossary, key=lambda t: -len(t.term)):
        if term.term:
            by_first.setdefault(term.term[0], []).append(term)
    # One character class: a search for it is linear in the text.
    starts = re.compile("[" + "".join(re.escape(first) for first in by_first) + "]") if by_first else None
    return Terms({first: tuple(found) for first, found in by_first.items()}, starts)


def _term_at(text: str, position: int, terms: Terms) -> GlossaryTerm | None:
    """The longest term that starts at `position`."""
    return next((t for t in terms.by_first.get(text[position], ()) if text.startswith(t.term, position)), None)


def _uses(text: str, terms: Terms) -> Iterator[tuple[GlossaryTerm, int]]:
    """Each glossary term `text` uses, with where it ends: the longest term at each place, left
    to right, so that 自注意力 is one use of itself and none of 注意力; but a term that a later
    one overlaps and runs past is no use (来自编码器 holds 编码器, not 自编码). Linear in the
    text (the glossary is fixed): only the places where a term's first character stands are tried."""
    position = 0
    while terms.starts is not None and (start := terms.starts.search(text, position)) is not None:
        position = start.start()
        found = _term_at(text, position, terms)
        end = position + len(found.term) if found is not None else position
        overlapped = found is not None and any(
            (later := _term_at(text, inner, terms)) is not None and inner + len(later.term) > end for inner in range(position + 1, end)
        )
        if found is None or overlapped:
            position += 1
            continue
        position = end
        yield found, position


def _glossed(text: str, end: int, english: str) -> bool:
    """Whether the English of the term that ends at `end` follows it in full-width parentheses,
    close by and in the same clause."""
    for index in range(end, min(len(text), end + _GLOSS_REACH)):
        character = text[index]
        if character == "（":
            close = text.find("）", index)
            stem = _plain(english).removesuffix("ing").removesuffix("ed")  # pretrain(ing), pretrain(ed) weights
            return close != -1 and stem in _plain(text[index + 1 : close])
        if character in _CLAUSE_ENDS:
            return False
    return False


def _plain(english: str) -> str:
    """English as a gloss is compared: case and hyphens aside (dot-product attention)."""
    return english.casefold().replace("-", " ")


@rule(
    "glossary-english",
    Scope.QUESTION,
    "a glossary term whose first use in a card is not followed by its English in parentheses: 位置编码（positional encoding）",
    language="zh",
)
def glossary_english(question: Question, context: Context) -> Iterator[Finding]:
    """The English term at a term's first use lets the learner match the card to the papers."""
    if not _translated(question):
        return
    terms = _terms(context.bank.deck.glossary)
    reported: set[tuple[str, str]] = set()
    for card in _cards(question):
        seen: set[str] = set()
        for name, text, where in card:
            for term, end in _uses(text, terms):
                if term.term in seen:
                    continue
                seen.add(term.term)
                if not _glossed(text, end, term.english) and (term.term, name) not in reported:
                    reported.add((term.term, name))  # a compare's items and extra are on every row's card: said once
                    yield Finding(where, f"the first {term.term} of the card (its {name}) needs its English after it: {term.term}（{term.english}）")


@rule("glossary-variant", Scope.QUESTION, "a variant the glossary lists to avoid, where the deck has one agreed term", language="zh")
def glossary_variant(question: Question, context: Context) -> Iterator[Finding]:
    """One concept, one term across the deck."""
    if not _translated(question):
        return
    for name, text, where in _texts(question):
        for term in context.bank.deck.glossary:
            for variant in term.avoid:
                if variant in text:
                    yield Finding(where, f"'{variant}' in the {name}: the glossary's term is {term.term}（{term.english}）")
