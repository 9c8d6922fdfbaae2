"""The whole Anki export (deckgen.anki) against the real Anki backend: import, render, review, re-import.

Each module has its own tests too: test_anki_ids, test_anki_notetypes, test_anki_notes, test_anki_package.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from anki.collection import Collection
from click.testing import CliRunner

from deckgen.anki.ids import note_guid
from deckgen.anki.notes import note_kinds
from deckgen.build import build
from deckgen.cli import main
from tests.conftest import ROOT, import_apkg, release_v2, review_first_card

def strip_style(html: str) -> str:
    return re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)


@pytest.mark.parametrize("merge_notetypes", [False, True])
def test_import_renders_every_card(
    mini_bank: Path, tmp_path: Path, collection: Collection, epoch: Callable[[int], None], merge_notetypes: bool
) -> None:
    epoch(1_700_000_000)
    result = build(mini_bank, tmp_path / "out")
    log = import_apkg(collection, result.outputs[0], merge_notetypes)
    assert len(log.new) == 6 and not log.updated and not log.duplicate and not log.conflicting

    assert collection.note_count() == 6
    # The cloze with two deletions gives two cards; every other note one.
    assert collection.card_count() == 7
    names = sorted(d.name for d in collection.decks.all_names_and_ids() if d.name != "Default")
    assert names == [
        "Mini Deck",
        "Mini Deck::Attention",
        "Mini Deck::Attention::Scaled attention",
        "Mini Deck::Fine-Tuning",
        "Mini Deck::Fine-Tuning::LoRA vs Adapter",
    ]
    # Every tag the deck ships is under one node of the learner's tag tree.
    assert sorted(collection.tags.all()) == [
        "deckgen::attention::scaled-attention",
        "deckgen::peft::lora-vs-adapter",
        "deckgen::tag::attention",
        "deckgen::tag::peft",
        "deckgen::tag::safety",
        "deckgen::tag::why",
    ]
    for card_id in collection.find_cards(""):
        card = collection.get_card(card_id)
        question, answer = strip_style(card.question()), strip_style(card.answer())
        for side in (question, answer):
            assert "{{" not in side and "$" not in side.replace("$5", "").replace("$x$", ""), side
            assert re.search(r'<div class="dg-question">(<p>)?\S', side), side
        assert question.startswith('<div class="dg-context">')
        assert '<hr id="answer">' in answer
        assert '<div class="dg-sources"><ul><li><a href="https://' in answer
    why = collection.get_note(collection.find_notes("ID:why-scale")[0])
    card = why.cards()[0]
    assert r"\(\sqrt{d_k}\)" in card.question()
    assert r"\[\operatorname{Var}(q \cdot k) = d_k\]" in card.answer()
    assert "A price of $5 is not math, and neither is $x$." in card.answer()
    cloze_cards = collection.get_note(collection.find_notes("ID:formula")[0]).cards()
    assert [c.ord for c in cloze_cards] == [0, 1]
    # Inside math Anki drops its cloze span; deckgen's \class mark (outside the deletion) stays for the CSS.
    assert r"\frac{QK^\top}{ \class{dg-cloze-1}{ [...] } }" in strip_style(cloze_cards[0].question())
    assert r"\frac{QK^\top}{ \class{dg-cloze-1}{ \sqrt{d_k}  } }" in strip_style(cloze_cards[0].answer())
    assert '<span class="cloze" data-cloze="' not in strip_style(cloze_cards[0].question())
    assert "[authors]" in strip_style(cloze_cards[1].question())


def test_compare_rows_become_notes_with_a_table(
    mini_bank: Path, tmp_path: Path, collection: Collection, epoch: Callable[[int], None]
) -> None:
    epoch(1_700_000_000)
    import_apkg(collection, build(mini_bank, tmp_path / "out").outputs[0], merge_notetypes=False)
    note = collection.get_note(collection.find_notes('"ID:lora-adapter/latency"')[0])
    assert note["Question"] == "LoRA vs Adapter: Extra inference latency"
    assert note["Answer"] == (
        '<table class="dg-compare"><tr><th>LoRA</th><th>Adapter</th></tr>'
        "<tr><td><p>No</p></td><td><p>Yes</p></td></tr></table>"
    )
    assert note.guid == note_guid("lora-adapter", "latency")


def test_hostile_text_stays_text_in_anki(
    mini_bank: Path, tmp_path: Path, collection: Collection, epoch: Callable[[int], None]
) -> None:
    epoch(1_700_000_000)
    import_apkg(collection, build(mini_bank, tmp_path / "out").outputs[0], merge_notetypes=False)
    note = collection.get_note(collection.find_notes("ID:hostile")[0])
    assert note["Question"] == "<p>What does &lt;script&gt;alert(1)&lt;/script&gt; do in a <em>card</em>?</p>"
    assert note["Answer"] == (
        "<p>Nothing: it is shown as text, like <code>&lt;b&gt;</code> and &#91;sound:x.mp3] and "
        "&#91;latex]x&#91;/latex].</p>\n<ul>\n<li>&lt;img src=x onerror=alert(1)&gt;</li>\n"
        '<li><a href="https://example.org/?a=1&amp;b=2">a link</a></li>\n</ul>'
    )
    answer = collection.get_note(collection.find_notes("ID:hostile")[0]).cards()[0].answer()
    assert "[sound:" not in answer and "<script" not in answer and "<img" not in answer


@pytest.mark.parametrize("merge_notetypes", [False, True])
def test_reimport_of_an_edit_updates_in_place_and_keeps_reviews(
    mini_bank: Path, tmp_path: Path, collection: Collection, epoch: Callable[[int], None], merge_notetypes: bool
) -> None:
    epoch(1_700_000_000)
    v1 = tmp_path / "v1.apkg"
    shutil.copy(build(mini_bank, tmp_path / "out").outputs[0], v1)
    import_apkg(collection, v1, merge_notetypes)
    collection.decks.select(collection.decks.id_for_name("Mini Deck"))
    reviewed = review_first_card(collection)
    note_ids = sorted(collection.find_notes(""))
    why_id = collection.find_notes("ID:why-scale")[0]

    bank_file = mini_bank / "attention.yaml"
    text = bank_file.read_text(encoding="utf-8")
    bank_file.write_text(text.replace("out of saturation", "out of its flat region"), encoding="utf-8")
    epoch(1_700_086_400)
    log = import_apkg(collection, build(mini_bank, tmp_path / "out").outputs[0], merge_notetypes)

    # Only the edited note is newer than the learner's copy; Anki skips the others ("duplicate").
    assert [n.fields[0] for n in log.updated] == ["why-scale"]
    assert not log.new and not log.conflicting and len(log.duplicate) == 5
    assert sorted(collection.find_notes("")) == note_ids
    assert collection.note_count() == 6 and collection.card_count() == 7
    assert "out of its flat region" in collection.get_note(why_id)["Answer"]
    assert collection.db.list("select cid from revlog") == [reviewed]
    assert collection.get_card(reviewed).reps == 1
    assert sorted(m.name for m in collection.models.all_names_and_ids() if m.name.startswith("deckgen")) == [
        "deckgen Basic",
        "deckgen Cloze",
    ]


def test_the_shipped_bank_imports_and_renders(tmp_path: Path, collection: Collection, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    bank = tmp_path / "questions"
    shutil.copytree(ROOT / "questions", bank)
    result = build(bank, tmp_path / "out")
    notes = len(note_kinds(result.bank))  # every live and retired note
    log = import_apkg(collection, result.outputs[0], merge_notetypes=False)
    assert len(log.new) == collection.note_count() == notes
    for card_id in collection.find_cards(""):
        card = collection.get_card(card_id)
        for side in (strip_style(card.question()), strip_style(card.answer())):
            # Math reaches Anki as \( \) or \[ \]; a $ is left only in code or as a literal dollar.
            prose = re.sub(r"<code>.*?</code>|<pre.*?</pre>", "", side, flags=re.DOTALL)
            assert not re.search(r"\$[^$\s][^$]*\$", prose), side
            assert "{{" not in side, side


def test_the_back_links_to_the_issue_form_with_the_card_id(
    mini_bank: Path, tmp_path: Path, collection: Collection, epoch: Callable[[int], None]
) -> None:
    deck = mini_bank / "deck.yaml"
    deck.write_text(deck.read_text(encoding="utf-8").replace("https://example.org/mini", "https://github.com/example/deck"), encoding="utf-8")
    epoch(1_700_000_000)
    import_apkg(collection, build(mini_bank, tmp_path / "out").outputs[0], merge_notetypes=False)
    card = collection.get_note(collection.find_notes('"ID:lora-adapter/where"')[0]).cards()[0]
    assert (
        '<div class="dg-footer"><span class="dg-id">lora-adapter/where</span> <span class="dg-links">'
        '<a class="dg-web dg-en" href="https://example.github.io/deck/q/#lora-adapter/where">on the web</a>'
        '<a class="dg-web dg-zh" href="https://example.github.io/deck/zh/q/#lora-adapter/where">网页版</a> '
        '<a class="dg-report" href="https://github.com/example/deck/issues/new'
        '?template=card-problem.yml&amp;title=Card%3A+lora-adapter/where&amp;card=lora-adapter/where"><span class="dg-en">report a problem</span><span class="dg-zh">报告问题</span></a></span></div>'
    ) in card.answer()
    assert "report a problem" not in card.question()
    root = collection.decks.by_name("Mini Deck")
    assert root is not None
    # The first build records no release, so no note carries a release tag yet.
    assert root["desc"] == (
        "<p>A tiny bank that exercises every question type.</p>\n"
        '<p>Version 1.2.3 · <a href="https://github.com/example/deck/blob/main/CHANGELOG.md#123">what changed in 1.2.3</a> · '
        '<a href="https://github.com/example/deck">https://github.com/example/deck</a> · <a href="https://example.github.io/deck/">every card on the web</a></p>\n'
        "<p>Suggested settings (deck options): 10–20 new cards a day; FSRS on, with the default desired retention of 0.90. "
        "Mark cards with flags, not tags: an update replaces the tags of the notes it changes. "
        "When you import an update, leave <em>Import any deck presets</em> off.</p>"
    )


def test_build_and_check_count_notes_and_cards_as_anki_does(mini_bank: Path, in_tmp: Path, collection: Collection) -> None:
    release_v2(mini_bank)  # a question retired: its note stays in the deck, behind a banner
    built = CliRunner().invoke(main, ["build", mini_bank.as_posix(), "--out", "out"])
    assert built.exit_code == 0, built.output
    assert built.stdout.splitlines()[0] == "built 7 notes and 8 cards (1 note retired) from 2 topics:"
    checked = CliRunner().invoke(main, ["check", mini_bank.as_posix()])
    assert checked.stdout.endswith("; 7 notes and 8 cards (1 note retired) in 2 topics\n")
    import_apkg(collection, Path("out/mini-deck.apkg"), merge_notetypes=False)
    assert (collection.note_count(), collection.card_count()) == (7, 8)
    assert len(collection.find_notes("tag:deckgen::retired")) == 1
