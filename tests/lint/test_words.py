"""How the lint rules count words."""

from __future__ import annotations

from deckgen.lint.words import first_word, word_count


def test_word_count_counts_math_and_code_as_one() -> None:
    assert word_count("a $x + y = z$ b `c d e` f") == 5
    assert word_count("zero-mean, unit-variance") == 2


def test_first_word_skips_emphasis_and_quote_marks() -> None:
    assert first_word("**It** scales") == "It"
    assert first_word("> This one") == "This"
    assert first_word("") == ""
