"""The Anki package: every note of the selection, with the lock's times, as `<slug>.apkg`."""

from __future__ import annotations

from pathlib import Path

from deckgen.anki.notes import deck_notes
from deckgen.anki.package import write_apkg
from deckgen.outputs.base import RenderContext, Writer


class AnkiPackage:
    """The deck as an `.apkg` file, for Anki to import."""

    name = "apkg"
    late = False

    def files(self, context: RenderContext) -> dict[Path, Writer]:
        """The package, named after the deck's slug."""
        chosen, lock = context.bank, context.lock
        slug = (chosen.edition_of or chosen).deck.slug
        path = context.path(f"{slug}.apkg")
        # The notes are read from the cache a topic at a time as the package is written, never all
        # at once, and only when it is written: whether the last build's package can be copied is
        # known without them.
        return {path: lambda target: write_apkg(chosen, target, deck_notes(chosen, context.cache), lock, context.cache, context.name(path))}
