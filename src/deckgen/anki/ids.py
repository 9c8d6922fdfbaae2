"""The ids Anki keeps a learner's history under: GUIDs, deck ids, note and card ids, hashes.

All of them derive from deckgen's own ids (a question id, a row id, a deck slug), never
from content or time, and are written out here rather than taken from genanki, so that
fixing a typo, moving a question or updating a dependency never changes a released id.
"""

from __future__ import annotations

import hashlib

GUID_NAMESPACE = "deckgen"

_BASE91 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&()*+,-./:;<=>?@[]^_`{|}~"


def note_guid(question_id: str, row_id: str | None = None) -> str:
    """A note's GUID: from deckgen's namespace and the question (and row) id, never from content.

    The 64-bit SHA-256 prefix in Anki's base-91 alphabet, as genanki computes it, written
    out here so that no dependency update can ever change a released GUID.
    """
    parts = (GUID_NAMESPACE, question_id) if row_id is None else (GUID_NAMESPACE, question_id, row_id)
    number = int.from_bytes(hashlib.sha256("__".join(parts).encode("utf-8")).digest()[:8], "big")
    digits = []
    while number:
        number, digit = divmod(number, len(_BASE91))
        digits.append(_BASE91[digit])
    return "".join(reversed(digits))


def note_id_field(question_id: str, row_id: str | None = None) -> str:
    """The ID field: the question id, or `question-id/row-id` for a compare row."""
    return question_id if row_id is None else f"{question_id}/{row_id}"


def deck_id(*path: str) -> int:
    """A deck id derived from the slugs of its path, so it is the same in every build."""
    digest = hashlib.sha256(("deckgen-deck:" + "/".join(path)).encode()).digest()
    return (int.from_bytes(digest[:7], "big") | (1 << 40)) & ((1 << 53) - 1)


def _stable_id(*parts: str) -> int:
    """A positive id below 2**53 derived from `parts`, so note and card ids are the same in every build."""
    digest = hashlib.sha256("/".join(parts).encode("utf-8")).digest()
    return (int.from_bytes(digest[:6], "big") | (1 << 40)) + 10**12


def note_id(guid: str) -> int:
    """The id of the note with this GUID in the package's collection."""
    return _stable_id("note", guid)


def card_id(guid: str, ordinal: int) -> int:
    """The id of the card with this ordinal of the note with this GUID."""
    return _stable_id("card", guid, str(ordinal))


def content_hash(*parts: str) -> str:
    """A short hash of texts, as the lock records a note's content and a note type's look."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]
