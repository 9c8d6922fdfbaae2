"""JSON Schemas for editors, generated from the bank spec that `deckgen check` reads files by.

Editors with a YAML language server (VS Code's YAML extension, and others) read the
`# yaml-language-server: $schema=…` comment at the top of each bank file and offer
completion and inline errors. A file's shape (keys, types, empty values, ids, URLs, tags,
years, choices, list sizes) is judged the same by the schema and by `check`, field by
field; `check` also does what a schema cannot: ids across files, sources, Markdown, math
and the lint.
"""

from __future__ import annotations

import json
from typing import Any

from deckgen.spec import (
    CARD_MARKDOWN,
    CHOICE,
    FILES,
    ID,
    KEBAB_RE,
    LANG,
    LANG_RE,
    MARKDOWN,
    RECORD,
    RECORDS,
    REFERENCE,
    RULE,
    TAG,
    TEXT,
    TITLE,
    URL,
    VARIANTS,
    YEAR,
    Field,
    KINDS,
    Kind,
    Record,
)

SCHEMA_DIR = "schema"
SCHEMA_FILES = {"deck": "deck.schema.json", "sources": "sources.schema.json", "topic": "topic.schema.json"}
REFERENCE_FILE = "REFERENCE.md"
BASE_URI = "https://deckgen.invalid/schema/"

Schema = dict[str, Any]

# deckgen reads every scalar as the text written, so `3.10` or `No` are fine where text is
# expected; editors (YAML 1.2) read them as numbers or booleans, so those are allowed too.
_SCALAR = ["string", "number", "boolean"]
_NOT_BLANK = r"\S"
_ID = f"^{KEBAB_RE.pattern}$"
# What deckgen.render.url_problem accepts: http(s), a host, a port from 0 to 65535, only
# characters that need no escaping (or non-ASCII letters), and `%` only before two hex digits.
_PORT = "(?:[0-9]{0,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_URL = (
    r"^(?=[A-Za-z0-9\-._~:/?#@!$&*+,;=%\u00a1-\u167f\u1681-\u1fff\u200b-\u2027\u202a-\u202e\u2030-\u205e\u2060-\u2fff\u3001-\ud7ff\ue000-\uffff]*$)"
    r"(?!.*%(?![0-9A-Fa-f]{2}))"
    r"[Hh][Tt][Tt][Pp][Ss]?://(?:[^/?#@]*@)?[^/?#:@]+(?::0*" + _PORT + r")?(?:[/?#].*)?$"
)
_TITLE = r"^(?!.*::)[^\t\n\r]*\S[^\t\n\r]*$"


def _value(spec: Field) -> Schema:
    """The schema of one value of a field (one item, for a list)."""
    kind: Kind = spec.kind
    schema: Schema
    if kind in (TEXT, MARKDOWN, CARD_MARKDOWN):
        schema = {"type": _SCALAR, "pattern": _NOT_BLANK}
    elif kind is TITLE:
        schema = {"type": _SCALAR, "pattern": _TITLE}
    elif kind in (ID, REFERENCE):
        schema = {"type": "string", "pattern": _ID}
    elif kind is URL:
        schema = {"type": "string", "pattern": _URL, "format": "uri"}
    elif kind is TAG:
        schema = {"type": _SCALAR, "pattern": r"^\S+$"}
    elif kind is LANG:
        schema = {"type": "string", "pattern": f"^{LANG_RE.pattern}$"}
    elif kind is YEAR:
        # An editor reads a plain 2019 as a number, which loses a leading zero: as a
        # number a year is 1000 to 9999, as text four digits.
        schema = {"anyOf": [{"type": "string", "pattern": "^[0-9]{4}$"}, {"type": "integer", "minimum": 1000, "maximum": 9999}]}
    elif kind in (CHOICE, RULE):
        schema = {"enum": list(spec.choices)}
    elif spec.record in VARIANTS:
        schema = {"oneOf": [_record(r) for r in VARIANTS[spec.record].values()]}
    else:
        schema = _record(RECORDS[spec.record])
    return schema


def _field(spec: Field) -> Schema:
    """The schema of a field's value: a list of values, or one value (which may be left empty when optional)."""
    value = _value(spec)
    schema: Schema = value
    if spec.many:
        schema = {"type": "array", "items": value}
        if spec.min_items:
            schema["minItems"] = spec.min_items
        if spec.first:
            schema["prefixItems"] = [{"const": spec.first}]
            schema["uniqueItems"] = True
    if spec.required or spec.kind is RECORD:
        return {**schema, "description": spec.description}
    # check reads an optional text or list that is left empty as not given at all.
    empty: list[Schema] = [{"type": "null"}] if spec.many else [{"type": "null"}, {"type": "string", "pattern": r"^\s*$"}]
    return {"anyOf": [schema, *empty], "description": spec.description}


def _record(record: Record) -> Schema:
    required, _ = record.keys
    return {
        "type": "object",
        "description": record.description,
        "properties": {spec.name: _field(spec) for spec in record.fields},
        "required": list(required),
        "additionalProperties": False,
    }


def schemas() -> dict[str, Schema]:
    """The three schemas, by file kind: deck, sources and topic."""
    result = {}
    for kind, record in FILES.items():
        schema = _record(record)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = BASE_URI + SCHEMA_FILES[kind]
        schema["title"] = f"deckgen {kind} file"
        result[kind] = schema
    return result


def schema_text(kind: str) -> str:
    """One schema as the JSON text committed under schema/."""
    return json.dumps(schemas()[kind], indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _kind_text(spec: Field) -> str:
    """A field's kind as the reference names it."""
    if spec.kind is RECORD:
        return f"list of {spec.record.replace('-', ' ')}s (below)" if spec.many else f"{spec.record} (below)"
    if spec.kind in (CHOICE, RULE):
        return ("any of " if spec.many else "one of ") + ", ".join(f"`{c}`" for c in spec.choices)
    what = f"{spec.refers_to} id" if spec.kind is REFERENCE else spec.kind.name
    return f"list of {what}s" if spec.many else what


def reference_text() -> str:
    """Every record of a bank file and its keys, as Markdown: the reference the README points to."""
    lines = [
        "# Bank file reference",
        "",
        "Generated by `deckgen schema` from deckgen's bank spec (`src/deckgen/spec.py`), as the JSON",
        "Schemas beside it are: every key that a bank file may hold, by record.",
        "",
        "| kind | what it holds |",
        "| --- | --- |",
        *(f"| {kind.name} | {kind.description} |" for kind in KINDS),
    ]
    for record in RECORDS.values():
        if record.name.startswith("any-"):
            continue
        lines += ["", f"## {record.name}", "", record.description, "", "| key | required | kind | what |", "| --- | --- | --- | --- |"]
        for spec in record.fields:
            required = "yes" if spec.required else "no"
            lines.append(f"| `{spec.name}` | {required} | {_kind_text(spec)} | {spec.description} |")
    return "\n".join(lines) + "\n"
