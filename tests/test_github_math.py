"""The Markdown sheets' math as GitHub renders it: cmark-gfm reads the Markdown first, and GitHub's
math renderer gets the text of each `$<code>…</code>$` and `<pre lang="math">` that cmark-gfm leaves.

GitHub renders a bare `$…$` only after cmark-gfm has read the text inside as Markdown: backslash
escapes, emphasis and entities are taken out of the TeX first (github/markup#1577). The sheets
write math in the forms cmark-gfm keeps literal; these tests render the built sheets with the
cmark-gfm that GitHub uses and ask that every formula reaches the math renderer as the bank wrote it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from deckgen.cloze import cloze_answers, cloze_blank, cloze_reveal
from deckgen.load import load_bank
from deckgen.model import Bank, Question, QuestionType
from deckgen.outline import outline
from deckgen.render import markdown_facts, sheet_inline_math, to_sheet_cell, to_sheet_markdown
from deckgen.sheet import questions_sheet, review_sheet
from tests.conftest import FIXTURES, ROOT

_GITHUB_MATH_RE = re.compile(r'\$<code>(.*?)</code>\$|<pre lang="math"><code>(.*?)</code></pre>', re.DOTALL)
_CODE_RE = re.compile(r"<code>.*?</code>", re.DOTALL)


def github_html(markdown: str) -> str:
    """`markdown` as GitHub's cmark-gfm renders it, with its extensions and `<pre lang>` for fences."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_GITHUB_PRE_LANG)


def github_math(markdown: str) -> list[str]:
    """The TeX that GitHub's math renderer receives from `markdown`, in order."""
    found = _GITHUB_MATH_RE.finditer(github_html(markdown))
    return [_tex(html.unescape(m.group(1) if m.group(1) is not None else m.group(2))) for m in found]


def _tex(tex: str) -> str:
    """TeX with its whitespace runs as one space: a code span turns line breaks into spaces, and math
    mode ignores spaces, so this is the same formula."""
    return " ".join(tex.split())


def _math(text: str) -> list[str]:
    """The TeX of every math span in a bank text, as deckgen's parser (the cards', the print sheet's) reads it."""
    return [_tex(tex) for tex, _display in markdown_facts(text).math]


def _review_texts(question: Question) -> list[str]:
    """The bank texts the review sheet shows for a question, in the order it shows them."""
    texts = [cloze_reveal(question.question) if question.type is QuestionType.CLOZE else question.question]
    if question.type is QuestionType.COMPARE:
        texts += list(question.items)
        for row in question.live_rows:
            texts += [row.aspect, *row.values]
    elif question.type is QuestionType.BASIC:
        texts.append(question.answer)
    texts.append(question.extra)
    texts += list(question.row_extras)
    return texts


def _question_texts(question: Question) -> list[str]:
    """The bank texts the questions sheet shows for a question, before the answer key."""
    texts = [cloze_blank(question.question) if question.type is QuestionType.CLOZE else question.question]
    if question.type is QuestionType.COMPARE:
        texts += list(question.items) + [row.aspect for row in question.live_rows]
    return texts


def _key_texts(question: Question) -> list[str]:
    if question.type is QuestionType.BASIC:
        return [question.answer]
    if question.type is QuestionType.CLOZE:
        return [cloze_reveal(question.question)]  # the whole sentence, the deletions in bold
    texts = list(question.items)
    for row in question.live_rows:
        texts += [row.aspect, *row.values]
    return texts


def bank_math(bank: Bank, sheet: str) -> list[str]:
    """Every formula a sheet shows, in order, as the bank wrote it (clozes in the sheet's form)."""
    shape = outline(bank)
    numbered = [n.question for section in shape.sections for topic in section.topics for n in topic.questions]
    texts = [bank.deck.description]
    if sheet == "review":
        texts += [text for question in numbered for text in _review_texts(question)]
    else:
        texts += [text for question in numbered for text in _question_texts(question)]
        texts += [text for n in shape.answer_key for text in _key_texts(n.question)]
    return [tex for text in texts for tex in _math(text)]


BANKS = {"questions": ROOT / "questions", "mini": FIXTURES / "mini"}
SHEETS: dict[str, Callable[[Bank], str]] = {"review": review_sheet, "questions": questions_sheet}


@pytest.mark.parametrize("sheet", SHEETS)
@pytest.mark.parametrize("bank_name", BANKS)
def test_github_receives_every_formula_of_a_sheet_as_the_bank_wrote_it(bank_name: str, sheet: str) -> None:
    bank = load_bank(BANKS[bank_name])
    expected = bank_math(bank, sheet)
    assert expected, "the bank has math"
    assert github_math(SHEETS[sheet](bank)) == expected


@pytest.mark.parametrize("sheet", SHEETS)
def test_no_formula_of_the_real_sheets_reaches_github_as_a_bare_dollar_span(sheet: str) -> None:
    # A `$` outside code would be math that cmark-gfm reads as Markdown first. The bank writes no
    # dollar sign of its own, so the only ones GitHub finds are those around $`…`$.
    rendered = github_html(SHEETS[sheet](load_bank(BANKS["questions"])))
    inline = re.findall(r"\$<code>.*?</code>\$", rendered, re.DOTALL)
    assert len(inline) > 100
    assert _CODE_RE.sub("", rendered).count("$") == 2 * len(inline)


@pytest.mark.parametrize(
    ("text", "tex"),
    [
        # What cmark-gfm would take out of a bare `$…$`: escapes, emphasis, entities, links, HTML, breaks.
        ("the rate $warmup\\_steps^{-1.5}$ peaks", ["warmup\\_steps^{-1.5}"]),
        ("with $i \\in \\{1, \\dots, n\\}$ and", ["i \\in \\{1, \\dots, n\\}"]),
        ("$a *b* c$ and $x_{i}y_{j}$ and $a\\,b\\;c\\!d$", ["a *b* c", "x_{i}y_{j}", "a\\,b\\;c\\!d"]),
        ("$a \\\\ b$ and $x<y$ and $a &amp; b$ and $[a](b)$", ["a \\\\ b", "x<y", "a &amp; b", "[a](b)"]),
        ("$$\n\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}\n$$", ["\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}"]),
        ("The loss is\n$$L = \\{x\\}_*$$\nso", ["L = \\{x\\}_*"]),
        ("> quoted $\\{a\\}$\n> over two $x\n> y$ lines", ["\\{a\\}", "x y"]),
        ("- item $\\{a\\}$\n- item\n  $$\\{b\\}$$", ["\\{a\\}", "\\{b\\}"]),
        ("| a | b |\n|---|---|\n| $\\{a\\|b\\}$ | $\\|x\\|$ |", ["\\{a|b\\}", "|x|"]),
    ],
)
def test_github_receives_the_tex_of_every_form_of_math(text: str, tex: list[str]) -> None:
    assert _math(text) == [_tex(t) for t in tex]
    assert github_math(to_sheet_markdown(text)) == [_tex(t) for t in tex]


@pytest.mark.parametrize(
    ("text", "tex"),
    [
        ("$\\{a\\|b\\}$ and $$\\frac{1}{2}$$", ["\\{a\\|b\\}", "\\frac{1}{2}"]),
        ("$$\n\\{x\\} \\\\\ny\n$$", ["\\{x\\} \\\\ y"]),
    ],
)
def test_github_receives_the_tex_of_math_in_a_compare_cell(text: str, tex: list[str]) -> None:
    table = f"| a | b |\n|---|---|\n| {to_sheet_cell(text)} | x |\n"
    assert github_math(table) == tex


def test_display_math_is_a_fence_on_lines_of_its_own_and_inline_elsewhere() -> None:
    assert to_sheet_markdown("The loss is\n$$L = \\{x\\}$$\nso") == "The loss is\n```math\nL = \\{x\\}\n```\nso"
    assert to_sheet_markdown("> $$\n> a \\\\ b\n> $$") == "> ```math\n> a \\\\ b\n> ```"
    assert to_sheet_markdown("text $$\\{x\\}$$ more") == "text $`\\{x\\}`$ more"
    assert to_sheet_markdown("$a<b$ <b>") == "$`a<b`$ &lt;b>"
    # Code stays code: a `$` in a code span, fence or indented code block is no math.
    assert to_sheet_markdown("`$x$` and\n\n    $y$\n\n```\n$z$\n```") == "`$x$` and\n\n    $y$\n\n```\n$z$\n```"


def test_cloze_blanks_and_answers_inside_math_read_right_on_github() -> None:
    text = "The scale is $\\frac{QK^\\top}{ {{c1::\\sqrt{d_k}::a root}} }$, with {{c2::$\\{k\\}$}}."
    assert github_math(to_sheet_markdown(cloze_blank(text))) == ["\\frac{QK^\\top}{ \\boxed{\\text{a root}} }"]
    assert github_math(to_sheet_markdown(cloze_reveal(text))) == ["\\frac{QK^\\top}{ \\boxed{\\sqrt{d_k}} }", "\\{k\\}"]
    assert github_math(to_sheet_markdown(" · ".join(cloze_answers(text)))) == ["\\sqrt{d_k}", "\\{k\\}"]


@pytest.mark.parametrize("tex", ["a`b", "`", "a ``` b", "x`$"])
def test_a_backtick_in_math_cannot_end_the_code_span(tex: str) -> None:
    # `check` refuses such math; the sheets still write it so that nothing in it escapes the span.
    written = sheet_inline_math(tex)
    rendered = github_html(f"before {written} after <b>x</b>")
    assert rendered.count("<code>") == 1
    assert html.unescape(rendered.split("<code>")[1].split("</code>")[0]) == tex
