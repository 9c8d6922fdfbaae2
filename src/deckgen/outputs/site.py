"""The site: `site/` for the deck's source language, `site/<language>/` for each other edition."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from deckgen.cache import Block, BuildCache
from deckgen.outputs.base import RenderContext, Writer, write_parts
from deckgen.outputs.printhtml import QUESTIONS_HTML, REVIEW_HTML
from deckgen.render import to_print_html
from deckgen.site import ASSETS, asset, site_pages

SITE_FOLDER = "site"


def _page_writer(make: Callable[[], str | Block | Iterator[str | Block]], cache: BuildCache, name: str) -> Writer:
    """Write the page `make` makes (whole, or part by part, each part text or a block), made as
    it is written; tell `cache` where each block went."""

    def write(path: Path) -> None:
        page = make()
        if isinstance(page, str):
            path.write_text(page, encoding="utf-8", newline="\n")
        elif isinstance(page, Block):
            cache.wrote(name, page, 0)
            page.write_to(path)
        else:
            write_parts(path, page, cache, name)

    return write


def _bytes_writer(data: bytes) -> Writer:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


class Site:
    """A static site of the deck (or of a handout), for any static host and `file://`."""

    name = "site"
    late = False

    def files(self, context: RenderContext) -> dict[Path, Writer]:
        """Every page and asset of this edition's site."""
        bank = context.bank
        language = context.language
        root = context.out_dir / SITE_FOLDER / ("" if language == "en" else language)
        up = "../" if language == "en" else "../../"
        whole = context.whole
        slug = (whole.edition_of or whole).deck.slug
        downloads = [("Anki (.apkg)", up + context.path(f"{slug}.apkg").name)]
        if context.pdf:
            downloads += [(name, up + context.path(page).with_suffix(".pdf").name) for name, page in (("PDF", REVIEW_HTML), ("PDF (questions)", QUESTIONS_HTML))]
        others = [lang for lang in (whole.edition_of or whole).deck.languages if lang != language]
        switch = [(lang, ("../" if language != "en" else "") + ("" if lang == "en" else f"{lang}/") + "index.html", lang) for lang in others]
        pages = site_pages(bank, whole, context.outline, context.cache, to_print_html(bank.deck.description), downloads, switch)
        writers: dict[Path, Writer] = {root / name: _page_writer(make, context.cache, context.name(root / name)) for name, make in pages.items()}
        writers.update({root / "assets" / name: _bytes_writer(asset(name)) for name in ASSETS})
        return writers
