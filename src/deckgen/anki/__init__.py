"""The Anki export, one module per job; the only package that imports genanki.

- `ids`: GUIDs, deck, note and card ids, derived from deckgen's ids, never from content.
- `notetypes`: the two note types (ids, names, fields, templates, `card.css`) and their
  state for the lock.
- `notes`: what each question becomes, field by field: a pure function of the bank.
- `package`: the collection.anki2 SQLite database and the .apkg zip around it.
- `read`: an .apkg read back, untrusted, for `deckgen diff`.

Nothing is imported here, so that reading the notes (as `deckgen check` does) never loads
the SQLite and zip writer: import from the module itself.
"""
