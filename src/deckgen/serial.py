"""Validated topics as JSON, for the build cache: written and read back by the model's own
dataclasses and type hints, so that a field added to the model is stored without a change here.

Every value read back is checked against its type; anything else raises TypeError or
ValueError, which the cache takes for a miss. Locations are kept: a cached file's
diagnostics and the cards' "where is this written" point at the same lines as a fresh read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from deckgen.model import NOTHING_IGNORED, Diagnostic, FieldLocations, Location, Severity, Topic

Code = Callable[[Any], Any]
"""Turns a value of one type into JSON, or JSON back into a value of that type."""


@lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """A dataclass's stored fields with their types: all but a path, which the reader supplies."""
    hints = get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in fields(cls) if f.init and hints[f.name] is not Path)


def _no_path(value: Any) -> Any:
    """A file's path is not stored: a topic whose questions show images is not cached, as the files may change."""
    raise TypeError("a path is not stored")


@lru_cache(maxsize=None)
def _encoder(hint: Any) -> Code:
    """How to write a value of the type `hint` as JSON, made once per type: dataclasses as
    objects, tuples and sets as lists, enums as their value."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is str or hint is int:
        return lambda value: value
    if origin in (Union, UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        encode_inner = _encoder(inner)
        return lambda value: None if value is None else encode_inner(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return lambda value: value.value
    if hint is Location:
        return list
    if hint is FieldLocations:
        return FieldLocations.stored
    if origin is frozenset:
        return sorted
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _encoder(args[0])
        return lambda value: [item(v) for v in value]
    if origin is tuple:
        items = tuple(_encoder(a) for a in args)
        return lambda value: [encode(v) for encode, v in zip(items, value)]
    if is_dataclass(hint) and isinstance(hint, type):
        encoders = tuple((name, _encoder(field_hint)) for name, field_hint in _fields(hint))
        return lambda value: {name: encode(getattr(value, name)) for name, encode in encoders}
    if hint is Path:
        return _no_path
    raise TypeError(f"no JSON form for {hint!r}")




def _exactly(kind: type) -> Code:
    def decode(value: Any) -> Any:
        if type(value) is not kind:
            raise TypeError(f"not a {kind.__name__}")
        return value

    return decode


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


def _place(value: Any) -> tuple[str, int, int]:
    """A stored location's file, line and column, checked."""
    if type(value) is not list or len(value) != 3:
        raise TypeError("not a location")
    path, line, col = value
    if type(path) is not str or type(line) is not int or type(col) is not int:
        raise TypeError("not a location")
    return path, line, col


@lru_cache(maxsize=None)
def _field_decoders(cls: type) -> tuple[tuple[str, Code], ...]:
    """A dataclass's stored fields, each with its decoder."""
    return tuple((name, _decoder(hint)) for name, hint in _fields(cls))


@lru_cache(maxsize=None)
def _decoder(hint: Any) -> Code:
    """How to read a value of the type `hint` back from what `_to_json` wrote: made once per type,
    and raising TypeError or ValueError for anything else."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is str or hint is int:
        return _exactly(hint)
    if origin in (Union, UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        decode_inner = _decoder(inner)
        return lambda value: None if value is None else decode_inner(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if hint is Location:
        return lambda value: Location(*_place(value))
    if origin is frozenset:
        item = _decoder(args[0])
        return lambda value: frozenset(item(v) for v in _list(value)) or NOTHING_IGNORED
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _decoder(args[0])
        if args[0] is str:
            # Source ids and tags recur in every question: kept once, as validation keeps them.
            # (Compare items and cells are interned too; a cell's text that does not recur costs
            # only its entry in the table.)
            return lambda value: tuple(sys.intern(item(v)) for v in _list(value))
        return lambda value: tuple(item(v) for v in _list(value))
    if hint is FieldLocations:
        return FieldLocations.from_stored
    if origin is tuple:
        items = tuple(_decoder(a) for a in args)

        def fixed(value: Any) -> tuple[Any, ...]:
            if len(_list(value)) != len(items):
                raise TypeError("not a pair")
            return tuple(decode(v) for decode, v in zip(items, value))

        return fixed
    if is_dataclass(hint) and isinstance(hint, type):
        decoders = _field_decoders(hint)
        cls = hint

        def record(value: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError("not an object")
            return cls(**{name: decode(value[name]) for name, decode in decoders})

        return record
    if hint is Path:
        return _no_path
    raise TypeError(f"no JSON form for {hint!r}")


def topic_json(topic: Topic, id_location: Location, warnings: list[Diagnostic]) -> dict[str, Any] | None:
    """A validated topic file as JSON, with where its id is written and the warnings it gave;
    None if it cannot be cached (a question shows an image, whose file may change on its own)."""
    if any(q.images for q in (*topic.questions, *topic.retired)):
        return None
    return {"topic": _encoder(Topic)(topic), "id_location": list(id_location), "warnings": warnings_json(warnings)}


def warnings_json(warnings: list[Diagnostic]) -> list[Any]:
    """Warnings as JSON (what lint found in a topic, say)."""
    diagnostic = _encoder(Diagnostic)
    return [diagnostic(d) for d in warnings]


def warnings_from_json(data: Any) -> list[Diagnostic]:
    """The warnings that `warnings_json` stored."""
    warnings = [_decoder(Diagnostic)(d) for d in _list(data)]
    if any(d.severity is not Severity.WARNING for d in warnings):
        raise ValueError("only warnings are stored")
    return warnings


def topic_from_json(data: dict[str, Any], path: Path) -> tuple[Topic, Location, list[Diagnostic]]:
    """The topic, where its id is written, and its warnings, as `topic_json` stored them."""
    stored = data["topic"]
    if not isinstance(stored, dict):
        raise TypeError("not an object")
    topic = Topic(path=path, **{name: decode(stored[name]) for name, decode in _field_decoders(Topic)})
    warnings = warnings_from_json(data["warnings"])
    return topic, _decoder(Location)(data["id_location"]), warnings


def with_content(entry: dict[str, Any], content: bytes) -> dict[str, Any]:
    """A topic's `entry` in the cache, with a hash of what each of its questions holds that
    renders it (`deckgen.cache.BuildCache.content`, made of the topic alone): a build that reads
    the topic back does not hash its questions again."""
    return {**entry, "content": content.hex()}


def stored_content(entry: dict[str, Any]) -> bytes:
    """What `with_content` stored: TypeError, ValueError or KeyError for anything else."""
    content = entry["content"]
    if type(content) is not str:
        raise TypeError("not a hash for each question")
    return bytes.fromhex(content)
