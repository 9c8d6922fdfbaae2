"""Typed access to loaded YAML nodes, by the bank spec: one loop reads every record.

`Reader.read(node, record)` checks a mapping's keys against its record in deckgen.spec,
reads each field as its kind says (text, ids, URLs, Markdown, lists, nested records) and
applies the field policy of deckgen.content to each value. Every problem becomes a
located diagnostic; nothing stops at the first one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deckgen.content import Problem, markdown_problems, title_problems, url_problems
from deckgen.lint import RULES
from deckgen.load import Mapping, Node, Scalar, Sequence
from deckgen.model import NOTHING_IGNORED, Diagnostic, Location, Severity, clipped
from deckgen.references import Known, is_placeholder, suggest
from deckgen.spec import (
    CARD_MARKDOWN,
    CHOICE,
    ID,
    KEBAB_RE,
    LANG,
    LANG_RE,
    MARKDOWN,
    RECORD,
    REFERENCE,
    RULE,
    TAG,
    TITLE,
    URL,
    YEAR,
    YEAR_RE,
    RECORDS,
    Field,
    Record,
)

if TYPE_CHECKING:
    from deckgen.cache import BuildCache

NUMBER_RE = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_PATTERNS = {LANG: LANG_RE, YEAR: YEAR_RE}
_YAML_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
"""A plain scalar that YAML 1.2, as editors read it, takes for an integer."""
_LONGEST_YEAR = 12
"""The longest plain scalar read as a number of a year (`+0000002019`); longer text is not a year."""


def describe(node: Node) -> str:
    """A node as messages name what was found instead of what was expected."""
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    return "nothing" if node.is_null else f"'{node.value}'"


def location_of(node: Mapping, key: str) -> Location:
    """Where the value of `key` is written, or the mapping itself when it has no such key."""
    value = node.get(key)
    return value.location if value is not None else node.location


@dataclass
class Reader:
    """Reads nodes into typed values, collecting a diagnostic for every problem on the way."""

    known: Known
    diagnostics: list[Diagnostic] = field(default_factory=list)
    unfolded: dict[Location, str] = field(default_factory=dict)
    """Each folded (`>`) scalar read so far, as a literal scalar would hold it, by where it is written."""
    flawed: set[Location] = field(default_factory=set)
    """Where text already reported as unfit is written: its content is not checked again."""
    media: dict[str, Path] = field(default_factory=dict)
    """The image files that the card Markdown read since the last `take_media()` names, by target."""
    cache: BuildCache | None = None
    """The build's cache, in which a process that builds again and again keeps what it found in
    each text of a file it read (`BuildCache.derived`)."""

    def error(self, location: Location, message: str, rule: str) -> None:
        """Report an error at `location`."""
        self.diagnostics.append(Diagnostic(location, Severity.ERROR, message, rule))

    def warning(self, location: Location, message: str, rule: str) -> None:
        """Report a warning at `location`: it fails only `--strict`."""
        self.diagnostics.append(Diagnostic(location, Severity.WARNING, message, rule))

    def report(self, location: Location, problems: list[Problem]) -> None:
        """Report each problem found in the value written at `location`."""
        for message, rule in problems:
            self.error(location, message, rule)

    def take_media(self) -> dict[str, Path]:
        """The images named since the last call, and start collecting afresh."""
        media, self.media = self.media, {}
        return media

    def mapping(self, node: Node | None, what: str, location: Location) -> Mapping | None:
        """`node` if it is a mapping; otherwise report what was found instead."""
        if isinstance(node, Mapping):
            return node
        if isinstance(node, Scalar) and node.reported:
            return None
        found = "nothing" if node is None else describe(node)
        self.error(node.location if node else location, f"expected {what} to be a mapping, found {found}", "wrong-type")
        return None

    def keys(self, node: Mapping, record: Record) -> None:
        """Report keys the record does not declare, and required keys that are missing."""
        required, optional = record.keys
        allowed = (*required, *optional)
        for key, _ in node.items:
            if key.value not in allowed:
                self.error(key.location, f"unknown key '{key.value}' in {record.what}{suggest(key.value, allowed)}", "unknown-key")
        misspelt = {suggest(k.value, allowed) for k, _ in node.items if k.value not in allowed}
        for key_name in required:
            if node.get(key_name) is None and f" (did you mean '{key_name}'?)" not in misspelt:
                self.error(node.location, f"missing required key '{key_name}' in {record.what}", "missing-key")

    def text(self, node: Mapping, key: str, required: bool = True) -> str | None:
        """The text of `key`; None (reported if required) when it is absent, empty or not text."""
        value = self.scalar(node.get(key), key, required)
        return None if value is None else value.value

    def scalar(self, value: Node | None, key: str, required: bool = True) -> Scalar | None:
        """The value of `key` as written, if it is text; None (reported if required) when it is absent, empty or not text."""
        if value is None or (isinstance(value, Scalar) and value.reported):
            return None
        if not isinstance(value, Scalar):
            self.error(value.location, f"expected text for '{key}', found {describe(value)}", "wrong-type")
            return None
        if value.is_null or not value.value.strip():
            if required:
                self.error(value.location, f"'{key}' is empty", "empty-value")
            return None
        self._note(value)
        return value

    def _note(self, value: Scalar) -> None:
        """Remember what the content checks need to know of a scalar: how it reads unfolded, and whether it is flawed."""
        if value.unfolded is not None:
            self.unfolded[value.location] = value.unfolded
        if value.flawed:
            self.flawed.add(value.location)

    def text_list(self, node: Mapping, key: str, required: bool = True) -> list[Scalar] | None:
        """The texts of the list `key`, each with its location; None when it is absent or not a list."""
        value = node.get(key)
        if value is None or (isinstance(value, Scalar) and value.reported):
            return None
        if isinstance(value, Scalar) and value.is_null:
            if required:
                self.error(value.location, f"'{key}' is empty", "empty-value")
            return None
        if not isinstance(value, Sequence):
            self.error(value.location, f"expected a list for '{key}', found {describe(value)}", "wrong-type")
            return None
        if required and not value.items:
            self.error(value.location, f"'{key}' is empty", "empty-value")
        items: list[Scalar] = []
        for item in value.items:
            if isinstance(item, Scalar) and item.reported:
                continue
            if not isinstance(item, Scalar) or item.is_null:
                self.error(item.location, f"expected text in '{key}', found {describe(item)}", "wrong-type")
            elif not item.value.strip():
                self.error(item.location, f"empty text in '{key}'", "empty-value")
            else:
                self._note(item)
                items.append(item)
        return items

    def node_list(self, node: Mapping, key: str, what: str) -> list[Node]:
        """The items of the list `key` (a list of records), reported when it is empty or not a list."""
        value = node.get(key)
        if value is None or (isinstance(value, Scalar) and value.reported):
            return []
        if isinstance(value, Scalar) and value.is_null:
            self.error(value.location, f"'{key}' is empty; expected a list of {what}", "empty-value")
            return []
        if not isinstance(value, Sequence):
            self.error(value.location, f"expected a list of {what} for '{key}', found {describe(value)}", "wrong-type")
            return []
        if not value.items:
            self.error(value.location, f"'{key}' is empty; expected a list of {what}", "empty-value")
        return value.items

    def unique(self, seen: dict[str, Location], value: str, location: Location, what: str, rule: str = "duplicate-id") -> None:
        """Report `value` if it was seen before, where it was first written."""
        first = seen.get(value)
        if first is not None:
            self.error(location, f"duplicate {what} '{value}' (first at {first})", rule)
        else:
            seen[value] = location

    def read(self, node: Mapping, record: Record) -> dict[str, Any]:
        """Every field of `record` in `node`, read and checked as its kind says.

        A scalar field gives its text (None when absent or unusable), a list of scalars its
        usable items (as Scalars, with their locations), a list of records its nodes (read by the
        caller, who knows what they become), and `lint` the set of rules it silences.
        """
        self.keys(node, record)
        values: dict[str, Any] = {}
        for spec in record.fields:
            if spec.kind is RECORD and spec.many:
                values[spec.name] = self.node_list(node, spec.name, spec.noun or spec.name)
            elif spec.kind is RECORD:
                if not RECORDS[spec.record].applies_to:
                    raise TypeError(f"{record.name}.{spec.name}: a record holds one other record only as its lint exception")
                values[spec.name] = self.lint(node, spec)
            elif spec.many:
                items = self.text_list(node, spec.name, spec.required)
                if items is not None:
                    items = [item for item in items if self.check(record, spec, item.value, item.location, item.plain) is not None]
                values[spec.name] = items
            else:
                written = self.scalar(node.get(spec.name), spec.name, spec.required)
                values[spec.name] = None if written is None else self.check(record, spec, written.value, written.location, written.plain)
        return values

    def check(self, record: Record, spec: Field, value: str, location: Location, plain: bool = False) -> str | None:
        """Check one value of a field by its kind; the value to keep, or None when it is unusable.

        `plain` says the value was written unquoted, where YAML editors read `true` as a
        boolean and `0999` as the number 999: check reads such values as they do.
        """
        kind = spec.kind
        if kind is YEAR and plain and len(value) <= _LONGEST_YEAR and _YAML_INT.fullmatch(value):
            year = int(value, 0) if value.startswith(("0o", "0x")) else int(value)
            if not 1000 <= year <= 9999:
                self.error(location, f"{spec.name} '{clipped(value)}' is not {kind.description}", "invalid-value")
                return None
            return str(year)
        if kind is ID and plain and value in ("true", "false"):
            self.error(location, f"{spec.name} {value} is read as true or false; an id is kebab-case text that starts with a letter", "id-format")
        elif kind is ID:
            self.ident(spec.name, value, location)
        elif kind is REFERENCE and spec.refers_to == "source" and is_placeholder(value):
            # A warning, as for the other placeholders of `deckgen new`: check lists them all at
            # once, and `deckgen new` can add to the file. The card cites only the sources that exist.
            self.warning(
                location,
                f"source '{clipped(value)}' is a placeholder: cite the reading-list article that covers this card "
                "and the original paper, by their ids in sources.yaml",
                "source-placeholder",
            )
            return None
        elif kind is REFERENCE:
            problem = self.known.reference_problem(spec.refers_to, value)
            if problem is not None:
                self.error(location, problem, f"unknown-{spec.refers_to}")
        elif kind is TAG:
            if any(ch.isspace() for ch in value):
                self.error(location, f"tag '{value}' contains a space; Anki tags cannot", "tag-format")
        elif kind in _PATTERNS:
            if not _PATTERNS[kind].fullmatch(value):
                self.error(location, f"{spec.name} '{clipped(value)}' is not {kind.description}", "invalid-value")
        elif kind is CHOICE:
            if value not in spec.choices:
                choices = ", ".join(spec.choices)
                self.error(location, f"{spec.name} '{value}' is not one of {choices}{suggest(value, spec.choices)}", "invalid-value")
                return None
        elif kind is RULE:
            if value not in RULES:
                self.error(location, f"unknown lint rule '{value}'{suggest(value, RULES)}", "unknown-rule")
                return None
            if value not in spec.choices:
                self.error(
                    location,
                    f"lint rule '{value}' does not apply to {record.applies_to}; rules here: {', '.join(spec.choices)}",
                    "unknown-rule",
                )
                return None
        elif location not in self.flawed:
            self.content(kind is CARD_MARKDOWN, spec, value, location)
        return value

    def content(self, images: bool, spec: Field, value: str, location: Location) -> None:
        """The field policy for text that every output shows: titles, URLs and Markdown."""
        if spec.kind is TITLE:
            self.report(location, title_problems(spec.name, value))
        elif spec.kind is URL:
            self.report(location, url_problems(spec.name, value))
        elif spec.kind in (MARKDOWN, CARD_MARKDOWN):
            unfolded = self.unfolded.get(location)
            if self.cache is not None and "![" not in value:
                # Without an image (Markdown writes each as `![`), what is wrong with a text
                # depends on the text alone: a watch that reads an edited file again checks
                # only the texts that changed.
                found = self.cache.derived("markdown-problems", (), (value, unfolded), lambda: tuple(markdown_problems(value, unfolded)))
                self.report(location, list(found))
            else:
                image_file = self.known.image_file if images else None
                self.report(location, markdown_problems(value, unfolded, image_file, self.media))

    def ident(self, key: str, value: str, location: Location) -> None:
        """An id is kebab-case text that starts with a letter."""
        if NUMBER_RE.fullmatch(value):
            self.error(location, f"{key} {clipped(value)} is a number; an id is kebab-case text that starts with a letter", "id-format")
        elif not KEBAB_RE.fullmatch(value):
            self.error(
                location,
                f"{key} '{clipped(value)}' is not kebab-case: use lowercase letters, digits and single hyphens, starting with a letter",
                "id-format",
            )

    def lint(self, node: Mapping, spec: Field) -> frozenset[str]:
        """The rules silenced by a `lint: {ignore: [...], reason: ...}` entry."""
        value = node.get(spec.name)
        if value is None:
            return NOTHING_IGNORED
        entry = self.mapping(value, "'lint'", value.location)
        if entry is None:
            return NOTHING_IGNORED
        return frozenset(rule.value for rule in self.read(entry, RECORDS[spec.record])["ignore"] or []) or NOTHING_IGNORED
