"""The Markdown review sheets, and the images they show, copied into `media/` beside them."""

from __future__ import annotations

from pathlib import Path

from deckgen.anki.package import bank_media
from deckgen.outputs.base import RenderContext, Writer, copy_writer, lines_writer
from deckgen.sheet import MEDIA_FOLDER, questions_sheet_lines, review_sheet_lines

REVIEW_SHEET = "review-sheet.md"
QUESTIONS_SHEET = "review-questions.md"


class MarkdownSheets:
    """`review-sheet.md` with the answers, `review-questions.md` with an answer key, and their images."""

    name = "markdown"
    late = False

    def files(self, context: RenderContext) -> dict[Path, Writer]:
        """Both sheets, each question's lines from the cache where it can, then every image they show."""
        out, outline = context.out_dir, context.outline
        review, questions = context.path(REVIEW_SHEET), context.path(QUESTIONS_SHEET)
        writers = {
            review: lines_writer(review_sheet_lines(outline, context.cache), context.cache, context.name(review)),
            questions: lines_writer(questions_sheet_lines(outline, context.cache), context.cache, context.name(questions)),
        }
        for name, source in sorted(bank_media(context.bank).items()):
            writers[out / MEDIA_FOLDER / name] = copy_writer(source)
        return writers
