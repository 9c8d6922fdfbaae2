"""Deck names as Anki reads them: deckgen refuses two titles that Anki would take for one deck."""

from __future__ import annotations

import pytest
from anki.collection import Collection

from deckgen.model import deck_part, deck_part_key

PAIRS = [
    ("Attention", "attention"),
    ("Attention", " Attention "),
    ("Straße", "STRASSE"),
    ("Ti\u0301tle", "T\u00edtle"),
    ("\u01c5", "\u01c6"),
    ("LoRA vs Adapter", "LoRA vs. Adapter"),
    ("Attention", "Attentions"),
    ("BERT", "BERT\u00a0"),
    ("A::B", "A:B"),
    ("注意力", "注意力 "),
    ("Transformer", "Trans former"),
]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_deckgen_and_anki_agree_on_which_titles_are_one_deck(collection: Collection, first: str, second: str) -> None:
    one = collection.decks.id(f"Root::{deck_part(first)}")
    found = collection.decks.id_for_name(f"Root::{deck_part(second)}")
    assert (found == one) == (deck_part_key(first) == deck_part_key(second))
