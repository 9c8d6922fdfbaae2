"""Read YAML bank files into plain nodes that remember where they were written.

Only YAML's event stream is used: no object is ever constructed from a tag, scalars
stay the text the author wrote (`No` stays "No", `3.10` stays "3.10"), and anchors,
aliases and tags are refused, which also defuses alias bombs.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from deckgen.model import Diagnostic, Location, Severity

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


@dataclass
class Scalar:
    """A scalar exactly as written; `plain` is false for quoted and block scalars."""

    value: str
    location: Location
    plain: bool = True

    @property
    def is_null(self) -> bool:
        """True for an empty value or a plain `null`/`~`."""
        return self.plain and self.value in _NULLS


@dataclass
class Sequence:
    """A YAML list."""

    items: list[Node]
    location: Location


@dataclass
class Mapping:
    """A YAML mapping with scalar keys, in the order written."""

    items: list[tuple[Scalar, Node]]
    location: Location
    keys: dict[str, Scalar] = field(default_factory=dict)

    def get(self, key: str) -> Node | None:
        """The value of `key`, or None when the key is absent."""
        for k, v in self.items:
            if k.value == key:
                return v
        return None


Node = Union[Scalar, Sequence, Mapping]


@dataclass
class LoadedFile:
    """One file's top-level node (None when it could not be read) and its problems."""

    path: Path
    display: str
    root: Node | None
    diagnostics: list[Diagnostic]


def _error(loc: Location, message: str, rule: str) -> Diagnostic:
    return Diagnostic(loc, Severity.ERROR, message, rule)


def _mark_location(display: str, mark: Any) -> Location:
    if mark is None:
        return Location(display, 1, 1)
    return Location(display, mark.line + 1, mark.column + 1)


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character `index` in `text`."""
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def _describe_syntax_error(err: yaml.MarkedYAMLError) -> str:
    """deckgen's own wording for a YAML syntax error, whichever parser raised it."""
    problem = (err.problem or "").strip()
    context = (err.context or "").strip()
    if "'\\t'" in problem or "\\t" in problem:
        return "tab character: YAML indents with spaces only"
    if "found unexpected end of stream" in problem and "quoted scalar" in context:
        return "unclosed quote: the string runs to the end of the file"
    if "mapping values are not allowed" in problem:
        return "unexpected ':': a value that contains ': ' must be quoted, or the indentation is off"
    if context.startswith("while parsing a flow"):
        return f"unclosed bracket or brace: {problem}"
    if "could not find expected ':'" in problem:
        return "expected 'key: value' here; a line may be missing its ':' or be indented wrongly"
    if "expected <block end>" in problem:
        return "bad indentation: this line does not line up with the lines above it"
    return f"invalid YAML: {problem or context}"


_MAX_DEPTH = 32


class _TooDeep(Exception):
    def __init__(self, location: Location) -> None:
        super().__init__(str(location))
        self.location = location


class _Builder:
    """Turns the event stream of one document into nodes, reporting what banks may not use."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.diagnostics: list[Diagnostic] = []

    def loc(self, event: yaml.Event) -> Location:
        return _mark_location(self.display, event.start_mark)

    def check_properties(self, event: yaml.NodeEvent) -> None:
        anchor = getattr(event, "anchor", None)
        if anchor is not None and not isinstance(event, yaml.AliasEvent):
            self.diagnostics.append(
                _error(self.loc(event), f"anchor '&{anchor}' is not allowed: write the value out in full", "yaml-anchor")
            )
        tag = getattr(event, "tag", None)
        if tag is not None:
            self.diagnostics.append(
                _error(self.loc(event), f"tag '{tag}' is not allowed: banks hold plain text, lists and mappings", "yaml-tag")
            )

    def node(self, events: list[yaml.Event], pos: int, depth: int = 0) -> tuple[Node, int]:
        """Build the node that starts at `events[pos]`; return it and the next position."""
        event = events[pos]
        if depth > _MAX_DEPTH:
            raise _TooDeep(self.loc(event))
        if isinstance(event, yaml.AliasEvent):
            self.diagnostics.append(
                _error(self.loc(event), f"alias '*{event.anchor}' is not allowed: write the value out in full", "yaml-alias")
            )
            return Scalar("", self.loc(event)), pos + 1
        assert isinstance(event, yaml.NodeEvent)
        self.check_properties(event)
        if isinstance(event, yaml.ScalarEvent):
            return Scalar(event.value, self.loc(event), plain=event.style is None), pos + 1
        if isinstance(event, yaml.SequenceStartEvent):
            items: list[Node] = []
            pos += 1
            while not isinstance(events[pos], yaml.SequenceEndEvent):
                item, pos = self.node(events, pos, depth + 1)
                items.append(item)
            return Sequence(items, self.loc(event)), pos + 1
        assert isinstance(event, yaml.MappingStartEvent)
        mapping = Mapping([], self.loc(event))
        pos += 1
        while not isinstance(events[pos], yaml.MappingEndEvent):
            key, pos = self.node(events, pos, depth + 1)
            value, pos = self.node(events, pos, depth + 1)
            if not isinstance(key, Scalar):
                self.diagnostics.append(_error(key.location, "a key must be plain text, not a list or mapping", "wrong-type"))
                continue
            first = mapping.keys.get(key.value)
            if first is not None:
                self.diagnostics.append(
                    _error(
                        key.location,
                        f"duplicate key '{key.value}' (first at line {first.location.line}); a mapping holds each key once",
                        "duplicate-key",
                    )
                )
                continue
            mapping.keys[key.value] = key
            mapping.items.append((key, value))
        return mapping, pos + 1


def _decode(data: bytes, display: str) -> tuple[str | None, list[Diagnostic]]:
    """Decode UTF-8 strictly; report UTF-16, other encodings and a byte-order mark."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, [_error(Location(display), "file is UTF-16; save it as UTF-8 without a byte-order mark", "encoding")]
    diagnostics: list[Diagnostic] = []
    if data.startswith(codecs.BOM_UTF8):
        diagnostics.append(
            Diagnostic(Location(display), Severity.WARNING, "byte-order mark at the start of the file; save it as UTF-8 without BOM", "bom")
        )
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8"), diagnostics
    except UnicodeDecodeError as err:
        good = data[: err.start].decode("utf-8")
        line, col = _position(good, len(good))
        byte = data[err.start]
        return None, diagnostics + [
            _error(Location(display, line, col), f"file is not valid UTF-8: byte 0x{byte:02x} here; save it as UTF-8", "encoding")
        ]


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_text(text: str, display: str) -> tuple[Node | None, list[Diagnostic]]:
    """Parse YAML text into nodes; on any problem the node may be None."""
    control = _CONTROL.search(text)
    if control:
        line, col = _position(text, control.start())
        return None, [_error(Location(display, line, col), f"control character {control.group()!r} is not allowed in a bank", "encoding")]
    try:
        events = list(yaml.parse(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as err:
        loc = _mark_location(display, err.problem_mark or err.context_mark)
        return None, [_error(loc, _describe_syntax_error(err), "yaml-syntax")]
    except yaml.YAMLError as err:
        return None, [_error(Location(display), f"invalid YAML: {err}", "yaml-syntax")]
    documents = [i for i, e in enumerate(events) if isinstance(e, yaml.DocumentStartEvent)]
    if not documents:
        return None, [_error(Location(display), "file is empty; expected a mapping of keys such as 'questions:'", "empty-file")]
    builder = _Builder(display)
    if len(documents) > 1:
        builder.diagnostics.append(
            _error(builder.loc(events[documents[1]]), "a bank file holds one YAML document; remove the second '---'", "yaml-syntax")
        )
    try:
        root, _ = builder.node(events, documents[0] + 1)
    except _TooDeep as deep:
        return None, [_error(deep.location, f"nesting deeper than {_MAX_DEPTH} levels; banks need only a few", "yaml-syntax")]
    return root, builder.diagnostics


def load_file(path: Path, display: str) -> LoadedFile:
    """Read one bank file; never raises for anything the file itself contains."""
    try:
        data = path.read_bytes()
    except OSError as err:
        return LoadedFile(path, display, None, [_error(Location(display), f"cannot read file: {err.strerror}", "io")])
    text, diagnostics = _decode(data, display)
    if text is None:
        return LoadedFile(path, display, None, diagnostics)
    root, more = parse_text(text, display)
    return LoadedFile(path, display, root, diagnostics + more)
