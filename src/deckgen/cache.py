"""A cache of rendered notes and sheet fragments in the build folder, so that a rebuild after
editing one question renders only that question.

Entries are keyed by a hash of everything a question's output depends on (its content,
its topic's title, the sources it cites, its images, the deck's homepage) and by a salt
of deckgen's version and the versions of the libraries that render. Locations are left
out, so moving a question or editing the one above it costs nothing. The cache is JSON:
reading it can never run code.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from deckgen.model import Bank, Location, Question, Topic, media_name

CACHE_FILE = ".deckgen-cache.json"
_NOWHERE = Location("")


def _salt() -> str:
    """The versions of deckgen and its renderers, and a hash of deckgen's own code (a changed
    renderer invalidates the cache even before a version bump)."""
    code = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        code.update(source.read_bytes())
    parts = [f"code={code.hexdigest()[:16]}"]
    for package in ("deckgen", "markdown-it-py", "mdit-py-plugins", "pygments", "latex2mathml", "genanki"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=?")
    return ";".join(parts)


class RenderCache:
    """Rendered outputs from the last build, and the ones this build used (which are kept)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / CACHE_FILE
        self.salt = _salt()
        self.old: dict[str, Any] = {}
        self.new: dict[str, Any] = {}
        self.keys: dict[tuple[str, str], str] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("salt") == self.salt and isinstance(data.get("entries"), dict):
                self.old = data["entries"]
        except (OSError, ValueError):
            pass

    def question_key(self, bank: Bank, topic: Topic, question: Question) -> str:
        """What a question's rendering depends on, hashed; its place in the files is not part of it."""
        known = self.keys.get((topic.id, question.id))
        if known is not None:
            return known
        where = replace(
            question,
            location=_NOWHERE,
            field_locations=(),
            lint_ignore=frozenset(),
            rows=tuple(replace(r, location=_NOWHERE) for r in question.rows),
        )
        sources = [replace(bank.source(s), location=_NOWHERE, lint_ignore=frozenset()) for s in question.sources]
        images = [(target, media_name(path)) for target, path in question.images]
        blob = repr((where, topic.title, sources, images, bank.deck.homepage))
        key = self.keys[(topic.id, question.id)] = hashlib.sha256(blob.encode("utf-8")).hexdigest()
        return key

    def get(self, key: str) -> Any:
        """A cached value (also kept for the next build), or None."""
        if key in self.new:
            return self.new[key]
        value = self.old.get(key)
        if value is not None:
            self.new[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        """Remember a value for this build and the next."""
        self.new[key] = value

    def save(self) -> None:
        """Write the entries this build used; best effort, as a cache must never fail a build."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps({"salt": self.salt, "entries": self.new}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
