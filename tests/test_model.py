"""The model's packed values: a question's field locations read back as the pairs they were made from."""

from __future__ import annotations

import pickle

import pytest

from deckgen.model import NO_FIELD_LOCATIONS, FieldLocations, Location

EN = "questions/attention.yaml"
ZH = "questions/attention.zh.yaml"
PAIRS = (
    ("id", Location(EN, 5, 9)),
    ("question", Location(ZH, 30, 15)),
    ("answer", Location(ZH, 31, 13)),
    ("sources", Location(EN, 14, 14)),
    ("tags", Location(EN, 70000, 300)),
)


def test_field_locations_give_back_the_pairs_they_were_made_from() -> None:
    where = FieldLocations(PAIRS)
    assert tuple(where) == PAIRS
    assert len(where) == 5
    assert [where.get(name) for name, _ in PAIRS] == [loc for _, loc in PAIRS]
    assert where.get("extra") is None
    assert tuple(NO_FIELD_LOCATIONS) == () and len(NO_FIELD_LOCATIONS) == 0 and NO_FIELD_LOCATIONS.get("id") is None


def test_field_locations_print_as_the_tuple_of_pairs() -> None:
    # The lint cache keys a topic by this text, so it must name every key, file, line and column:
    # it is the text of the tuple of pairs.
    assert repr(FieldLocations(PAIRS)) == repr(PAIRS)
    assert repr(FieldLocations(PAIRS[:1])) == repr(PAIRS[:1]) == "(('id', Location(path='questions/attention.yaml', line=5, col=9)),)"
    quoted = (("answer", Location("it's \\ \"here\".yaml", 2, 3)),)
    assert repr(FieldLocations(quoted)) == repr(quoted)
    assert repr(NO_FIELD_LOCATIONS) == "()"


@pytest.mark.parametrize("line, col", [(-1, 1), (1, -1), (2**32, 1)])
def test_a_line_or_column_that_no_file_has_is_refused(line: int, col: int) -> None:
    with pytest.raises(ValueError, match="^a line or column out of range: "):
        FieldLocations([("id", Location(EN, line, col))])


def test_field_locations_are_equal_only_with_the_same_pairs_in_the_same_order() -> None:
    where = FieldLocations(PAIRS)
    assert where == FieldLocations(list(PAIRS)) and hash(where) == hash(FieldLocations(PAIRS))
    moved = PAIRS[:4] + (("tags", Location(EN, 70000, 301)),)
    elsewhere = PAIRS[:4] + (("tags", Location(ZH, 70000, 300)),)
    renamed = PAIRS[:4] + (("items", Location(EN, 70000, 300)),)
    for other in (moved, elsewhere, renamed, PAIRS[::-1], PAIRS[:4]):
        assert where != FieldLocations(other)
    assert where != PAIRS


def test_field_locations_survive_pickling() -> None:
    where = FieldLocations(PAIRS)
    loaded = pickle.loads(pickle.dumps(where))
    assert loaded == where and tuple(loaded) == PAIRS
