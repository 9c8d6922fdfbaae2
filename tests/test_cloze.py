"""Cloze deletions and their sheet forms."""

from __future__ import annotations

from deckgen.cloze import cloze_answers, cloze_blank, cloze_reveal, mark_math_clozes


def test_cloze_helpers_know_math_from_text() -> None:
    text = r"Use $\frac{1}{ {{c1::\sqrt{d} }} }$ with {{c2::softmax}} and {{c3::GELU::activation}}; it costs $5."
    assert cloze_reveal(text) == r"Use $\frac{1}{ \boxed{\sqrt{d} } }$ with **softmax** and **GELU**; it costs $5."
    assert cloze_blank(text) == r"Use $\frac{1}{ \boxed{\text{?}} }$ with \[…\] and \[activation\]; it costs $5."
    assert cloze_answers(text) == [r"$\sqrt{d}$", "softmax", "GELU"]


def test_a_deletion_inside_math_is_marked_for_the_card_css() -> None:
    html = r"<p>Use \(\frac{1}{ {{c1::\sqrt{d} }} }\) with {{c2::softmax}} and \[x = {{c03::y::hint}} + {{c4::z}}\]</p>"
    assert mark_math_clozes(html) == (
        r"<p>Use \(\frac{1}{ \class{dg-cloze-1}{ {{c1::\sqrt{d} }} } }\) with {{c2::softmax}} and "
        r"\[x = \class{dg-cloze-3}{ {{c03::y::hint}} } + \class{dg-cloze-4}{ {{c4::z}} }\]</p>"
    )
    # Text outside deckgen's math delimiters is left alone, a broken `\(` (render's zero-width space) included.
    assert mark_math_clozes("\\&#8203;( {{c1::x}} \\)") == "\\&#8203;( {{c1::x}} \\)"
