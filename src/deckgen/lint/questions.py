"""Rules on one question at a time: how it asks, how long it answers, what it cites."""

from __future__ import annotations

import re
from collections.abc import Iterator

from deckgen.lint.registry import Context, Finding, Scope, rule
from deckgen.lint.words import first_word, word_count
from deckgen.model import Question, QuestionType, clipped
from deckgen.render import math_spans

MAX_ANSWER_WORDS = 25
MAX_LIST_ITEMS = 5

_YES_NO_OPENERS = frozenset(
    "is are was were does do did can could should would will has have had may might must shall".split()
)
_LIST_RE = re.compile(r"^(list|enumerate)\b|\b(list|name|give|state) (all|every|each)\b|\bwhat are all\b", re.IGNORECASE)
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
_TODO_RE = re.compile(r"\bTODO\b")
NEW_ID_MARK = "todo"
"""The word an id that `deckgen new` makes up holds before its number: `<topic>-todo-<n>`."""


def new_id(topic_id: str, number: int) -> str:
    """The id `deckgen new` gives a topic's `number`th new question, until its author renames it."""
    return f"{topic_id}-{NEW_ID_MARK}-{number}"


def is_new_id(question_id: str) -> bool:
    """Whether an id has the form that `deckgen new` makes up (`<topic>-todo-<n>`)."""
    stem, _, number = question_id.rpartition("-")
    return stem.endswith(f"-{NEW_ID_MARK}") and number.isascii() and number.isdigit()


@rule(
    "answer-length",
    Scope.QUESTION,
    f"an answer longer than about {MAX_ANSWER_WORDS} words (a math or code span counts as one; `extra` is exempt)",
)
def answer_length(question: Question, context: Context) -> Iterator[Finding]:
    """A basic card's answer should be its core, recalled in one go."""
    if question.type is not QuestionType.BASIC:
        return
    words = word_count(question.answer)
    if words > MAX_ANSWER_WORDS:
        yield Finding(
            question.location_of("answer"),
            f"answer has {words} words (at most about {MAX_ANSWER_WORDS}): keep the core, move reasoning to 'extra'",
        )


@rule("yes-no-question", Scope.QUESTION, 'a question that can be answered yes or no ("Is RoPE relative?")')
def yes_no_question(question: Question, context: Context) -> Iterator[Finding]:
    """A yes or no is a coin toss, not a recall; "Is it A or B?" is fine."""
    first = first_word(question.question)
    if question.type is not QuestionType.CLOZE and first.lower() in _YES_NO_OPENERS and " or " not in question.question:
        yield Finding(
            question.location_of("question"),
            f"yes/no question (starts with '{first}'): ask what, why or how, so that it has one informative answer",
        )


@rule("vague-start", Scope.QUESTION, 'a question that starts with "It" or "This"')
def vague_start(question: Question, context: Context) -> Iterator[Finding]:
    """A card is reviewed alone, long after the one before it: "it" has nothing to point at."""
    first = first_word(question.question)
    if first in ("It", "This"):
        yield Finding(
            question.location_of("question"), f"starts with '{first}': name the model, paper or setting so the card stands alone"
        )


@rule("list-question", Scope.QUESTION, "a question that asks to list, enumerate or name all of a set")
def list_question(question: Question, context: Context) -> Iterator[Finding]:
    """Sets are hard to recall whole and easy to forget a part of."""
    if question.type is not QuestionType.CLOZE and _LIST_RE.search(question.question):
        yield Finding(question.location_of("question"), "asks for a whole set: split it into one card per item, or use a compare")


@rule("answer-list", Scope.QUESTION, f"an answer with more than {MAX_LIST_ITEMS} list items")
def answer_list(question: Question, context: Context) -> Iterator[Finding]:
    """A long list in an answer is a set question in disguise."""
    if question.type is not QuestionType.BASIC:
        return
    items = len(_LIST_ITEM_RE.findall(question.answer))
    if items > MAX_LIST_ITEMS:
        yield Finding(
            question.location_of("answer"), f"answer lists {items} items (at most {MAX_LIST_ITEMS}): split it into several cards"
        )


@rule("no-article", Scope.QUESTION, "a question that cites only papers or code, no reading-list article")
def no_article(question: Question, context: Context) -> Iterator[Finding]:
    """The reading list is what learners read next to the deck, so every card points into it."""
    if question.sources and not context.reading_list.intersection(question.sources):  # none: a placeholder, reported
        yield Finding(
            question.location_of("sources"),
            "cites no reading-list article: add the article that covers this card, beside the paper",
        )


@rule("placeholder", Scope.QUESTION, "text that still says TODO, as `deckgen new` writes it")
def placeholder(question: Question, context: Context) -> Iterator[Finding]:
    """`deckgen new` writes TODO where text is still to come; none of it should reach learners."""
    for key, value in (("question", question.question), ("answer", question.answer), ("extra", question.extra)):
        if "TODO" in value and _TODO_RE.search(value):
            yield Finding(question.location_of(key), f"'{key}' still says TODO: write it, or delete it if optional")


def _glued_math(text: str) -> str | None:
    """The word that a math span follows without a space (`Adapter` in `Adapter$^H$`), if any."""
    for start, _ in math_spans(text):
        if start and text[start - 1].isalnum():
            word_start = start
            while word_start and text[word_start - 1].isalnum():
                word_start -= 1
            return text[word_start:start]
    return None


@rule("math-after-word", Scope.QUESTION, "math right after a letter or digit (`Adapter$^H$`), which GitHub shows as TeX")
def math_after_word(question: Question, context: Context) -> Iterator[Finding]:
    """GitHub reads `$` as math only after a space or punctuation (github/markup#1742), so the
    Markdown sheet would show such a formula as raw TeX."""
    texts = [(question.location_of(key), value) for key, value in (("question", question.question), ("answer", question.answer), ("extra", question.extra))]
    texts += [(row.location, text) for row in question.rows for text in (row.aspect, *row.values, row.extra)]
    for location, text in texts:
        word = _glued_math(text) if "$" in text else None
        if word is not None:
            yield Finding(
                location,
                f"math right after '{clipped(word, 20)}': GitHub shows it as TeX in the Markdown sheet; "
                "put a space before the $, or move the word into the formula",
            )


@rule("new-id", Scope.QUESTION, "an id that `deckgen new` made up (`<topic>-todo-<n>`), until it is renamed")
def new_id_rule(question: Question, context: Context) -> Iterator[Finding]:
    """An id is a card's name for good: learners' history hangs on it from its first release."""
    if is_new_id(question.id):
        yield Finding(
            question.location_of("id"),
            f"id '{question.id}' was made up by 'deckgen new': rename it now to say what the card asks, "
            "since ids are permanent once released",
        )
