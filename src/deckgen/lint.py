"""Card-quality lint: warnings built on docs/CARDS.md, run on a validated bank.

Each rule has an id. A question, topic or source silences a rule for itself with
`lint: {ignore: [rule-id], reason: "why this case is fine"}`.
"""

from __future__ import annotations

import math
import re
import sys
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator

from deckgen.model import Bank, Diagnostic, Location, Question, QuestionType, Severity
from deckgen.cloze import cloze_reveal, clozes, replace_clozes
from deckgen.render import code_spans, math_spans

MAX_ANSWER_WORDS = 25
MAX_LIST_ITEMS = 5
MAX_CLOZE_WORDS = 4
NEAR_DUPLICATE_JACCARD = 0.8
MIN_DUPLICATE_TOKENS = 4
MAX_POSTINGS = 32
"""A word already seeding this many questions is too common to point at a duplicate; it stops
seeding more, which keeps the near-duplicate join linear in the size of the bank."""

QUESTION_RULES = {
    "answer-length": f"an answer longer than about {MAX_ANSWER_WORDS} words",
    "yes-no-question": "a question that can be answered yes or no",
    "vague-start": "a question that starts with 'It' or 'This'",
    "list-question": "a question that asks to list or name all of a set",
    "answer-list": f"an answer with more than {MAX_LIST_ITEMS} list items",
    "cloze-length": f"a cloze deletion longer than {MAX_CLOZE_WORDS} words",
    "cloze-giveaway": "a cloze deletion whose text is visible elsewhere on the card",
    "near-duplicate": "two questions that are nearly the same",
    "no-article": "a question that cites no reading-list article (only papers or code)",
    "placeholder": "text still marked TODO, as `deckgen new` writes it",
}
TOPIC_RULES = {"no-why-card": "a topic with no why or how question"}
SOURCE_RULES = {"uncited-source": "a source that no card cites"}
RULES = {**QUESTION_RULES, **TOPIC_RULES, **SOURCE_RULES}
"""Every lint rule, with what it flags."""

_YES_NO_OPENERS = frozenset(
    "is are was were does do did can could should would will has have had may might must shall".split()
)
_LIST_RE = re.compile(r"^(list|enumerate)\b|\b(list|name|give|state) (all|every|each)\b|\bwhat are all\b", re.IGNORECASE)
_WHY_HOW_RE = re.compile(r"\b(why|how)\b", re.IGNORECASE)
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
_WORD_RE = re.compile(r"\w+(?:[-'’]\w+)*")
_STOPWORDS = frozenset(
    "a an the of in on for to and or is are be by with what which why how does do it its this that as at from".split()
)


def _warning(location: Location, message: str, rule: str) -> Diagnostic:
    return Diagnostic(location, Severity.WARNING, message, rule)


_TODO_RE = re.compile(r"\bTODO\b")


def _mask_math_and_code(text: str) -> str:
    """Replace each math span and code span by one placeholder word, so each counts as one."""
    for start, end in reversed(math_spans(text)):
        text = text[:start] + " MATH " + text[end:]
    parts: list[str] = []
    last = 0
    for start, end in code_spans(text):
        parts += [text[last:start], " CODE "]
        last = end
    return "".join(parts) + text[last:]


def word_count(text: str) -> int:
    """Words in Markdown text; a math or code span counts as one word."""
    return len(_WORD_RE.findall(_mask_math_and_code(text)))


def _first_word(text: str) -> str:
    match = _WORD_RE.search(text.lstrip("*_#> "))
    return match.group() if match else ""


def _question_rules(question: Question) -> Iterator[Diagnostic]:
    text = question.question
    at_question = question.location_of("question")
    for key, value in (("question", question.question), ("answer", question.answer), ("extra", question.extra)):
        if "TODO" in value and _TODO_RE.search(value):
            yield _warning(question.location_of(key), f"'{key}' still says TODO: write it, or delete it if optional", "placeholder")
    first = _first_word(text)
    if question.type is not QuestionType.CLOZE:
        if first.lower() in _YES_NO_OPENERS and " or " not in text:
            yield _warning(
                at_question,
                f"yes/no question (starts with '{first}'): ask what, why or how, so that it has one informative answer",
                "yes-no-question",
            )
        if _LIST_RE.search(text):
            yield _warning(
                at_question, "asks for a whole set: split it into one card per item, or use a compare", "list-question"
            )
    if first in ("It", "This"):
        yield _warning(
            at_question, f"starts with '{first}': name the model, paper or setting so the card stands alone", "vague-start"
        )
    if question.type is QuestionType.BASIC:
        at_answer = question.location_of("answer")
        words = word_count(question.answer)
        if words > MAX_ANSWER_WORDS:
            yield _warning(
                at_answer,
                f"answer has {words} words (at most about {MAX_ANSWER_WORDS}): keep the core, move reasoning to 'extra'",
                "answer-length",
            )
        items = len(_LIST_ITEM_RE.findall(question.answer))
        if items > MAX_LIST_ITEMS:
            yield _warning(
                at_answer, f"answer lists {items} items (at most {MAX_LIST_ITEMS}): split it into several cards", "answer-list"
            )
    if question.type is QuestionType.CLOZE:
        yield from _cloze_rules(question)


def _cloze_rules(question: Question) -> Iterator[Diagnostic]:
    text = question.question
    at = question.location_of("question")
    rest = replace_clozes(text, lambda _: " ").lower()
    for cloze in clozes(text):
        deleted = cloze.text.strip()
        words = word_count(deleted)
        if words > MAX_CLOZE_WORDS:
            yield _warning(
                at,
                f"deletion '{deleted}' has {words} words (at most {MAX_CLOZE_WORDS}): delete a term or a formula piece",
                "cloze-length",
            )
        plain = deleted.lower()
        if len(plain) >= 3 and re.search(r"(?<!\w)" + re.escape(plain) + r"(?!\w)", rest):
            yield _warning(at, f"deletion '{deleted}' also appears in the rest of the text, which gives it away", "cloze-giveaway")


def _tokens(question: Question) -> frozenset[str]:
    text = cloze_reveal(question.question) if question.type is QuestionType.CLOZE else question.question
    # Interned: a bank repeats its words thousands of times, and the sets live until the join ends.
    return frozenset(sys.intern(w) for w in _WORD_RE.findall(text.lower()) if w not in _STOPWORDS)


_ROUNDING = 1e-9


def _signature(tokens: frozenset[str]) -> int:
    """A 128-bit summary of a set of words: one bit per word, by a checksum of it (the same in
    every run, unlike `hash`)."""
    signature = 0
    for token in tokens:
        signature |= 1 << (zlib.crc32(token.encode("utf-8")) & 127)
    return signature


def near_duplicates(questions: list[Question], threshold: float = NEAR_DUPLICATE_JACCARD) -> list[tuple[Question, Question]]:
    """For each question, the most similar earlier one, if their question words have a Jaccard
    similarity of at least `threshold`: one warning per question, however many it resembles.

    A prefix-filtered set-similarity join: each question is indexed by only its rarest
    few words, and a word seeds at most MAX_POSTINGS questions, so the work grows with the
    bank, not with its square.
    """
    sets = [_tokens(q) for q in questions]
    sizes = [len(tokens) for tokens in sets]
    signatures = [_signature(tokens) for tokens in sets]
    frequency = Counter(token for tokens in sets for token in tokens)
    index: dict[str, list[int]] = defaultdict(list)
    pairs: list[tuple[Question, Question]] = []
    for i, tokens in enumerate(sets):
        size = sizes[i]
        if size < MIN_DUPLICATE_TOKENS:
            continue
        ordered = sorted(tokens, key=lambda t: (frequency[t], t))
        prefix = ordered[: size - math.ceil(threshold * size) + 1]
        # Jaccard >= t needs at least t * size shared words. Each bit set in this question's
        # signature and not in the other's stands for a word the other lacks, so a pair with
        # more such bits than size - ceil(t * size) cannot reach t. (The bounds leave a margin
        # for rounding: only the score below decides.)
        signature, most_missing = signatures[i], size - math.ceil(threshold * size - _ROUNDING)
        candidates = [j for j in {j for token in prefix for j in index[token]} if (signature & ~signatures[j]).bit_count() <= most_missing]
        overlaps = [len(tokens & sets[j]) for j in candidates]
        best, best_score = -1, threshold
        for j, shared in zip(candidates, overlaps):
            # Jaccard >= t also needs shared >= t / (1 + t) * (|a| + |b|): most candidates stop here.
            if shared * (1 + threshold) < threshold * (size + sizes[j]) - _ROUNDING:
                continue
            score = shared / (size + sizes[j] - shared)
            # The most similar earlier question; of equally similar ones, the first.
            if score > best_score or (score == best_score and (best < 0 or j < best)):
                best, best_score = j, score
        if best >= 0:
            pairs.append((questions[best], questions[i]))
        for token in prefix:
            postings = index[token]
            if len(postings) < MAX_POSTINGS:
                postings.append(i)
    return pairs


def lint_bank(bank: Bank) -> list[Diagnostic]:
    """Every card-quality warning for the bank, minus those its authors silenced."""
    diagnostics: list[Diagnostic] = []
    questions = list(bank.questions)
    reading_list = {s.id for s in bank.sources if s.kind.from_reading_list}
    for question in questions:
        found = list(_question_rules(question))
        if not reading_list.intersection(question.sources):
            found.append(
                _warning(
                    question.location_of("sources"),
                    "cites no reading-list article: add the article that covers this card, beside the paper",
                    "no-article",
                )
            )
        diagnostics += [d for d in found if d.rule not in question.lint_ignore]
    for earlier, later in near_duplicates(questions):
        if "near-duplicate" in earlier.lint_ignore or "near-duplicate" in later.lint_ignore:
            continue
        diagnostics.append(
            _warning(
                later.location_of("question"),
                f"question is nearly the same as '{earlier.id}' ({earlier.location_of('question')}): merge them or ask from another angle",
                "near-duplicate",
            )
        )
    for topic in bank.topics:
        if "no-why-card" in topic.lint_ignore:
            continue
        if not any(_WHY_HOW_RE.search(q.question) for q in topic.questions):
            diagnostics.append(
                _warning(topic.location, f"topic '{topic.id}' has no why or how question: test understanding, not only recall", "no-why-card")
            )
    cited = {s for q in questions for s in q.sources}
    for source in bank.sources:
        if source.id not in cited and "uncited-source" not in source.lint_ignore:
            diagnostics.append(_warning(source.location, f"source '{source.id}' is cited by no card", "uncited-source"))
    return sorted(diagnostics, key=Diagnostic.sort_key)
