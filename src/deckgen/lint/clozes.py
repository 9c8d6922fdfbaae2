"""Rules on cloze deletions: short enough to recall, and not given away by the rest of the card."""

from __future__ import annotations

import re
from collections.abc import Iterator

from deckgen.cloze import clozes, replace_clozes
from deckgen.lint.registry import Context, Finding, Scope, rule
from deckgen.lint.words import word_count
from deckgen.model import Question, QuestionType

MAX_CLOZE_WORDS = 4


@rule("cloze-length", Scope.QUESTION, f"a cloze deletion longer than {MAX_CLOZE_WORDS} words")
def cloze_length(question: Question, context: Context) -> Iterator[Finding]:
    """A deletion should be a term or a formula piece, not a sentence to reproduce."""
    if question.type is not QuestionType.CLOZE:
        return
    for cloze in clozes(question.question):
        deleted = cloze.text.strip()
        words = word_count(deleted)
        if words > MAX_CLOZE_WORDS:
            yield Finding(
                question.location_of("question"),
                f"deletion '{deleted}' has {words} words (at most {MAX_CLOZE_WORDS}): delete a term or a formula piece",
            )


@rule("cloze-giveaway", Scope.QUESTION, "a cloze deletion whose text also appears in the rest of the card")
def cloze_giveaway(question: Question, context: Context) -> Iterator[Finding]:
    """A deletion that can be read elsewhere on the card tests reading, not recall."""
    if question.type is not QuestionType.CLOZE:
        return
    text = question.question
    rest = replace_clozes(text, lambda _: " ").lower()
    for cloze in clozes(text):
        deleted = cloze.text.strip()
        plain = deleted.lower()
        if len(plain) >= 3 and re.search(r"(?<!\w)" + re.escape(plain) + r"(?!\w)", rest):
            yield Finding(
                question.location_of("question"), f"deletion '{deleted}' also appears in the rest of the text, which gives it away"
            )
