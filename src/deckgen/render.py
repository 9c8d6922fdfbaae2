"""Markdown from the banks, rendered once: HTML for Anki fields, Markdown for the sheets.

One MarkdownIt is configured here and nowhere else. Raw HTML is off, links must be
http(s), math follows pandoc's `$` rules, and code is highlighted with Pygments.
Whatever a bank writes ends up as text: nothing in it runs as HTML or script.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

CODE_CLASS = "dg-code"
LIGHT_CODE_STYLE = "default"
DARK_CODE_STYLE = "monokai"
NIGHT_SELECTORS = (".nightMode", ".night_mode")

CLOZE_RE = re.compile(r"\{\{c(\d+)::(.*?)(?:::(.*?))?\}\}", re.DOTALL)
"""A cloze deletion as Anki reads it: `{{cN::text}}` or `{{cN::text::hint}}`, ending at the first `}}`."""

_LINK_TARGET_RE = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?((?:[^()\s<>]|\([^()\s]*\))*)")
_IMAGE_RE = re.compile(r"(!\[[^\]]*\]\(\s*<?)([^)\s>]*)")
MEDIA_NAME_RE = re.compile(r"^(?:media/)?deckgen-[0-9a-f]{16}\.(?:png|jpe?g|gif|svg|webp)$")
"""An image deckgen packed itself, under its content-hash name."""
_SAFE_SCHEMES = ("http://", "https://")


_URL_UNSAFE_RE = re.compile(r"[\s<>\"'(){}\\]")


def is_plain_url(url: str) -> bool:
    """An http(s) URL that can stand in Markdown, HTML and card templates as it is."""
    return is_safe_url(url) and not _URL_UNSAFE_RE.search(url)


def is_safe_url(url: str) -> bool:
    """True for the only links a card may hold: absolute http(s) URLs with a host, or media deckgen packed."""
    if MEDIA_NAME_RE.match(url.strip()):
        return True
    if not url.strip().lower().startswith(_SAFE_SCHEMES):
        return False
    try:
        return bool(urlsplit(url.strip()).hostname)
    except ValueError:
        return False


def link_targets(text: str) -> list[str]:
    """The targets of the Markdown links `[text](target)` written in `text` (images excluded)."""
    return _LINK_TARGET_RE.findall(text)


def image_targets(text: str) -> list[str]:
    """The targets of the Markdown images `![alt](target)` written in `text`."""
    return [m.group(2) for m in _IMAGE_RE.finditer(text)]


def with_media(text: str, media: dict[str, str]) -> str:
    """Point each image at its packed name (`media` maps the target as written to the new one)."""
    return _IMAGE_RE.sub(lambda m: m.group(1) + media.get(m.group(2), m.group(2)), text)


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


_MATHML_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup munder mover munderover mfrac msqrt mroot "
    "mtable mtr mtd mstyle mpadded mphantom menclose merror mmultiscripts mprescripts none semantics".split()
)
_MATHML_ATTRIBUTES = frozenset(
    "xmlns display mathvariant mathcolor mathsize stretchy fence separator lspace rspace accent accentunder "
    "movablelimits largeop symmetric form minsize maxsize linethickness scriptlevel displaystyle notation "
    "columnalign rowalign columnspacing rowspacing columnlines rowlines frame width height depth voffset".split()
)


class _MathMLFilter(HTMLParser):
    """Rebuild MathML keeping only presentation elements and inert attributes, all text escaped.

    latex2mathml copies \\text{…} verbatim and passes \\href and \\style through, so its
    output is never trusted as it is.
    """

    def __init__(self) -> None:
        # Character references stay references: the MathML stays ASCII, which keeps the
        # sheets (and the memory they take while being built) small.
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []

    def handle_charref(self, name: str) -> None:
        if re.fullmatch(r"x[0-9a-fA-F]+|[0-9]+", name):
            self.out.append(f"&#{name};")

    def handle_entityref(self, name: str) -> None:
        if name.isalnum():
            self.out.append(f"&{name};")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _MATHML_ELEMENTS:
            kept = "".join(
                f' {name}="{escape(value or "")}"'
                for name, value in attrs
                if name in _MATHML_ATTRIBUTES and not re.search(r"[(:]", value or "") or (name == "xmlns" and value == MATHML_NS)
            )
            self.out.append(f"<{tag}{kept}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _MATHML_ELEMENTS:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))


MATHML_NS = "http://www.w3.org/1998/Math/MathML"


@lru_cache(maxsize=4096)
def mathml(latex: str, display: bool) -> str:
    """LaTeX as MathML, rendered at build time so that a printed page needs no JavaScript."""
    import latex2mathml.converter  # only builds print math: `deckgen check` starts without it

    try:
        raw = str(latex2mathml.converter.convert(latex, display="block" if display else "inline"))
    except Exception:  # latex2mathml raises many kinds; the source is then shown as code
        return f'<code class="math-source">{escape(latex)}</code>'
    cleaned = _MathMLFilter()
    cleaned.feed(raw)
    cleaned.close()
    return "".join(cleaned.out)


def _math_inline(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    if env.get("math") == MATHML:
        return mathml(tokens[idx].content, display=False)
    return "\\(" + escape(tokens[idx].content, quote=False) + "\\)"


def _math_display(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    if env.get("math") == MATHML:
        return mathml(tokens[idx].content.strip(), display=True)
    content = escape(tokens[idx].content.strip(), quote=False)
    html = _DISPLAY_OPEN + content + "\\]"
    return f'<div class="dg-math">{html}</div>\n' if tokens[idx].block else html


@lru_cache(maxsize=1)
def markdown() -> MarkdownIt:
    """The one MarkdownIt that renders every bank text."""
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False, "breaks": False, "highlight": highlight_code},
    )
    md.enable(["table", "strikethrough"])
    md.use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    md.validateLink = is_safe_url  # type: ignore[method-assign]
    default_image = md.renderer.rules["image"]  # type: ignore[attr-defined]

    def image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        # Only media that deckgen packed may be shown: a remote image would be fetched by
        # every learner's Anki on every review. Anything else stays text.
        if not MEDIA_NAME_RE.match(str(tokens[idx].attrGet("src") or "")):
            return escape(f"![{tokens[idx].content}]")
        return str(default_image(tokens, idx, options, env))

    md.add_render_rule("image", image)
    md.add_render_rule("math_inline", _math_inline)
    md.add_render_rule("math_inline_double", _math_display)
    md.add_render_rule("math_block", _math_display)
    return md


# `\[` opens display math and must reach Anki as written. While the rest of the HTML is
# made inert it is held as a NUL, which no bank text can contain (the loader refuses it).
_DISPLAY_OPEN = "\\\x00"


def _inert_anki_markup(html: str) -> str:
    """Stop Anki from reading `[sound:…]`, `[latex]` or `[$]` in a bank as its own markup."""
    return html.replace("[", "&#91;").replace(_DISPLAY_OPEN, "\\[")


# A build shows most texts twice, on a card and on the printable sheet. Within
# `parse_once()`, rendering a text for Anki also renders it for print from the same
# tokens and keeps that until the sheet asks for it, so each text is parsed once.
_print_ahead: dict[str, str] | None = None


@contextmanager
def parse_once() -> Iterator[None]:
    """Within this block, `to_html` also renders each text for print, for `to_print_html` to take."""
    global _print_ahead
    _print_ahead = {}
    try:
        yield
    finally:
        _print_ahead = None


@lru_cache(maxsize=4096)
def to_html(text: str) -> str:
    """Render Markdown to HTML for an Anki field; empty text gives an empty field."""
    if not text.strip():
        return ""
    md = markdown()
    tokens = md.parse(text)
    if _print_ahead is not None:
        _print_ahead[text] = str(md.renderer.render(tokens, md.options, {"math": MATHML})).strip()
    return _inert_anki_markup(md.renderer.render(tokens, md.options, {})).strip()


def to_inline_html(text: str) -> str:
    """Render one line of Markdown to HTML without a surrounding paragraph."""
    if not text.strip():
        return ""
    return _inert_anki_markup(markdown().renderInline(text)).strip()


@lru_cache(maxsize=4096)
def to_print_html(text: str) -> str:
    """Render Markdown to HTML for the printable sheets: math as MathML, no Anki-specific escaping."""
    if not text.strip():
        return ""
    if _print_ahead is not None and text in _print_ahead:
        return _print_ahead.pop(text)
    return str(markdown().render(text, {"math": MATHML})).strip()


def plain_html(text: str) -> str:
    """Escape plain text (titles, names) for an Anki field."""
    return _inert_anki_markup(escape(text))


# The review sheets stay Markdown, so that GitHub, VS Code and Typora render them. Viewers
# differ on raw HTML, so every `<` outside code becomes `&lt;` (or `\lt` inside math), and
# text reads the same in every viewer as it does in the cards.

_FENCE_RE = re.compile(r"^ {0,3}(`{3,}(?=[^`]*$)|~{3,})")
_AUTOLINK_RE = re.compile(r"<https?://[^\s<>]*>")


_SHEET_TOKEN_RE = re.compile(
    r"(?P<escaped>\\.)"
    r"|(?P<code>(?<!`)(?P<ticks>`+)(?!`).*?(?<!`)(?P=ticks)(?!`))"
    r"|(?P<math>\$\$.+?\$\$|\$[^$]+\$)"
    r"|(?P<autolink><https?://[^\s<>]*>)"
    r"|(?P<lt><)"
)


def _sheet_token(match: re.Match[str]) -> str:
    if match.lastgroup == "math":
        return match.group().replace("<", "\\lt ")
    if match.lastgroup == "lt":
        return "&lt;"
    return match.group()


def _sheet_line(line: str) -> str:
    if "<" not in line:
        return line  # every change the tokens make is to a `<`
    return _SHEET_TOKEN_RE.sub(_sheet_token, line)


def to_sheet_markdown(text: str) -> str:
    """Markdown for the review sheets: as written, with raw HTML made inert."""
    out: list[str] = []
    fence: str | None = None
    in_display_math = False
    for line in text.strip("\n").split("\n"):
        opener = _FENCE_RE.match(line)
        if fence is not None:
            out.append(line)
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence) and not line.strip()[len(opener.group(1)):].strip():
                fence = None
            continue
        if opener:
            fence = opener.group(1)
            out.append(line)
            continue
        if line.strip() == "$$":
            in_display_math = not in_display_math
            out.append(line)
            continue
        out.append(line.replace("<", "\\lt ") if in_display_math else _sheet_line(line))
    return "\n".join(out)


_MATH_SPAN_RE = re.compile(r"\$\$.+?\$\$|\$(?=\S)(?:\\.|[^$\\])*?(?<=\S)\$(?!\d)", re.DOTALL)


def math_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every `$…$` and `$$…$$` span, by the same pandoc rules as the renderer."""
    return [(m.start(), m.end()) for m in _MATH_SPAN_RE.finditer(text.replace("\\$", "\x00\x00"))]


def _in_math(text: str, index: int) -> bool:
    """True if `index` of `text` lies inside `$…$` or `$$…$$` math."""
    return any(start < index < end for start, end in math_spans(text))


def cloze_answers(text: str) -> list[str]:
    """The deleted texts of a cloze, in order; a deletion inside math keeps its `$` around it."""
    return [
        f"${m.group(2).strip()}$" if _in_math(text, m.start()) else m.group(2) for m in CLOZE_RE.finditer(text)
    ]


def cloze_reveal(text: str, math_mark: str = "\\boxed{%s}") -> str:
    """A cloze with every deletion shown, in bold (inside math, marked with `math_mark`), for the sheets."""

    def reveal(m: re.Match[str]) -> str:
        if _in_math(text, m.start()):
            return math_mark % m.group(2)
        return f"**{m.group(2)}**"

    return CLOZE_RE.sub(reveal, text)


def cloze_blank(text: str, math_blank: str = "\\boxed{\\text{%s}}") -> str:
    """A cloze with every deletion blanked (showing its hint, if any), for self-testing."""

    def blank(m: re.Match[str]) -> str:
        hint = m.group(3)
        if _in_math(text, m.start()):
            return math_blank % (hint or "?")
        return f"[{hint}]" if hint else "[…]"

    return CLOZE_RE.sub(blank, text)
