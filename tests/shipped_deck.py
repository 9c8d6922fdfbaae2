"""The shipped deck (questions/), built, imported into a real collection and shown card by card in Anki's
desktop reviewer (tests/anki_reviewer.py), once per test session.

Every card is shown once, at a phone's width in light mode, with `LOOK_PROBE` reading each side's layout
and computed styles, and screenshots of the cards that show an image. The security review
(test_reviewer.py) and the review of how cards look (test_card_look.py) both read that one rendering.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from anki.collection import Collection

from deckgen.anki.notes import note_kinds
from deckgen.build import build
from tests.anki_reviewer import CardView, ReviewerInput, collection_cards, render_cards
from tests.conftest import ROOT, import_apkg

PHONE = (360, 740)
"""A small phone held upright, in CSS pixels (the width of most Android phones' viewports)."""

# What the look tests read of a side, in page (document) pixels. `scrolling`: every box whose content is
# wider than it, with what the box is and the first thing in it that reaches past its side; `outside`: elements that reach past the page's sides with no box
# between them and the page that clips them; `vertical`: boxes that cut or scroll their content vertically.
# `report`: the report link's colours, underline and hit box, the text around it, and how far below the
# rest of the card it starts. `marks`: every cloze deletion, in text or typeset math, with its colours, the
# colour around it, its glyphs' colour and (in math) the text of its MathML. `images`: each image's
# filter and box.
LOOK_PROBE = r"""
(qa, side) => {
  const css = (el) => getComputedStyle(el);
  const root = document.scrollingElement;
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY]; };
  const FIELDS = ["dg-context", "dg-question", "dg-answer", "dg-extra", "dg-sources", "dg-footer"];
  const name = (el) => {
    if (el.matches('mjx-container[display="true"]')) return "display math";
    if (el.localName === "mjx-container") return "inline math";
    if (el.localName === "table") return "table";
    if (el.localName === "pre") return "code";
    const field = FIELDS.find((f) => el.classList.contains(f));
    return field || el.localName;
  };
  const shown = Array.from(qa.querySelectorAll("*")).filter((el) => !el.closest("mjx-assistive-mml, style, script"));
  const scrolling = [], outside = [], vertical = [];
  for (const el of shown) {
    const style = css(el);
    // MathJax clips parts of a formula (stretched delimiters) by design: only the formula's own box counts.
    const inside = el.localName !== "mjx-container" && el.closest("mjx-container");
    const clips = !inside && (style.overflowX !== "visible" || style.overflowY !== "visible");
    if (clips && el.scrollWidth > el.clientWidth + 1) {
      const right = el.getBoundingClientRect().right;
      const cause = Array.from(el.querySelectorAll("*")).find((inner) => !inner.closest("mjx-assistive-mml")
        && inner.getBoundingClientRect().right > right + 1);
      scrolling.push({box: name(el), cause: cause ? name(cause) : null});
    }
    if (clips && el.scrollHeight > el.clientHeight + 1) vertical.push(name(el) + " " + el.scrollHeight + " > " + el.clientHeight);
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > root.clientWidth + 0.5 || r.left < -0.5)) {
      let parent = el.parentElement;
      while (parent && parent !== qa && css(parent).overflowX === "visible") parent = parent.parentElement;
      if (!parent || parent === qa) outside.push(name(el) + " " + Math.round(r.left) + ".." + Math.round(r.right));
    }
  }
  const link = qa.querySelector("a.dg-report");
  let report = null;
  if (link) {
    const footer = link.closest(".dg-footer") || link.parentElement;
    const before = Array.from(qa.children).filter((el) => el !== footer && !footer.contains(el) && el.localName !== "style");
    report = {
      color: css(link).color,
      underline: css(link).textDecorationLine,
      around: [css(footer).color, css(qa.querySelector(".dg-id")).color],
      box: box(link),
      above: Math.max(...before.map((el) => box(el)[3])),
    };
  }
  const active = (document.body.className.match(/\bcard(\d+)\b/) || [])[1];
  const marks = [];
  for (const el of qa.querySelectorAll(".cloze, .cloze-inactive, [class*='dg-cloze-']")) {
    if (el.closest("mjx-assistive-mml")) continue;
    const math = el.closest("mjx-container");
    const ordinal = math ? (el.getAttribute("class").match(/\bdg-cloze-(\d+)\b/) || [])[1] : el.dataset.ordinal;
    const twin = math && math.querySelector("mjx-assistive-mml ." + "dg-cloze-" + ordinal);
    const glyph = el.querySelector("mjx-c");
    marks.push({
      ordinal: ordinal,
      active: ordinal === active && !el.classList.contains("cloze-inactive"),
      math: !!math,
      text: twin ? twin.textContent : el.textContent,
      color: css(el).color,
      background: css(el).backgroundColor,
      around: css(math || el.parentElement).color,
      glyph: glyph ? css(glyph).color : null,
    });
  }
  const images = Array.from(qa.querySelectorAll("img"), (img) => ({
    src: img.getAttribute("src"), filter: css(img).filter, box: box(img), loaded: img.complete && img.naturalWidth > 0,
  }));
  return {
    width: [root.scrollWidth, root.clientWidth],
    scrolling, outside, vertical, report, marks, images,
    text: css(document.body).color,
    background: css(document.body).backgroundColor,
    body: document.body.className,
  };
}
"""


@dataclass(frozen=True)
class Shipped:
    """The shipped deck as imported into Anki, and what the reviewer showed of each card."""

    inputs: list[ReviewerInput]
    labels: list[str]
    note_types: list[str]
    views: list[CardView]
    card_count: int
    notes: int
    expected_notes: int
    media_dir: Path
    shots: dict[int, Path]
    """Screenshot prefixes of the cards that show an image (`<prefix>-question.png`, `<prefix>-answer.png`)."""

    def probes(self, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """What LOOK_PROBE read of card `index`: question, answer."""
        view = self.views[index]
        return view.question.probe, view.answer.probe


def render_shipped(tmp: Path) -> Shipped:
    """Build questions/ (a copy: a build rewrites the lock) in `tmp`, import it and show every card at a phone's width."""
    bank = tmp / "questions"
    shutil.copytree(ROOT / "questions", bank)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        result = build(bank, tmp / "out")
    (tmp / "anki-profile").mkdir()
    col = Collection(str(tmp / "anki-profile" / "collection.anki2"))
    try:
        import_apkg(col, result.outputs[0], merge_notetypes=False)
        inputs = collection_cards(col)
        notes = [col.get_card(card.card_id).note() for card in inputs]
        labels = [f"{note['ID']} (card {card.ord + 1})" for note, card in zip(notes, inputs)]
        note_types = [note.note_type()["name"] for note in notes]
        card_count, note_count = col.card_count(), col.note_count()
        media_dir = Path(col.media.dir())
        shots = {i: tmp / "shots" / f"card-{i}" for i, card in enumerate(inputs) if "<img" in card.question + card.answer}
        views = render_cards(
            [(card.question, card.answer) for card in inputs],
            ords=[card.ord for card in inputs],
            media_dir=media_dir,
            viewport=PHONE,
            probe=LOOK_PROBE,
            screenshots=shots,
        )
    finally:
        col.close()
    return Shipped(inputs, labels, note_types, views, card_count, note_count, len(note_kinds(result.bank)), media_dir, shots)
