"""JSON Schemas for editors, generated from the key tables that `deckgen check` validates with.

Editors with a YAML language server (VS Code's YAML extension, and others) read the
`# yaml-language-server: $schema=…` comment at the top of each bank file and offer
completion and inline errors. `deckgen check` stays the authority: it also checks ids
across files, sources, math and the lint, which a schema cannot.
"""

from __future__ import annotations

import json
from typing import Any

from deckgen.lint import QUESTION_RULES, SOURCE_RULES, TOPIC_RULES
from deckgen.model import QuestionType, SourceKind
from deckgen.validate import (
    DECK_KEYS,
    KEBAB_RE,
    LANG_RE,
    LINT_KEYS,
    QUESTION_OPTIONAL,
    QUESTION_REQUIRED,
    RETIRED_ROW_KEYS,
    ROW_KEYS,
    SECTION_KEYS,
    SOURCE_KEYS,
    SOURCES_KEYS,
    TOPIC_KEYS,
    YEAR_RE,
)

SCHEMA_DIR = "schema"
SCHEMA_FILES = {"deck": "deck.schema.json", "sources": "sources.schema.json", "topic": "topic.schema.json"}
BASE_URI = "https://deckgen.invalid/schema/"

Schema = dict[str, Any]

# deckgen reads every scalar as the text written, so `3.10` or `No` are fine where text is
# expected; editors (YAML 1.2) would call them numbers or booleans, so they are allowed too.
TEXT: Schema = {"type": ["string", "number", "boolean"], "pattern": r"\S"}
"""Text that is not empty or blank (the pattern applies to strings only)."""
ID: Schema = {"type": "string", "pattern": f"^{KEBAB_RE.pattern}$", "description": "kebab-case, starting with a letter"}
URL: Schema = {"type": "string", "pattern": "^https?://", "format": "uri"}


def _text_list(min_items: int = 0) -> Schema:
    return {"type": "array", "items": TEXT, "minItems": min_items}


def _lint(rules: dict[str, str]) -> Schema:
    return _object(
        LINT_KEYS,
        {
            "ignore": {"type": "array", "items": {"enum": sorted(rules)}, "minItems": 1},
            "reason": {**TEXT, "description": "why this case is fine"},
        },
        "Silence lint rules for this entry only, with a reason.",
    )


def _object(keys: tuple[tuple[str, ...], tuple[str, ...]], properties: Schema, description: str = "") -> Schema:
    required, optional = keys
    missing = [k for k in (*required, *optional) if k not in properties]
    if missing:
        raise KeyError(f"no schema for keys {missing}")
    schema: Schema = {
        "type": "object",
        "properties": {k: properties[k] for k in (*required, *optional)},
        "required": list(required),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _row(retired: bool) -> Schema:
    properties = {"id": ID, "aspect": TEXT, "values": _text_list(1), "reason": TEXT, "extra": TEXT}
    return _object(RETIRED_ROW_KEYS if retired else ROW_KEYS, properties)


def _question(qtype: QuestionType, retired: bool) -> Schema:
    properties: Schema = {
        "id": ID,
        "type": {"const": qtype.value} if qtype is not QuestionType.BASIC else {"const": "basic"},
        "question": TEXT,
        "answer": {**TEXT, "description": "a phrase or one sentence (about 25 words at most)"},
        "extra": TEXT,
        "sources": {"type": "array", "items": ID, "minItems": 1, "description": "source ids from sources.yaml"},
        "tags": {"type": "array", "items": {"type": "string", "pattern": r"^\S+$"}},
        "items": _text_list(2),
        "rows": {"type": "array", "items": _row(False), "minItems": 1},
        "retired_rows": {"type": "array", "items": _row(True), "minItems": 1},
        "lint": _lint(QUESTION_RULES),
        "reason": {**TEXT, "description": "why the question was retired"},
    }
    required = QUESTION_REQUIRED[qtype] + (("reason",) if retired else ())
    schema = _object((required, QUESTION_OPTIONAL[qtype]), properties, f"A {qtype.value} question.")
    if qtype is not QuestionType.BASIC:
        schema["required"] = [*schema["required"], "type"]
    return schema


def _questions(retired: bool) -> Schema:
    return {"oneOf": [_question(t, retired) for t in QuestionType]}


def schemas() -> dict[str, Schema]:
    """The three schemas, by file kind: deck, sources and topic."""
    deck = _object(
        DECK_KEYS,
        {
            "title": TEXT,
            "version": TEXT,
            "description": TEXT,
            "homepage": URL,
            "sections": {
                "type": "array",
                "minItems": 1,
                "items": _object(SECTION_KEYS, {"id": ID, "title": TEXT, "heading": TEXT}),
            },
        },
        "questions/deck.yaml: the deck as a whole.",
    )
    source = _object(
        SOURCE_KEYS,
        {
            "id": ID,
            "title": TEXT,
            "url": URL,
            "section": ID,
            "lang": {"type": "string", "pattern": f"^{LANG_RE.pattern}$"},
            "kind": {"enum": [k.value for k in SourceKind]},
            "authors": _text_list(),
            "year": {"type": ["string", "integer"], "pattern": f"^{YEAR_RE.pattern}$"},
            "lint": _lint(SOURCE_RULES),
        },
    )
    sources = _object(SOURCES_KEYS, {"sources": {"type": "array", "minItems": 1, "items": source}}, "questions/sources.yaml.")
    topic = _object(
        TOPIC_KEYS,
        {
            "topic": TEXT,
            "id": ID,
            "section": ID,
            "questions": {"type": "array", "minItems": 1, "items": _questions(False)},
            "retired": {"type": "array", "minItems": 1, "items": _questions(True)},
            "lint": _lint(TOPIC_RULES),
        },
        "A topic bank: one YAML file of questions.",
    )
    result = {"deck": deck, "sources": sources, "topic": topic}
    for kind, schema in result.items():
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = BASE_URI + SCHEMA_FILES[kind]
        schema["title"] = f"deckgen {kind} file"
    return result


def schema_text(kind: str) -> str:
    """One schema as the JSON text committed under schema/."""
    return json.dumps(schemas()[kind], indent=2, ensure_ascii=False, sort_keys=True) + "\n"
