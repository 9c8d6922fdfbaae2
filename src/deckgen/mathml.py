"""LaTeX as MathML for the printable sheets, rebuilt from an allowlist of elements and attributes.

latex2mathml's MathML is parsed into a small tree that keeps only allowlisted elements and
attributes, then spaced as TeX spaces it, for a browser that implements MathML Core (Chromium):

- a function name (`\\log`, `\\cos`, `\\max`, `\\operatorname{…}`) is an upright `<mi>` followed by
  `<mo>&#x2061;</mo>` (function application), with the thin space TeX puts between an operator
  name and an ordinary symbol on either side (none before a parenthesis);
- a minus or plus that starts a row, or follows an operator or an opening fence, is a prefix
  operator without space (`-b`, `= -1`, `(-x)`), while `a - b` keeps its binary spaces;
- `/` is an ordinary symbol, unspaced (`a/b`); `\\infty`, `\\top` and their kind are ordinary symbols,
  not operators (`-\\infty`);
- a prime is an `<mo>` in the superscript, which the math font sets at the prime's own size;
- MathML 3's named spaces (`\\!`), which MathML Core does not know, become lengths;
- `\\boxed` (MathML's `menclose`, which MathML Core leaves to CSS) is drawn by the sheet's CSS.

The tree is written back with every text escaped and every character outside ASCII as a
character reference, so that bank text never becomes markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
_EMPTY_ELEMENTS = frozenset({"mspace", "none", "mprescripts"})

THIN_SPACE = "0.1667em"
"""TeX's `\\,`: what stands between an operator name and an ordinary symbol."""
FUNCTION_APPLICATION = "\u2061"

_ROWS = frozenset("math mrow mstyle mtd msqrt mpadded mphantom menclose merror".split())
"""Elements whose children are a row (inferred or explicit), where spacing between neighbours applies."""
_SCRIPTED = frozenset("msub msup msubsup munder mover munderover".split())
"""Elements whose first child is the base: they are the kind of their base (`\\max_i` is an operator name)."""
_OPENING = frozenset("([{\u27e8\u230a\u2308")
_CLOSING = frozenset(")]}\u27e9\u230b\u2309")
_BARS = frozenset("|\u2016\u2223\u2225")
"""`|` and `‖` (`\\lvert`, `\\rVert`, …): latex2mathml writes opening and closing bars alike; a bar
after an ordinary symbol closes, any other opens."""
_ELLIPSES = frozenset("\u2026")
_SIGNS = frozenset("\u2212+\u00b1\u2213-")
_ORDINARY_SYMBOLS = frozenset("\u221e\u2207\u2205\u22a4\u22a5\u2200\u2203\u2204\u00ac\u2220\u25b3\u210f\u2113\u2118\u2135")
"""Symbols latex2mathml writes as operators that TeX sets as ordinary symbols: ∞ ∇ ∅ ⊤ ⊥ ∀ ∃ ∄ ¬ ∠ △ ℏ ℓ ℘ ℵ."""
_PRIMES = frozenset("\u2032\u2033\u2034\u2057")
_NAMED_SPACES = {
    "veryverythinmathspace": "0.0556em",
    "verythinmathspace": "0.1111em",
    "thinmathspace": "0.1667em",
    "mediummathspace": "0.2222em",
    "thickmathspace": "0.2778em",
    "verythickmathspace": "0.3333em",
    "veryverythickmathspace": "0.3889em",
}
_NAMED_SPACES.update({f"negative{name}": f"-{length}" for name, length in list(_NAMED_SPACES.items())})


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[_Element | str] = field(default_factory=list)

    def text(self) -> str:
        """The element's text, if it holds nothing but text."""
        return "".join(child for child in self.children if isinstance(child, str)) if all(isinstance(c, str) for c in self.children) else ""


class _MathMLFilter(HTMLParser):
    """Rebuild MathML as a tree keeping only presentation elements and inert attributes.

    latex2mathml copies \\text{…} verbatim and passes \\href and \\style through, so its
    output is never trusted as it is.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root")
        self.open: list[_Element] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _MATHML_ELEMENTS:
            return
        kept = {
            name: value or ""
            for name, value in attrs
            if name in _MATHML_ATTRIBUTES and not re.search(r"[(:]", value or "") or (name == "xmlns" and value == MATHML_NS)
        }
        element = _Element(tag, kept)
        self.open[-1].children.append(element)
        if tag not in _EMPTY_ELEMENTS:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in _MATHML_ELEMENTS and tag not in _EMPTY_ELEMENTS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _MATHML_ELEMENTS or tag in _EMPTY_ELEMENTS:
            return
        for depth in range(len(self.open) - 1, 0, -1):  # close up to the matching element, if open
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


def _is_name(text: str) -> bool:
    """An operator name: two or more letters (`arg max` has a thin space inside)."""
    letters = "".join(text.split())
    return len(letters) >= 2 and letters.isalpha()


def _core(node: _Element | str) -> _Element | None:
    """The element that gives `node` its kind: the base of a scripted element, itself otherwise."""
    while isinstance(node, _Element) and node.tag in _SCRIPTED and node.children:
        node = node.children[0]
    return node if isinstance(node, _Element) else None


def _kind(node: _Element | str) -> str:
    """TeX's class of a row's child: "name" (operator name), "open", "close", "op" (any other
    operator: binary, relation, punctuation, large operator), "space", or "ord"."""
    core = _core(node)
    if core is None:
        return "ord"
    if core.tag == "mspace":
        return "space"
    text = core.text()
    if core.tag in ("mi", "mo") and _is_name(text) and core.attrs.get("mathvariant") != "normal":
        return "name"
    if core.tag != "mo" or core.attrs.get("form") == "prefix" and text in _SIGNS:
        return "ord"
    if text in _OPENING:
        return "open"
    if text in _CLOSING:
        return "close"
    return "bar" if text in _BARS else "op"


def _merge_roman_words(children: list[_Element | str]) -> list[_Element | str]:
    """`\\mathrm{softmax}` comes as one `<mi mathvariant="normal">` a letter: one `<mi>` for the word
    (searchable, copied whole), as `\\text` would give."""
    letters = [c for c in children if isinstance(c, _Element) and c.tag == "mi" and c.attrs == {"mathvariant": "normal"}]
    if len(children) < 2 or len(letters) != len(children) or not all(len(c.text()) == 1 for c in letters):
        return children
    return [_Element("mi", {"mathvariant": "normal"}, ["".join(c.text() for c in letters)])]


def _space(node: _Element, in_script: bool = False) -> None:
    """Respace `node` and everything in it, in place (see the module's docstring). `in_script`: `node`
    is in a sub- or superscript, where TeX sets binary operators, relations and punctuation unspaced."""
    for index, child in enumerate(node.children):
        if isinstance(child, _Element):
            _space(child, in_script or (node.tag in _SCRIPTED and index > 0) or (node.tag == "mroot" and index == 1))
    if node.tag == "mi" and node.text()[:1] == "\\" and _is_name(node.text()[1:]):
        node.children = [node.text()[1:]]  # latex2mathml writes \arg as `\arg`
    if node.tag == "mo" and node.text() in _ORDINARY_SYMBOLS:
        node.tag, node.attrs = "mi", {"mathvariant": "normal", **{k: v for k, v in node.attrs.items() if k == "mathcolor"}}
    if node.tag == "mspace" and node.attrs.get("width") in _NAMED_SPACES:
        node.attrs["width"] = _NAMED_SPACES[node.attrs["width"]]
    if node.tag in _ROWS or node.tag == "mrow":
        _space_row(node, in_script)
    if node.tag in ("msup", "msubsup") and len(node.children) == (2 if node.tag == "msup" else 3):
        _set_primes(node)
    if node.tag == "msqrt":
        node.children.insert(0, _strut())
    elif node.tag == "mroot" and node.children:
        node.children[0] = _Element("mrow", {}, [_strut(), node.children[0]])


def _strut() -> _Element:
    """A radical's strut, of no width: TeX draws `√` at least a parenthesis tall and splits what
    its content leaves over between the gap above the content and the sign's depth, so
    `√(s_ii s_jj)` has its bar well clear of the `s`. A browser fits the sign to the content, which
    brings the bar down onto short letters; the strut gives the content a parenthesis's height."""
    return _Element("mspace", {"width": "0", "height": "0.75em", "depth": "0.25em"})


def _set_primes(node: _Element) -> None:
    """`B'` comes as `B` with a superscript prime; but a math font's prime is already a raised,
    superscript-sized glyph, which a superscript would shrink to a speck. So `B'` is `B` then `′`,
    and `Q'_i` keeps its prime above the subscript, at the size of the prime in `B'`."""
    script = node.children[-1]
    if isinstance(script, _Element) and script.tag == "mrow" and len(script.children) == 1:
        script = script.children[0]  # x^{\prime}
    if not (isinstance(script, _Element) and script.tag in ("mi", "mo") and script.text() and set(script.text()) <= _PRIMES):
        return
    prime = _Element("mo", {"lspace": "0", "rspace": "0"}, [script.text()])
    if node.tag == "msup":
        node.tag, node.attrs, node.children = "mrow", {}, [node.children[0], prime]
    else:
        prime.attrs["mathsize"] = "142%"  # undoes the superscript's 71%
        node.children[-1] = _Element("mpadded", {"voffset": "-0.35em", "height": "0.3em"}, [prime])


def _leading_kind(node: _Element | str) -> str:
    """The kind of what `node` starts with, for what precedes it: `\\left(` starts with a parenthesis."""
    while isinstance(node, _Element) and node.tag == "mrow" and node.children:
        node = node.children[0]
    return _kind(node)


def _space_row(row: _Element, in_script: bool) -> None:
    row.children = _merge_roman_words(row.children) if row.tag == "mrow" else row.children
    kinds: list[str] = []
    out: list[_Element | str] = []
    children = row.children
    for index, child in enumerate(children):
        if not isinstance(child, _Element):
            out.append(child)
            continue
        previous = next((k for k in reversed(kinds) if k != "space"), "start")
        core = _core(child)
        if core is child and child.tag == "mi" and child.text() == ";":  # latex2mathml's `;` after a letter
            child.tag = "mo"
        if core is not None and core.tag == "mo":
            text = core.text()
            if text == "/" and core is child:
                core.attrs.update(lspace="0", rspace="0")
            elif text in _SIGNS and core is child and previous in ("start", "open", "op", "name"):
                core.attrs.update(form="prefix", lspace="0", rspace="0")
            elif text == ";" and core is child:  # TeX's punctuation: a thin space after, none before
                core.attrs.update(lspace="0", rspace=THIN_SPACE)
            elif text in _ELLIPSES and core is child:  # \dots between commas: an ordinary symbol
                core.tag = "mi"
            elif (text in _OPENING or text in _CLOSING or text in _BARS) and core is child:
                size = core.attrs.get("minsize", "")
                if size == core.attrs.get("maxsize") and re.fullmatch(r"[0-9]{1,2}(\.[0-9]{1,4})?em", size):
                    # \big(: Chromium spaces a stretched parenthesis apart from what it encloses;
                    # a parenthesis set larger, unstretched, is as tall and sits close.
                    del core.attrs["minsize"], core.attrs["maxsize"]
                    core.attrs.update(stretchy="false", mathsize=f"{round(float(size[:-2]) * 100)}%")
                if text in _BARS:
                    core.attrs.setdefault("stretchy", "false")  # \lVert is not \left\lVert
        kind = _kind(child)
        if in_script and kind == "op" and core is child and "lspace" not in child.attrs and "rspace" not in child.attrs:
            child.attrs.update(lspace="0", rspace="0")
        if kind == "bar":
            kind = "close" if previous in ("ord", "close") else "open"
        if kind == "name":
            if core is child and child.tag == "mo":  # \operatorname{softmax}: a name, as \log is
                child.tag, child.attrs = "mi", {k: v for k, v in child.attrs.items() if k == "mathcolor"}
            elif core is not None and core.tag == "mo":  # \max_i: keeps its movable limits
                core.attrs.update(lspace="0", rspace="0")  # its spaces are the ones set here
            if previous in ("ord", "close"):  # after a name, its function application spaces
                out.append(_Element("mspace", {"width": THIN_SPACE}))
            out.append(child)
            following = next((_leading_kind(c) for c in children[index + 1 :] if isinstance(c, _Element) and _kind(c) != "space"), "end")
            if following in ("ord", "name"):
                out.append(_Element("mo", {"lspace": "0", "rspace": THIN_SPACE}, [FUNCTION_APPLICATION]))
            elif following == "open":
                out.append(_Element("mo", {"lspace": "0", "rspace": "0"}, [FUNCTION_APPLICATION]))
        else:
            out.append(child)
        kinds.append(kind)
    row.children = out


def _write(node: _Element | str, out: list[str]) -> None:
    if isinstance(node, str):
        # Character references keep the MathML ASCII, which keeps the sheets (and the memory they
        # take while being built) small.
        out.append("".join(c if c.isascii() else f"&#x{ord(c):X};" for c in escape(node, quote=False)))
        return
    attrs = "".join(f' {name}="{escape(value)}"' for name, value in node.attrs.items())
    out.append(f"<{node.tag}{attrs}>")
    for child in node.children:
        _write(child, out)
    out.append(f"</{node.tag}>")


def rebuild(raw: str) -> str:
    """MathML rebuilt from the allowlist, and spaced as TeX spaces it."""
    cleaned = _MathMLFilter()
    cleaned.feed(raw)
    cleaned.close()
    out: list[str] = []
    for child in cleaned.root.children:
        if isinstance(child, _Element):
            _space(child)
        _write(child, out)
    return "".join(out)


_ALIGNMENTS = ("aligned", "alignedat", "gathered")
"""Environments latex2mathml writes as one row with a literal `&` (it lays out `array`)."""


def _as_arrays(latex: str) -> str:
    """`latex` with each aligned, alignedat or gathered environment written as the `array` that
    lays it out the same way: columns alternately right and left aligned (`a &= b`), or one
    centred column. One pass over the text, no regular expression."""
    out: list[str] = []
    pos = 0
    # Each environment's next start, found again only once passed: linear in the text.
    starts = {env: latex.find(f"\\begin{{{env}}}") for env in _ALIGNMENTS}
    while True:
        for env, at in starts.items():
            if at != -1 and at < pos:
                starts[env] = latex.find(f"\\begin{{{env}}}", pos)
        found = [(at, env) for env, at in starts.items() if at != -1]
        if not found:
            break
        start, env = min(found)
        body_start = start + len(f"\\begin{{{env}}}")
        if env == "alignedat" and latex.startswith("{", body_start):  # \begin{alignedat}{2}: drop the count
            close = latex.find("}", body_start)
            body_start = close + 1 if close != -1 else body_start
        end = latex.find(f"\\end{{{env}}}", body_start)
        if end == -1:
            break
        body = latex[body_start:end]
        columns = "c" if env == "gathered" else "rl" * (max(row.count("&") for row in body.split("\\\\")) // 2 + 1)
        out += [latex[pos:start], f"\\begin{{array}}{{{columns}}}", body, "\\end{array}"]
        pos = end + len(f"\\end{{{env}}}")
    out.append(latex[pos:])
    return "".join(out)


@lru_cache(maxsize=4096)
def mathml(latex: str, display: bool) -> str:
    """LaTeX as MathML, rendered at build time so that a printed page needs no JavaScript."""
    import latex2mathml.converter  # only builds print math: `deckgen check` starts without it

    try:
        raw = str(latex2mathml.converter.convert(_as_arrays(latex), display="block" if display else "inline"))
    except Exception:  # latex2mathml raises many kinds; the source is then shown as code
        return f'<code class="math-source">{escape(latex)}</code>'
    return rebuild(raw)
