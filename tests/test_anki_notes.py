"""deckgen.anki.notes: what each question becomes, as a pure function of the bank."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deckgen.anki.notes import deck_notes, note_kinds, note_layout, question_notes
from deckgen.anki.notetypes import note_models
from deckgen.model import QuestionType
from deckgen.load import load_bank
from tests.conftest import FIXTURES, ROOT


def test_reading_notes_does_not_load_the_package_writer() -> None:
    # `deckgen check` reads notes and note types only: the SQLite and zip writer stay unloaded.
    code = (
        "import sys, deckgen.anki.notes, deckgen.anki.notetypes; "
        "print(sorted(m for m in ('sqlite3', 'zipfile', 'genanki', 'deckgen.anki.package') if m in sys.modules))"
    )
    # -S: no site module, whose .pth files may import zipfile on their own; the path is
    # given whole instead, this checkout's src first.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
    found = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, check=True)
    assert found.stdout == "[]\n", found.stderr
    # The same check fails when it should: the package module does load the writer.
    code = code.replace("deckgen.anki.notetypes;", "deckgen.anki.package;")
    found = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, check=True)
    assert found.stdout == "['deckgen.anki.package', 'genanki', 'sqlite3', 'zipfile']\n", found.stderr


def test_notes_are_named_by_their_keys_only_with_a_build_cache() -> None:
    # A package is keyed by its questions' keys in the build's cache: without one there are none.
    notes = deck_notes(load_bank(FIXTURES / "mini"))
    with pytest.raises(ValueError, match="^the notes are named by their keys in a build's cache, and there is none$"):
        next(notes.named())


def test_each_question_type_is_laid_out_as_its_note_type() -> None:
    bank = load_bank(FIXTURES / "mini")
    models = note_models(bank.deck.homepage)
    kinds = note_kinds(bank)
    seen = set()
    for topic in bank.topics:
        for question in (*topic.questions, *topic.retired):
            layout = note_layout(question)
            seen.add(question.type)
            assert layout.model == ("cloze" if question.type is QuestionType.CLOZE else "basic")
            assert layout.fields == tuple(f["name"] for f in models[layout.model].fields)
            for spec in question_notes(bank, topic, question):
                assert (spec.model, len(spec.fields)) == (layout.model, len(layout.fields))
                assert kinds[spec.fields[0]][0] == layout.model
    assert seen == set(QuestionType)
    assert len(deck_notes(bank).notes) == len(kinds)


def test_a_release_tag_is_one_tag_under_deckgen_whatever_the_version() -> None:
    from deckgen.anki.notes import release_tag

    assert release_tag("0.2.0") == "deckgen::release::0.2.0"
    assert release_tag("1.0\nbeta 2\n") == "deckgen::release::1.0_beta_2"
    assert release_tag("2026::spring") == "deckgen::release::2026:spring"
