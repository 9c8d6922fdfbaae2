"""The outline every sheet renders: numbering, order, and what the contents list."""

from __future__ import annotations

from deckgen.outline import outline
from deckgen.load import load_bank
from tests.conftest import FIXTURES, ROOT


def test_questions_are_numbered_from_one_in_deck_order() -> None:
    bank = load_bank(ROOT / "questions")
    shape = outline(bank)
    body = [n for s in shape.sections for t in s.topics for n in t.questions]
    assert [n.number for n in body] == list(range(1, len(bank.questions) + 1))
    assert [n.question for n in body] == list(bank.questions)
    assert shape.answer_key == tuple(body)
    assert (shape.question_count, shape.note_count, shape.card_count) == (
        len(bank.questions),
        sum(q.note_count for q in bank.questions),
        sum(q.card_count for q in bank.questions),
    )


def test_sections_follow_the_deck_and_hold_their_topics() -> None:
    bank = load_bank(FIXTURES / "mini")
    shape = outline(bank)
    listed = [s.section.id for s in shape.sections]
    assert listed == [s.id for s in bank.deck.sections if any(t.section == s.id for t in bank.topics)]
    for section in shape.sections:
        assert section.has_questions
        assert all(t.topic.section == section.section.id for t in section.topics)
    assert shape.bank is bank and shape.deck is bank.deck
