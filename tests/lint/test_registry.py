"""The rule registry and the engine: every rule is declared once, documented, triggered by a test, and silenceable."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from deckgen.build import check
from deckgen.lint import QUESTION_RULES, REGISTRY, RULES, SOURCE_RULES, TOPIC_RULES
from deckgen.lint.registry import Context, Finding, Rule, Scope, rule, rules_in
from deckgen.model import Question
from tests.bankfiles import DECK, SOURCES, write_bank
from tests.conftest import ROOT
from tests.lint.cards import HEAD, OTHER, card, lint, lint_files

ZH_DECK = DECK.replace("sections:", "languages: [en, zh]\nsections:")
GLOSSARY = "terms:\n  - {en: attention, zh: 注意力}\n  - {en: fine-tuning, zh: 微调, avoid: [精调]}\n"


def zh(question: str, answer: str = "为了让 softmax 不至于饱和。") -> dict[str, str]:
    """The base bank with a Chinese edition whose one card says `question` and `answer`."""
    overlay = (
        "title: 注意力\n"
        "questions:\n"
        "  - id: why-scale\n"
        "    from: {question: e38b0073, answer: 2e7dacb7}\n"
        f"    question: {json.dumps(question, ensure_ascii=False)}\n"
        f"    answer: {json.dumps(answer, ensure_ascii=False)}\n"
    )
    return {"deck.yaml": ZH_DECK, "glossary.zh.yaml": GLOSSARY, "attention.zh.yaml": overlay}


EXAMPLES: dict[str, tuple[dict[str, str], str]] = {
    "answer-length": (
        {"attention.yaml": HEAD + card("second", "What does the scaling prevent?", " ".join(["word"] * 26))},
        "q/attention.yaml:11:13: warning: answer has 26 words (at most about 25): keep the core, move reasoning to 'extra' [answer-length]",
    ),
    "yes-no-question": (
        {"attention.yaml": HEAD + card("second", "Is RoPE relative?", "Yes.")},
        "q/attention.yaml:10:15: warning: yes/no question (starts with 'Is'): ask what, why or how, so that it has one informative answer [yes-no-question]",
    ),
    "vague-start": (
        {"attention.yaml": HEAD + card("second", "It scales what?", "The logits.")},
        "q/attention.yaml:10:15: warning: starts with 'It': name the model, paper or setting so the card stands alone [vague-start]",
    ),
    "list-question": (
        {"attention.yaml": HEAD + card("second", "List the BERT variants.", "Many.")},
        "q/attention.yaml:10:15: warning: asks for a whole set: split it into one card per item, or use a compare [list-question]",
    ),
    "answer-list": (
        {"attention.yaml": HEAD + card("second", "Which models are there?", "- a\n- b\n- c\n- d\n- e\n- f")},
        "q/attention.yaml:11:13: warning: answer lists 6 items (at most 5): split it into several cards [answer-list]",
    ),
    "no-article": (
        {"sources.yaml": SOURCES + "    kind: paper\n"},
        "q/attention.yaml:8:14: warning: cites no reading-list article: add the article that covers this card, beside the paper [no-article]",
    ),
    "placeholder": (
        {"attention.yaml": HEAD + card("second", "What is TODO here?")},
        "q/attention.yaml:10:15: warning: 'question' still says TODO: write it, or delete it if optional [placeholder]",
    ),
    "math-after-word": (
        {"attention.yaml": HEAD + card("second", "How much latency did Adapter$^H$ add?", "About 20%.")},
        "q/attention.yaml:10:15: warning: math right after 'Adapter': GitHub shows it as TeX in the Markdown sheet; "
        "put a space before the $, or move the word into the formula [math-after-word]",
    ),
    "new-id": (
        {"attention.yaml": HEAD + card("rope-todo-1", "What does RoPE rotate?")},
        "q/attention.yaml:9:9: warning: id 'rope-todo-1' was made up by 'deckgen new': rename it now to say what the card asks, since ids are permanent once released [new-id]",
    ),
    "cloze-length": (
        {"attention.yaml": HEAD + '  - id: long\n    type: cloze\n    question: "BERT masks {{c1::fifteen percent of all tokens}}."\n    sources: [paper]\n'},
        "q/attention.yaml:11:15: warning: deletion 'fifteen percent of all tokens' has 5 words (at most 4): delete a term or a formula piece [cloze-length]",
    ),
    "cloze-giveaway": (
        {"attention.yaml": HEAD + '  - id: giveaway\n    type: cloze\n    question: "The {{c1::softmax}} saturates softmax."\n    sources: [paper]\n'},
        "q/attention.yaml:11:15: warning: deletion 'softmax' also appears in the rest of the text, which gives it away [cloze-giveaway]",
    ),
    "near-duplicate": (
        {"other.yaml": OTHER},
        "q/other.yaml:14:15: warning: question is nearly the same as 'scaled-logits' (q/other.yaml:10:15): merge them or ask from another angle [near-duplicate]",
    ),
    "no-why-card": (
        {"attention.yaml": HEAD.replace("Why scale the logits?", "What divides the logits?")},
        "q/attention.yaml:1:1: warning: topic 'attention' has no why or how question: test understanding, not only recall [no-why-card]",
    ),
    "zh-answer-length": (
        zh("为什么要缩放 logits？", "为了让 softmax 不至于饱和，" + "否" * 43 + "。"),
        "q/attention.zh.yaml:6:13: warning: answer has 52 characters (at most about 50): keep the core, move reasoning to 'extra' [zh-answer-length]",
    ),
    "zh-yes-no-question": (
        zh("是否需要缩放 logits？"),
        "q/attention.zh.yaml:5:15: warning: a yes/no question (是否, 吗): ask for the fact itself (什么, 为什么, 如何) [zh-yes-no-question]",
    ),
    "zh-vague-start": (
        zh("这为什么要缩放 logits？"),
        "q/attention.zh.yaml:5:15: warning: the question opens with 它 or 这: name what it asks about [zh-vague-start]",
    ),
    "glossary-english": (
        zh("注意力为什么要缩放 logits？"),
        "q/attention.zh.yaml:5:15: warning: the first 注意力 of the card (its question) needs its English after it: 注意力（attention） [glossary-english]",
    ),
    "glossary-variant": (
        zh("精调时为什么要缩放 logits？"),
        "q/attention.zh.yaml:5:15: warning: '精调' in the question: the glossary's term is 微调（fine-tuning） [glossary-variant]",
    ),
    "uncited-source": (
        {"sources.yaml": SOURCES + "  - id: later\n    title: Cited later\n    url: https://example.org/later\n    section: transformer\n"},
        "q/sources.yaml:6:5: warning: source 'later' is cited by no card [uncited-source]",
    ),
}
"""One bank per rule that triggers it, and only it, with the exact warning."""


@pytest.mark.parametrize("registered", REGISTRY, ids=lambda r: r.id)
def test_every_rule_has_an_example_that_triggers_it(root: Path, registered: Rule) -> None:
    assert registered.id in EXAMPLES, f"add an example bank for lint rule '{registered.id}' to EXAMPLES"
    files, expected = EXAMPLES[registered.id]
    assert expected.endswith(f" [{registered.id}]")
    assert lint_files(root, files) == [expected]


def test_every_example_is_of_a_registered_rule() -> None:
    assert sorted(EXAMPLES) == sorted(RULES)


def test_the_readme_table_of_rules_is_the_registry() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| rule | scope | flags |") :].split("\n\n")[0].splitlines()
    assert table == [
        "| rule | scope | flags |",
        "| --- | --- | --- |",
        *(f"| `{r.id}` | {r.scope.value} | {r.description} |" for r in REGISTRY),
    ]


def test_rule_lists_for_validation_and_the_schema_follow_the_registry() -> None:
    assert RULES == {r.id: r.description for r in REGISTRY}
    assert {**QUESTION_RULES, **TOPIC_RULES, **SOURCE_RULES} == RULES
    assert sorted(TOPIC_RULES) == ["no-why-card"] and sorted(SOURCE_RULES) == ["uncited-source"]
    assert "near-duplicate" in QUESTION_RULES


def test_the_base_bank_is_clean(root: Path) -> None:
    assert lint(root, "") == []


def test_a_rule_is_silenced_per_question_with_a_reason(root: Path) -> None:
    silenced = card("second", "Is RoPE relative?", "Yes.", 'lint: {ignore: [yes-no-question], reason: "Kept as a warm-up card."}')
    assert lint(root, silenced) == []


def test_lint_entries_are_validated(root: Path) -> None:
    questions = card("second", "What is it?", "A thing.", "lint: {ignore: [answer-lenght, uncited-source]}")
    questions += card("third", "What is that?", "A thing.", "lint: [answer-length]")
    bank, diagnostics = check(write_bank(root, {"attention.yaml": HEAD + questions}))
    assert bank is None
    assert [str(d) for d in diagnostics] == [
        "q/attention.yaml:13:11: error: missing required key 'reason' in 'lint' [missing-key]",
        "q/attention.yaml:13:21: error: unknown lint rule 'answer-lenght' (did you mean 'answer-length'?) [unknown-rule]",
        "q/attention.yaml:13:36: error: lint rule 'uncited-source' does not apply to a question; rules here: answer-length, answer-list, cloze-giveaway, cloze-length, glossary-english, glossary-variant, list-question, math-after-word, near-duplicate, new-id, no-article, placeholder, vague-start, yes-no-question, zh-answer-length, zh-vague-start, zh-yes-no-question [unknown-rule]",
        "q/attention.yaml:18:11: error: expected 'lint' to be a mapping, found a list [wrong-type]",
    ]


def _never(question: Question, context: Context) -> Iterator[Finding]:
    yield from ()


def test_a_rule_over_the_whole_bank_must_say_where_it_is_silenced() -> None:
    with pytest.raises(ValueError, match="lint rule 'pairs' looks at the whole bank: say which entries may silence it"):
        rule("pairs", Scope.BANK, "two questions")(_never)
    assert rule("pairs", Scope.BANK, "two questions", silenced_on=Scope.QUESTION)(_never).silenced_on is Scope.QUESTION


def test_a_rule_id_is_declared_once() -> None:
    first, second = ModuleType("first"), ModuleType("second")
    first.a = rule("same", Scope.QUESTION, "one")(_never)  # type: ignore[attr-defined]
    second.b = rule("same", Scope.QUESTION, "two")(_never)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=re.escape("lint rules declared twice: same")):
        rules_in(first, second)
