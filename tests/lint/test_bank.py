"""Rules on a topic or a source as a whole."""

from __future__ import annotations

from pathlib import Path

from tests.bankfiles import SOURCES
from tests.lint.cards import HEAD, lint, lint_files

UNCITED = SOURCES + """\
  - id: later
    title: Cited later
    url: https://example.org/later
    section: transformer
"""


def test_topic_without_why_or_how(root: Path) -> None:
    head = HEAD.replace("Why scale the logits?", "What divides the logits?")
    assert lint(root, "", head) == [
        "q/attention.yaml:1:1: warning: topic 'attention' has no why or how question: test understanding, not only recall [no-why-card]"
    ]


def test_a_topic_silences_no_why_card_for_itself(root: Path) -> None:
    head = HEAD.replace("Why scale the logits?", "What divides the logits?")
    head = head.replace("questions:\n", "lint: {ignore: [no-why-card], reason: A recall drill.}\nquestions:\n")
    assert lint(root, "", head) == []


def test_uncited_source(root: Path) -> None:
    assert lint_files(root, {"sources.yaml": UNCITED}) == ["q/sources.yaml:6:5: warning: source 'later' is cited by no card [uncited-source]"]


def test_a_source_silences_uncited_source_for_itself(root: Path) -> None:
    silenced = UNCITED + "    lint: {ignore: [uncited-source], reason: Cards on it come next release.}\n"
    assert lint_files(root, {"sources.yaml": silenced}) == []
