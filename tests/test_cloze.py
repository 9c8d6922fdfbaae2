"""Cloze deletions and their sheet forms."""

from __future__ import annotations

from deckgen.cloze import cloze_answers, cloze_blank, cloze_reveal


def test_cloze_helpers_know_math_from_text() -> None:
    text = r"Use $\frac{1}{ {{c1::\sqrt{d} }} }$ with {{c2::softmax}} and {{c3::GELU::activation}}; it costs $5."
    assert cloze_reveal(text) == r"Use $\frac{1}{ \boxed{\sqrt{d} } }$ with **softmax** and **GELU**; it costs $5."
    assert cloze_blank(text) == r"Use $\frac{1}{ \boxed{\text{?}} }$ with \[…\] and \[activation\]; it costs $5."
    assert cloze_answers(text) == [r"$\sqrt{d}$", "softmax", "GELU"]
