"""The printed PDFs of the shipped deck, in real Chromium, read back with pypdf and poppler:
page counts per layout, bookmarks, contents page numbers, clickable sources, every id."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest
from pypdf import PdfReader

from deckgen.build import build
from deckgen.load import load_bank
from deckgen.printsheet import PrintStyle
from deckgen.selection import Selection
from tests.conftest import FIXTURES, ROOT
from tests.system_tools import chromium, cjk_fonts, poppler

pytestmark = pytest.mark.slow


def _pages(pdf: Path) -> int:
    return len(PdfReader(pdf).pages)


def _links(pdf: Path) -> set[str]:
    found = set()
    for page in PdfReader(pdf).pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action is not None and "/URI" in action:
                found.add(str(action["/URI"]))
    return found


def _text(pdf: Path) -> str:
    return subprocess.run([poppler("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _overflowing_words(pdf: Path, margin_pt: float) -> list[str]:
    """Words printed past the right margin (by more than two points, a glyph's overhang): what a
    too-wide table or formula pushes off the right-hand column, where the page clips it."""
    page_width = 0.0
    found = []
    bbox = subprocess.run([poppler("pdftotext"), "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for line in bbox.splitlines():
        if line.lstrip().startswith("<page "):
            page_width = float(re.search(r'width="([0-9.]+)"', line).group(1))  # type: ignore[union-attr]
        match = re.search(r'<word xMin="[0-9.]+" yMin="[0-9.]+" xMax="([0-9.]+)" yMax="[0-9.]+">(.*?)</word>', line)
        if match and float(match.group(1)) > page_width - margin_pt + 2:
            found.append(match.group(2))
    return found


_OVERFLOW_PROBE = """
const found = [];
for (const box of document.querySelectorAll('.qa, .ans')) {
  const outer = box.getBoundingClientRect();
  for (const el of box.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    const over = Math.max(r.right - outer.right, outer.left - r.left);
    if (r.width > 0 && over > 1.5) found.push((box.id || box.querySelector('.n').textContent) + ' ' + el.tagName.toLowerCase());
  }
}
document.body.dataset.over = JSON.stringify([...new Set(found)]);
"""


def _overflowing_boxes(page: Path, content_width_mm: float) -> list[str]:
    """What sticks out of its question's or answer's box, on either side, when Chromium lays out
    `page` at its paper's text width: a formula or table running into the gutter, a neighbour
    or the margin. (The page's screen-only frame is undone, and a probe measures every box.)"""
    probed = page.with_name(f"probed-{page.name}")
    frame = "<style>@media screen { body { max-width: none; margin: 0; padding: 0; } }</style>"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", f"{frame}<script>{_OVERFLOW_PROBE}</script></body>"), encoding="utf-8")
    width = round(content_width_mm / 25.4 * 96)
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={width},1000", "--dump-dom", probed.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True).stdout
    measured = re.search(r'data-over="([^"]*)"', dom)
    assert measured is not None, "the probe did not run"
    return list(json.loads(unescape(measured[1])))


def _built(tmp: Path, name: str, epoch: Callable[[int], None], style: PrintStyle, selection: Selection = Selection()) -> Path:
    chromium()
    cjk_fonts()
    bank = tmp / "questions"
    if not bank.exists():
        shutil.copytree(ROOT / "questions", bank)
    epoch(1_700_000_000)
    result = build(bank, tmp / name, pdf=True, style=style, selection=selection)
    assert result.pdf_problems == ()
    return tmp / name


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shipped")


def test_the_compact_a4_sheet_holds_the_deck_in_few_pages_with_every_id_and_link(
    shipped: Path, epoch: Callable[[int], None]
) -> None:
    out = _built(shipped, "compact", epoch, PrintStyle("compact", "a4"))
    review, questions = out / "review-sheet.pdf", out / "review-questions.pdf"
    assert _pages(review) < 70 and _pages(questions) < 70
    box = PdfReader(review).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    bank = load_bank(shipped / "questions")
    text = _text(review)
    missing = [q.id for q in bank.questions if q.id not in text]
    assert missing == []
    cited = {bank.source(s).url for q in bank.questions for s in q.sources}
    assert cited - _links(review) == set()
    key = _text(questions).split("Answer key")[-1]
    assert [q.id for q in bank.questions if q.id not in key] == []
    # Nothing runs off a column into the margin: a five-item compare spans both columns.
    margin = 11 * 72 / 25.4
    assert _overflowing_words(review, margin) == [] and _overflowing_words(questions, margin) == []
    # Nor does anything run into the gutter or a neighbour: a long formula in the answer key spans
    # both columns, and a questions table's blank cells share the width that is left.
    assert _overflowing_boxes(out / "review-sheet.html", 210 - 22) == []
    assert _overflowing_boxes(out / "review-questions.html", 210 - 22) == []


def test_the_full_letter_sheet_has_bookmarks_and_a_contents_page_with_the_right_page_numbers(
    shipped: Path, epoch: Callable[[int], None]
) -> None:
    out = _built(shipped, "full", epoch, PrintStyle())
    review = out / "review-sheet.pdf"
    reader = PdfReader(review)
    assert len(reader.pages) < 140
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    bank = load_bank(shipped / "questions")
    titles = [item["/Title"] for item in reader.outline if not isinstance(item, list)]
    assert titles == [s.title for s in bank.deck.sections if any(q.section == s.id for q in bank.questions)]
    destinations = {name.removeprefix("/"): reader.get_destination_page_number(d) + 1 for name, d in reader.named_destinations.items()}
    contents = subprocess.run([poppler("pdftotext"), "-layout", "-f", "1", "-l", "2", str(review), "-"], capture_output=True, text=True, check=True).stdout
    for section in bank.deck.sections:
        if f"s-{section.id}" in destinations:
            listed = re.search(rf"^\d+\. {re.escape(section.title)}\s+(\d+)$", contents, re.M)
            assert listed is not None and listed[1] == str(destinations[f"s-{section.id}"]), section.title
    assert _overflowing_boxes(out / "review-sheet.html", 215.9 - 48) == []
    assert _overflowing_boxes(out / "review-questions.html", 215.9 - 48) == []
    fonts = subprocess.run([poppler("pdffonts"), str(review)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"(NotoSerif|DejaVuSerif)-Regular\s+CID TrueType", fonts), fonts


def test_a_handout_keeps_the_full_numbers_and_has_no_cover(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    shutil.copytree(FIXTURES / "mini", tmp_path / "questions")
    out = _built(tmp_path, "handout", epoch, PrintStyle(), Selection(topics=("lora-vs-adapter",)))
    text = _text(out / "review-sheet.pdf")
    assert text.startswith("LoRA vs Adapter · version 1.2.3\n") or "LoRA vs Adapter\n" in text
    assert "Contents" not in text and "A tiny bank" not in text
    assert _pages(out / "review-sheet.pdf") == 1
    assert re.findall(r"^(\d+)\.$", text, re.M) == ["4", "5"]
    assert "lora-adapter" in text and "lora-code" in text
    assert PdfReader(out / "review-sheet.pdf").metadata.title == "LoRA vs Adapter"  # type: ignore[union-attr]
    again = _built(tmp_path, "again", epoch, PrintStyle(), Selection(topics=("lora-vs-adapter",)))
    for name in ("review-sheet.pdf", "review-questions.pdf"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), f"{name}: the same page printed twice differs"


def test_the_overflow_probe_sees_what_sticks_out_on_either_side(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<!doctype html><body><div style="width:200px;margin-left:50px">'
        '<article class="qa" id="q1"><div style="width:260px">too wide</div></article>'
        '<article class="qa" id="q2"><div style="margin-left:-20px">off to the left</div></article>'
        '<article class="qa" id="q3"><p>fits</p></article>'
        '<div class="ans"><b class="n">4.</b><table style="width:300px"><tr><td>x</td></tr></table></div>'
        "</div></body>",
        encoding="utf-8",
    )
    assert _overflowing_boxes(page, 100) == ["q1 div", "q2 div", "4. table", "4. tbody", "4. tr", "4. td"]
