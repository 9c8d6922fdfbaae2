"""The printed PDFs of the shipped deck, in real Chromium, read back with pypdf and poppler:
page counts per layout, bookmarks, contents page numbers, clickable sources, every id."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
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
