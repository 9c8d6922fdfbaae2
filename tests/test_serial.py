"""Validated topics and warnings as the build cache stores them: read back equal, and refused
(TypeError or ValueError, which the cache takes for a miss) when they are not what was stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deckgen.editions import editions
from deckgen.model import Diagnostic, Location, Severity
from deckgen.serial import stored_content, topic_from_json, topic_json, warnings_from_json, warnings_json, with_content
from deckgen.validate import validate_bank
from tests.conftest import ROOT


def stored_topics() -> list[tuple[Any, dict[str, Any]]]:
    bank, diagnostics = validate_bank(ROOT / "questions")
    assert bank is not None, diagnostics
    found = []
    for topic in bank.topics:
        data = topic_json(topic, topic.location, [])
        if data is not None:  # a topic that shows an image is not stored
            found.append((topic, json.loads(json.dumps(data))))
    return found


def test_every_stored_topic_reads_back_equal() -> None:
    topics = stored_topics()
    assert len(topics) > 20
    for topic, data in topics:
        assert topic_from_json(data, topic.path) == (topic, topic.location, [])


def test_every_translated_topic_reads_back_equal_with_the_files_of_each_field() -> None:
    # A translated question's fields are written in two files: the topic file and its overlay.
    bank, diagnostics = validate_bank(ROOT / "questions")
    assert bank is not None, diagnostics
    chinese = editions(bank)[0][1].bank
    both = stored = 0
    for topic in chinese.topics:
        data = topic_json(topic, topic.location, [])
        if data is None:  # a topic that shows an image is not stored
            continue
        stored += 1
        data = json.loads(json.dumps(data))
        both += sum(len(q["field_locations"][1]) == 2 for q in data["topic"]["questions"])
        assert topic_from_json(data, topic.path) == (topic, topic.location, [])
        assert [list(q.field_locations) for q in topic_from_json(data, topic.path)[0].questions] == [list(q.field_locations) for q in topic.questions]
    assert stored > 20 and both > 100


BAD_LOCATIONS = [None, [], ["a.yaml", 1], ["a.yaml", 1, 2, 3], ["a.yaml", "1", 2], ["a.yaml", 1, 2.0], ["a.yaml", True, 2], [7, 1, 2], {"path": "a.yaml"}]


@pytest.mark.parametrize("bad", BAD_LOCATIONS, ids=repr)
def test_a_location_that_was_not_stored_is_refused(bad: object) -> None:
    topic, data = next((t, d) for t, d in stored_topics() if d["topic"]["questions"][0]["field_locations"])
    data["topic"]["questions"][0]["location"] = bad
    with pytest.raises((TypeError, ValueError)):
        topic_from_json(data, topic.path)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {"names": ["answer"]},
        [["answer"], ["a.yaml"]],
        [["answer"], ["a.yaml"], [0, 1, 2], []],
        ["answer", ["a.yaml"], [0, 1, 2]],
        [["answer"], "a.yaml", [0, 1, 2]],
        [["answer"], ["a.yaml"], "0 1 2"],
        [[7], ["a.yaml"], [0, 1, 2]],
        [["answer"], [None], [0, 1, 2]],
        [["answer"], ["a.yaml"], [0, 1]],
        [["answer"], ["a.yaml"], [0, 1, 2, 0, 1, 2]],
        [["answer"], ["a.yaml"], [0, 1.0, 2]],
        [["answer"], ["a.yaml"], [0, True, 2]],
        [["answer"], ["a.yaml"], [1, 1, 2]],
        [["answer"], [], [0, 1, 2]],
        [["answer"], ["a.yaml"], [0, -1, 2]],
        [["answer"], ["a.yaml"], [0, 1, 2**32]],
    ],
    ids=repr,
)
def test_field_locations_that_were_not_stored_are_refused(bad: object) -> None:
    topic, data = next((t, d) for t, d in stored_topics() if d["topic"]["questions"][0]["field_locations"])
    data["topic"]["questions"][0]["field_locations"] = bad
    with pytest.raises((TypeError, ValueError)):
        topic_from_json(data, topic.path)


def test_warnings_read_back_equal_and_errors_are_refused() -> None:
    warning = Diagnostic(Location("a.yaml", 3, 5), Severity.WARNING, "answer has 30 words", "answer-length")
    stored = json.loads(json.dumps(warnings_json([warning])))
    assert stored == [{"location": ["a.yaml", 3, 5], "severity": "warning", "message": "answer has 30 words", "rule": "answer-length"}]
    assert warnings_from_json(stored) == [warning]
    error = Diagnostic(Location("a.yaml", 3, 5), Severity.ERROR, "duplicate question id 'x'", "duplicate-id")
    with pytest.raises(ValueError):
        warnings_from_json(warnings_json([error]))
    for bad in (None, {}, [None], [[]]):
        with pytest.raises((TypeError, ValueError, KeyError)):
            warnings_from_json(bad)


def test_field_locations_are_stored_as_their_keys_their_files_and_each_one_s_place() -> None:
    # The keys in the order of the file, each file once, and each key's file (its index), line and column.
    bank, diagnostics = validate_bank(ROOT / "tests/fixtures/mini")
    assert bank is not None, diagnostics
    topic = bank.topics[0]
    question = topic.questions[0]
    path = question.location.path
    data = topic_json(topic, topic.location, [])
    assert data is not None
    assert question.id == "why-scale"
    assert data["topic"]["questions"][0]["field_locations"] == [
        ["id", "question", "answer", "extra", "sources", "tags"],
        [path],
        [0, 5, 9, 0, 6, 15, 0, 7, 13, 0, 8, 12, 0, 14, 14, 0, 15, 11],
    ]
    assert list(question.field_locations) == [
        ("id", Location(path, 5, 9)), ("question", Location(path, 6, 15)), ("answer", Location(path, 7, 13)),
        ("extra", Location(path, 8, 12)), ("sources", Location(path, 14, 14)), ("tags", Location(path, 15, 11)),
    ]
    assert path.endswith("tests/fixtures/mini/attention.yaml")


def test_what_a_topic_s_questions_hold_is_stored_as_hex_and_anything_else_refused() -> None:
    entry = with_content({"topic": {}}, bytes(range(64)))
    assert entry == {"topic": {}, "content": bytes(range(64)).hex()}
    assert stored_content(json.loads(json.dumps(entry))) == bytes(range(64))
    for bad in (None, 7, ["00"], "0", "zz", "0x00"):
        with pytest.raises((TypeError, ValueError)):
            stored_content({"content": bad})
    with pytest.raises(KeyError):
        stored_content({})
