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

from deckgen.model import Bank, DeckgenError, Diagnostic, Location, Severity

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


@dataclass
class Scalar:
    """A scalar exactly as written; `plain` is false for quoted and block scalars."""

    value: str
    location: Location
    plain: bool = True
    reported: bool = False
    """True for a stand-in for something already reported (an alias): checks skip it."""
    unfolded: str | None = None
    """For a folded (`>`) block scalar: the text as a literal (`|`) scalar would hold it."""
    flawed: bool = False
    """True for text already reported as unfit (too long, or with a control character): checks of its content skip it."""

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


def _char_at(text: str, mark: Any) -> str:
    """The character a YAML mark points at, or '' past the end."""
    if mark is None:
        return ""
    lines = text.split("\n")
    if mark.line >= len(lines):
        return ""
    line = lines[mark.line]
    return line[mark.column] if mark.column < len(line) else ""


def _syntax_error(err: yaml.MarkedYAMLError, text: str, display: str) -> Diagnostic:
    """deckgen's own wording for a YAML syntax error, the same whichever parser (C or Python) raised it."""
    problem = (err.problem or "").strip()
    context = (err.context or "").strip()
    at = _mark_location(display, err.problem_mark or err.context_mark)
    opened = _mark_location(display, err.context_mark)
    char = _char_at(text, err.problem_mark)

    if char == "\t" or "tab" in problem:
        message = "tab character: YAML indents with spaces only"
    elif "quoted scalar" in context and "end of stream" in problem:
        message = "unclosed quote: this string is never closed"
        at = opened
    elif context.startswith("while parsing a flow sequence"):
        message = f"unclosed '[': the list opened at line {opened.line}, column {opened.col} is not closed before this point"
    elif context.startswith("while parsing a flow mapping"):
        message = f"unclosed '{{': the mapping opened at line {opened.line}, column {opened.col} is not closed before this point"
    elif problem.startswith("mapping values are not allowed"):
        message = "unexpected ':': put a value that contains ': ' in quotes, or check the indentation"
    elif context.startswith("while parsing a block") and ("<block end>" in problem or "did not find expected" in problem):
        message = f"this line does not line up with the block that starts at line {opened.line}: check its indentation"
    elif context.startswith("while scanning a simple key"):
        message = "expected 'key: value': this line has no ':' or is indented wrongly"
    elif context.startswith("while scanning an alias") or context.startswith("while scanning an anchor"):
        message = "'*' and '&' start YAML aliases and anchors, which banks do not use: put the text in quotes"
        at = opened
    elif "cannot start any token" in problem and char:
        message = f"'{char}' cannot start a plain value: put the text in quotes"
    elif "directive" in problem:
        message = "YAML directives ('%...') are not used in banks: remove the line"
    else:
        what = context.removeprefix("while ") if context else "reading the file"
        message = f"invalid YAML here (while {what})"
    return _error(at, message, "yaml-syntax")


_MAX_DEPTH = 32
_ESCAPED_CONTROL = re.compile("[\x00\x07\x08\t\x0b\x0c\r\x1b]")
_ESCAPED_OTHER = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]")
"""What else a double-quoted escape can make that no card can hold: C0 and C1 controls (Anki
separates fields with U+001F), line separators, noncharacters and lone surrogates."""

MAX_TEXT_CHARS = 10_000
"""The longest value a bank may write: far above any card's, and a bound on every check's work."""


def unfold(source: str) -> str:
    """A folded block scalar, written as `source` (from its `>` header to its end), as a literal (`|`) one would read it."""
    body = source.split("\n")[1:]
    content = [line for line in body if line.strip()]
    # YAML takes the block's indentation from its first line (or from an explicit indicator,
    # which only ever lets lines start further left: the least indentation is as good here).
    indent = min((len(line) - len(line.lstrip(" ")) for line in content), default=0)
    return "\n".join(line[indent:] for line in body).strip("\n")


class _TooDeep(Exception):
    def __init__(self, location: Location) -> None:
        super().__init__(str(location))
        self.location = location


class _Builder:
    """Turns the event stream of one document into nodes, reporting what banks may not use."""

    def __init__(self, display: str, text: str = "") -> None:
        self.display = display
        self.text = text
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

    def scalar(self, event: yaml.ScalarEvent) -> Scalar:
        """A scalar that needs a closer look: double-quoted, folded, long, or with properties."""
        scalar = Scalar(event.value, self.loc(event), plain=not event.style)
        if len(event.value) > MAX_TEXT_CHARS:
            self.diagnostics.append(
                _error(
                    scalar.location,
                    f"text of {len(event.value):,} characters; a value holds at most {MAX_TEXT_CHARS:,}: split it into several cards",
                    "text-size",
                )
            )
            scalar.flawed = True
        elif event.style == '"' and _ESCAPED_CONTROL.search(event.value):
            self.diagnostics.append(
                _error(
                    scalar.location,
                    "this double-quoted text has an escape that YAML turns into a control character "
                    "(\\t in \\top, \\f in \\frac, \\b in \\beta ...): write text with backslashes as a "
                    "block scalar (>-) or in single quotes",
                    "yaml-escape",
                )
            )
            scalar.flawed = True
        elif event.style == '"' and (control := _ESCAPED_OTHER.search(event.value)):
            self.diagnostics.append(
                _error(
                    scalar.location,
                    f"this double-quoted text has an escape for U+{ord(control.group()):04X}, a control character or "
                    "noncharacter that no card can hold (Anki reads U+001F as the end of a field): remove it",
                    "yaml-escape",
                )
            )
            scalar.flawed = True
        elif event.style == ">" and event.start_mark is not None and event.end_mark is not None:
            scalar.unfolded = unfold(self.text[event.start_mark.index : event.end_mark.index])
        return scalar

    def node(self, events: list[yaml.Event], pos: int, depth: int = 0) -> tuple[Node, int]:
        """Build the node that starts at `events[pos]`; return it and the next position."""
        event = events[pos]
        if depth > _MAX_DEPTH:
            raise _TooDeep(self.loc(event))
        mark = event.start_mark
        if (
            type(event) is yaml.ScalarEvent
            and mark is not None
            and event.anchor is None
            and event.tag is None
            and event.style not in ('"', ">")
            and len(event.value) <= MAX_TEXT_CHARS
        ):
            # Most nodes: a plain, single-quoted or literal scalar with nothing to report.
            return Scalar(event.value, Location(self.display, mark.line + 1, mark.column + 1), plain=not event.style), pos + 1
        if isinstance(event, yaml.AliasEvent):
            self.diagnostics.append(
                _error(self.loc(event), f"alias '*{event.anchor}' is not allowed: write the value out in full", "yaml-alias")
            )
            return Scalar("", self.loc(event), reported=True), pos + 1
        assert isinstance(event, yaml.NodeEvent)
        self.check_properties(event)
        if isinstance(event, yaml.ScalarEvent):
            return self.scalar(event), pos + 1
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


_LINE_SEPARATORS = "\x85\u2028\u2029"
_NONCHARACTERS = "\ufffe\uffff"
# Control characters, and the line breaks that YAML counts but editors do not (which
# would shift every line number after them).
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
"""Embeddings, overrides and isolates, which reorder how text shows: a reviewer would read one
thing in a pull request and learners another ("Trojan Source")."""
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + _LINE_SEPARATORS + _NONCHARACTERS + _BIDI_CONTROLS + "]")

DEFAULT_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it; the messages do not depend on the choice."""

MAX_FILE_BYTES = 16 * 1024 * 1024


def parse_text(text: str, display: str, loader: type[Any] = DEFAULT_LOADER) -> tuple[Node | None, list[Diagnostic]]:
    """Parse YAML text into nodes; on any problem the node may be None."""
    control = _CONTROL.search(text)
    if control:
        line, col = _position(text, control.start())
        char = control.group()
        what = "line separator" if char in _LINE_SEPARATORS else "control character"
        return None, [
            _error(Location(display, line, col), f"{what} U+{ord(char):04X} is not allowed in a bank; use plain text and newlines", "encoding")
        ]
    try:
        events = list(yaml.parse(text, Loader=loader))
    except yaml.MarkedYAMLError as err:
        return None, [_syntax_error(err, text, display)]
    except yaml.YAMLError:
        return None, [_error(Location(display), "invalid YAML", "yaml-syntax")]
    documents = [i for i, e in enumerate(events) if isinstance(e, yaml.DocumentStartEvent)]
    if not documents:
        return None, [_error(Location(display), "file is empty; expected a mapping of keys such as 'questions:'", "empty-file")]
    builder = _Builder(display, text)
    if len(documents) > 1:
        builder.diagnostics.append(
            _error(builder.loc(events[documents[1]]), "a bank file holds one YAML document; remove the second '---'", "yaml-syntax")
        )
    try:
        root, _ = builder.node(events, documents[0] + 1)
    except _TooDeep as deep:
        return None, [_error(deep.location, f"nesting deeper than {_MAX_DEPTH} levels; banks need only a few", "yaml-syntax")]
    return root, builder.diagnostics


def read_bank_file(path: Path) -> bytes | None:
    """A bank file's bytes, or None if it is over the size limit or cannot be read (which
    `load_file` then reports)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def load_file(path: Path, display: str, data: bytes | None = None) -> LoadedFile:
    """Read one bank file (or parse `data`, its bytes as already read); never raises for
    anything the file itself contains."""
    if data is None:
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                message = f"file is {size // (1024 * 1024)} MiB; a bank file may hold at most {MAX_FILE_BYTES // (1024 * 1024)} MiB, so split it into topics"
                return LoadedFile(path, display, None, [_error(Location(display), message, "file-size")])
            data = path.read_bytes()
        except OSError as err:
            return LoadedFile(path, display, None, [_error(Location(display), f"cannot read file: {err.strerror}", "io")])
    text, diagnostics = _decode(data, display)
    if text is None:
        return LoadedFile(path, display, None, diagnostics)
    root, more = parse_text(text, display)
    return LoadedFile(path, display, root, diagnostics + more)


def load_bank(root: Path) -> Bank:
    """The validated bank at `root`, or DeckgenError with every problem found: the library's way in."""
    # deckgen.validate reads each file with this module, so it is imported when first needed.
    from deckgen.validate import validate_bank

    bank, diagnostics = validate_bank(root)
    if bank is None:
        raise DeckgenError(diagnostics)
    return bank
