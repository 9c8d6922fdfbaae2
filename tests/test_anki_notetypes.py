"""deckgen.anki.notetypes: the note types' ids, fields and templates, pinned, and their CSS."""

from __future__ import annotations

import re

from deckgen.anki.notetypes import BASIC_MODEL_ID, CLOZE_MODEL_ID, basic_model, card_css, cloze_model
from deckgen.cloze import HIGHLIGHTED_MATH_CLOZES
from deckgen.render import code_css
from tests.conftest import ROOT


def test_model_ids_fields_and_templates_are_pinned() -> None:
    # Learners' review history depends on these. Changing any of them makes Anki add a
    # copy of the note type on re-import and stop updating existing notes.
    assert BASIC_MODEL_ID == 1691839207
    assert CLOZE_MODEL_ID == 1691839208
    basic = basic_model("https://github.com/deckgen/deckgen")
    cloze = cloze_model("https://github.com/deckgen/deckgen")
    assert (basic.model_id, basic.name) == (1691839207, "deckgen Basic")
    assert (cloze.model_id, cloze.name) == (1691839208, "deckgen Cloze")
    assert [f["name"] for f in basic.fields] == ["ID", "Question", "Answer", "Extra", "Sources", "Topic"]
    assert [f["name"] for f in cloze.fields] == ["ID", "Text", "Extra", "Sources", "Topic"]
    assert [t["name"] for t in basic.templates] == ["Recall"]
    assert [t["name"] for t in cloze.templates] == ["Cloze"]
    assert basic.sort_field_index == 1 and cloze.sort_field_index == 1


def test_the_css_is_the_packaged_card_css_then_the_code_styles() -> None:
    css_file = ROOT / "src" / "deckgen" / "anki" / "card.css"
    assert card_css() == css_file.read_text(encoding="utf-8") + code_css()
    assert basic_model("https://example.org").css == cloze_model("https://example.org").css == card_css()
    # Night mode is styled in the note type itself: a card has no other stylesheet.
    assert ".nightMode" in card_css() and ".night_mode" in card_css()



def test_the_css_highlights_each_deletion_inside_math_on_its_own_card() -> None:
    listed = re.findall(r"\.card(\d+) \.dg-cloze-(\d+)\b", card_css())
    assert listed == [(str(n), str(n)) for n in range(1, HIGHLIGHTED_MATH_CLOZES + 1)]
