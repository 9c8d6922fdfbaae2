"""Write the notes deckgen makes of a bank with genanki's own writer and its defaults (a stored zip).

    python bench/genanki_size.py BANK OUT.apkg

The benchmark compares the size of deckgen's .apkg with this one's. It runs in a process of its
own, so that the benchmark's process stays smaller than every process it measures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import genanki  # type: ignore[import-untyped]

from deckgen.anki.notes import deck_notes
from deckgen.anki.notetypes import note_models
from deckgen.load import load_bank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bank", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    loaded = load_bank(args.bank)
    models = note_models(loaded.deck.homepage)
    deck = genanki.Deck(1, "bench")
    for spec in deck_notes(loaded).notes:
        deck.add_note(genanki.Note(model=models[spec.model], fields=list(spec.fields), tags=list(spec.tags), guid=spec.guid))
    genanki.Package(deck).write_to_file(str(args.out))


if __name__ == "__main__":
    main()
