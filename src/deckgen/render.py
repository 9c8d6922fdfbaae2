"""Markdown from the banks, rendered once: HTML for Anki fields, Markdown for the sheets.

One MarkdownIt is configured here and nowhere else. Raw HTML is off, links must be
http(s), math follows pandoc's `$` rules, and code is highlighted with Pygments.
Whatever a bank writes ends up as text: nothing in it runs as HTML or script.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from deckgen.links import MEDIA_NAME_RE, is_safe_url
from deckgen.mathml import mathml

CODE_CLASS = "dg-code"
LIGHT_CODE_STYLE = "default"
DARK_CODE_STYLE = "monokai"
NIGHT_SELECTORS = (".nightMode", ".night_mode")


@lru_cache(maxsize=64)
def _lexer(lang: str) -> Lexer | None:
    try:
        return get_lexer_by_name(lang)
    except ClassNotFound:
        return None


_FORMATTER = HtmlFormatter(nowrap=True)


def highlight_code(code: str, lang: str, _attrs: Any = None) -> str:
    """Highlight a fenced code block with Pygments; unknown languages are only escaped."""
    return _highlight(code, lang.strip().lower())


@lru_cache(maxsize=1024)
def _highlight(code: str, lang: str) -> str:
    lexer = _lexer(lang) if lang else None
    body = escape(code, quote=False) if lexer is None else pygments_highlight(code, lexer, _FORMATTER)
    return f'<pre class="{CODE_CLASS}"><code>{body}</code></pre>\n'


def code_css() -> str:
    """Pygments CSS for code blocks, in light mode and in both of Anki's night-mode classes."""
    light: str = HtmlFormatter(style=LIGHT_CODE_STYLE).get_style_defs(f".{CODE_CLASS}")  # type: ignore[no-untyped-call]
    dark: str = HtmlFormatter(style=DARK_CODE_STYLE).get_style_defs(  # type: ignore[no-untyped-call]
        [f"{night} .{CODE_CLASS}" for night in NIGHT_SELECTORS]
    )
    # Pygments also emits rules for bare `pre` and line numbers; keep only the scoped ones.
    scoped = [line for line in f"{light}\n{dark}".splitlines() if f".{CODE_CLASS}" in line]
    return "\n".join(scoped) + "\n"


MATHML = "mathml"
"""The render env value that asks for math as MathML (printable sheets) instead of MathJax delimiters (Anki)."""


NO_BREAK_CLASS = "dg-nobr"
"""The class of a span that the print CSS keeps on one line: an inline formula with the punctuation
that touches it, so that no line starts with the `.` or `'s` after a formula."""
_CLOSING_PUNCTUATION = frozenset(".,;:!?)]}\u2026%'\u2019\"\u201d")
_OPENING_PUNCTUATION = frozenset("([{'\u2018\"\u201c")


def _touching(tokens: Sequence[Token], idx: int) -> tuple[str, str]:
    """The punctuation that touches the formula `tokens[idx]` on the left and on the right (no space
    between): the end of the text before it, the start of the text after it. One pass, no regex."""
    before = tokens[idx - 1].content if idx > 0 and tokens[idx - 1].type == "text" else ""
    after = tokens[idx + 1].content if idx + 1 < len(tokens) and tokens[idx + 1].type == "text" else ""
    start = len(before)
    while start > 0 and before[start - 1] in _OPENING_PUNCTUATION:
        start -= 1
    end = 0
    while end < len(after) and after[end] in _CLOSING_PUNCTUATION:
        end += 1
    return before[start:], after[:end]


def _print_text(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """Text, less the punctuation that `_math_inline` keeps with a formula beside it, on the sheets."""
    content = tokens[idx].content
    if env.get("math") == MATHML:
        if idx > 0 and tokens[idx - 1].type == "math_inline":
            content = content[len(_touching(tokens, idx - 1)[1]) :]
        if idx + 1 < len(tokens) and tokens[idx + 1].type == "math_inline":
            content = content[: len(content) - len(_touching(tokens, idx + 1)[0])]
    return escapeHtml(content)


def _math_inline(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    if env.get("math") == MATHML:
        formula = mathml(tokens[idx].content, display=False)
        before, after = _touching(tokens, idx)
        if not (before or after):
            return formula
        return f'<span class="{NO_BREAK_CLASS}">{escapeHtml(before)}{formula}{escapeHtml(after)}</span>'
    return _MATH_DELIMITERS["\\("] + escape(tokens[idx].content, quote=False) + _MATH_DELIMITERS["\\)"]


def _math_display(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    if env.get("math") == MATHML:
        return mathml(tokens[idx].content.strip(), display=True)
    content = escape(tokens[idx].content.strip(), quote=False)
    html = _MATH_DELIMITERS["\\["] + content + _MATH_DELIMITERS["\\]"]
    return f'<div class="dg-math">{html}</div>\n' if tokens[idx].block else html


def _with_bank_syntax(md: MarkdownIt) -> MarkdownIt:
    """The Markdown a bank may write, beyond CommonMark: tables, strikethrough and pandoc's `$` math.
    The renderer and the reader that checks a text share it, so that they parse alike."""
    md.enable(["table", "strikethrough"])
    md.use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    return md


@lru_cache(maxsize=1)
def markdown() -> MarkdownIt:
    """The one MarkdownIt that renders every bank text."""
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False, "breaks": False, "highlight": highlight_code},
    )
    _with_bank_syntax(md)
    md.validateLink = is_safe_url  # type: ignore[method-assign]
    default_image = md.renderer.rules["image"]  # type: ignore[attr-defined]

    def image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        # Only media that deckgen packed may be shown: a remote image would be fetched by
        # every learner's Anki on every review. Anything else stays text.
        if not MEDIA_NAME_RE.fullmatch(str(tokens[idx].attrGet("src") or "")):
            return escape(f"![{tokens[idx].content}]")
        return str(default_image(tokens, idx, options, env))

    def link_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return str(self.renderToken(tokens, idx, options, env)) if _safe_link(tokens[idx]) else ""

    def link_close(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        # Links do not nest: the link that this closes is the last one opened before it.
        opened = next(tokens[i] for i in range(idx - 1, -1, -1) if tokens[i].type == "link_open")
        return str(self.renderToken(tokens, idx, options, env)) if _safe_link(opened) else ""

    md.add_render_rule("image", image)
    md.add_render_rule("link_open", link_open)
    md.add_render_rule("link_close", link_close)
    md.add_render_rule("math_inline", _math_inline)
    md.add_render_rule("text", _print_text)
    md.add_render_rule("math_inline_double", _math_display)
    md.add_render_rule("math_block", _math_display)
    return md


def _safe_link(token: Token) -> bool:
    """Whether a link is to a URL a card may hold. The check reads a text as a block, where a
    blank line ends a paragraph; a text rendered as one line (a compare row's item, say) has no
    paragraphs, so `[x](` and `)` around a blank line make a link there, whose target markdown-it
    empties as invalid (`validateLink`): that link is its text alone."""
    return is_safe_url(str(token.attrGet("href") or ""))


@dataclass(frozen=True)
class MarkdownFacts:
    """What a Markdown text will put into every output, as a CommonMark reader parses it."""

    links: tuple[str, ...]
    """Every link target: inline, reference-style (used or not) and autolinks, as written."""
    images: tuple[str, ...]
    """Every image target, inline or reference-style, as written."""
    math: tuple[tuple[str, bool], ...]
    """Every math span's TeX, and whether it is display math."""
    stray_dollars: tuple[str, ...]
    """Each run of text that holds a `$` that opened no math (escaped `\\$` excluded)."""
    blocks: tuple[tuple[str, str, str], ...]
    """The block structure that folding a YAML scalar can destroy: (type, info, content) of code
    blocks, list items and table rows."""


_STRUCTURE_TOKENS = frozenset({"fence", "code_block", "list_item_open", "tr_open", "table_open"})


@lru_cache(maxsize=1)
def _reader() -> MarkdownIt:
    """The renderer's parser, accepting every link and keeping escapes apart, to see what a text holds."""
    md = _with_bank_syntax(MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": False}))
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    md.disable("text_join")
    return md


_Parse = tuple[tuple[Token, ...], tuple[dict[str, Any], ...]]
_PARSES_KEPT = 64
_parses: OrderedDict[str, _Parse] = OrderedDict()
"""`_reader()`'s parses of the texts read last, newest last: `_PARSES_KEPT` of them, or every
text of a topic while a build reads it (`reading_for_a_build`)."""
_keeping = 0
"""How many `reading_for_a_build` blocks are open."""


def _parsed(text: str) -> _Parse:
    """`_reader()`'s tokens for `text`, and its link reference definitions, for reading only.
    Validation reads each text twice in a row (its facts, then where the sheets put its math),
    and a text is parsed once for both. Newlines around a text change no token but its line
    numbers, so callers pass it stripped of them."""
    found = _parses.pop(text, None)
    if found is None:
        env: dict[str, Any] = {}
        tokens = _reader().parse(text, env)
        found = tuple(tokens), tuple(env.get("references", {}).values())
        if len(_parses) >= _PARSES_KEPT and not _keeping:
            _parses.popitem(last=False)
    _parses[text] = found
    return found


@contextmanager
def reading_for_a_build() -> Iterator[None]:
    """Keep the parse of every text read in the block, not only of the last few: a build reads a
    topic, then renders its questions at once from the same parses (see `_rendered_tokens`)."""
    global _keeping
    _keeping += 1
    try:
        yield
    finally:
        _keeping -= 1
        while not _keeping and len(_parses) > _PARSES_KEPT:
            _parses.popitem(last=False)


_NO_FACTS = MarkdownFacts((), (), (), (), ())
_FACT_MARKS = ("[", "<", "$")
"""Every link, image or reference starts at a `[` or `<`, and all math at a `$`."""


@lru_cache(maxsize=256)  # a cloze's text is read again, right after, for its deletions
def markdown_facts(text: str, structure: bool = False) -> MarkdownFacts:
    """Parse `text` once and list its links, images, math and (asked for with `structure`, or when
    the text is parsed anyway) its block structure. A text with no `[`, `<` or `$` has no links,
    images or math, and is not parsed for them: most texts of a bank."""
    if not structure and not any(mark in text for mark in _FACT_MARKS):
        return _NO_FACTS
    tokens, references = _parsed(text.strip("\n"))
    links: list[str] = [str(ref.get("href", "")) for ref in references]
    images: list[str] = []
    math: list[tuple[str, bool]] = []
    stray: list[str] = []
    blocks: list[tuple[str, str, str]] = []
    for token in tokens:
        if token.type in _STRUCTURE_TOKENS:
            blocks.append((token.type, token.info, token.content))
        elif token.type == "math_block":
            math.append((token.content, True))
        # The inline text as a reader sees it, with an escaped `\\$` as a NUL, so that a stray `$`
        # can be judged by all that follows it on the line, not just by its own text token.
        inline: list[str] = []
        dollar = False
        for child in token.children or ():
            if child.type == "link_open":
                links.append(str(child.attrGet("href") or ""))
            elif child.type == "image":
                images.append(str(child.attrGet("src") or ""))
            elif child.type in ("math_inline", "math_inline_double"):
                math.append((child.content, child.type == "math_inline_double"))
            if child.type == "text":
                dollar = dollar or "$" in child.content
                inline.append(child.content)
            elif child.type == "text_special":
                inline.append("\x00" if child.content == "$" else child.content)
            else:
                inline.append("\n" if child.type in ("softbreak", "hardbreak") else " ")
        if dollar:
            stray.append("".join(inline))
    return MarkdownFacts(tuple(links), tuple(images), tuple(math), tuple(stray), tuple(blocks))


@lru_cache(maxsize=1)
def _html_reader() -> MarkdownIt:
    """A CommonMark reader that, like most Markdown viewers, lets raw HTML through."""
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def markdown_has_html(text: str) -> bool:
    """True if a Markdown viewer that passes raw HTML through would find any in `text`."""
    for token in _html_reader().parse(text):
        if token.type == "html_block" or any(child.type == "html_inline" for child in token.children or ()):
            return True
    return False


# Anki's MathJax typesets whatever stands between `\(` and `\)` or `\[` and `\]` in a card,
# wherever it comes from. deckgen's own math delimiters are held as NUL-led stand-ins (no bank
# text can contain a NUL: the loader refuses control characters) while every other such pair
# is broken with a zero-width space, so only math that passed the TeX allowlist is typeset.
_MATH_DELIMITERS = {"\\(": "\x00\x01", "\\)": "\x00\x02", "\\[": "\x00\x03", "\\]": "\x00\x04"}
_ZERO_WIDTH_SPACE = "&#8203;"


def _inert_anki_markup(html: str) -> str:
    """Make a bank's text inert in Anki: no `[sound:…]`, `[latex]` or `[$]`, and no math but deckgen's own."""
    for delimiter in _MATH_DELIMITERS:
        if delimiter in html:
            html = html.replace(delimiter, delimiter[0] + _ZERO_WIDTH_SPACE + delimiter[1])
    html = html.replace("[", "&#91;")
    if "\x00" in html:
        for delimiter, stand_in in _MATH_DELIMITERS.items():
            html = html.replace(stand_in, delimiter)
    return html


@lru_cache(maxsize=1024)
def render_text(text: str) -> tuple[str, str]:
    """A text as HTML for an Anki field and as HTML for the printable sheets, from one parse.

    A build shows most texts twice, on a card and on the printable sheet, and renders both
    forms of a question's texts one after the other (see `deckgen.build`), so the memo keeps
    only the texts rendered last; the build empties it (`forget_rendered`) when it ends.
    """
    if not text.strip():
        return "", ""
    md = markdown()
    tokens = _rendered_tokens(text)
    return _card_html(md, tokens), str(md.renderer.render(tokens, md.options, {"math": MATHML})).strip()


_RECENT_TOKENS = 64
_recent_tokens: OrderedDict[str, tuple[Token, ...]] = OrderedDict()
"""`markdown()`'s tokens for the texts rendered last, newest last."""


def _rendered_tokens(text: str) -> tuple[Token, ...]:
    """`markdown()`'s tokens for `text`, kept for a while: a build renders a question's texts for
    its card and its printed pages, then writes its lines in the Markdown sheets, and one parse
    serves all three when it does them one after the other (as its workers do). A text that
    validation has just parsed is not parsed again (see `_as_rendered`)."""
    tokens = _recent_tokens.pop(text, None)
    if tokens is None:
        tokens = _parse_for_rendering(text)
        if len(_recent_tokens) >= _RECENT_TOKENS:
            _recent_tokens.popitem(last=False)
    _recent_tokens[text] = tokens
    return tokens


def _parse_for_rendering(text: str) -> tuple[Token, ...]:
    """`markdown()`'s tokens for `text`: made from the reader's, when validation has just parsed it
    and they are the same, else parsed."""
    written = text.rstrip("\n")
    read = _parses.get(written) if _alike_for_both(text) else None
    if read is not None and (written == text or not _runs_to_the_end(read[0], written)):
        return _as_rendered(read[0])
    return tuple(markdown().parse(text))


def _alike_for_both(text: str) -> bool:
    """Whether `_reader()` and `markdown()` parse `text` into the same tokens, but for how
    `markdown()` joins text (`_as_rendered`). They differ only in links, which the renderer
    refuses unless http(s), leaving their brackets as text, where the reader takes every link:
    a text with no `[` and no `<` holds no link. And the reader counts lines from the first
    one written, so a text that starts with a newline is left to the renderer."""
    return "[" not in text and "<" not in text and not text.startswith("\n")


_RUNS_ON = frozenset({"fence", "code_block"})
"""The blocks that newlines after them may join: a display formula (`math_block`) is always closed."""
_LEAVES = _RUNS_ON | {"math_block", "paragraph_open", "heading_open", "hr", "table_open"}
"""The blocks that hold no other block: the last of them is what a text ends in."""


def _runs_to_the_end(tokens: Sequence[Token], written: str) -> bool:
    """Whether newlines after `written` could change its tokens: the reader parses a text without
    them (`markdown_facts`). Only a code block that the text ends in, still open, takes them in:
    one that something follows, or a fence closed on its own last line, does not."""
    last = next((token for token in reversed(tokens) if token.type in _LEAVES), None)
    if last is None or last.type not in _RUNS_ON:
        return False
    if last.type != "fence" or last.map is None:
        return True
    first, end = last.map
    lines = written.split("\n")
    return not (first < end - 1 and end <= len(lines) and _closes(last.markup, lines[end - 1]))


def _closes(markup: str, line: str) -> bool:
    """Whether `line` is a closing fence for a fence opened with `markup` (as CommonMark reads one):
    up to three spaces, at least as many of its character, then only spaces or tabs."""
    body = line.lstrip(" ")
    run = len(body) - len(body.lstrip(markup[0]))
    return len(line) - len(body) <= 3 and run >= len(markup) and not body[run:].strip(" \t")


def _as_rendered(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """`_reader()`'s `tokens` as `markdown()` gives them: with its `text_join` rule, which the
    reader leaves out to tell an escaped `\\$` from a `$`. Each escaped or special character
    becomes text, joined with the text around it. The reader's tokens are left as they are (a
    token that changes is a new one), since validation may read them again."""
    result = list(tokens)
    for at, token in enumerate(result):
        children = token.children
        if token.type != "inline" or not children or not _joins(children):
            continue
        joined: list[Token] = []
        for child in children:
            if child.type in ("text", "text_special"):
                if joined and joined[-1].type == "text":
                    last = joined[-1]
                    joined[-1] = dataclasses.replace(last, content=last.content + child.content)
                    continue
                if child.type == "text_special":
                    child = dataclasses.replace(child, type="text")
            joined.append(child)
        result[at] = dataclasses.replace(token, children=joined)
    return tuple(result)


def _joins(children: Sequence[Token]) -> bool:
    """Whether `text_join` changes an inline token with these children."""
    previous = ""
    for child in children:
        if child.type == "text_special" or (child.type == "text" and previous == "text"):
            return True
        previous = child.type
    return False


def _structure_tokens(text: str) -> Sequence[Token]:
    """Tokens that show the code, display math and math spans of `text` as `_reader()` finds
    them, for the sheets: the renderer's, when it has just rendered the text and they are the
    reader's. They are, but for links: the renderer refuses a link that is not http(s), leaving
    its brackets as text, where the reader takes every link. So they are taken only for a text
    that can hold no link (no `[`, no `<`), and that starts with no newline (whose lines the
    reader counts from the first line written)."""
    if text in _recent_tokens and "[" not in text and "<" not in text and not text.startswith("\n"):
        return _rendered_tokens(text)
    return _parsed(text.strip("\n"))[0]


def _card_html(md: MarkdownIt, tokens: Sequence[Token]) -> str:
    return _inert_anki_markup(md.renderer.render(tokens, md.options, {})).strip()


@lru_cache(maxsize=4096)
def card_html_for_check(text: str) -> str:
    """`to_html` for a check, which runs outside a build: the card alone (no print form), in a
    memo of its own, which a build does not empty when it ends."""
    if not text.strip():
        return ""
    return _card_html(markdown(), _parse_for_rendering(text))


def forget_rendered() -> None:
    """Empty `render_text`'s memo: a build calls it when it ends."""
    render_text.cache_clear()
    _sheet_markdown.cache_clear()
    _recent_tokens.clear()
    _parses.clear()


def to_html(text: str) -> str:
    """Render Markdown to HTML for an Anki field; empty text gives an empty field."""
    return render_text(text)[0]


def to_inline_html(text: str) -> str:
    """Render one line of Markdown to HTML without a surrounding paragraph."""
    if not text.strip():
        return ""
    return _inert_anki_markup(markdown().renderInline(text)).strip()


def to_print_html(text: str) -> str:
    """Render Markdown to HTML for the printable sheets: math as MathML, no Anki-specific escaping."""
    return render_text(text)[1]


def print_only_html(text: str) -> str:
    """`to_print_html` for a text that no card shows (a cloze blanked for paper): rendered for print
    alone, and not kept, where `to_print_html` would render it for a card as well."""
    if not text.strip():
        return ""
    md = markdown()
    return str(md.renderer.render(_parse_for_rendering(text), md.options, {"math": MATHML})).strip()


def plain_html(text: str) -> str:
    """Escape plain text (titles, names) for an Anki field."""
    return _inert_anki_markup(escape(text))


# The review sheets stay Markdown, so that GitHub, VS Code and Typora render them. Viewers
# differ on raw HTML, so every `<` outside code becomes `&lt;`, and text reads the same in
# every viewer as it does in the cards.
#
# Math is written in GitHub's literal forms: $`…`$ inline, and a ```math fence for display
# math on lines of its own. GitHub renders `$…$` only after cmark-gfm has read the text inside
# as Markdown, so that backslash escapes (`\{`, `\_`, `\\`, `\,`), emphasis and entities are
# taken out of the TeX first (github/markup#1577); inside a code span or a fence cmark keeps
# every character, and GitHub's math renderer receives the bank's TeX.

_FENCE_RE = re.compile(r"^ {0,3}(`{3,}(?=[^`]*$)|~{3,})")
_AUTOLINK_RE = re.compile(r"<https?://[^\s<>]*>")


_BACKTICKS_RE = re.compile(r"`+")


def code_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every code span: a run of backticks up to the next run of the same length.

    Runs are indexed by length, so the scan is one pass however many runs never close.
    """
    runs = [(m.start(), m.end()) for m in _BACKTICKS_RE.finditer(text)]
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(runs):
        start, end = runs[index]
        same = by_length[end - start]
        after = bisect.bisect_right(same, index)
        if after < len(same):
            spans.append((start, runs[same[after]][1]))
            index = same[after] + 1
        else:
            index += 1
    return spans


def _longest_backticks(text: str) -> int:
    return max((m.end() - m.start() for m in _BACKTICKS_RE.finditer(text)), default=0)


def sheet_inline_math(tex: str) -> str:
    """Inline math for the Markdown sheets: $`tex`$, on one line. TeX with a backtick (which `check`
    refuses) gets a longer run of backticks around it, so that nothing in it can end the code span."""
    body = " ".join(line.strip() for line in tex.split("\n") if line.strip())
    ticks = "`" * (_longest_backticks(body) + 1)
    return f"${ticks}{body}{ticks}$" if len(ticks) == 1 else f"${ticks} {body} {ticks}$"


def sheet_display_math(tex: str, prefix: str = "") -> str:
    """Display math for the Markdown sheets: a ```math fence, each line after the first led by
    `prefix` (the indentation, `>` or list marker of the line it stands on, the marker as spaces)."""
    fence = "`" * max(3, _longest_backticks(tex) + 1)
    lines = [line.strip() for line in tex.strip().split("\n")]
    inside = "".join(char if char == ">" else " " for char in prefix)
    return f"\n{inside}".join([fence + "math", *lines, fence])


_BLOCK_PREFIX_RE = re.compile(r"[ \t>]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)?")
"""What may stand before display math that is to be a fence: indentation, blockquote marks, a list marker."""


@dataclass(frozen=True)
class _Math:
    """A math span as the parser reads it: its TeX, whether it is display math, and whether it is in a table."""

    tex: str
    display: bool
    in_table: bool


def _math_end(text: str, at: int, math: _Math) -> int:
    """Where `math`, if it starts at `at` in `text`, ends there; else -1. The parser gives a span's TeX
    without the indentation (or `>`) that starts each continuation line, and a table's `\\|` as `|`."""
    delimiter = "$$" if math.display else "$"
    tex = math.tex
    if text.startswith(delimiter + tex + delimiter, at):
        return at + 2 * len(delimiter) + len(tex)
    i, k = at + len(delimiter), 0
    while k < len(tex):
        if tex[k] == "\n":
            if not text.startswith("\n", i):
                return -1
            i, k = i + 1, k + 1
            while k < len(tex) and tex[k] in " \t":
                k += 1
            line = tex[k : tex.find("\n", k) if "\n" in tex[k:] else len(tex)]
            while i < len(text) and text[i] in " \t>" and not text.startswith(line, i):
                i += 1
        elif math.in_table and tex[k] == "|" and text.startswith("\\|", i):
            i, k = i + 2, k + 1
        elif text.startswith(tex[k], i):
            i, k = i + 1, k + 1
        else:
            return -1
    return i + len(delimiter) if text.startswith(delimiter, i) else -1


def _inline_math(math: _Math) -> str:
    return sheet_inline_math(math.tex.replace("|", "\\|") if math.in_table else math.tex)


def _place_math(text: str, at: int, math: _Math, blocks: bool) -> tuple[str, int] | None:
    """`math` in GitHub's form and where it ends, if it starts at `at` in `text`. Display math on a
    line of its own becomes a fence (if `blocks`); any other math, $`…`$."""
    end = _math_end(text, at, math)
    if end == -1:
        return None
    if math.display and blocks:
        line_start = text.rfind("\n", 0, at) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end
        prefix = text[line_start:at]
        if _BLOCK_PREFIX_RE.fullmatch(prefix) and not text[end:line_end].strip():
            return sheet_display_math(math.tex, prefix), line_end
    return _inline_math(math), end


_SHEET_SPECIAL_RE = re.compile(r"[\\`$<]")
"""The characters `_sheet_paragraph` looks at: an escape, a code span, math and raw HTML."""


def _sheet_paragraph(text: str, math: deque[_Math], blocks: bool) -> str:
    """Lines of sheet Markdown outside code blocks, with no blank line among them (so no code span
    crosses them): every `<` outside code made inert, and the next spans of `math` in GitHub's forms."""
    code = dict(code_spans(text))
    out: list[str] = []
    i, length = 0, len(text)
    while i < length:
        special = _SHEET_SPECIAL_RE.search(text, i)
        if special is None:
            out.append(text[i:])
            break
        if special.start() > i:  # plain text up to the next character that may start something
            out.append(text[i : special.start()])
            i = special.start()
        char = text[i]
        end = i + 1
        if char == "\\":
            end = min(i + 2, length)
        elif char == "`" and (i == 0 or text[i - 1] != "`"):
            end = code.get(i, end)
            while end < length and text[end] == "`" and i not in code:
                end += 1
        elif char == "$" and math and (placed := _place_math(text, i, math[0], blocks)) is not None:
            math.popleft()
            out.append(placed[0])
            i = placed[1]
            continue
        elif char == "<":
            autolink = _AUTOLINK_RE.match(text, i)
            out.append(autolink.group() if autolink else "&lt;")
            i = autolink.end() if autolink else end
            continue
        out.append(text[i:end])
        i = end
    return "".join(out)


@lru_cache(maxsize=1024)  # validation asks where a text's math goes; the sheets then write it
def _sheet_markdown(text: str, blocks: bool) -> tuple[str, int]:
    """`text` as sheet Markdown, and how many of its math spans could not be written in GitHub's forms.

    The parser says which lines are code (kept as they are) and display math blocks (fences), and
    which math stands in the rest, in order; a scan of those lines finds each span where it is written.
    """
    lines = text.strip("\n").split("\n")
    verbatim: set[int] = set()
    display: dict[int, tuple[int, _Math]] = {}
    inline: deque[_Math] = deque()
    in_table = False
    for token in _structure_tokens(text) if any(mark in text for mark in "`~$<") else ():
        in_table = token.type in ("th_open", "td_open") or (in_table and token.type == "inline")
        if token.type in ("fence", "code_block") and token.map:
            verbatim.update(range(*token.map))
        elif token.type == "math_block" and token.map:
            display[token.map[0]] = (token.map[1], _Math(token.content, True, False))
        for child in token.children or ():
            if child.type in ("math_inline", "math_inline_double"):
                inline.append(_Math(child.content, child.type == "math_inline_double", in_table))
    out: list[str] = []
    paragraph: list[str] = []
    number = 0
    while number <= len(lines):
        line = lines[number] if number < len(lines) else ""
        if paragraph and (number in verbatim or number in display or not line.strip()):
            out.append(_sheet_paragraph("\n".join(paragraph), inline, blocks))
            paragraph = []
        if number == len(lines):
            break
        if number in display:
            end, math = display.pop(number)
            prefix = line[: line.find("$$")]
            fence = blocks and _BLOCK_PREFIX_RE.fullmatch(prefix)
            out.append(prefix + (sheet_display_math(math.tex, prefix) if fence else _inline_math(math)))
            number = end
            continue
        if number in verbatim or not line.strip():
            out.append(line)
        else:
            paragraph.append(line)
        number += 1
    return "\n".join(out), len(inline) + len(display)


def _sheet_line(line: str) -> str:
    """One line of sheet Markdown with every `<` outside code made inert."""
    if "<" not in line:
        return line  # every change this makes is to a `<`
    return _sheet_paragraph(line, deque(), blocks=False)


def to_sheet_cell(text: str) -> str:
    """Sheet Markdown for one table cell: one line, math inline, `|` escaped (GitHub's tables unescape it
    in code too), and every `<` outside a code span made inert again, since a fence or code block of
    several lines is only text once joined into a cell."""
    return _sheet_line(_sheet_markdown(text, blocks=False)[0].replace("\n", " ")).replace("|", "\\|")


def to_sheet_markdown(text: str) -> str:
    """Markdown for the review sheets: as written, with raw HTML made inert and math in GitHub's literal forms."""
    return _sheet_markdown(text, blocks=True)[0]


def unplaced_sheet_math(text: str) -> int:
    """How many math spans of `text` the Markdown sheets could not write in GitHub's forms (found by a
    scan of the text, as written, that does not meet them where the parser does)."""
    return _sheet_markdown(text, blocks=True)[1]


_MATH_SPAN_RE = re.compile(r"\$\$.+?\$\$|\$(?=\S)(?:\\.|[^$\\])*?(?<=\S)\$(?!\d)", re.DOTALL)


def math_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every `$…$` and `$$…$$` span, by the same pandoc rules as the renderer."""
    return [(m.start(), m.end()) for m in _MATH_SPAN_RE.finditer(text.replace("\\$", "\x00\x00"))]
