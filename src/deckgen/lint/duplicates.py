"""The near-duplicate rule: a prefix-filtered set-similarity join over every question of the bank."""

from __future__ import annotations

import math
import sys
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

from deckgen.cloze import cloze_reveal
from deckgen.lint.registry import Context, Finding, Scope, rule
from deckgen.lint.words import WORD_RE
from deckgen.model import Bank, Question, QuestionType

NEAR_DUPLICATE_JACCARD = 0.8
MIN_DUPLICATE_TOKENS = 4
MAX_POSTINGS = 32
"""A word already seeding this many questions is too common to point at a duplicate; it stops
seeding more, which keeps the near-duplicate join linear in the size of the bank."""
_STOPWORDS = frozenset(
    "a an the of in on for to and or is are be by with what which why how does do it its this that as at from".split()
)


def _tokens(question: Question) -> frozenset[str]:
    text = cloze_reveal(question.question) if question.type is QuestionType.CLOZE else question.question
    # Interned: a bank repeats its words thousands of times, and the sets live until the join ends.
    return frozenset(sys.intern(w) for w in WORD_RE.findall(text.lower()) if w not in _STOPWORDS)


_ROUNDING = 1e-9


def _signature(tokens: Iterable[str]) -> int:
    """A 128-bit summary of a set of words: one bit per word, by a checksum of it (the same in
    every run, unlike `hash`)."""
    signature = 0
    for token in tokens:
        signature |= 1 << (zlib.crc32(token.encode("utf-8")) & 127)
    return signature


def near_duplicates(questions: list[Question], threshold: float = NEAR_DUPLICATE_JACCARD) -> list[tuple[Question, Question]]:
    """For each question, the most similar earlier one (see `_near_duplicate_pairs`)."""
    return [(questions[earlier], questions[later]) for earlier, later in _near_duplicate_pairs(questions, threshold)]


def _near_duplicate_pairs(questions: list[Question], threshold: float) -> list[tuple[int, int]]:
    """For each question, the most similar earlier one, if their question words have a Jaccard
    similarity of at least `threshold`: one warning per question, however many it resembles.

    A prefix-filtered set-similarity join: each question is indexed by only its rarest
    few words, and a word seeds at most MAX_POSTINGS questions, so the work grows with the
    bank, not with its square.
    """
    # Each question's words as a tuple, not a set: all of them live until the join ends, and at
    # 10,000 cards the sets took 19 MB, the tuples 1.7 MB (at 50,000 the sets were the lint's
    # peak). Only the question being joined is a set, which its candidates are intersected with.
    word_tuples = [tuple(_tokens(q)) for q in questions]
    sizes = [len(tokens) for tokens in word_tuples]
    signatures = [_signature(tokens) for tokens in word_tuples]
    frequency = Counter(token for tokens in word_tuples for token in tokens)
    index: dict[str, list[int]] = defaultdict(list)
    pairs: list[tuple[int, int]] = []
    for i, words in enumerate(word_tuples):
        size = sizes[i]
        if size < MIN_DUPLICATE_TOKENS:
            continue
        tokens = frozenset(words)
        ordered = sorted(words, key=lambda t: (frequency[t], t))
        prefix = ordered[: size - math.ceil(threshold * size) + 1]
        # Jaccard >= t needs at least t * size shared words. Each bit set in this question's
        # signature and not in the other's stands for a word the other lacks, so a pair with
        # more such bits than size - ceil(t * size) cannot reach t. (The bounds leave a margin
        # for rounding: only the score below decides.)
        signature, most_missing = signatures[i], size - math.ceil(threshold * size - _ROUNDING)
        candidates = [j for j in {j for token in prefix for j in index[token]} if (signature & ~signatures[j]).bit_count() <= most_missing]
        overlaps = [len(tokens.intersection(word_tuples[j])) for j in candidates]
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
            pairs.append((best, i))
        for token in prefix:
            postings = index[token]
            if len(postings) < MAX_POSTINGS:
                postings.append(i)
    return pairs


def _pairs_from_json(value: object, count: int) -> list[tuple[int, int]]:
    """Pairs of question numbers, as cached: each an earlier and a later question of `count`."""
    if not isinstance(value, list):
        raise TypeError("not a list")
    pairs = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and all(type(n) is int for n in pair) and 0 <= pair[0] < pair[1] < count):
            raise ValueError("not a pair of questions")
        pairs.append((pair[0], pair[1]))
    return pairs


@rule(
    "near-duplicate",
    Scope.BANK,
    "a question whose words are nearly the same as another's (anywhere in the bank)",
    silenced_on=Scope.QUESTION,
)
def near_duplicate(bank: Bank, context: Context) -> Iterator[Finding]:
    """Two cards asking the same thing split their reviews; either one may silence the pair."""
    questions = list(context.questions)
    if context.cache is None:
        found = near_duplicates(questions)
    else:
        # What the join reads is each question's text and type, in deck order: an edit that
        # changes none of them (an answer, say) finds the pairs it found last time.
        texts = [(q.type is QuestionType.CLOZE, q.question) for q in questions]
        pairs = context.cache.fragment(
            "near-duplicates",
            (NEAR_DUPLICATE_JACCARD, texts),
            (),
            lambda: _near_duplicate_pairs(questions, NEAR_DUPLICATE_JACCARD),
            lambda value: _pairs_from_json(value, len(questions)),
            lambda pairs: [list(pair) for pair in pairs],
        )
        found = [(questions[earlier], questions[later]) for earlier, later in pairs]
    for earlier, later in found:
        yield Finding(
            later.location_of("question"),
            f"question is nearly the same as '{earlier.id}' ({earlier.location_of('question')}): merge them or ask from another angle",
            (earlier, later),
        )
