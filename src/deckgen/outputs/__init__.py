"""The outputs a build writes, each a plug-in over one render context (see `base`).

Adding an output (a website, a CSV) is a new module here and one line in `FORMATS`; the build
writes them in this order, every file of them in one switch of `--out`.
"""

from __future__ import annotations

from deckgen.outputs.apkg import AnkiPackage
from deckgen.outputs.base import Format, RenderContext, Writer
from deckgen.outputs.markdown import MarkdownSheets
from deckgen.outputs.pdfs import PdfSheets
from deckgen.outputs.printhtml import PrintSheets
from deckgen.outputs.site import Site

FORMATS: tuple[Format, ...] = (AnkiPackage(), MarkdownSheets(), PrintSheets(), Site(), PdfSheets())

__all__ = ["FORMATS", "Format", "RenderContext", "Writer"]
