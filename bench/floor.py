"""The floor: the least that any correct build must do, written by hand.

Load every YAML file with PyYAML's C loader, render each text with one markdown-it-py
instance, and write the notes with genanki: one package per edition, a translation's texts
laid over the English by id. No validation, no lint, no sheets, no lock. deckgen's build
is measured against this.
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


def _translated(question: dict, overlay: dict | None) -> dict:
    """The question with an overlay's entry for it laid over its texts (rows by id)."""
    entry = (overlay or {}).get(question["id"])
    if entry is None:
        return question
    merged = {**question, **{k: v for k, v in entry.items() if k not in ("from", "rows")}}
    if "rows" in entry:
        rows = {row["id"]: row for row in entry["rows"]}
        merged["rows"] = [{**row, **{k: v for k, v in rows.get(row["id"], {}).items() if k != "from"}} for row in question["rows"]]
    return merged


def write_deck(md: MarkdownIt, questions: list[dict], out: Path) -> None:
    deck = genanki.Deck(3, "floor")
    for q in questions:
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


def main(bank: Path, out: Path) -> None:
    """One package of the bank, and one more for each edition its topics' overlays make
    (`x.zh.yaml` beside `x.yaml`), named `out` with the language before its extension."""
    md = MarkdownIt("commonmark").enable("table")
    editions: dict[str, list[dict]] = {"en": []}
    for path in sorted(bank.glob("*.yaml")):
        if path.name in ("deck.yaml", "sources.yaml") or path.stem.count(".") > 0:
            continue
        questions = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)["questions"]
        editions["en"] += questions
        for overlay_path in sorted(bank.glob(f"{path.stem}.*.yaml")):
            language = overlay_path.stem.rsplit(".", 1)[1]
            overlay = yaml.load(overlay_path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            by_id = {entry["id"]: entry for entry in overlay.get("questions", [])}
            editions.setdefault(language, []).extend(_translated(q, by_id) for q in questions)
    for language, questions in editions.items():
        write_deck(md, questions, out if language == "en" else out.with_name(f"{out.stem}.{language}{out.suffix}"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
