"""PDFs of the printable sheets, printed by headless Chromium (which renders MathML natively)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING

from deckgen.model import DeckgenError, Diagnostic, Location, Severity

if TYPE_CHECKING:
    from pypdf.generic import Destination, IndirectObject

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = (
    "install Chromium and CJK fonts (Debian/Ubuntu: sudo apt-get install chromium fonts-noto-cjk; "
    "macOS: brew install --cask chromium), or set DECKGEN_CHROMIUM to the browser's path"
)
TIMEOUT_SECONDS = 180


def _error(where: str, message: str) -> DeckgenError:
    return DeckgenError([Diagnostic(Location(where), Severity.ERROR, message, "pdf")])


def find_browser() -> str | None:
    """The Chromium to print with: $DECKGEN_CHROMIUM, else the first on PATH."""
    import os

    configured = os.environ.get("DECKGEN_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def _print_once(html: Path, pdf: Path) -> None:
    """Print `html` to `pdf` with a fresh browser profile and no network chatter; atomic."""
    browser = find_browser()
    if browser is None:
        raise _error(pdf.as_posix(), f"no Chromium found to print the PDF: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="deckgen-chromium-") as profile:
        tmp = pdf.with_name(f".{pdf.name}.tmp")
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}",
            html.resolve().as_uri(),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=TIMEOUT_SECONDS, check=True)
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise _error(pdf.as_posix(), "Chromium wrote no PDF")
            tmp.replace(pdf)
        except subprocess.TimeoutExpired as err:
            raise _error(pdf.as_posix(), f"Chromium did not finish within {TIMEOUT_SECONDS} s") from err
        except (OSError, subprocess.CalledProcessError) as err:
            detail = getattr(err, "stderr", b"") or b""
            text = detail.decode(errors="replace").strip().splitlines()[-1:] if isinstance(detail, bytes) else []
            raise _error(pdf.as_posix(), f"Chromium failed to print: {text[0] if text else err}") from err
        finally:
            tmp.unlink(missing_ok=True)


_PAGE_SLOT = re.compile(r'<span class="pg" data-dest="([A-Za-z0-9_-]+)"></span>')
"""A contents line's page number, empty until the first printing tells it (deckgen.printsheet)."""
_OUTLINE_ENTRY = re.compile(r'<a href="#([A-Za-z0-9_-]+)"><span class="t">([^<]*)</span>')
"""A contents line, whose target and title the PDF's bookmarks repeat."""
_TITLE = re.compile(r"<title>([^<]*)</title>")


def destination_pages(pdf: Path) -> dict[str, int]:
    """The page (from 1) of each named destination in `pdf`: each element that a link points to."""
    from pypdf import PdfReader  # only a build with --pdf reads PDFs: the others start without it

    reader = PdfReader(pdf)
    pages = {}
    for name, destination in reader.named_destinations.items():
        page = reader.get_destination_page_number(destination)
        if page is not None and page >= 0:
            pages[name.removeprefix("/")] = page + 1
    return pages


def with_page_numbers(html: str, pages: dict[str, int]) -> str:
    """The page with each contents line's page number filled in, as far as `pages` knows it."""
    return _PAGE_SLOT.sub(lambda m: f'<span class="pg" data-dest="{m[1]}">{pages.get(m[1], "")}</span>', html)


def _bookmarks(html: str) -> list[tuple[int, str, str]]:
    """The contents as (depth, target, title): what the PDF's bookmarks show, nested as the contents are."""
    entries = []
    depth = 0
    for match in re.finditer(r'<ol>|</ol>|<a href="#[A-Za-z0-9_-]+"><span class="t">[^<]*</span>', html):
        token = match[0]
        if token == "<ol>":
            depth += 1
        elif token == "</ol>":
            depth -= 1
        elif entry := _OUTLINE_ENTRY.match(token):
            entries.append((depth, entry[1], unescape(entry[2])))
    return entries


def _finish(pdf: Path, html: str, out: Path) -> None:
    """Copy `pdf` to `out` with bookmarks for the contents' entries, at each one's page, and the
    page's title; without Chromium's print time, so that the same page gives the same bytes."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(pdf)
    writer = PdfWriter(clone_from=reader)
    destinations: dict[str, Destination] = {name.removeprefix("/"): d for name, d in reader.named_destinations.items()}
    parents: dict[int, IndirectObject] = {}
    for depth, target, title in _bookmarks(html):
        destination = destinations.get(target)
        if destination is None:
            continue
        page = reader.get_destination_page_number(destination)
        parent = parents.get(depth - 1) if depth > 1 else None
        parents[depth] = writer.add_outline_item(title=title, page_number=page, parent=parent)
    if parents:
        writer.page_mode = "/UseOutlines"
    named = _TITLE.search(html)
    info = {key: value for key, value in (reader.metadata or {}).items() if key not in ("/CreationDate", "/ModDate")}
    writer.metadata = None
    writer.add_metadata({**info, **({"/Title": unescape(named[1])} if named else {})})
    with out.open("wb") as stream:
        writer.write(stream)


def print_to_pdf(html: Path, pdf: Path) -> None:
    """Print `html` to `pdf`, atomically: a page with contents is printed once to learn the page
    of each contents entry, then again with the page numbers in the contents, and given
    bookmarks; every page is given its title and no print time."""
    text = html.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="deckgen-pages-") as work:
        printed = Path(work, "printed.pdf")
        if _PAGE_SLOT.search(text):
            first, numbered = Path(work, "first.pdf"), Path(work, "numbered.html")
            _print_once(html, first)
            text = with_page_numbers(text, destination_pages(first))
            numbered.write_text(text, encoding="utf-8")
            html = numbered
        _print_once(html, printed)
        tmp = pdf.with_name(f".{pdf.name}.tmp")
        try:
            _finish(printed, text, tmp)
            tmp.replace(pdf)
        finally:
            tmp.unlink(missing_ok=True)
