"""The floor: the least that any correct build must do, written by hand.

Load every YAML file with PyYAML's C loader, render each text with one markdown-it-py
instance, and write the notes with genanki. No validation, no lint, no sheets, no lock.
deckgen's build is measured against this.
"""

from __future__ import annotations

import sys
from pathlib import Path

import genanki
import yaml
from markdown_it import MarkdownIt

MODEL = genanki.Model(
    1,
    "floor",
    fields=[{"name": "Question"}, {"name": "Answer"}, {"name": "Extra"}],
    templates=[{"name": "Card", "qfmt": "{{Question}}", "afmt": "{{Answer}}{{Extra}}"}],
)
CLOZE = genanki.Model(
    2,
    "floor cloze",
    fields=[{"name": "Text"}, {"name": "Extra"}],
    templates=[{"name": "Cloze", "qfmt": "{{cloze:Text}}", "afmt": "{{cloze:Text}}{{Extra}}"}],
    model_type=genanki.Model.CLOZE,
)


def main(bank: Path, out: Path) -> None:
    md = MarkdownIt("commonmark").enable("table")
    deck = genanki.Deck(3, "floor")
    for path in sorted(bank.glob("*.yaml")):
        if path.name in ("deck.yaml", "sources.yaml"):
            continue
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        for q in data["questions"]:
            kind = q.get("type", "basic")
            if kind == "cloze":
                deck.add_note(genanki.Note(model=CLOZE, fields=[md.render(q["question"]), ""], guid=q["id"]))
            elif kind == "compare":
                for row in q["rows"]:
                    values = "".join(md.render(str(v)) for v in row["values"])
                    deck.add_note(genanki.Note(model=MODEL, fields=[md.render(row["aspect"]), values, ""], guid=f"{q['id']}/{row['id']}"))
            else:
                fields = [md.render(q["question"]), md.render(q["answer"]), md.render(q.get("extra", ""))]
                deck.add_note(genanki.Note(model=MODEL, fields=fields, guid=q["id"]))
    genanki.Package(deck).write_to_file(str(out))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
