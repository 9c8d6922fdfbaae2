"""svg_problem packs only plain, inert drawings: each trick below is refused with a message that says why."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deckgen.svg import MAX_DEPTH, MAX_ELEMENTS, MAX_RENDERED, svg_problem

ROOT = Path(__file__).resolve().parent.parent
REAL_SVG = ROOT / "questions" / "images" / "attention-masks.svg"

NS = 'xmlns="http://www.w3.org/2000/svg"'
XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
XHTML = "http://www.w3.org/1999/xhtml"
PLAIN = "deckgen packs plain drawings only"
SELF = "deckgen packs self-contained drawings only"


def svg(body: str, attributes: str = "") -> str:
    """A one-line SVG document around body."""
    return f"<svg {NS} {XLINK}{attributes}>{body}</svg>"


def element(name: str, line: int = 1) -> str:
    return f"element <{name}> at line {line} is not allowed in an SVG; {PLAIN}"


def attribute(name: str, on: str, rest: str, line: int = 1) -> str:
    return f"attribute '{name}' on <{on}> at line {line} {rest}"


NOT_ALLOWED = f"is not allowed in an SVG; {PLAIN}"
STYLE_ADVICE = 'is not allowed in an SVG; write presentation attributes such as fill="#1f2328" instead'
SAME_DOCUMENT = f'must be a same-document reference such as "#shape"; {SELF}'
EXACT_URL = f"must be exactly url(#id) to use url(); {SELF}"
DOCTYPE = "<!DOCTYPE> at line 1 is not allowed in an SVG; delete it"
ROOT_NS = 'root element <svg> is not in the SVG namespace; add xmlns="http://www.w3.org/2000/svg" to it'


def contains(token: str) -> str:
    return f"contains '{token}', which {NOT_ALLOWED}"


def functions(name: str) -> str:
    return (
        f"uses '{name}(', which is not allowed in an SVG;"
        " only url(#id), rgb(), rgba(), hsl(), hsla() and transform functions are"
    )


HOSTILE = [
    # <script>, however it is spelled.
    pytest.param(svg("<script>alert(1)</script>"), element("script"), id="script"),
    pytest.param(svg("<script/>"), element("script"), id="script-empty"),
    pytest.param(svg('<g>\n<script type="text/ecmascript">alert(1)</script></g>'), element("script", 2), id="script-nested"),
    pytest.param(svg("<SCRIPT>alert(1)</SCRIPT>"), element("SCRIPT"), id="script-uppercase"),
    pytest.param(
        svg(f'<h:script xmlns:h="{XHTML}">alert(1)</h:script>'),
        f"element <h:script> at line 1 is in namespace '{XHTML}', not SVG; {PLAIN}",
        id="script-xhtml-prefix",
    ),
    pytest.param(
        svg(f'<g xmlns="{XHTML}"><script>alert(1)</script></g>'),
        f"element <g> at line 1 is in namespace '{XHTML}', not SVG; {PLAIN}",
        id="script-xhtml-default-namespace",
    ),
    pytest.param(
        svg('<script xmlns="">alert(1)</script>'),
        f"element <script> at line 1 is in no namespace, not SVG; {PLAIN}",
        id="script-no-namespace",
    ),
    pytest.param(
        '<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:script>alert(1)</svg:script></svg:svg>',
        element("svg:script"),
        id="script-svg-prefix",
    ),
    pytest.param(svg("<svg:script>alert(1)</svg:script>"), "not well-formed XML at line 1: unbound prefix", id="script-unbound-prefix"),
    # foreignObject and HTML inside it.
    pytest.param(
        svg(f'<foreignObject width="9" height="9"><div xmlns="{XHTML}"><img src="x" onerror="alert(1)"/></div></foreignObject>'),
        element("foreignObject"),
        id="foreignObject",
    ),
    pytest.param(
        svg(f'<h:iframe xmlns:h="{XHTML}" src="https://example.org"/>'),
        f"element <h:iframe> at line 1 is in namespace '{XHTML}', not SVG; {PLAIN}",
        id="iframe-xhtml",
    ),
    pytest.param(svg("<iframe/>"), element("iframe"), id="iframe-svg"),
    # CSS: <style>, style= and class=.
    pytest.param(svg("<style>@import url(https://x);</style>"), element("style"), id="style-import"),
    pytest.param(svg("<style><![CDATA[rect{fill:url(https://x)}]]></style>"), element("style"), id="style-cdata"),
    pytest.param(svg('<rect style="background:url(https://x)"/>'), attribute("style", "rect", STYLE_ADVICE), id="style-attribute-url"),
    pytest.param(svg("", ' style="fill:red"'), attribute("style", "svg", STYLE_ADVICE), id="style-attribute-root"),
    pytest.param(svg('<rect class="card"/>'), attribute("class", "rect", STYLE_ADVICE), id="class-attribute"),
    # url() that is not url(#id).
    pytest.param(svg('<rect fill="url(https://x/#a)"/>'), attribute("fill", "rect", EXACT_URL), id="fill-url-remote"),
    pytest.param(svg('<rect fill="URL(https://x/#a)"/>'), attribute("fill", "rect", EXACT_URL), id="fill-url-uppercase"),
    pytest.param(svg('<rect stroke="url(x.svg#a)"/>'), attribute("stroke", "rect", EXACT_URL), id="stroke-url-file"),
    pytest.param(svg('<rect fill="url(#a) url(https://x)"/>'), attribute("fill", "rect", EXACT_URL), id="fill-url-twice"),
    pytest.param(svg('<rect fill="url(\'#a\')"/>'), attribute("fill", "rect", EXACT_URL), id="fill-url-quoted"),
    pytest.param(svg('<rect clip-path="url (https://x)"/>'), attribute("clip-path", "rect", EXACT_URL), id="clip-path-url-space"),
    pytest.param(svg('<rect mask="url(data:image/png,x)"/>'), attribute("mask", "rect", contains("data:")), id="mask-url-data"),
    # Functions other than colours and transforms.
    pytest.param(svg('<rect mask="image-set(&quot;https://x&quot; 1x)"/>'), attribute("mask", "rect", functions("image-set")), id="mask-image-set"),
    pytest.param(svg('<rect fill="var(--card)"/>'), attribute("fill", "rect", functions("var")), id="fill-var"),
    pytest.param(svg('<rect fill="url/**/(https://x)"/>'), attribute("fill", "rect", functions("")), id="fill-url-comment"),
    pytest.param(svg('<rect width="expression(alert(1))"/>'), attribute("width", "rect", contains("expression(")), id="expression"),
    # Event handlers.
    pytest.param(svg("", ' onload="alert(1)"'), attribute("onload", "svg", NOT_ALLOWED), id="onload"),
    pytest.param(svg("", ' ONLOAD="alert(1)"'), attribute("ONLOAD", "svg", NOT_ALLOWED), id="onload-uppercase"),
    pytest.param(svg('<rect onclick="alert(1)"/>'), attribute("onclick", "rect", NOT_ALLOWED), id="onclick"),
    pytest.param(
        svg(f'<rect xmlns:h="{XHTML}" h:onmouseover="alert(1)"/>'), attribute("h:onmouseover", "rect", NOT_ALLOWED), id="onmouseover-prefixed"
    ),
    # Links and external resources.
    pytest.param(svg('<a href="javascript:alert(1)"><rect/></a>'), element("a"), id="a-javascript"),
    pytest.param(svg('<a xlink:href="https://x"><rect/></a>'), element("a"), id="a-xlink"),
    pytest.param(svg('<rect href="javascript:alert(1)"/>'), attribute("href", "rect", NOT_ALLOWED), id="href-on-rect"),
    pytest.param(svg('<image href="https://x/y.png"/>'), element("image"), id="image-remote"),
    pytest.param(svg('<image xlink:href="data:image/svg+xml,&lt;svg/&gt;"/>'), element("image"), id="image-data"),
    pytest.param(svg('<use href="https://x/y.svg#a"/>'), attribute("href", "use", SAME_DOCUMENT), id="use-remote"),
    pytest.param(svg('<use href="y.svg#a"/>'), attribute("href", "use", SAME_DOCUMENT), id="use-file"),
    pytest.param(svg('<use xlink:href="data:image/svg+xml,x#a"/>'), attribute("xlink:href", "use", SAME_DOCUMENT), id="use-xlink-data"),
    pytest.param(svg('<use href="javascript:alert(1)"/>'), attribute("href", "use", SAME_DOCUMENT), id="use-javascript"),
    pytest.param(svg('<use href="#a b"/>'), attribute("href", "use", SAME_DOCUMENT), id="use-not-an-id"),
    pytest.param(
        svg('<use xmlns:x="https://evil" x:href="#a"/>'), attribute("x:href", "use", NOT_ALLOWED), id="use-href-foreign-namespace"
    ),
    pytest.param(
        svg('<linearGradient id="g" href="https://x/g.svg#a"/>'), attribute("href", "linearGradient", SAME_DOCUMENT), id="gradient-remote"
    ),
    pytest.param(svg('<rect xml:base="https://x/"/>'), attribute("xml:base", "rect", NOT_ALLOWED), id="xml-base"),
    # Animation, which could rewrite any attribute after this check.
    pytest.param(svg('<a><animate attributeName="href" to="javascript:alert(1)"/></a>'), element("a"), id="animate-in-a"),
    pytest.param(svg('<rect><animate attributeName="href" to="javascript:alert(1)"/></rect>'), element("animate"), id="animate"),
    pytest.param(svg('<rect><set attributeName="fill" to="red"/></rect>'), element("set"), id="set"),
    pytest.param(svg('<rect><animateTransform attributeName="transform"/></rect>'), element("animateTransform"), id="animateTransform"),
    # Other elements left out.
    pytest.param(svg('<filter id="f"><feImage href="https://x"/></filter>'), element("filter"), id="filter"),
    pytest.param(svg("<metadata><rdf:RDF xmlns:rdf='x'/></metadata>"), element("metadata"), id="metadata"),
    pytest.param(svg('<switch><rect systemLanguage="en"/></switch>'), element("switch"), id="switch"),
    pytest.param(svg('<text><textPath href="#p">x</textPath></text>'), element("textPath"), id="textPath"),
    pytest.param(
        svg('<sodipodi:namedview xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"/>'),
        f"element <sodipodi:namedview> at line 1 is in namespace 'http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd', not SVG; {PLAIN}",
        id="inkscape-namedview",
    ),
    pytest.param(
        svg('<rect xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" inkscape:label="x"/>'),
        attribute("inkscape:label", "rect", NOT_ALLOWED),
        id="inkscape-attribute",
    ),
    # Obfuscated values in allowed attributes.
    pytest.param(svg('<rect fill="&#106;avascript:alert(1)"/>'), attribute("fill", "rect", contains("javascript:")), id="javascript-charref"),
    pytest.param(
        svg('<rect fill="java&#9;script:alert(1)"/>'),
        attribute("fill", "rect", "contains a control or invisible character (U+0009), which is not allowed in an SVG"),
        id="javascript-tab",
    ),
    pytest.param(
        svg('<rect fill="u&#x200B;rl(https://x)"/>'),
        attribute("fill", "rect", "contains a control or invisible character (U+200B), which is not allowed in an SVG"),
        id="zero-width-space",
    ),
    pytest.param(
        svg('<rect fill="\\75 rl(https://x)"/>'),
        attribute("fill", "rect", "contains a backslash, which is not allowed in an SVG; write the character itself"),
        id="css-escape",
    ),
    pytest.param(svg('<rect font-family="x;@import \'y\'"/>'), attribute("font-family", "rect", contains("@import")), id="import-in-value"),
    # Document type declarations and entities.
    pytest.param(
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>\n' + svg("<text>&lol2;</text>"),
        DOCTYPE.replace("line 1", "line 2"),
        id="billion-laughs",
    ),
    pytest.param(
        '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + svg("<text>&x;</text>"), DOCTYPE, id="external-entity"
    ),
    pytest.param(
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">' + svg(""),
        DOCTYPE,
        id="doctype-external-subset",
    ),
    pytest.param('<!DOCTYPE svg [<!ENTITY % p SYSTEM "https://x/p.dtd"> %p;]>' + svg(""), DOCTYPE, id="parameter-entity"),
    pytest.param(svg("<text>&x;</text>"), "not well-formed XML at line 1: undefined entity", id="undefined-entity"),
    # Processing instructions.
    pytest.param(
        '<?xml-stylesheet href="x.css"?>' + svg(""),
        "processing instruction <?xml-stylesheet?> at line 1 is not allowed in an SVG; delete it",
        id="xml-stylesheet",
    ),
    pytest.param(
        svg("\n<?php echo 1; ?>"), "processing instruction <?php?> at line 2 is not allowed in an SVG; delete it", id="pi-inside"
    ),
    # Encodings.
    pytest.param(
        '<?xml version="1.0" encoding="UTF-16"?>' + svg(""),
        'SVG is not UTF-8: its XML declaration says encoding="UTF-16"; save it as UTF-8 and declare encoding="UTF-8" or none',
        id="declared-utf16",
    ),
    pytest.param(
        "<?xml version='1.0' encoding='ISO-8859-1'?>" + svg(""),
        'SVG is not UTF-8: its XML declaration says encoding="ISO-8859-1"; save it as UTF-8 and declare encoding="UTF-8" or none',
        id="declared-latin1",
    ),
    pytest.param(
        '<?xml version="1.1"?>' + svg(""), 'XML declaration at line 1 says version="1.1"; use version="1.0"', id="xml-1.1"
    ),
    pytest.param(
        codecs.BOM_UTF16_LE + svg("<script/>").encode("utf-16-le"),
        "SVG is not UTF-8: it starts with a UTF-16 byte order mark; save it as UTF-8",
        id="utf16-le-bom",
    ),
    pytest.param(
        svg("<script/>").encode("utf-16"), "SVG is not UTF-8: it starts with a UTF-16 byte order mark; save it as UTF-8", id="utf16-bom"
    ),
    pytest.param(
        codecs.BOM_UTF16_BE + svg("").encode("utf-16-be"),
        "SVG is not UTF-8: it starts with a UTF-16 byte order mark; save it as UTF-8",
        id="utf16-be-bom",
    ),
    pytest.param(
        svg("").encode("utf-32"), "SVG is not UTF-8: it starts with a UTF-32 byte order mark; save it as UTF-8", id="utf32-bom"
    ),
    pytest.param(
        svg("<script/>").encode("utf-16-le"), "SVG is not UTF-8: it has NUL bytes, as UTF-16 does; save it as UTF-8", id="utf16-no-bom"
    ),
    pytest.param(
        "<svg>caf\xe9</svg>".encode("latin-1"),
        "SVG is not UTF-8: byte 0xe9 at offset 8 is not valid UTF-8; save it as UTF-8",
        id="latin1-bytes",
    ),
    pytest.param(
        codecs.BOM_UTF8 + b"<svg \xc0\xbc/>",
        "SVG is not UTF-8: byte 0xc0 at offset 8 is not valid UTF-8; save it as UTF-8",
        id="overlong-utf8",
    ),
    pytest.param(
        "<svg \udcff/>".encode("utf-8", "surrogatepass"),
        "SVG is not UTF-8: byte 0xed at offset 5 is not valid UTF-8; save it as UTF-8",
        id="surrogate-utf8",
    ),
    # Not an SVG, or not in the SVG namespace.
    pytest.param(f'<html xmlns="{XHTML}"><svg {NS}/></html>', "root element <html> is not <svg>; deckgen packs SVG drawings only", id="html-root"),
    pytest.param(f"<g {NS}/>", "root element <g> is not <svg>; deckgen packs SVG drawings only", id="g-root"),
    pytest.param("<svg><rect/></svg>", ROOT_NS, id="no-namespace"),
    pytest.param('<svg xmlns="http://www.w3.org/2000/svg/"/>', ROOT_NS, id="namespace-trailing-slash"),
    pytest.param(f'<svg xmlns="{XHTML}"/>', ROOT_NS, id="xhtml-namespace"),
    pytest.param(f'<h:svg xmlns:h="{XHTML}"/>', ROOT_NS.replace("<svg>", "<h:svg>"), id="xhtml-prefix"),
    # Not well-formed.
    pytest.param(svg("\n\n<rect>"), "not well-formed XML at line 3: mismatched tag", id="mismatched-tag"),
    pytest.param("", "not well-formed XML at line 1: no element found", id="empty"),
    pytest.param(svg("") + "<svg/>", "not well-formed XML at line 1: junk after document element", id="two-roots"),
    pytest.param(svg('<rect x="1" x="2"/>'), "not well-formed XML at line 1: duplicate attribute", id="duplicate-attribute"),
    pytest.param('<svg xmlns="a b"/>', "not well-formed XML at line 1: syntax error", id="namespace-with-separator"),
    pytest.param(svg("<text>\x01</text>"), "not well-formed XML at line 1: not well-formed (invalid token)", id="control-in-text"),
]


@pytest.mark.parametrize(("data", "expected"), HOSTILE)
def test_hostile_svg_is_refused(data: str | bytes, expected: str) -> None:
    assert svg_problem(data.encode() if isinstance(data, str) else data) == expected


def test_cdata_and_escaped_markup_in_text_are_inert_text() -> None:
    # Only <script> and <style> give text meaning, and both are refused; in <text> it is drawn as characters.
    for body in [
        "<text><![CDATA[<script>alert(1)</script>]]></text>",
        "<text>&lt;script&gt;alert(1)&lt;/script&gt;</text>",
        "<title>&#60;img src=x onerror=alert(1)&#62;</title>",
        "<!-- <script>alert(1)</script> -->",
        "<![CDATA[<foreignObject/>]]>",
    ]:
        assert svg_problem(svg(body).encode()) is None, body


def test_the_real_image_passes() -> None:
    data = REAL_SVG.read_bytes()
    assert b"<svg" in data
    assert svg_problem(data) is None


HAND_WRITTEN = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Created with Inkscape, then cleaned -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:svg="http://www.w3.org/2000/svg" version="1.1" width="210mm" height="120mm"
     viewBox="0 0 210 120" preserveAspectRatio="xMidYMid meet">
  <title>Gradients, markers and reuse</title>
  <desc>A hand-written drawing that uses every kind of reference deckgen allows.</desc>
  <defs>
    <linearGradient id="stops">
      <stop offset="0" stop-color="#0969da" stop-opacity="1"/>
      <stop offset="1" stop-color="rgb(9, 105, 218)" stop-opacity="0.2"/>
    </linearGradient>
    <linearGradient id="g" xlink:href="#stops" x1="0" y1="0" x2="1" y2="0" gradientUnits="objectBoundingBox"/>
    <radialGradient id="r" href="#stops" cx="50%" cy="50%" r="50%" fx="40%" fy="40%" spreadMethod="pad"
                    gradientTransform="matrix(1,0,0,1.5,0,-0.25)"/>
    <marker id="arrow" markerWidth="10" markerHeight="7" refX="10" refY="3.5" orient="auto" markerUnits="strokeWidth">
      <polygon points="0 0, 10 3.5, 0 7" fill="#1f2328"/>
    </marker>
    <clipPath id="clip" clipPathUnits="userSpaceOnUse"><circle cx="60" cy="60" r="40"/></clipPath>
    <mask id="m" maskUnits="userSpaceOnUse"><rect width="210" height="120" fill="white" opacity="0.8"/></mask>
    <pattern id="dots" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
      <circle cx="3" cy="3" r="1" fill="hsl(210, 90%, 45%)"/>
    </pattern>
    <symbol id="a" viewBox="0 0 10 10"><rect width="10" height="10" rx="2" ry="2"/></symbol>
  </defs>
  <g id="layer1" transform="translate(5 5) scale(1.0) skewX(0)" fill-rule="evenodd">
    <rect x="0" y="0" width="100" height="50" fill="url(#g)" stroke="#1f2328" stroke-width="0.5"
          stroke-dasharray="2 1" stroke-linecap="round" stroke-linejoin="round" stroke-miterlimit="4"/>
    <ellipse cx="150" cy="30" rx="40" ry="20" fill="url(#r)" clip-path="url(#clip)" mask="url(#m)"/>
    <path d="M 10,80 C 40,60
             80,100 120,80" fill="none" stroke="#57606a" marker-end="url(#arrow)" vector-effect="non-scaling-stroke"/>
    <line x1="0" y1="110" x2="200" y2="110" stroke="currentColor" opacity=".5"/>
    <polyline points="0,100 10,95 20,100" fill="none" stroke="black"/>
    <rect x="130" y="60" width="60" height="40" fill="url(#dots)"/>
    <use href="#a" x="20" y="55" width="10" height="10" fill="#cf222e"/>
    <use xlink:href="#a" x="35" y="55" width="10" height="10" fill="#1a7f37"/>
    <text x="105" y="118" font-family="'Helvetica Neue', Arial, sans-serif" font-size="6" text-anchor="middle"
          dominant-baseline="alphabetic" xml:space="preserve">x<tspan dy="-2" font-size="4" baseline-shift="super">2</tspan> + caf\u00e9 &amp; \u03b1</text>
  </g>
</svg>
"""


def test_hand_written_svg_with_gradients_and_references_passes() -> None:
    assert svg_problem(HAND_WRITTEN.encode()) is None
    assert svg_problem(codecs.BOM_UTF8 + HAND_WRITTEN.encode()) is None
    assert svg_problem(HAND_WRITTEN.replace("\n", "\r\n").encode()) is None


def test_use_must_point_to_an_element_of_the_same_svg() -> None:
    assert svg_problem(svg('<use href="#missing"/>').encode()) == (
        "<use> at line 1 refers to '#missing', which no element in the SVG has; add that id or delete the <use>"
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('<use id="a" href="#a"/>', id="itself"),
        pytest.param('<g id="a"><use href="#a"/></g>', id="parent"),
        pytest.param('<g id="a"><use href="#b"/></g><g id="b"><use href="#a"/></g>', id="two-step"),
    ],
)
def test_use_cycles_are_refused(body: str) -> None:
    problem = svg_problem(svg(body).encode())
    assert problem is not None
    assert problem.startswith("<use> at line 1 refers to '#")
    assert problem.endswith("', which leads back to that <use>; a drawing cannot include itself")


def test_use_root_cycle_is_refused() -> None:
    assert svg_problem(svg('<use href="#top"/>', ' id="top"').encode()) == (
        "<use> at line 1 refers to '#top', which leads back to that <use>; a drawing cannot include itself"
    )


def test_use_bomb_is_refused() -> None:
    # 30 levels of two <use> each: 2**30 rects once expanded, from under 2 KiB.
    levels = ['<g id="l0"><rect width="1" height="1"/></g>']
    levels += [f'<g id="l{i}"><use href="#l{i - 1}"/><use href="#l{i - 1}" x="1"/></g>' for i in range(1, 31)]
    document = svg("<defs>" + "".join(levels) + "</defs>")
    assert len(document) < 2048
    assert svg_problem(document.encode()) == (
        f"SVG draws more than {MAX_RENDERED} elements once <use> is expanded; simplify the drawing or use a PNG"
    )


def test_use_chain_too_deep_when_expanded_is_refused() -> None:
    chain = ['<g id="c0"/>'] + [f'<g id="c{i}"><use href="#c{i - 1}"/></g>' for i in range(1, 40)]
    assert svg_problem(svg("<defs>" + "".join(chain) + "</defs>").encode()) == (
        f"SVG nests more than {MAX_DEPTH} deep once <use> is expanded; flatten the drawing"
    )


def test_moderate_reuse_passes() -> None:
    body = '<defs><g id="a"><rect width="1" height="1"/><circle r="1"/></g></defs>'
    body += "".join(f'<use href="#a" x="{i}"/>' for i in range(2000))
    assert svg_problem(svg(body).encode()) is None


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        (MAX_DEPTH - 1, None),
        (MAX_DEPTH, f"element <g> at line 1 is nested more than {MAX_DEPTH} deep; flatten the groups"),
        (100_000, f"element <g> at line 1 is nested more than {MAX_DEPTH} deep; flatten the groups"),
    ],
)
def test_deep_nesting(depth: int, expected: str | None) -> None:
    assert svg_problem(svg("<g>" * depth + "</g>" * depth).encode()) == expected


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (MAX_ELEMENTS - 1, None),
        (MAX_ELEMENTS, f"SVG has more than {MAX_ELEMENTS} elements; simplify the drawing or use a PNG"),
        (200_000, f"SVG has more than {MAX_ELEMENTS} elements; simplify the drawing or use a PNG"),
    ],
)
def test_many_elements(count: int, expected: str | None) -> None:
    # The root <svg> is one of the elements.
    assert svg_problem(svg("<rect/>" * count).encode()) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("M0 0 " + "L1 1 " * 200_000, id="long-path"),
        pytest.param("a" * 1_000_000, id="long-name"),
        pytest.param("rgb(" * 200_000, id="many-functions"),
        pytest.param("(" * 1_000_000, id="many-parentheses"),
        pytest.param("url(" * 200_000, id="many-urls"),
    ],
)
def test_huge_values_are_handled_in_linear_time(value: str) -> None:
    # Quadratic scanning of a 1 MB value would not finish within the test run.
    result = svg_problem(svg(f'<path d="{value}"/>').encode())
    assert result is None or result.startswith("attribute 'd' on <path> at line 1 ")


HOSTILE_SNIPPETS = [
    b"<script>alert(1)</script>",
    b'<rect onload="x"/>',
    b"<!DOCTYPE x>",
    b"<?pi x?>",
    b"<![CDATA[<script>]]>",
    b'<use href="#a"/>',
    b'<g id="a"><use href="#a"/></g>',
    b"&lol;",
    b"\xff\xfe",
    b"\x00",
    b'fill="url(https://x)"',
    b"<g>" * 80,
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = svg_problem(data)
    assert result is None or isinstance(result, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10_000),
            st.integers(min_value=0, max_value=64),
            st.one_of(st.binary(max_size=16), st.sampled_from(HOSTILE_SNIPPETS)),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_mutations_of_the_real_svg_never_raise(edits: list[tuple[int, int, bytes]]) -> None:
    data = REAL_SVG.read_bytes()
    for position, deleted, inserted in edits:
        position %= len(data) + 1
        data = data[:position] + inserted + data[position + deleted :]
    result = svg_problem(data)
    assert result is None or (isinstance(result, str) and result and "\n" not in result)
