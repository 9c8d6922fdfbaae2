"""Rules on one question: each fires on a bad card and stays quiet on a good one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bankfiles import SOURCES
from tests.lint.cards import card, lint, lint_files


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        ("What does the scaling prevent?", " ".join(["word"] * 26), "q/attention.yaml:11:13: warning: answer has 26 words (at most about 25): keep the core, move reasoning to 'extra' [answer-length]"),
        ("Is RoPE relative?", "Yes.", "q/attention.yaml:10:15: warning: yes/no question (starts with 'Is'): ask what, why or how, so that it has one informative answer [yes-no-question]"),
        ("It scales what?", "The logits.", "q/attention.yaml:10:15: warning: starts with 'It': name the model, paper or setting so the card stands alone [vague-start]"),
        ("This model uses which activation?", "GELU.", "q/attention.yaml:10:15: warning: starts with 'This': name the model, paper or setting so the card stands alone [vague-start]"),
        ("List the BERT variants.", "Many.", "q/attention.yaml:10:15: warning: asks for a whole set: split it into one card per item, or use a compare [list-question]"),
        ("Which tricks does BERT use? Name all of them.", "Many.", "q/attention.yaml:10:15: warning: asks for a whole set: split it into one card per item, or use a compare [list-question]"),
        ("Which models are there?", "- a\n- b\n- c\n- d\n- e\n- f", "q/attention.yaml:11:13: warning: answer lists 6 items (at most 5): split it into several cards [answer-list]"),
        ("What is TODO here?", "Done.", "q/attention.yaml:10:15: warning: 'question' still says TODO: write it, or delete it if optional [placeholder]"),
    ],
)
def test_question_rules_fire(root: Path, question: str, answer: str, expected: str) -> None:
    assert lint(root, card("second", question, answer)) == [expected]


def test_each_field_still_saying_todo_is_flagged(root: Path) -> None:
    assert lint(root, card("second", "What is TODO here?", "TODO", 'extra: "TODO: say why"')) == [
        "q/attention.yaml:10:15: warning: 'question' still says TODO: write it, or delete it if optional [placeholder]",
        "q/attention.yaml:11:13: warning: 'answer' still says TODO: write it, or delete it if optional [placeholder]",
        "q/attention.yaml:13:12: warning: 'extra' still says TODO: write it, or delete it if optional [placeholder]",
    ]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What does the scaling prevent?", " ".join(["word"] * 25)),
        ("What does $\\sqrt{d_k} \\cdot x + y$ do to `a long code span here`?", "It divides by $\\sqrt{d_k} = \\sqrt{64} = 8$ and " + " ".join(["w"] * 20)),
        ("Is RoPE absolute or relative?", "Relative."),
        ("Which property makes the score depend on m - n in RoPE?", "The rotation."),
        ("In BERT, what does this token do?", "It marks the start."),
        ("Which models are there?", "- a\n- b\n- c\n- d\n- e"),
        ("What do TODOs in code mark?", "Work left to do."),
    ],
)
def test_question_rules_stay_quiet_on_good_cards(root: Path, question: str, answer: str) -> None:
    assert lint(root, card("second", question, answer)) == []


def test_a_card_must_cite_a_reading_list_article(root: Path) -> None:
    sources = SOURCES + "    kind: paper\n"
    assert lint_files(root, {"sources.yaml": sources}) == [
        "q/attention.yaml:8:14: warning: cites no reading-list article: add the article that covers this card, beside the paper [no-article]"
    ]
