"""The printable HTML sheets: golden structure, MathML everywhere, nothing external, a real print."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any
from html.parser import HTMLParser
from pathlib import Path

import pytest

from deckgen.build import build
from deckgen import printsheet
from deckgen.cache import Block, BuildCache, joined
from deckgen.outline import outline
from deckgen.printsheet import print_pages, questions_html, review_html
from deckgen.render import code_css
from deckgen.load import load_bank
from tests.conftest import FIXTURES, GOLDEN, ROOT, check_golden
from tests.system_tools import chromium, cjk_fonts, poppler


@pytest.mark.parametrize(("name", "render"), [("review-sheet.html", review_html), ("review-questions.html", questions_html)])
def test_html_sheets_match_golden(name: str, render: Callable[..., str]) -> None:
    # Pygments' colours differ between its releases; the golden keeps only deckgen's own page.
    page = render(load_bank(FIXTURES / "mini"))
    assert code_css() in page
    check_golden(GOLDEN / name, page.replace(code_css(), "/* Pygments styles */\n"))


def test_a_build_makes_each_print_page_a_topic_at_a_time_as_it_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    bank = load_bank(ROOT / "questions")
    shape = outline(bank)
    topics = [t.topic.id for s in shape.sections for t in s.topics if t.questions]
    made: list[str] = []
    topic_lines = printsheet._topic_lines

    def recording(*args: Any) -> Any:
        made.append(args[5].topic.id)
        return topic_lines(*args)

    monkeypatch.setattr(printsheet, "_topic_lines", recording)
    cache = BuildCache(None, writable=False)
    for page in print_pages(shape, cache):
        made.clear()
        made_when_each_line_is_written = [len(made) for _ in page]
        # Nothing is made until the page is written, and each topic's part when its turn comes.
        assert made == topics
        assert made_when_each_line_is_written[0] == 0 and sorted(set(made_when_each_line_is_written)) == list(range(len(topics) + 1))
    cache.close()


class _Outside(HTMLParser):
    """Text outside <math>, <code> and <pre>, and every URL the page would load."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.text: list[str] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("math", "code", "pre", "style"):
            self.depth += 1
        for name, value in attrs:
            if name in ("src", "srcset", "data", "poster") or (tag == "link" and name == "href"):
                self.loads.append(value or "")
        if tag in ("script", "iframe", "link", "object", "embed"):
            self.loads.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("math", "code", "pre", "style"):
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth == 0:
            self.text.append(data)


@pytest.fixture(scope="module")
def shipped_pages() -> list[str]:
    bank = load_bank(ROOT / "questions")
    return [review_html(bank), questions_html(bank)]


def test_all_math_of_the_shipped_banks_becomes_mathml(shipped_pages: list[str]) -> None:
    for page in shipped_pages:
        assert page.count("<math ") > 500
        assert 'class="math-source"' not in page
        outside = _Outside()
        outside.feed(page)
        prose = "".join(outside.text)
        assert not re.search(r"\$[^\s$][^$]*?[^\s$]\$(?!\d)", prose.replace("\\$", "")), "raw $…$ left"
        assert "\\(" not in prose and "\\[" not in prose


def test_the_pages_load_nothing_from_outside(shipped_pages: list[str]) -> None:
    for page in shipped_pages:
        outside = _Outside()
        outside.feed(page)
        assert all(url.startswith("data:") for url in outside.loads), outside.loads[:5]
        style = page[page.index("<style>") : page.index("</style>")]
        assert "@import" not in style and "url(" not in style


def test_images_are_embedded(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "questions", tmp_path / "questions")
    page = review_html(load_bank(tmp_path / "questions"))
    assert '<img src="data:image/svg+xml;base64,' in page


@pytest.mark.slow
def test_a_real_browser_prints_both_sheets(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    chromium()
    cjk_fonts()
    pdftotext, pdfinfo = poppler("pdftotext"), poppler("pdfinfo")
    shutil.copytree(FIXTURES / "mini", tmp_path / "mini")
    epoch(1_700_000_000)
    result = build(tmp_path / "mini", tmp_path / "out", pdf=True)
    assert result.pdf_problems == ()
    review = tmp_path / "out" / "review-sheet.pdf"
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run([pdfinfo, str(review)], capture_output=True, text=True, check=True).stdout).group(1))  # type: ignore[union-attr]
    assert 2 <= pages <= 5
    text = subprocess.run([pdftotext, "-layout", str(review), "-"], capture_output=True, text=True, check=True).stdout
    order = [text.index(s) for s in ("why divide the logits", "Attention is softmax", "What does <script>", "How do LoRA and adapters differ", "how is a LoRA update merged")]
    assert order == sorted(order)
    assert "为什么使用不同的K和Q [笔记]" in text
    assert "https://www.zhihu.com/question/319339652" in text
    assert "Mini Deck · review sheet · version 1.2.3" in text
    questions = subprocess.run([pdftotext, str(tmp_path / "out" / "review-questions.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    body, key = questions.split("Answer key")[-2:]
    assert "out of saturation" not in body and "out of saturation" in key


def test_a_missing_browser_costs_only_the_pdf(tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECKGEN_CHROMIUM", str(tmp_path / "no-such-browser"))
    shutil.copytree(FIXTURES / "mini", tmp_path / "mini")
    epoch(1_700_000_000)
    result = build(tmp_path / "mini", tmp_path / "out", pdf=True)
    assert [str(d) for d in result.pdf_problems] == [
        f"{(tmp_path / 'out' / name).as_posix()}:1:1: error: no Chromium found to print the PDF: install Chromium and CJK "
        "fonts (Debian/Ubuntu: sudo apt-get install chromium fonts-noto-cjk; macOS: brew install --cask chromium), or "
        "set DECKGEN_CHROMIUM to the browser's path [pdf]"
        for name in ("review-sheet.pdf", "review-questions.pdf")
    ]
    assert (tmp_path / "out" / "review-sheet.html").is_file() and not (tmp_path / "out" / "review-sheet.pdf").exists()


def test_what_is_too_wide_for_a_column_spans_both(tmp_path: Path) -> None:
    from deckgen.load import load_bank
    from deckgen.printsheet import PrintStyle, review_html
    from tests.bankfiles import TOPIC, write_bank

    long_formula = "$" + " + ".join(f"x_{{{i}}}" for i in range(1, 17)) + "$"  # 54 characters of MathML text
    short_formula = "$" + " + ".join(f"x_{{{i}}}" for i in range(1, 9)) + "$"  # 23
    wide = TOPIC + f"  - id: long-sum\n    question: What is {long_formula}?\n    answer: A sum.\n    sources: [paper]\n"
    wide += f"  - id: short-sum\n    question: What is {short_formula}?\n    answer: A sum.\n    sources: [paper]\n"
    wide += (
        "  - id: four-items\n    type: compare\n    question: How do they differ?\n    items: [A, B, C, D]\n"
        "    rows:\n      - id: size\n        aspect: Size\n        values: [1, 2, 3, 4]\n    sources: [paper]\n"
    )
    page = review_html(load_bank(write_bank(tmp_path / "q", {"attention.yaml": wide})), PrintStyle("compact", "a4"))
    # why-scale, long-sum, short-sum, four-items
    assert re.findall(r'<article class="([^"]+)"', page) == ["qa", "qa wide", "qa", "qa wide"]
    assert ".cols .wide { column-span: all; }" in page


def test_the_answer_key_waits_on_disk_and_comes_back_as_it_was(tmp_path: Path) -> None:
    # The questions page's answer key follows every question: it is kept in a temporary file
    # until the page comes to it, and only each line's size and each part's key and hash stay
    # in memory. Lines come back as the same text (any text: the page's encoding happens later,
    # where it always did), parts as the same key, bytes and hash.
    part = Block.of("print-key-topic:abc", "<h4>Ä</h4>\n<p>$x$</p>\n".encode())
    given: list[str | Block] = ["<h3>Key</h3>", "", part, "漢字 \ud800 😀", part, "\n"]
    with printsheet._Spooled(tmp_path) as spooled:
        spooled.add(given[:3])
        spooled.add(given[3:])
        assert all(isinstance(size, int) and sha256 in ("", part.sha256) for size, _, sha256 in spooled._entries)
        held = spooled._file
        assert held.tell() == sum(size for size, _, _ in spooled._entries) > 2 * len(part.data)
        assert list(spooled.lines()) == given
        assert list(spooled.lines()) == given
    assert held.closed
    assert list(tmp_path.iterdir()) == []


def test_only_the_questions_page_holds_a_file_and_it_goes_however_the_page_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    original = printsheet.tempfile.TemporaryFile

    def temporary_file(prefix: str, suffix: str, dir: Path | None = None) -> Any:
        made.append((dir, original(prefix=prefix, suffix=suffix, dir=dir)))
        return made[-1][1]

    bank = load_bank(FIXTURES / "mini")
    pages = review_html(bank), questions_html(bank)
    monkeypatch.setattr(printsheet.tempfile, "TemporaryFile", temporary_file)
    cache = BuildCache(tmp_path / "out")
    try:
        review, questions = print_pages(outline(bank), cache, folder=tmp_path)
        assert joined(review) == pages[0]
        assert made == []  # the review page has no answer key
        assert joined(questions) == pages[1]
        assert [(folder, file.closed) for folder, file in made] == [(tmp_path, True)]
        abandoned = print_pages(outline(bank), cache, folder=tmp_path)[1]
        next(abandoned)
        assert not made[-1][1].closed
        abandoned.close()  # as when writing the page fails: the file goes too
        assert len(made) == 2 and made[-1][1].closed
    finally:
        cache.close()
