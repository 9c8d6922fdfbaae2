"""LaTeX as MathML for the printable sheets, rebuilt from an allowlist of elements and attributes."""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape
from html.parser import HTMLParser

MATHML_NS = "http://www.w3.org/1998/Math/MathML"


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
