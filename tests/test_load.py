"""Reading YAML into located nodes: text as written, and nothing constructed."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from deckgen.load import Mapping, Scalar, Sequence, parse_text


def messages(text: str) -> list[str]:
    _, diagnostics = parse_text(text, "b.yaml")
    return [str(d) for d in diagnostics]


def test_scalars_stay_as_written() -> None:
    root, diagnostics = parse_text("a: No\nb: on\nc: 3.10\nd: 0x1F\ne: 2017-01-01\nf: ~\n", "b.yaml")
    assert diagnostics == []
    assert isinstance(root, Mapping)
    values = {k.value: v for k, v in root.items}
    assert [v.value for v in values.values() if isinstance(v, Scalar)] == ["No", "on", "3.10", "0x1F", "2017-01-01", "~"]
    f = values["f"]
    assert isinstance(f, Scalar) and f.is_null


def test_nodes_know_their_line_and_column() -> None:
    root, _ = parse_text("questions:\n  - id: x\n    tags: [a, b]\n", "b.yaml")
    assert isinstance(root, Mapping)
    questions = root.get("questions")
    assert isinstance(questions, Sequence)
    first = questions.items[0]
    assert isinstance(first, Mapping)
    tags = first.get("tags")
    assert isinstance(tags, Sequence)
    assert str(first.location) == "b.yaml:2:5"
    assert [str(t.location) for t in tags.items] == ["b.yaml:3:12", "b.yaml:3:15"]


LOADERS = [pytest.param(yaml.SafeLoader, id="python")]
if hasattr(yaml, "CSafeLoader"):
    LOADERS.append(pytest.param(yaml.CSafeLoader, id="libyaml"))

SYNTAX_CASES = [
    ("a:\n\t- b\n", "2:1: error: tab character: YAML indents with spaces only [yaml-syntax]"),
    ("a:\n  b: 1\n\tc: 2\n", "3:1: error: tab character: YAML indents with spaces only [yaml-syntax]"),
    ('a: "open\n', "1:4: error: unclosed quote: this string is never closed [yaml-syntax]"),
    ("a: 'open\nb: c\n", "1:4: error: unclosed quote: this string is never closed [yaml-syntax]"),
    ("a: [1, 2\n", "2:1: error: unclosed '[': the list opened at line 1, column 4 is not closed before this point [yaml-syntax]"),
    ("a: [1, 2\nb: 3\n", "2:2: error: unclosed '[': the list opened at line 1, column 4 is not closed before this point [yaml-syntax]"),
    ("a: {x: 1\n", "2:1: error: unclosed '{': the mapping opened at line 1, column 4 is not closed before this point [yaml-syntax]"),
    ("a: b: c\n", "1:5: error: unexpected ':': put a value that contains ': ' in quotes, or check the indentation [yaml-syntax]"),
    ("a:\n  b: 1\n c: 2\n", "3:2: error: this line does not line up with the block that starts at line 1: check its indentation [yaml-syntax]"),
    ("a: 1\n- b\n", "2:1: error: this line does not line up with the block that starts at line 1: check its indentation [yaml-syntax]"),
    ("a: `code` b\n", "1:4: error: '`' cannot start a plain value: put the text in quotes [yaml-syntax]"),
    ("a: @user\n", "1:4: error: '@' cannot start a plain value: put the text in quotes [yaml-syntax]"),
    ("a: *\n", "1:4: error: '*' and '&' start YAML aliases and anchors, which banks do not use: put the text in quotes [yaml-syntax]"),
    ("%YAML 1.1\n%YAML 1.1\na: 1\n", "2:1: error: YAML directives ('%...') are not used in banks: remove the line [yaml-syntax]"),
]


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("text", "expected"), SYNTAX_CASES)
def test_syntax_errors_read_the_same_from_either_parser(loader: type[Any], text: str, expected: str) -> None:
    _, diagnostics = parse_text(text, "b.yaml", loader)
    assert [str(d) for d in diagnostics] == ["b.yaml:" + expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x 1\nb: *x\n", ["b.yaml:1:4: error: anchor '&x' is not allowed: write the value out in full [yaml-anchor]",
                              "b.yaml:2:4: error: alias '*x' is not allowed: write the value out in full [yaml-alias]"]),
        ("a: !!python/object:os.system x\n", ["b.yaml:1:4: error: tag 'tag:yaml.org,2002:python/object:os.system' is not allowed: banks hold plain text, lists and mappings [yaml-tag]"]),
        ("a: !!str 1\n", ["b.yaml:1:4: error: tag 'tag:yaml.org,2002:str' is not allowed: banks hold plain text, lists and mappings [yaml-tag]"]),
        ("a: 1\nb: 2\na: 3\n", ["b.yaml:3:1: error: duplicate key 'a' (first at line 1); a mapping holds each key once [duplicate-key]"]),
        ("", ["b.yaml:1:1: error: file is empty; expected a mapping of keys such as 'questions:' [empty-file]"]),
        ("# only a comment\n", ["b.yaml:1:1: error: file is empty; expected a mapping of keys such as 'questions:' [empty-file]"]),
        ("a: 1\n---\nb: 2\n", ["b.yaml:2:1: error: a bank file holds one YAML document; remove the second '---' [yaml-syntax]"]),
        ("a: \x07\n", ["b.yaml:1:4: error: control character U+0007 is not allowed in a bank; use plain text and newlines [encoding]"]),
        ("a: b\u2028c\n", ["b.yaml:1:5: error: line separator U+2028 is not allowed in a bank; use plain text and newlines [encoding]"]),
        ('a: "$QK^\\top$"\nb: "$QK^\\\\top$"\nc: \'$\\frac{1}{2}$\'\n', ["b.yaml:1:4: error: this double-quoted text has an escape that YAML turns into a control character (\\t in \\top, \\f in \\frac, \\b in \\beta ...): write text with backslashes as a block scalar (>-) or in single quotes [yaml-escape]"]),
    ],
)
def test_yaml_problems_are_located(text: str, expected: list[str]) -> None:
    assert messages(text) == expected


def test_alias_bombs_are_refused_without_expanding() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    root, diagnostics = parse_text("\n".join(lines) + "\n", "b.yaml")
    assert len(diagnostics) == 10 + 81
    assert {d.rule for d in diagnostics} == {"yaml-anchor", "yaml-alias"}
    assert isinstance(root, Mapping)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert messages("a: " + "[" * 200 + "]" * 200 + "\n") == [
        "b.yaml:1:36: error: nesting deeper than 32 levels; banks need only a few [yaml-syntax]"
    ]
