"""The near-duplicate rule, and the set-similarity join under it."""

from __future__ import annotations

from pathlib import Path

import pytest

from deckgen.lint.duplicates import _tokens, near_duplicates
from deckgen.model import Location, Question, QuestionType
from tests.lint.cards import OTHER, lint_files

SILENCE = "    lint: {ignore: [near-duplicate], reason: Asked twice on purpose.}\n"


def test_near_duplicates_are_found_across_files(root: Path) -> None:
    assert lint_files(root, {"other.yaml": OTHER}) == [
        "q/other.yaml:14:15: warning: question is nearly the same as 'scaled-logits' (q/other.yaml:10:15): merge them or ask from another angle [near-duplicate]",
    ]


@pytest.mark.parametrize("silenced", ["scaled-logits", "scaled-logits-two"])
def test_either_question_silences_a_near_duplicate(root: Path, silenced: str) -> None:
    marker = f"  - id: {silenced}\n"
    entry_end = OTHER.index("    sources: [paper]\n", OTHER.index(marker)) + len("    sources: [paper]\n")
    assert lint_files(root, {"other.yaml": OTHER[:entry_end] + SILENCE + OTHER[entry_end:]}) == []


def _question(n: int, words: list[str]) -> Question:
    return Question(id=f"q{n}", type=QuestionType.BASIC, question=" ".join(words), location=Location("x"), topic="t", section="s")


def test_near_duplicate_join_matches_all_pairs_on_a_larger_bank() -> None:
    questions = []
    for i in range(600):
        group = i // 3
        chosen = [f"t{(group * 5 + k) % 97}" for k in range(8)]
        if i % 3 == 1:
            chosen = chosen[1:]
        elif i % 3 == 2:
            chosen.append(f"x{i}")
        questions.append(_question(i, chosen))
    expected = []
    for b in range(len(questions)):
        y = _tokens(questions[b])
        scores = [(len(x & y) / len(x | y), a) for a in range(b) if len(x := _tokens(questions[a])) >= 4 and len(y) >= 4]
        matches = [(score, -a) for score, a in scores if score >= 0.8]
        if matches:
            expected.append((questions[-max(matches)[1]].id, questions[b].id))
    found = sorted((a.id, b.id) for a, b in near_duplicates(questions))
    assert found == sorted(expected)
    assert found, "the generated bank should contain some near-duplicates"


@pytest.mark.parametrize(("larger", "shared"), [(5, 4), (10, 8), (20, 16), (35, 28)])
def test_near_duplicates_exactly_at_the_threshold_are_found(larger: int, shared: int) -> None:
    # Jaccard = shared / larger = 0.8 exactly: no bound may drop the pair to rounding.
    words = [f"w{larger}x{k}" for k in range(larger)]
    questions = [_question(n, chosen) for n, chosen in enumerate((words, words[:shared], [w[::-1] for w in words]))]
    assert [(a.id, b.id) for a, b in near_duplicates(questions)] == [("q0", "q1")]
