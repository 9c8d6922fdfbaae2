"""TeX as MathML for the print sheets: spaced as TeX spaces it, in MathML that Chromium's MathML Core reads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest

from deckgen.build import build
from deckgen.cloze import cloze_blank
from deckgen.mathml import mathml, rebuild
from deckgen.pdf import print_to_pdf
from deckgen.printsheet import PRINT_MATH_BLANK
from deckgen.render import print_only_html
from tests.conftest import ROOT
from tests.system_tools import chromium, cjk_fonts, math_fonts, poppler

INLINE = '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">'
FA = '<mo lspace="0" rspace="0.1667em">&#x2061;</mo>'
"""Function application, with the thin space TeX puts after an operator name before a symbol."""
FA_TIGHT = '<mo lspace="0" rspace="0">&#x2061;</mo>'
THIN = '<mspace width="0.1667em"></mspace>'
STRUT = '<mspace width="0" height="0.75em" depth="0.25em"></mspace>'
PREFIX_MINUS = '<mo form="prefix" lspace="0" rspace="0">&#x2212;</mo>'


def inline(tex: str) -> str:
    """The MathML inside `<math>…</math>` of an inline formula."""
    out = mathml(tex, False)
    assert out.startswith(INLINE) and out.endswith("</math>"), out
    return out[len(INLINE) : -len("</math>")]


@pytest.mark.parametrize(
    ("tex", "expected"),
    [
        # Operator names: upright, a function application, a thin space on either side of a symbol.
        (r"\cos a \cos b", f"<mrow><mi>cos</mi>{FA}<mi>a</mi>{THIN}<mi>cos</mi>{FA}<mi>b</mi></mrow>"),
        (r"\log p", f"<mrow><mi>log</mi>{FA}<mi>p</mi></mrow>"),
        (
            r"O(L \log L)",
            f'<mrow><mi>O</mi><mo stretchy="false">(</mo><mi>L</mi>{THIN}<mi>log</mi>{FA}<mi>L</mi><mo stretchy="false">)</mo></mrow>',
        ),
        # No space between a name and its parenthesis; \operatorname is a name as \log is.
        (
            r"\operatorname{softmax}(x)",
            f'<mrow><mi>softmax</mi>{FA_TIGHT}<mo stretchy="false">(</mo><mi>x</mi><mo stretchy="false">)</mo></mrow>',
        ),
        (r"\log_2 n", f"<mrow><msub><mi>log</mi><mn>2</mn></msub>{FA}<mi>n</mi></mrow>"),
        # latex2mathml writes \arg as `\arg`; two names in a row take one thin space.
        (r"\arg\max_i x", f'<mrow><mi>arg</mi>{FA}<msub><mo lspace="0" rspace="0">max</mo><mi>i</mi></msub>{FA}<mi>x</mi></mrow>'),
        # \mathrm{word} is one upright word, an ordinary symbol: no thin space.
        (r"\mathrm{relu}(x)", '<mrow><mrow><mi mathvariant="normal">relu</mi></mrow><mo stretchy="false">(</mo><mi>x</mi><mo stretchy="false">)</mo></mrow>'),
        # A prime is the font's raised prime after its letter, not shrunk into a superscript.
        (r"B'A'", '<mrow><mrow><mi>B</mi><mo lspace="0" rspace="0">&#x2032;</mo></mrow><mrow><mi>A</mi><mo lspace="0" rspace="0">&#x2032;</mo></mrow></mrow>'),
        (
            r"Q'_i",
            '<mrow><msubsup><mi>Q</mi><mi>i</mi><mpadded voffset="-0.35em" height="0.3em">'
            '<mo lspace="0" rspace="0" mathsize="142%">&#x2032;</mo></mpadded></msubsup></mrow>',
        ),
        # A sign that starts a row or follows an operator is unary: no space; between symbols, binary.
        (r"-\infty", f'<mrow>{PREFIX_MINUS}<mi mathvariant="normal">&#x221E;</mi></mrow>'),
        (r"a - b", "<mrow><mi>a</mi><mo>&#x2212;</mo><mi>b</mi></mrow>"),
        (r"-b", f"<mrow>{PREFIX_MINUS}<mi>b</mi></mrow>"),
        (r"a = -1", f"<mrow><mi>a</mi><mo>=</mo>{PREFIX_MINUS}<mn>1</mn></mrow>"),
        (r"f(-x)", f'<mrow><mi>f</mi><mo stretchy="false">(</mo>{PREFIX_MINUS}<mi>x</mi><mo stretchy="false">)</mo></mrow>'),
        # A slash is an ordinary symbol.
        (r"a/b", '<mrow><mi>a</mi><mo lspace="0" rspace="0">/</mo><mi>b</mi></mrow>'),
        # In a script, operators and punctuation are unspaced, as in TeX.
        (r"u_{i-k}", '<mrow><msub><mi>u</mi><mrow><mi>i</mi><mo lspace="0" rspace="0">&#x2212;</mo><mi>k</mi></mrow></msub></mrow>'),
        # \top is an ordinary symbol; \big( a larger, unstretched parenthesis; \! a length MathML Core knows.
        (r"K^\top", '<mrow><msup><mi>K</mi><mi mathvariant="normal">&#x22A4;</mi></msup></mrow>'),
        (r"\big(x\big)", '<mrow><mo stretchy="false" mathsize="120%">(</mo><mi>x</mi><mo stretchy="false" mathsize="120%">)</mo></mrow>'),
        (r"x\!y", '<mrow><mi>x</mi><mspace width="-0.1667em"></mspace><mi>y</mi></mrow>'),
        (r"\lVert u \rVert", '<mrow><mo stretchy="false">&#x2016;</mo><mi>u</mi><mo stretchy="false">&#x2016;</mo></mrow>'),
        (r"x; y", '<mrow><mi>x</mi><mo lspace="0" rspace="0.1667em">;</mo><mi>y</mi></mrow>'),
        # A radical's content is at least a parenthesis tall, so its bar clears short letters as TeX's does.
        (r"\sqrt{s}", f"<mrow><msqrt>{STRUT}<mrow><mi>s</mi></mrow></msqrt></mrow>"),
        (r"\sqrt[3]{s}", f"<mrow><mroot><mrow>{STRUT}<mrow><mi>s</mi></mrow></mrow><mn>3</mn></mroot></mrow>"),
    ],
)
def test_math_is_spaced_as_tex_spaces_it(tex: str, expected: str) -> None:
    assert inline(tex) == expected


def test_a_cloze_blank_inside_math_is_a_visible_box_on_the_questions_sheet() -> None:
    blanked = cloze_blank("$x = {{c1::y}}$ and $z = {{c2::w::a hint}}$", PRINT_MATH_BLANK)
    assert blanked == "$x = \\boxed{\\text{\u2002?\u2002}}$ and $z = \\boxed{\\text{\u2002a hint\u2002}}$"
    assert print_only_html(blanked) == (
        f'<p>{INLINE}<mrow><mi>x</mi><mo>=</mo><menclose notation="box"><mrow><mtext>&#x2002;?&#x2002;</mtext></mrow></menclose></mrow></math>'
        f' and {INLINE}<mrow><mi>z</mi><mo>=</mo><menclose notation="box"><mrow><mtext>&#x2002;a&#xA0;hint&#x2002;</mtext></mrow></menclose></mrow></math></p>'
    )


def test_punctuation_after_a_formula_stays_on_its_line() -> None:
    html = print_only_html("By ($x$), then $B$'s rank, $a$ and $b$. Cost $n$.")
    x, b, a, b2, n = (mathml(t, False) for t in ("x", "B", "a", "b", "n"))
    assert html == (
        f'<p>By <span class="dg-nobr">({x}),</span> then <span class="dg-nobr">{b}\'</span>s rank, '
        f'<span class="dg-nobr">{a}</span> and <span class="dg-nobr">{b2}.</span> Cost <span class="dg-nobr">{n}.</span></p>'
    ).replace(f'<span class="dg-nobr">{a}</span>', a)


def test_the_no_break_span_holds_only_escaped_text() -> None:
    html = print_only_html('<b>$x$</b>: "$y$"')
    assert html.count("<b>") == 0 and "&lt;b&gt;" in html and "&lt;/b&gt;" in html
    assert '<span class="dg-nobr">&quot;' in html and '&quot;</span>' in html


def test_the_rebuild_keeps_only_allowlisted_markup_after_respacing() -> None:
    raw = (
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><mrow><mi href="javascript:x" style="color:red">log</mi>'
        '<mi>p</mi><script>alert(1)</script><mtext>&lt;img src=x&gt;</mtext><mo class="x">&#x2212;</mo></mrow></math>'
    )
    assert rebuild(raw) == (
        f'<math xmlns="http://www.w3.org/1998/Math/MathML"><mrow><mi>log</mi>{FA}<mi>p</mi>alert(1)'
        "<mtext>&lt;img src=x&gt;</mtext><mo>&#x2212;</mo></mrow></math>"
    )


def _words(pdftotext: str, pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    """Each page's words, with their boxes (x min, y min, x max, y max), as poppler reads them."""
    out = subprocess.run([pdftotext, "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    word = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')
    return [[(float(m[1]), float(m[2]), float(m[3]), float(m[4]), unescape(m[5])) for m in word.finditer(page)] for page in out.split("<page ")[1:]]


def _lines_starting_with_punctuation(pdftotext: str, pdf: Path) -> list[tuple[int, str]]:
    """Words that start with `.`, `,`, `;`, `:` or `'s` and have nothing to their left on their line.
    (pdftotext's plain text moves a formula's scripts to lines of their own, so positions are used.)"""
    found = []
    for number, words in enumerate(_words(pdftotext, pdf), 1):
        for word in words:
            if word[4][:1] in ".,;:" or word[4][:2] in ("'s", "\u2019s"):
                if not any(other[1] < word[3] and other[3] > word[1] and other[2] <= word[0] + 0.5 for other in words if other is not word):
                    found.append((number, word[4]))
    return found


@pytest.mark.slow
def test_the_printed_shipped_sheets_keep_every_root_and_start_no_line_with_punctuation(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    chromium()
    cjk_fonts()
    math_fonts()
    pdftotext = poppler("pdftotext")
    shutil.copytree(ROOT / "questions", tmp_path / "questions")
    epoch(1_700_000_000)
    result = build(tmp_path / "questions", tmp_path / "out", pdf=True)
    assert result.pdf_problems == ()
    # The banks' own files; a translation keeps every formula of the English it translates.
    roots = sum(path.read_text(encoding="utf-8").count("\\sqrt") for path in (ROOT / "questions").rglob("*.yaml") if not path.stem.endswith(".zh"))
    assert roots >= 10
    for name in ("review-sheet", "review-questions", "review-sheet.zh", "review-questions.zh"):
        pdf, html = tmp_path / "out" / f"{name}.pdf", (tmp_path / "out" / f"{name}.html").read_text(encoding="utf-8")
        text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert text.count("\u221a") == html.count("<msqrt>") + html.count("<mroot>"), name
        assert _lines_starting_with_punctuation(pdftotext, pdf) == [], name
    # The review sheet of each edition shows every text of the banks once: each \sqrt is one printed √.
    for name in ("review-sheet", "review-sheet.zh"):
        text = subprocess.run([pdftotext, str(tmp_path / "out" / f"{name}.pdf"), "-"], capture_output=True, text=True, check=True).stdout
        assert text.count("\u221a") == roots, name
    # The Chinese edition's text comes back out of its PDF as it went in.
    zh = subprocess.run([pdftotext, str(tmp_path / "out" / "review-sheet.zh.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    for words in ("NLP 预训练：复习讲义", "目录", "注意力为何要区分 Q 与 K", "XLNet 与 BERT 对比", "本部分引用的文献"):
        assert words in zh, words


@pytest.mark.slow
def test_the_line_start_check_finds_punctuation_that_starts_a_line(tmp_path: Path) -> None:
    chromium()
    pdftotext = poppler("pdftotext")
    page = tmp_path / "lines.html"
    page.write_text("<!doctype html><meta charset=utf-8><p>Some text<br>. next<br>, more<br>'s end<br>fine.</p>", encoding="utf-8")
    print_to_pdf(page, tmp_path / "lines.pdf")
    assert _lines_starting_with_punctuation(pdftotext, tmp_path / "lines.pdf") == [(1, "."), (1, ","), (1, "'s")]


def test_aligned_and_gathered_print_as_tables_not_as_a_row_with_ampersands() -> None:
    from deckgen.mathml import _as_arrays, mathml

    assert _as_arrays(r"x = \begin{aligned}a &= b \\ c &= d\end{aligned}") == r"x = \begin{array}{rl}a &= b \\ c &= d\end{array}"
    assert _as_arrays(r"\begin{alignedat}{2}a &= b & c &= d\end{alignedat}") == r"\begin{array}{rlrl}a &= b & c &= d\end{array}"
    assert _as_arrays(r"\begin{gathered}a \\ b\end{gathered}") == r"\begin{array}{c}a \\ b\end{array}"
    assert _as_arrays(r"\begin{aligned}a &= b") == r"\begin{aligned}a &= b"  # unclosed: left as written
    for tex in (r"\begin{aligned}a &= b \\ c &= d\end{aligned}", r"\begin{gathered}a \\ b\end{gathered}"):
        printed = mathml(tex, True)
        assert printed.count("<mtr>") == 2 and "&amp;" not in printed and "linebreak" not in printed


@pytest.mark.slow
def test_aligned_sets_its_left_sides_flush_against_the_relation_in_chromium(tmp_path: Path) -> None:
    # Chromium ignores MathML's columnalign; the print CSS aligns the cells itself. The page
    # measures where each row's left side ends and its `=` starts, and Chromium prints that.
    math_fonts()
    from deckgen.printsheet import PRINT_CSS

    formula = mathml(r"\begin{aligned} a &= b + c \\ d + e &= f \end{aligned}", True)
    script = (
        "const rows = [...document.querySelectorAll('mtr')].map(r => r.children);"
        "const ends = rows.map(([l, r]) => [l.lastElementChild.getBoundingClientRect().right, r.firstElementChild.getBoundingClientRect().left]);"
        "document.body.dataset.m = JSON.stringify(ends.map(e => e.map(Math.round)));"
    )
    page = tmp_path / "aligned.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><style>{PRINT_CSS % {'running': ''}}</style>{formula}<script>{script}</script>", encoding="utf-8")
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    ((left_end, relation), (left_end_2, relation_2)) = json.loads(unescape(re.search(r'data-m="([^"]*)"', dom)[1]))
    assert (left_end, relation) == (left_end_2, relation_2)
    assert 0 <= relation - left_end <= 8  # only the relation's own space: the cells' padding is gone
