"""Validated topics and warnings as the build cache stores them: read back equal, and refused
(TypeError or ValueError, which the cache takes for a miss) when they are not what was stored."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from deckgen.model import Diagnostic, Location, Severity
from deckgen.serial import topic_from_json, topic_json, warnings_from_json, warnings_json
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


BAD_LOCATIONS = [None, [], ["a.yaml", 1], ["a.yaml", 1, 2, 3], ["a.yaml", "1", 2], ["a.yaml", 1, 2.0], ["a.yaml", True, 2], [7, 1, 2], {"path": "a.yaml"}]


@pytest.mark.parametrize("bad", BAD_LOCATIONS, ids=repr)
def test_a_location_that_was_not_stored_is_refused(bad: object) -> None:
    topic, data = next((t, d) for t, d in stored_topics() if d["topic"]["questions"][0]["field_locations"])
    where = copy.deepcopy(data)
    where["topic"]["questions"][0]["location"] = bad
    field = copy.deepcopy(data)
    field["topic"]["questions"][0]["field_locations"][0][1] = bad
    for broken in (where, field):
        with pytest.raises((TypeError, ValueError)):
            topic_from_json(broken, topic.path)


@pytest.mark.parametrize(
    "bad",
    [None, [], ["answer"], ["answer", ["a.yaml", 1, 2], "x"], [7, ["a.yaml", 1, 2]], {"answer": ["a.yaml", 1, 2]}, ["answer", ["a.yaml", -1, 2]], ["answer", ["a.yaml", 1, 2**32]]],
    ids=repr,
)
def test_a_field_location_that_was_not_stored_is_refused(bad: object) -> None:
    topic, data = next((t, d) for t, d in stored_topics() if d["topic"]["questions"][0]["field_locations"])
    data["topic"]["questions"][0]["field_locations"][0] = bad
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


def test_field_locations_are_stored_as_pairs_of_key_and_location() -> None:
    # Stored as they read: each key with its file, line and column, in the order of the file.
    bank, diagnostics = validate_bank(ROOT / "tests/fixtures/mini")
    assert bank is not None, diagnostics
    topic = bank.topics[0]
    question = topic.questions[0]
    path = question.location.path
    data = topic_json(topic, topic.location, [])
    assert data is not None
    assert question.id == "why-scale"
    assert data["topic"]["questions"][0]["field_locations"] == [
        ["id", [path, 5, 9]],
        ["question", [path, 6, 15]],
        ["answer", [path, 7, 13]],
        ["extra", [path, 8, 12]],
        ["sources", [path, 14, 14]],
        ["tags", [path, 15, 11]],
    ]
    assert path.endswith("tests/fixtures/mini/attention.yaml")
