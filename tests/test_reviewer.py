"""Every card of the shipped deck in Anki's real desktop reviewer page and MathJax, in headless Chromium.

A security review of the deck: no MathJax error, no link that is not http(s), nothing loaded from anywhere
but the deck's own media, no script, handler or styling from a field. The controls render hand-made card
HTML through the same harness, to show that it sees what it must. The deck is shown once per session
(the `shipped` fixture, tests/shipped_deck.py), at a phone's width; test_card_look.py reads the same views.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from anki.collection import Collection

from deckgen.anki.notetypes import CLOZE_MODEL_NAME
from deckgen.build import build
from deckgen.cloze import MATH_CLOZE_CLASS
from tests.anki_reviewer import ReviewerInput, SideView, collection_cards, render_cards
from tests.conftest import import_apkg
from tests.shipped_deck import Shipped

pytestmark = pytest.mark.slow

STYLE = "<style>.card { color: black; }</style>"
MATH_RE = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]", re.DOTALL)
NOT_TYPESET_RE = re.compile(r"<style>.*?</style>|<code\b.*?</code>|<pre\b.*?</pre>", re.DOTALL)
# deckgen's own mark on a deletion inside math (deckgen.cloze.mark_math_clozes), which the card's CSS
# highlights; a bank's math may not write \class at all (test_hostile).
DECKGEN_MATH_CLASS_RE = re.compile(f'TeX class="{MATH_CLOZE_CLASS}[1-9][0-9]*" on <[a-z]+>')


def sides(shipped: Shipped) -> Iterator[tuple[str, str, SideView]]:
    """(label, HTML, view) of both sides of every shipped card."""
    for card, label, view in zip(shipped.inputs, shipped.labels, shipped.views, strict=True):
        yield f"{label} question", card.question, view.question
        yield f"{label} answer", card.answer, view.answer


def scheme(link: str) -> str:
    """The scheme a browser reads from a link: leading controls and spaces, tabs and newlines are ignored."""
    cleaned = re.sub(r"[\t\n\r]", "", link).lstrip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10 ")
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else ""


def test_every_shipped_card_was_rendered(shipped: Shipped) -> None:
    assert shipped.notes == shipped.expected_notes > 500
    assert len(shipped.views) == len(shipped.inputs) == shipped.card_count >= shipped.notes
    assert all(view.question.text.strip() and view.answer.text.strip() for view in shipped.views)


def test_no_mathjax_errors_in_the_shipped_deck(shipped: Shipped) -> None:
    problems = [f"{label}: {error}" for label, _, view in sides(shipped) for error in view.mathjax_errors]
    assert problems == []


def test_math_in_the_shipped_deck_is_typeset(shipped: Shipped) -> None:
    problems = []
    typeset = 0
    for label, html, view in sides(shipped):
        formulas = len(MATH_RE.findall(NOT_TYPESET_RE.sub("", html)))
        typeset += view.typeset_count
        if view.typeset_count != formulas:
            problems.append(f"{label}: {formulas} formulas, {view.typeset_count} typeset")
    assert problems == []
    assert typeset > 500


def test_every_link_in_the_shipped_deck_is_http(shipped: Shipped) -> None:
    links = [(label, link) for label, _, view in sides(shipped) for link in view.links]
    assert links, "the deck has source links; the harness found none"
    assert [(label, link) for label, link in links if scheme(link) in ("javascript", "data", "vbscript")] == []
    assert [(label, link) for label, link in links if not link.startswith(("http://", "https://"))] == []


def test_the_shipped_deck_loads_nothing_remote(shipped: Shipped) -> None:
    assert any("<img" in html for _, html, _ in sides(shipped)), "the deck has an image; the media path is untested"
    assert [(label, load) for label, _, view in sides(shipped) for load in view.remote_loads] == []


def test_no_script_or_field_styling_in_the_shipped_deck(shipped: Shipped) -> None:
    found = [(label, item) for label, _, view in sides(shipped) for item in view.scripts]
    marks = [(label, item) for label, item in found if DECKGEN_MATH_CLASS_RE.fullmatch(item)]
    clozes = {label for label, kind in zip(shipped.labels, shipped.note_types, strict=True) if kind == CLOZE_MODEL_NAME}
    assert marks, "the deck has deletions inside math; the harness saw no class on them"
    assert {label.rsplit(" ", 1)[0] for label, _ in marks} <= clozes
    assert [(label, item) for label, item in found if (label, item) not in marks] == []
    assert [(label, line) for label, _, view in sides(shipped) for line in view.console] == []


def test_the_harness_sees_what_a_hostile_card_does(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "deckgen-0123456789abcdef.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    cards = [
        (r"\(\href{javascript:alert(1)}{x}\)", r"<a href=' JaVa&#x09;ScRiPt:alert(1)'>y</a>"),
        (r"\(\style{background:url(http://127.0.0.2/x)}{y}\)", r"\(\class{evil}{x}\cssId{qa}{y}\)"),
        (r"\(\foo\)", r"\(x^^2\)"),
        (r"\(\frac{1}{\)", r"\(\require{nosuchextension}\)"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", "<script>alert(2)</script>"),
        ("<img src='no-such-media.png' onerror='alert(3)'>", "<img src='https://example.com/a.png'>"),
        ("<img src='deckgen-0123456789abcdef.svg'>", "<div style='color: red'>z</div><style>p { color: red }</style>"),
    ]
    views = render_cards([(STYLE + q, STYLE + a) for q, a in cards], media_dir=media)
    href, style, undefined, broken, script, image, allowed = views

    # MathJax (Anki's config loads no "safe" extension) turns \href into a live <a> inside mjx-container.
    assert href.question.links == ["javascript:alert(1)"]
    assert (href.question.typeset_count, href.question.text, href.question.mathjax_errors) == (1, "𝑥", [])
    assert href.answer.links == [" JaVa\tScRiPt:alert(1)"] and scheme(href.answer.links[0]) == "javascript"

    # \style reaches the DOM: the browser really requests the URL, and the attribute is reported.
    assert style.question.remote_loads == ["http://127.0.0.2/x"]
    assert style.question.scripts == ['TeX style="background:url(http://127.0.0.2/x)" on <mi>']
    assert style.answer.scripts == ['TeX class="evil" on <mi>', 'TeX id="qa" on <mi>']

    # noundefined shows an unknown macro as red text, without an error node; noerrors shows the TeX of a
    # formula with a syntax error, the message in data-mjx-error.
    assert (undefined.question.typeset_count, undefined.question.text) == (1, "\\foo")
    assert undefined.question.mathjax_errors == ["undefined control sequence \\foo"]
    assert (undefined.answer.typeset_count, undefined.answer.mathjax_errors) == (1, ["Missing open brace for superscript"])

    # Unbalanced braces: MathJax finds no formula at all. A failed \require: typesetting rejects, the reviewer
    # swallows the error and the card shows its TeX source.
    assert broken.question.typeset_count == 0
    assert broken.question.mathjax_errors == ["untypeset: \\(\\frac{1}{\\)"]
    assert broken.answer.typeset_count == 0
    assert [e.split("\n")[0] for e in broken.answer.mathjax_errors] == [
        'typeset failed: Error: Can\'t load "/_anki/js/vendor/mathjax/input/tex/extensions/nosuchextension.js"',
        "untypeset: \\(\\require{nosuchextension}\\)",
    ]

    # Escaped markup is text; a real <script> in a card runs (the reviewer re-creates it so that it does).
    assert (script.question.text, script.question.scripts) == ("<script>alert(1)</script>", [])
    assert script.answer.scripts == ["<script> <script>alert(2)</script>", "alert(2)"]

    assert image.question.remote_loads[0].endswith("/no-such-media.png")
    assert image.question.scripts == ['<img onerror="alert(3)">', "alert(3)"]
    assert "https://example.com/a.png" in image.answer.remote_loads

    # The deck's own media and the note type's <style> are fine; a field's style attribute or <style> is not.
    assert (allowed.question.remote_loads, allowed.question.scripts, allowed.question.console) == ([], [], [])
    assert allowed.answer.scripts == ['<div style="color: red">', "<style> p { color: red }"]


def test_night_mode_uses_the_reviewer_classes() -> None:
    probe = "<i id=p></i><script>document.getElementById('p').textContent = document.body.className</script>"
    (view,) = render_cards([(probe, probe)], night=True, ords=[1])
    # A card's script runs before the reviewer sets the new body class; on the answer it is this card's.
    assert view.answer.text == "card card2 isLin nightMode night_mode fancy"


def test_accepted_hostile_text_stays_inert_in_the_real_reviewer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every kind of hostile text that check accepts, in every field: the reviewer shows it as text.
    from tests.hostile import INERT_MARKDOWN, INERT_PLAIN, inert_bank

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    inputs: list[ReviewerInput] = []
    for index in range(max(len(INERT_MARKDOWN), len(INERT_PLAIN))):
        result = build(inert_bank(tmp_path / f"bank-{index}", index), tmp_path / f"out-{index}")
        (tmp_path / f"profile-{index}").mkdir()
        col = Collection(str(tmp_path / f"profile-{index}" / "collection.anki2"))
        try:
            import_apkg(col, result.outputs[0], merge_notetypes=False)
            inputs += collection_cards(col)
        finally:
            col.close()
    views = render_cards([(card.question, card.answer) for card in inputs])
    assert len(views) == len(inputs) == 4 * max(len(INERT_MARKDOWN), len(INERT_PLAIN))
    for card, view in zip(inputs, views):
        for side in view.sides:
            assert side.mathjax_errors == [], (card.question, side)
            assert side.remote_loads == [] and side.scripts == [], (card.question, side)
            assert all(link.startswith(("https://", "http://")) for link in side.links), side.links
            assert "javascript:" not in " ".join(side.links)
    shown = " ".join(side.text for view in views for side in view.sides)
    assert "<script>alert(1)</script>" in shown and "[sound:evil.mp3]" in shown and "\\href{javascript:alert(3)}" in shown
