"""Markdown, math and code rendering for Anki fields and for the sheets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deckgen.render import (
    MATHML,
    MarkdownFacts,
    code_css,
    highlight_code,
    markdown,
    markdown_facts,
    forget_rendered,
    print_only_html,
    render_text,
    to_html,
    to_inline_html,
    to_print_html,
    to_sheet_markdown,
)


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("inline $x^2$ math", r"<p>inline \(x^2\) math</p>"),
        ("$$\\sum_i x_i$$", '<div class="dg-math">\\[\\sum_i x_i\\]</div>'),
        ("text $$a+b$$ inline display", r"<p>text \[a+b\] inline display</p>"),
        ("costs $5 and $10", "<p>costs $5 and $10</p>"),
        ("a $ b $ c", "<p>a $ b $ c</p>"),
        (r"a literal \$x\$", "<p>a literal $x$</p>"),
        ("$a<b$", r"<p>\(a&lt;b\)</p>"),
        ("**bold** and *em*", "<p><strong>bold</strong> and <em>em</em></p>"),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>"),
        ("", ""),
    ],
)
def test_markdown_and_math(markdown: str, html: str) -> None:
    assert to_html(markdown) == html


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ('<a href="x" onclick="y">z</a>', "<p>&lt;a href=&quot;x&quot; onclick=&quot;y&quot;&gt;z&lt;/a&gt;</p>"),
        ("<iframe src=x></iframe><style>p{}</style>", "<p>&lt;iframe src=x&gt;&lt;/iframe&gt;&lt;style&gt;p{}&lt;/style&gt;</p>"),
        ("[x](javascript:alert(1))", "<p>&#91;x](javascript:alert(1))</p>"),
        ("[x](data:text/html,hi)", "<p>&#91;x](data:text/html,hi)</p>"),
        ("![x](https://example.org/x.png)", "<p>!&#91;x]</p>"),
        ("![x](deckgen-0123456789abcdef.png)", '<p><img src="deckgen-0123456789abcdef.png" alt="x" /></p>'),
        ("<https://example.org>", '<p><a href="https://example.org">https://example.org</a></p>'),
        ("[sound:boom.mp3] [latex]x[/latex] [anki:tts]y[/anki:tts]", "<p>&#91;sound:boom.mp3] &#91;latex]x&#91;/latex] &#91;anki:tts]y&#91;/anki:tts]</p>"),
        ("`[sound:a.mp3]`", "<p><code>&#91;sound:a.mp3]</code></p>"),
    ],
)
def test_bank_text_never_becomes_live_html_or_anki_markup(markdown: str, html: str) -> None:
    assert to_html(markdown) == html


def test_display_math_keeps_its_delimiter_while_brackets_inside_are_inert() -> None:
    assert to_html("$$\\left[x\\right]$$") == '<div class="dg-math">\\[\\left&#91;x\\right]\\]</div>'


def test_cloze_inside_math_survives_rendering() -> None:
    text = r"$\frac{a}{ {{c1::\sqrt{d} }} }$ and {{c2::term::hint}}"
    assert to_html(text) == r"<p>\(\frac{a}{ {{c1::\sqrt{d} }} }\) and {{c2::term::hint}}</p>"


def test_inline_html_has_no_paragraph() -> None:
    assert to_inline_html("XLNet vs *BERT*") == "XLNet vs <em>BERT</em>"


def test_code_is_highlighted_with_scoped_night_styles() -> None:
    html = highlight_code("x = 1\n", "python")
    assert html == (
        '<pre class="dg-code"><code><span class="n">x</span> <span class="o">=</span> '
        '<span class="mi">1</span>\n</code></pre>\n'
    )
    assert highlight_code("<b>\n", "no-such-language") == '<pre class="dg-code"><code>&lt;b&gt;\n</code></pre>\n'
    css = code_css()
    assert ".nightMode .dg-code .k, .night_mode .dg-code .k {" in css
    assert all(".dg-code" in line for line in css.splitlines())


@pytest.mark.parametrize(
    ("markdown", "sheet"),
    [
        ("plain text", "plain text"),
        ("<script>x</script>", "&lt;script>x&lt;/script>"),
        ("`<b>` stays code", "`<b>` stays code"),
        ("``a ` <b>``", "``a ` <b>``"),
        ("$a<b$ math", "$`a<b`$ math"),
        ("see <https://example.org>", "see <https://example.org>"),
        ("```html\n<b>x</b>\n```\n<i>", "```html\n<b>x</b>\n```\n&lt;i>"),
        ("$$\na<b\n$$", "```math\na<b\n```"),
        (r"\<b> escaped", r"\<b> escaped"),
    ],
)
def test_sheet_markdown_makes_html_inert(markdown: str, sheet: str) -> None:
    assert to_sheet_markdown(markdown) == sheet


def test_a_text_is_parsed_once_for_the_card_and_the_printed_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Scores: $q^\\top k$ over a table\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```"
    expected_card, expected_print = to_html(text), to_print_html(text)
    forget_rendered()
    md = markdown()
    parses: list[str] = []
    real_parse = md.parse
    monkeypatch.setattr(md, "parse", lambda src, env=None: parses.append(src) or real_parse(src, env))
    assert to_html(text) == expected_card
    assert to_print_html(text) == expected_print
    assert render_text(text) == (expected_card, expected_print)
    # The Markdown sheets read the same parse for where the text's code and math are.
    from deckgen.render import _reader

    reader = _reader()
    monkeypatch.setattr(reader, "parse", lambda src, env=None: parses.append("reader") or [])
    assert to_sheet_markdown(text) == "Scores: $`q^\\top k`$ over a table\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```"
    assert parses == [text]
    monkeypatch.undo()
    monkeypatch.setattr(md, "parse", lambda src, env=None: parses.append(src) or real_parse(src, env))
    # A build empties the memo when it ends: printing then parses again.
    forget_rendered()
    assert to_print_html(text) == expected_print
    assert parses == [text, text]
    # The print half is what the text renders to with MathML when parsed on its own.
    assert expected_print == str(markdown().render(text, {"math": MATHML})).strip()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("ab *_`!()#|-~:/\\\n&;{}0123456789.") + ["http", "javascript", "\n\n", "```", "    "])).map("".join))
def test_a_text_without_brackets_angles_or_dollars_has_no_facts(text: str) -> None:
    # The shortcut that skips parsing such a text gives what a full parse finds.
    full = markdown_facts(text, structure=True)
    assert markdown_facts(text) == MarkdownFacts((), (), (), (), ())
    assert (full.links, full.images, full.math, full.stray_dollars) == ((), (), (), ())


_SHEET_PIECES = list("ab *_`!()#|-~:/\\\n&;{}0123456789.$^") + [
    "http", "\n\n", "```", "```math", "~~~", "    ", "$$", "$x$", "$$y$$", "\n$$\nz\n$$\n", "| a | $b$ |\n|---|---|\n| $c$ | d |\n", "\\$",
]


def _sheets_from_the_reader(monkeypatch: pytest.MonkeyPatch, text: str) -> tuple[str, str]:
    """The sheets' forms of `text` as they were made before the renderer's tokens were shared:
    from the reader's own parse."""
    from deckgen import render

    with monkeypatch.context() as patched:
        patched.setattr(render, "_structure_tokens", lambda written: render._parsed(written.strip("\n"))[0])
        render._sheet_markdown.cache_clear()  # made afresh from the reader's tokens, not remembered
        try:
            return to_sheet_markdown(text), render.to_sheet_cell(text)
        finally:
            render._sheet_markdown.cache_clear()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_SHEET_PIECES), max_size=30).map("".join))
def test_the_sheets_read_the_renderers_tokens_as_they_read_the_readers(text: str) -> None:
    # A text with no link (no `[`, no `<`) parses alike for the renderer and the reader, so the
    # sheets may take the tokens the card's rendering made; trailing newlines change nothing.
    from deckgen.render import to_sheet_cell

    with pytest.MonkeyPatch.context() as monkeypatch:
        for written in (text, text + "\n", text + "\n\n"):
            forget_rendered()
            render_text(written)  # as a build does: the card first, then the sheets
            assert (to_sheet_markdown(written), to_sheet_cell(written)) == _sheets_from_the_reader(monkeypatch, written), repr(written)
    forget_rendered()


def test_every_shipped_text_reads_alike_for_the_sheets(monkeypatch: pytest.MonkeyPatch) -> None:
    from deckgen.editions import editions
    from deckgen.load import load_bank
    from deckgen.render import to_sheet_cell
    from tests.conftest import ROOT, markdown_texts

    bank = load_bank(ROOT / "questions")
    found, _ = editions(bank)
    texts = {text for made in found for question in made.bank.questions for text in markdown_texts(question)}
    assert len(texts) > 1000
    for text in sorted(texts):
        forget_rendered()
        render_text(text)
        assert (to_sheet_markdown(text), to_sheet_cell(text)) == _sheets_from_the_reader(monkeypatch, text), text
    forget_rendered()


@pytest.mark.parametrize(("text", "sheet"), [("[x](javascript:$a) b$", "[x](javascript:$a) b$"), ("<javascript:$a> b$", "&lt;javascript:$a> b$")])
def test_a_text_that_may_hold_a_link_is_read_by_the_reader_for_the_sheets(monkeypatch: pytest.MonkeyPatch, text: str, sheet: str) -> None:
    # The renderer refuses the link and finds math in its target; the reader, which validation
    # uses, takes the link and finds none. The sheets must write what validation checked.
    from deckgen.render import _parsed, _rendered_tokens

    def math(tokens: object) -> list[str]:
        return [child.content for token in tokens for child in token.children or () if child.type == "math_inline"]  # type: ignore[attr-defined]

    assert (math(_rendered_tokens(text)), math(_parsed(text)[0])) == ([text[text.index("$") + 1 : -1]], [])
    forget_rendered()
    render_text(text)
    assert to_sheet_markdown(text) == _sheets_from_the_reader(monkeypatch, text)[0] == sheet
    forget_rendered()


_RENDER_PIECES = [
    *_SHEET_PIECES, "&amp;", "&#36;", "\\*", "**", "1. ", "- ", "> ", "\t", "\n```\n", "\n  ```", "\n~~~~\n", "\n    x", "\n> ```", "\n- ```\n",
    "\u3000", "\u00a0", "\n````\n", " \n", "\r\n", "[a]", "<b>", "  \n",
]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_RENDER_PIECES), max_size=30).map("".join), st.integers(0, 2))
def test_a_text_that_validation_parsed_renders_from_its_parse_as_from_its_own(text: str, newlines: int) -> None:
    # A build renders a topic right after checking it, from the reader's parse of each text
    # (which has no trailing newlines): the tokens, and so the card and the print forms, are the
    # renderer's own for the text as written.
    from deckgen.render import _parsed, _rendered_tokens

    def shape(tokens: object) -> list[object]:
        return [(t.type, t.tag, t.nesting, t.attrs, t.content, t.markup, t.info, t.block, t.hidden, t.level, shape(t.children or ())) for t in tokens]  # type: ignore[attr-defined]

    written = text + "\n" * newlines
    forget_rendered()
    expected = render_text(written), print_only_html(written)  # each parsed by the renderer itself
    own = markdown().parse(written)
    forget_rendered()
    _parsed(written.strip("\n"))  # what validation leaves behind
    assert shape(_rendered_tokens(written)) == shape(own)
    forget_rendered()
    _parsed(written.strip("\n"))
    assert (render_text(written), print_only_html(written)) == expected
    # The sheets read the code and math of the tokens kept for the card: they are written alike.
    sheets = to_sheet_markdown(written)
    forget_rendered()
    assert to_sheet_markdown(written) == sheets
    forget_rendered()


def test_the_renderer_parses_again_a_text_the_reader_parses_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    # Validation's parse serves the card only where both parsers read the text alike.
    from deckgen.render import _parsed

    md = markdown()
    parses: list[str] = []
    real_parse = md.parse
    monkeypatch.setattr(md, "parse", lambda src, env=None: parses.append(src) or real_parse(src, env))
    texts = [
        "a $x$ b",  # taken from the reader
        "a $x$ b\n\n```python\nx = 1\n```\n",  # a fence closed on its last line: taken
        "a $x$ b\n\n$$\ny\n$$\n",  # a display formula, always closed: taken
        "[link](https://example.org) $x$",  # a link: parsed again
        "<https://example.org> $x$",  # an autolink
        "a $x$\n\n```\nopen\n",  # newlines that an open fence takes in
        "a $x$\n\n    code\n",  # an indented code block at the end
        "a $x$\n\n> ```\n> quoted\n> ```\n",  # a fence in a quote, closed, but parsed again to be safe
    ]
    for text in texts:
        forget_rendered()
        _parsed(text.strip("\n"))
        render_text(text)
    assert parses == texts[3:]
    forget_rendered()


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("[x](\n\n)", "x"),  # a link in one line, which a block's blank line would have cut
        ("[x]()", "x"),
        ("[a](https://example.org/a) and [b](\n)", '<a href="https://example.org/a">a</a> and b'),
        ("[a](javascript:alert(1))", "&#91;a](javascript:alert(1))"),  # no link at all, as markdown-it reads it
    ],
)
def test_a_link_to_no_url_a_card_may_hold_is_its_text_alone(text: str, html: str) -> None:
    assert to_inline_html(text) == html
