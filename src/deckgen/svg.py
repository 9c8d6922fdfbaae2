"""Decide whether an SVG is a plain, inert drawing: an allowlist of elements, attributes and values, read with expat."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from xml.parsers import expat

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"

MAX_ELEMENTS = 10_000
MAX_DEPTH = 64
# <use> copies what it refers to, so a few kilobytes of nested <use> can ask a renderer for
# billions of shapes; this bounds the drawing as rendered, not as written.
MAX_RENDERED = 100_000

# Static drawing only. Left out: script, style, foreignObject, image, a, iframe and the media
# elements (they run, link or load); animate, animateMotion, animateTransform, set, mpath,
# discard (they can rewrite any attribute, href included, after this check); filter and every
# fe* primitive (feImage loads, and big blurs stall phones); metadata (arbitrary foreign XML);
# textPath, switch, view, cursor, font, font-face and color-profile (references, conditional
# processing or loading that plain drawings do not need).
ELEMENTS = frozenset(
    {
        "svg", "g", "defs", "symbol", "use", "title", "desc",
        "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
        "text", "tspan",
        "linearGradient", "radialGradient", "stop", "clipPath", "mask", "pattern", "marker",
    }
)

# Presentation and geometry only. Left out: style (a whole CSS declaration list), class (it
# could pick up the card's own CSS), on* (scripts), filter and cursor (they load or stall),
# systemLanguage and the other conditional-processing attributes, xml:base, data-*, aria-*,
# and every attribute in a foreign namespace (inkscape:, sodipodi:, ...).
ATTRIBUTES = frozenset(
    {
        "id", "lang", "version",
        "x", "y", "width", "height", "viewBox", "preserveAspectRatio", "transform",
        "d", "pathLength", "points", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr",
        "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
        "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset", "stroke-miterlimit", "opacity", "color",
        "paint-order", "vector-effect", "shape-rendering", "clip-rule",
        "font-family", "font-size", "font-weight", "font-style", "font-variant", "font-stretch",
        "text-anchor", "dominant-baseline", "alignment-baseline", "baseline-shift", "letter-spacing",
        "word-spacing", "text-decoration", "text-rendering", "writing-mode", "dx", "dy", "rotate",
        "textLength", "lengthAdjust",
        "gradientUnits", "gradientTransform", "spreadMethod", "offset", "stop-color", "stop-opacity",
        "clip-path", "clipPathUnits", "mask", "maskUnits", "maskContentUnits",
        "marker", "marker-start", "marker-mid", "marker-end", "markerWidth", "markerHeight", "markerUnits",
        "refX", "refY", "orient",
        "patternUnits", "patternContentUnits", "patternTransform",
        "visibility", "display", "overflow",
    }
)
XML_ATTRIBUTES = frozenset({"space", "lang"})
# A gradient or pattern may inherit from another one (Inkscape writes that for every gradient);
# with the value held to "#id" it is as self-contained as <use>.
HREF_ELEMENTS = frozenset({"use", "linearGradient", "radialGradient", "pattern"})
# Colours and transforms. Everything else that looks like a function is refused, url() included
# unless it is exactly url(#id): image-set(), cross-fade(), var(), attr() and the like load or
# hook into the page through presentation attributes such as mask.
FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla", "matrix", "translate", "scale", "rotate", "skewx", "skewy"})
FORBIDDEN = ("javascript:", "vbscript:", "data:", "@import", "expression(")

_ID = r"[A-Za-z_][A-Za-z0-9_.:-]*"
_HREF_RE = re.compile(f"#({_ID})")
_URL_RE = re.compile(f"\\s*(?i:url)\\(#{_ID}\\)\\s*")
_PLAIN = "deckgen packs plain drawings only"
_SELF_CONTAINED = "deckgen packs self-contained drawings only"


class _Refused(Exception):
    """Why the SVG is refused; raised inside an expat handler, it stops the parse."""


@dataclass
class _Node:
    """One element, as much of it as the <use> expansion needs."""

    line: int
    children: list[int] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)


def svg_problem(data: bytes) -> str | None:
    """None if the SVG is a plain, inert drawing deckgen may pack; otherwise why not, in one sentence."""
    try:
        checker = _Checker()
        checker.parse(_utf8_text(data))
        checker.check_uses()
    except _Refused as refused:
        return str(refused)
    return None


def _utf8_text(data: bytes) -> str:
    """The SVG as text, if its bytes are UTF-8."""
    if data.startswith((codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE)):
        raise _Refused("SVG is not UTF-8: it starts with a UTF-32 byte order mark; save it as UTF-8")
    if data.startswith((codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE)):
        raise _Refused("SVG is not UTF-8: it starts with a UTF-16 byte order mark; save it as UTF-8")
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = skip + err.start
        raise _Refused(
            f"SVG is not UTF-8: byte 0x{data[offset]:02x} at offset {offset} is not valid UTF-8; save it as UTF-8"
        ) from None
    if "\x00" in text:
        # Valid UTF-8 but never valid XML: almost always UTF-16 without a byte order mark.
        raise _Refused("SVG is not UTF-8: it has NUL bytes, as UTF-16 does; save it as UTF-8")
    return text


class _Checker:
    """Expat handlers that refuse anything outside the allowlists, and the elements they saw."""

    def __init__(self) -> None:
        self.parser = expat.ParserCreate(encoding="UTF-8", namespace_separator=" ")
        # Triplets "uri local prefix", so a message can name <h:script> as written.
        self.parser.namespace_prefixes = True
        self.nodes: list[_Node] = []
        self.open: list[int] = []
        self.ids: dict[str, int] = {}
        self.parser.XmlDeclHandler = self.xml_declaration
        self.parser.StartDoctypeDeclHandler = self.doctype
        self.parser.EntityDeclHandler = self.entity
        self.parser.UnparsedEntityDeclHandler = self.unparsed_entity
        self.parser.NotationDeclHandler = self.notation
        self.parser.ExternalEntityRefHandler = self.external_entity
        self.parser.ProcessingInstructionHandler = self.processing_instruction
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end

    def parse(self, text: str) -> None:
        """Run expat over the whole text; a handler's _Refused or expat's own error ends it."""
        try:
            self.parser.Parse(text, True)
        except expat.ExpatError as err:
            raise _Refused(f"not well-formed XML at line {err.lineno}: {expat.ErrorString(err.code)}") from None

    @property
    def line(self) -> int:
        """The line expat is at."""
        return self.parser.CurrentLineNumber

    def xml_declaration(self, version: str | None, encoding: str | None, standalone: int) -> None:
        """Allow only <?xml version="1.0"?>, with no encoding or UTF-8."""
        if version != "1.0":
            raise _Refused(f"XML declaration at line {self.line} says version=\"{_shown(version or '')}\"; use version=\"1.0\"")
        if encoding is not None and encoding.lower() != "utf-8":
            raise _Refused(
                f"SVG is not UTF-8: its XML declaration says encoding=\"{_shown(encoding)}\"; save it as UTF-8"
                " and declare encoding=\"UTF-8\" or none"
            )

    def doctype(self, name: str, system_id: str | None, public_id: str | None, has_internal_subset: int) -> None:
        """Refuse any DOCTYPE: it is where entities and external subsets come from."""
        raise _Refused(f"<!DOCTYPE> at line {self.line} is not allowed in an SVG; delete it")

    def entity(
        self,
        name: str,
        is_parameter: int,
        value: str | None,
        base: str | None,
        system_id: str | None,
        public_id: str | None,
        notation: str | None,
    ) -> None:
        """Refuse entity declarations."""
        raise _Refused(f"entity declaration <!ENTITY {_shown(name)}> at line {self.line} is not allowed in an SVG; delete it")

    def unparsed_entity(
        self, name: str, base: str | None, system_id: str, public_id: str | None, notation: str
    ) -> None:
        """Refuse unparsed entity declarations."""
        self.entity(name, 0, None, base, system_id, public_id, notation)

    def notation(self, name: str, base: str | None, system_id: str | None, public_id: str | None) -> None:
        """Refuse notation declarations."""
        raise _Refused(f"notation declaration <!NOTATION {_shown(name)}> at line {self.line} is not allowed in an SVG; delete it")

    def external_entity(self, context: str, base: str | None, system_id: str | None, public_id: str | None) -> int:
        """Refuse external entities rather than fetch them."""
        raise _Refused(f"external entity at line {self.line} is not allowed in an SVG; deckgen reads no other files")

    def processing_instruction(self, target: str, data: str) -> None:
        """Refuse processing instructions such as <?xml-stylesheet?>."""
        raise _Refused(f"processing instruction <?{_shown(target)}?> at line {self.line} is not allowed in an SVG; delete it")

    def start(self, name: str, attributes: dict[str, str]) -> None:
        """Check an element and its attributes, and record it for the <use> check."""
        namespace, local, shown = _split(name)
        if not self.nodes:
            if local != "svg":
                raise _Refused(f"root element <{shown}> is not <svg>; deckgen packs SVG drawings only")
            if namespace != SVG_NS:
                raise _Refused(f"root element <{shown}> is not in the SVG namespace; add xmlns=\"{SVG_NS}\" to it")
        elif namespace != SVG_NS:
            where = f"in namespace '{_shown(namespace)}'" if namespace else "in no namespace"
            raise _Refused(f"element <{shown}> at line {self.line} is {where}, not SVG; {_PLAIN}")
        elif local not in ELEMENTS:
            raise _Refused(f"element <{shown}> at line {self.line} is not allowed in an SVG; {_PLAIN}")
        if len(self.nodes) >= MAX_ELEMENTS:
            raise _Refused(f"SVG has more than {MAX_ELEMENTS} elements; simplify the drawing or use a PNG")
        if len(self.open) >= MAX_DEPTH:
            raise _Refused(f"element <{shown}> at line {self.line} is nested more than {MAX_DEPTH} deep; flatten the groups")
        node = _Node(self.line)
        for key, value in attributes.items():
            self.attribute(local, shown, key, value, node)
            if key == "id":
                self.ids.setdefault(value, len(self.nodes))
        if self.open:
            self.nodes[self.open[-1]].children.append(len(self.nodes))
        self.open.append(len(self.nodes))
        self.nodes.append(node)

    def end(self, name: str) -> None:
        """Close the innermost element."""
        self.open.pop()

    def attribute(self, element: str, shown_element: str, key: str, value: str, node: _Node) -> None:
        """Check one attribute's name against the allowlist and its value against the value rules."""
        namespace, local, shown = _split(key)
        subject = f"attribute '{shown}' on <{shown_element}> at line {self.line}"
        is_href = local == "href" and namespace in ("", XLINK_NS) and element in HREF_ELEMENTS
        if not (
            is_href
            or (not namespace and local in ATTRIBUTES)
            or (namespace == XML_NS and local in XML_ATTRIBUTES)
        ):
            advice = "write presentation attributes such as fill=\"#1f2328\" instead" if local in ("style", "class") else _PLAIN
            raise _Refused(f"{subject} is not allowed in an SVG; {advice}")
        if is_href:
            match = _HREF_RE.fullmatch(value)
            if match is None:
                raise _Refused(f"{subject} must be a same-document reference such as \"#shape\"; {_SELF_CONTAINED}")
            if element == "use":
                node.targets.append(match.group(1))
            return
        problem = _value_problem(value)
        if problem is not None:
            raise _Refused(f"{subject} {problem}")

    def check_uses(self) -> None:
        """Refuse <use> that points nowhere, loops, or expands the drawing past the limits."""
        edges: list[list[int]] = []
        for node in self.nodes:
            for target in node.targets:
                if target not in self.ids:
                    raise _Refused(
                        f"<use> at line {node.line} refers to '#{_shown(target)}', which no element in the SVG has;"
                        " add that id or delete the <use>"
                    )
            edges.append(node.children + [self.ids[target] for target in node.targets] if node.targets else node.children)
        if not self.nodes:
            return
        # Iterative post-order walk over children and <use> targets: a deep or cyclic SVG
        # never reaches Python's recursion limit, and each element is sized once.
        size = [0] * len(self.nodes)
        depth = [0] * len(self.nodes)
        state = [0] * len(self.nodes)  # 0 unseen, 1 on the stack, 2 done
        stack: list[tuple[int, int]] = [(0, 0)]
        state[0] = 1
        while stack:
            index, edge = stack[-1]
            if edge < len(edges[index]):
                stack[-1] = (index, edge + 1)
                following = edges[index][edge]
                if state[following] == 1:
                    # Only a <use> edge can lead back to an element still open: tree edges never do.
                    node = self.nodes[index]
                    target = node.targets[edge - len(node.children)]
                    raise _Refused(
                        f"<use> at line {node.line} refers to '#{_shown(target)}', which leads back to that <use>;"
                        " a drawing cannot include itself"
                    )
                if state[following] == 0:
                    state[following] = 1
                    stack.append((following, 0))
                continue
            size[index] = min(MAX_RENDERED + 1, 1 + sum(size[e] for e in edges[index]))
            depth[index] = 1 + max((depth[e] for e in edges[index]), default=0)
            if size[index] > MAX_RENDERED:
                raise _Refused(
                    f"SVG draws more than {MAX_RENDERED} elements once <use> is expanded; simplify the drawing or use a PNG"
                )
            if depth[index] > MAX_DEPTH:
                raise _Refused(f"SVG nests more than {MAX_DEPTH} deep once <use> is expanded; flatten the drawing")
            state[index] = 2
            stack.pop()


def _value_problem(value: str) -> str | None:
    """Why an allowed attribute's value is not, completing "attribute 'x' on <y> at line N ..."."""
    if not value.isprintable():
        # Literal tabs and newlines reach here as spaces (XML normalises attribute values),
        # so any left were written as character references, as in java&#9;script:.
        char = next(char for char in value if not char.isprintable())
        return f"contains a control or invisible character (U+{ord(char):04X}), which is not allowed in an SVG"
    if "\\" in value:
        return "contains a backslash, which is not allowed in an SVG; write the character itself"
    lowered = value.lower()
    for token in FORBIDDEN:
        if token in lowered:
            return f"contains '{token}', which is not allowed in an SVG; {_PLAIN}"
    pieces = value.split("(")
    for piece in pieces[:-1]:
        name = _trailing_name(piece).lower()
        if name == "url":
            if _URL_RE.fullmatch(value) is None:
                return f"must be exactly url(#id) to use url(); {_SELF_CONTAINED}"
        elif name not in FUNCTIONS:
            return (
                f"uses '{_shown(name)}(', which is not allowed in an SVG;"
                " only url(#id), rgb(), rgba(), hsl(), hsla() and transform functions are"
            )
    return None


def _trailing_name(text: str) -> str:
    """The CSS-like name text ends with, spaces before the end skipped; empty if none."""
    end = len(text.rstrip())
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-" or ord(text[start - 1]) > 127):
        start -= 1
    return text[start:end]


def _split(name: str) -> tuple[str, str, str]:
    """Namespace, local name and the name as written, from expat's "uri local prefix" triplet."""
    parts = name.split(" ")
    if len(parts) == 3:
        return parts[0], parts[1], _shown(f"{parts[2]}:{parts[1]}")
    if len(parts) == 2:
        return parts[0], parts[1], _shown(parts[1])
    return "", name, _shown(name)


def _shown(text: str, limit: int = 60) -> str:
    """Text from the SVG made safe and short enough to quote in a message."""
    text = "".join(char if char.isprintable() else "?" for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
