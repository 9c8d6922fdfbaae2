"""deckgen.anki.ids: every id a learner's history hangs on, pinned to its value."""

from __future__ import annotations

from deckgen.anki.ids import card_id, content_hash, deck_id, note_guid, note_id, note_id_field


def test_guids_derive_from_ids_only() -> None:
    # Pinned values: a GUID that changes orphans the learner's history of that note.
    assert note_guid("qk-separate-projections-why") == "n3}LNHoBTj"
    assert note_guid("lora-adapter", "where") == "e{C<|WC(.w"
    assert note_guid("lora-adapter", "latency") == "AD6qM7eCbj"


def test_the_id_field_of_a_compare_row_names_its_question() -> None:
    assert note_id_field("why-scale") == "why-scale"
    assert note_id_field("lora-adapter", "where") == "lora-adapter/where"


def test_deck_ids_are_derived_from_slugs() -> None:
    # Pinned values: a deck id that changes moves learners' cards into a new deck.
    assert deck_id("nlp-pretraining") == 652563184934680
    assert deck_id("nlp-pretraining", "transformer") == 8531736888959458
    assert deck_id("nlp-pretraining", "transformer", "why-separate-qk") == 2591701738097225


def test_note_and_card_ids_and_hashes_are_pinned() -> None:
    # The same ids in every build, and the hashes in a released lock stay valid.
    assert note_id("n3}LNHoBTj") == 163512095300897
    assert [card_id("n3}LNHoBTj", ordinal) for ordinal in (0, 1)] == [126335449358496, 181305594503789]
    assert content_hash("a", "b") == "f04cdced9736a69d"
