"""The printable HTML sheets: self-contained pages, each made as it is written."""

from __future__ import annotations

from pathlib import Path

from deckgen.outputs.base import RenderContext, Writer, lines_writer
from deckgen.printsheet import print_pages

REVIEW_HTML = "review-sheet.html"
QUESTIONS_HTML = "review-questions.html"


class PrintSheets:
    """`review-sheet.html` with the answers and `review-questions.html` with an answer key."""

    name = "html"
    late = False

    def files(self, context: RenderContext) -> dict[Path, Writer]:
        """Both pages, each question's printed texts from the cache where it can."""
        # The answer key waits beside the output folder, on the disk that the pages are written to.
        review, questions = print_pages(context.outline, context.cache, context.style, context.out_dir.absolute().parent)
        paths = context.path(REVIEW_HTML), context.path(QUESTIONS_HTML)
        return {path: lines_writer(lines, context.cache, context.name(path)) for path, lines in zip(paths, (review, questions))}
