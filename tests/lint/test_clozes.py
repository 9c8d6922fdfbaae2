"""Rules on cloze deletions."""

from __future__ import annotations

from pathlib import Path

from tests.lint.cards import lint


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
