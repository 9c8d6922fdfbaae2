"""The bank spec is the one source of the bank's fields: check and the JSON Schema agree on
every field, value by value, and the model holds what the spec declares."""

from __future__ import annotations

import copy
import functools
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from deckgen import model
from deckgen.model import Severity
from deckgen.schema import schemas
from deckgen.spec import (
    CARD_MARKDOWN,
    CHOICE,
    FILES,
    ID,
    LANG,
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
    Kind,
    Record,
)
from deckgen.validate import validate_bank


class Yaml12Loader(yaml.CSafeLoader):
    """PyYAML's safe loader with YAML 1.2's core schema, as editors' YAML language servers read files
    (`yes` is text, `0999` is the number 999)."""


Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _int12(loader: Yaml12Loader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    assert isinstance(text, str)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _int12)
Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", lambda loader, node: loader.construct_scalar(node).lower() == "true")


# A small bank that passes check and every schema; each case below changes one value of it.
DECK: dict[str, Any] = {
    "title": "Test Deck",
    "version": "0.0.1",
    "description": "For tests.",
    "homepage": "https://example.org",
    "sections": [{"id": "transformer", "title": "Transformer", "heading": "Transformer"}],
}
SOURCES: dict[str, Any] = {
    "sources": [
        {
            "id": "paper",
            "title": "A paper",
            "url": "https://example.org/paper",
            "section": "transformer",
            "lang": "en",
            "kind": "paper",
            "authors": ["A. Author"],
            "year": 2017,
            "lint": {"ignore": ["uncited-source"], "reason": "a test"},
        }
    ]
}
ROW = {"id": "depth", "aspect": "Depth", "values": ["6", "12"], "extra": "Why."}
QUESTIONS: dict[str, dict[str, Any]] = {
    "basic": {
        "id": "why-scale",
        "type": "basic",
        "question": "Why scale the logits?",
        "answer": "To keep the softmax out of saturation.",
        "extra": "See the paper.",
        "sources": ["paper"],
        "tags": ["attention"],
        "lint": {"ignore": ["no-article"], "reason": "a test"},
    },
    "cloze": {"id": "scale", "type": "cloze", "question": "Logits are scaled by {{c1::the root of d_k}}.", "sources": ["paper"]},
    "compare": {
        "id": "sizes",
        "type": "compare",
        "question": "Base vs large",
        "items": ["base", "large"],
        "rows": [ROW],
        "retired_rows": [{**ROW, "id": "width", "reason": "Merged."}],
        "sources": ["paper"],
    },
}
TOPIC: dict[str, Any] = {
    "topic": "Attention",
    "id": "attention",
    "section": "transformer",
    "questions": list(QUESTIONS.values()),
    "retired": [{**q, "id": f"old-{q['id']}", "reason": "Replaced."} for q in QUESTIONS.values()],
    "lint": {"ignore": ["no-why-card"], "reason": "a test"},
}
DOCUMENTS = {"deck": DECK, "sources": SOURCES, "topic": TOPIC}
KNOWN = {"section": "transformer", "source": "paper"}

# Values for each kind, as YAML. Whether each is valid is for check and the schema to say:
# the test asserts that they say the same. (Markdown content, math and links are check's
# alone: a schema cannot read Markdown; unknown but well-formed ids are cross-file.)
TEXTS = ['"Some text"', "3.10", "yes", "true", '""', '"  "', "null", "[a]", "{a: 1}"]
SAMPLES: dict[Kind, list[str]] = {
    TEXT: TEXTS,
    MARKDOWN: TEXTS,
    CARD_MARKDOWN: TEXTS,
    TITLE: [*TEXTS, '"a::b"', '"line\\nbreak"', '"tab\\there"', "42"],
    ID: ["good-id", "x1", "Bad", '"two words"', "42", "1e5", "-lead", "trailing-", "true", "false", "yes", "null", '""', "[a]"],
    REFERENCE: ["Not An Id", "42", "null", '""', "[a]", "true"],
    URL: [
        "https://example.org/x",
        "http://example.org",
        "HTTPS://EXAMPLE.ORG",
        "https://example.org:8080/a",
        "https://example.org:65535",
        "https://example.org:65536",
        "https://example.org:http",
        '"https://exa mple.org"',
        "https://example.org/a%2",
        "https://example.org/a%20b",
        '"https://example.org/(x)"',
        "ftp://example.org",
        '"javascript:alert(1)"',
        "https://",
        '"https://例子.测试/路径"',
        "42",
        "null",
    ],
    TAG: ["attention", "42", "true", '"two words"', "null", "[a]"],
    LANG: ["en", "zh", "en-US", "yue", "EN", "english", "e", "42", "no", "null", '""'],
    YEAR: ["2019", '"2019"', '"0999"', "0999", "02019", "+2019", "99", '"99"', "12345", "2019.5", "null", '""', "[2019]"],
    CHOICE: ["bogus", "42", "null", '""', "[a]"],
    RULE: ["bogus", "near-duplicate", "uncited-source", "no-why-card", "null"],
    RECORD: ["null", "hello", "[]", "[hello]", "{}"],
}


CHECK_ONLY = {
    "cloze-deletion": "a cloze's deletions are Markdown content",
    "math": "math is Markdown content",
    "math-command": "math is Markdown content",
    "link-scheme": "links are Markdown content",
    "image": "images are Markdown content",
    "duplicate-id": "ids across entries and files",
    "duplicate-url": "URLs across entries",
}
"""What check judges and a schema cannot: Markdown content, and values against other entries.
(A reference's samples are malformed or known ids, so an unknown one is a malformed one;
errors that a changed id causes in other files are not counted: only the changed file's.)"""


def _places() -> list[tuple[str, list[Any], Record]]:
    """Every record as it occurs in the documents: (file kind, path of keys to it, record)."""
    places: list[tuple[str, list[Any], Record]] = []

    def walk(kind: str, path: list[Any], value: Any, record: Record) -> None:
        places.append((kind, path, record))
        for spec in record.fields:
            if spec.kind is not RECORD or spec.name not in value:
                continue
            child = value[spec.name]
            if spec.record in VARIANTS:
                for index, item in enumerate(child):
                    qtype = item.get("type", "basic")
                    walk(kind, [*path, spec.name, index], item, VARIANTS[spec.record][model.QuestionType(qtype)])
            elif spec.many:
                walk(kind, [*path, spec.name, 0], child[0], RECORDS[spec.record])
            else:
                walk(kind, [*path, spec.name], child, RECORDS[spec.record])

    for kind, document in DOCUMENTS.items():
        walk(kind, [], document, FILES[kind])
    return places


def _samples(spec: Field) -> list[str]:
    values = list(SAMPLES[spec.kind])
    if spec.kind is REFERENCE:
        values.append(KNOWN[spec.refers_to])
    if spec.kind in (CHOICE, RULE):
        values += list(spec.choices)
    if spec.many and spec.kind is not RECORD:
        # Two of each, as a compare row holds one value per item and the test bank compares two.
        lists = ["[]", "null", "hello", "[null, null]", "[{a: 1}, {a: 1}]"]
        one = KNOWN[spec.refers_to] if spec.kind is REFERENCE else "x"
        single = [f"[{one}]"] if spec.name != "values" else []
        return lists + single + [f"[{v}, {v}]" for v in values if v != "null"]
    return values


CASES = [
    (kind, path, record.name, spec.name, value)
    for kind, path, record in _places()
    for spec in record.fields
    for value in [*_samples(spec), "<absent>"]
    if not (spec.name == "type")  # the type chooses the record: its cases are the question records
]


def _document(kind: str, path: list[Any], key: str, value: str) -> str:
    document = copy.deepcopy(DOCUMENTS[kind])
    target = document
    for step in path:
        target = target[step]
    marker = "@@VALUE@@"
    if value == "<absent>":
        target.pop(key, None)
        return json.dumps(document, ensure_ascii=False)
    target[key] = marker
    return json.dumps(document, ensure_ascii=False).replace(f'"{marker}"', value)


@functools.lru_cache(maxsize=None)
def _validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schemas()[kind])


@pytest.mark.parametrize(("kind", "path", "record", "key", "value"), CASES, ids=[f"{c[2]}.{c[3]}={c[4]}" for c in CASES])
def test_check_and_the_schema_agree_on_every_value_of_every_field(
    kind: str, path: list[Any], record: str, key: str, value: str, tmp_path: Path
) -> None:
    bank = tmp_path / "bank"
    bank.mkdir()
    for name, document in DOCUMENTS.items():
        (bank / f"{name}.yaml").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    text = _document(kind, path, key, value)
    (bank / f"{kind}.yaml").write_text(text, encoding="utf-8")
    _, diagnostics = validate_bank(bank)
    errors = [str(d) for d in diagnostics if d.severity is Severity.ERROR and d.location.path.endswith(f"/{kind}.yaml") and d.rule not in CHECK_ONLY]
    schema_errors = [e.message for e in _validator(kind).iter_errors(yaml.load(text, Yaml12Loader))]
    assert bool(errors) == bool(schema_errors), (errors, schema_errors[:2])


def test_the_base_bank_is_valid_for_check_and_the_schemas(tmp_path: Path) -> None:
    for name, document in DOCUMENTS.items():
        (tmp_path / f"{name}.yaml").write_text(json.dumps(document), encoding="utf-8")
        assert list(jsonschema.Draft202012Validator(schemas()[name]).iter_errors(document)) == []
    bank, diagnostics = validate_bank(tmp_path)
    assert bank is not None, diagnostics
    assert [d for d in diagnostics if d.severity is Severity.ERROR] == []


def test_every_record_and_field_is_exercised() -> None:
    exercised = {(record, key) for _, _, record, key, _ in CASES}
    declared = {(r.name, f.name) for r in RECORDS.values() if not r.name.startswith("any-") for f in r.fields if f.name != "type"}
    assert declared - exercised == set()
    assert {kind for kind in SAMPLES} == {f.kind for r in RECORDS.values() for f in r.fields}


MODELS = {"deck": model.Deck, "section": model.Section, "source": model.Source, "topic": model.Topic, "row": model.CompareRow}


@pytest.mark.parametrize("record", [*MODELS, *(r.name for r in RECORDS.values() if r.name.endswith("-question") and not r.name.startswith("any-"))])
def test_each_field_fills_an_attribute_of_the_model(record: str) -> None:
    cls = MODELS.get(record, model.Question)
    attributes = {f.name for f in dataclasses.fields(cls)}
    spec = RECORDS[record]
    # A question's compare rows, live and retired, are one tuple of rows.
    missing = {f.attribute for f in spec.fields if f.attribute not in attributes and f.name != "retired_rows"}
    assert missing == set()
