"""Card-quality lint: each rule fires on a bad card and stays quiet on a good one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deckgen.build import check
from deckgen.lint import near_duplicates, word_count
from deckgen.model import Location, Question, QuestionType
from tests.bankfiles import SOURCES, TOPIC, write_bank

HEAD = TOPIC


def lint(root: Path, questions: str, head: str = HEAD) -> list[str]:
    bank, diagnostics = check(write_bank(root, {"attention.yaml": head + questions}))
    assert bank is not None, diagnostics
    return [str(d) for d in diagnostics]


@pytest.fixture
def root(in_tmp: Path) -> Path:
    return Path("q")


def card(qid: str, question: str, answer: str = "A short answer.", extra: str = "") -> str:
    lines = [f"  - id: {qid}", f"    question: {json.dumps(question)}", f"    answer: {json.dumps(answer)}", "    sources: [paper]"]
    if extra:
        lines.append(f"    {extra}")
    return "\n".join(lines) + "\n"


def test_the_base_bank_is_clean(root: Path) -> None:
    assert lint(root, "") == []


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
    ],
)
def test_question_rules_fire(root: Path, question: str, answer: str, expected: str) -> None:
    assert lint(root, card("second", question, answer)) == [expected]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What does the scaling prevent?", " ".join(["word"] * 25)),
        ("What does $\\sqrt{d_k} \\cdot x + y$ do to `a long code span here`?", "It divides by $\\sqrt{d_k} = \\sqrt{64} = 8$ and " + " ".join(["w"] * 20)),
        ("Is RoPE absolute or relative?", "Relative."),
        ("Which property makes the score depend on m - n in RoPE?", "The rotation."),
        ("In BERT, what does this token do?", "It marks the start."),
        ("Which models are there?", "- a\n- b\n- c\n- d\n- e"),
    ],
)
def test_question_rules_stay_quiet_on_good_cards(root: Path, question: str, answer: str) -> None:
    assert lint(root, card("second", question, answer)) == []


def test_word_count_counts_math_and_code_as_one() -> None:
    assert word_count("a $x + y = z$ b `c d e` f") == 5
    assert word_count("zero-mean, unit-variance") == 2


def test_cloze_rules(root: Path) -> None:
    questions = """\
  - id: long-deletion
    type: cloze
    question: "BERT masks {{c1::fifteen percent of all the input tokens}} during pretraining."
    sources: [paper]
  - id: giveaway
    type: cloze
    question: "The {{c1::softmax}} is saturated when softmax inputs are large."
    sources: [paper]
  - id: fine
    type: cloze
    question: "BERT masks {{c1::15%}} of tokens; a math deletion $\\\\frac{1}{ {{c2::\\\\sqrt{d_k} }} }$ is one word."
    sources: [paper]
"""
    assert lint(root, questions) == [
        "q/attention.yaml:11:15: warning: deletion 'fifteen percent of all the input tokens' has 7 words (at most 4): delete a term or a formula piece [cloze-length]",
        "q/attention.yaml:15:15: warning: deletion 'softmax' also appears in the rest of the text, which gives it away [cloze-giveaway]",
    ]


def test_near_duplicates_are_found_across_files(root: Path) -> None:
    other = """\
topic: Other
id: other
section: transformer
questions:
  - id: again
    question: "Why scale the logits, again?"
    answer: Same.
    sources: [paper]
  - id: scaled-logits
    question: Why are attention logits scaled by sqrt of the key dimension?
    answer: Variance.
    sources: [paper]
  - id: scaled-logits-two
    question: Why are the attention logits scaled by the sqrt of the key dimension?
    answer: Variance.
    sources: [paper]
"""
    bank, diagnostics = check(write_bank(root, {"other.yaml": other}))
    assert bank is not None
    assert [str(d) for d in diagnostics] == [
        "q/other.yaml:14:15: warning: question is nearly the same as 'scaled-logits' (q/other.yaml:10:15): merge them or ask from another angle [near-duplicate]",
    ]


def test_near_duplicate_join_matches_all_pairs_on_a_larger_bank() -> None:
    questions = []
    for i in range(600):
        group = i // 3
        chosen = [f"t{(group * 5 + k) % 97}" for k in range(8)]
        if i % 3 == 1:
            chosen = chosen[1:]
        elif i % 3 == 2:
            chosen.append(f"x{i}")
        questions.append(
            Question(id=f"q{i}", type=QuestionType.BASIC, question=" ".join(chosen), location=Location("x"), topic="t", section="s")
        )
    from deckgen.lint import _tokens

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


def test_topic_without_why_or_how(root: Path) -> None:
    head = HEAD.replace("Why scale the logits?", "What divides the logits?")
    assert lint(root, "", head) == [
        "q/attention.yaml:1:1: warning: topic 'attention' has no why or how question: test understanding, not only recall [no-why-card]"
    ]


def test_uncited_source(root: Path) -> None:
    sources = SOURCES + """\
  - id: later
    title: Cited later
    url: https://example.org/later
    section: transformer
"""
    bank, diagnostics = check(write_bank(root, {"sources.yaml": sources}))
    assert [str(d) for d in diagnostics] == ["q/sources.yaml:6:5: warning: source 'later' is cited by no card [uncited-source]"]
    silenced = sources + "    lint: {ignore: [uncited-source], reason: Cards on it come next release.}\n"
    bank, diagnostics = check(write_bank(root, {"sources.yaml": silenced}))
    assert diagnostics == [] and bank is not None


def test_a_rule_is_silenced_per_question_with_a_reason(root: Path) -> None:
    silenced = card(
        "second",
        "Is RoPE relative?",
        "Yes.",
        'lint: {ignore: [yes-no-question], reason: "Kept as a warm-up card."}',
    )
    assert lint(root, silenced) == []


def test_lint_entries_are_validated(root: Path) -> None:
    questions = card("second", "What is it?", "A thing.", "lint: {ignore: [answer-lenght, uncited-source]}")
    questions += card("third", "What is that?", "A thing.", "lint: [answer-length]")
    bank, diagnostics = check(write_bank(root, {"attention.yaml": HEAD + questions}))
    assert bank is None
    assert [str(d) for d in diagnostics] == [
        "q/attention.yaml:13:11: error: missing required key 'reason' in 'lint' [missing-key]",
        "q/attention.yaml:13:21: error: unknown lint rule 'answer-lenght' (did you mean 'answer-length'?) [unknown-rule]",
        "q/attention.yaml:13:36: error: lint rule 'uncited-source' does not apply to a question; rules here: answer-length, answer-list, cloze-giveaway, cloze-length, list-question, near-duplicate, no-article, placeholder, vague-start, yes-no-question [unknown-rule]",
        "q/attention.yaml:18:11: error: expected 'lint' to be a mapping, found a list [wrong-type]",
    ]


def test_a_card_must_cite_a_reading_list_article(root: Path) -> None:
    sources = SOURCES + "    kind: paper\n"
    bank, diagnostics = check(write_bank(root, {"sources.yaml": sources}))
    assert [str(d) for d in diagnostics] == [
        "q/attention.yaml:8:14: warning: cites no reading-list article: add the article that covers this card, beside the paper [no-article]"
    ]


@pytest.mark.parametrize(("larger", "shared"), [(5, 4), (10, 8), (20, 16), (35, 28)])
def test_near_duplicates_exactly_at_the_threshold_are_found(larger: int, shared: int) -> None:
    # Jaccard = shared / larger = 0.8 exactly: no bound may drop the pair to rounding.
    words = [f"w{larger}x{k}" for k in range(larger)]
    questions = [
        Question(id=f"q{n}", type=QuestionType.BASIC, question=" ".join(chosen), location=Location("x"), topic="t", section="s")
        for n, chosen in enumerate((words, words[:shared], [w[::-1] for w in words]))
    ]
    assert [(a.id, b.id) for a, b in near_duplicates(questions)] == [("q0", "q1")]
