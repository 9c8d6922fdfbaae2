"""Assertions that HTML holds nothing live: the cards' fields and the printable pages."""

from __future__ import annotations

import re
import sqlite3
import zipfile
from html.parser import HTMLParser
from pathlib import Path

SAFE_TAGS = {
    "p", "em", "strong", "code", "pre", "span", "a", "ul", "ol", "li", "div", "table", "thead", "tbody",
    "tr", "th", "td", "br", "hr", "s", "del", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
}


class _Tags(HTMLParser):
    """Every start tag and attribute in a piece of HTML, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


MATHML_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "munder", "mover",
    "munderover", "mfrac", "msqrt", "mroot", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom", "menclose",
}
PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "nav", "section", "article", "h1", "h2", "h3", "ol", "li", "a", "p", "div", "span", "table", "tr", "th", "td", "em", "strong", "code", "pre", "ul", "blockquote", "img", "br", "hr", "s", "del", "h4", "cite", "b", "i"}


def assert_inert_page(html: str) -> None:
    """A printable sheet: only page, text and MathML elements, no handlers, links only to http(s) or #."""
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in PAGE_TAGS | MATHML_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (tag, name)
            if name == "href":
                assert (value or "").startswith(("https://", "http://", "#")), value
            if name == "src":
                assert (value or "").startswith("data:image/"), value
    style = html[html.index("<style>") : html.index("</style>")]
    assert "</" not in style[len("<style>"):]


SITE_TAGS = PAGE_TAGS - {"style"} | {"link", "script", "main", "footer", "button", "input", "label", "noscript"}
_ASSET = re.compile(r"(\.\./)*assets/[a-z-]+\.(js|css)")
_SITE_LINK = re.compile(r"https?://|#|(\.\./)*[\w./-]+\.(html|apkg|pdf)(#[\w-]*)?$")


def assert_inert_site_page(html: str) -> None:
    """A page of the site: page, text and MathML elements, the site's own scripts and style
    sheet only (by `src`/`href`, never inline), no handlers or styles, links only to http(s),
    an anchor or a file beside it, images only inline."""
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in SITE_TAGS | MATHML_TAGS, tag
        values = dict(attrs)
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (tag, name)
        if tag == "script":
            assert _ASSET.fullmatch(values.get("src") or ""), values
        elif tag == "link":
            assert values.get("rel") == "stylesheet" and _ASSET.fullmatch(values.get("href") or ""), values
        elif "href" in values:
            assert _SITE_LINK.match(values["href"] or ""), values["href"]
        if "src" in values and tag != "script":
            assert (values["src"] or "").startswith("data:image/"), values["src"]
    assert "<script>" not in html and "<style" not in html


def assert_inert_html_output(path: Path) -> None:
    """An HTML file a build wrote: a page of the site, or a printable sheet."""
    html = path.read_text(encoding="utf-8")
    (assert_inert_site_page if "site" in path.parts else assert_inert_page)(html)


def assert_inert(html: str) -> None:
    """A card field: only safe tags, no handlers or styles, links only to http(s) or #."""
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in SAFE_TAGS, (tag, html)
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (name, html)
            if name in ("href", "src"):
                assert (value or "").startswith(("https://", "http://", "#")), (value, html)


def note_fields(apkg: Path) -> list[str]:
    """Every field of every note in a package, read straight from its collection."""
    with zipfile.ZipFile(apkg) as package:
        data = package.read("collection.anki2")
    path = apkg.with_suffix(".anki2")
    path.write_bytes(data)
    with sqlite3.connect(path) as db:
        rows = [r[0] for r in db.execute("select flds from notes")]
    return [field for row in rows for field in row.split("\x1f")]
