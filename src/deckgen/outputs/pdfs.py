"""The PDFs of the printable sheets, printed from the staged HTML once everything else is written."""

from __future__ import annotations

from pathlib import Path

from deckgen.outputs.base import RenderContext, Writer
from deckgen.outputs.printhtml import QUESTIONS_HTML, REVIEW_HTML
from deckgen.pdf import print_to_pdf


def _print_staged(path: Path) -> None:
    # The staging folder mirrors `--out`: the page to print is staged beside its PDF.
    print_to_pdf(path.with_suffix(".html"), path)


class PdfSheets:
    """`review-sheet.pdf` and `review-questions.pdf`, with `--pdf` only: a missing browser costs only these."""

    name = "pdf"
    late = True

    def files(self, context: RenderContext) -> dict[Path, Writer]:
        """A PDF for each HTML page, if PDFs were asked for."""
        if not context.pdf:
            return {}
        return {context.path(page).with_suffix(".pdf"): _print_staged for page in (REVIEW_HTML, QUESTIONS_HTML)}
