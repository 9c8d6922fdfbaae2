"""Diagnostics for people and for tools: plain text, GitHub workflow annotations, JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from deckgen.model import Diagnostic, Severity

FORMATS = ("text", "github", "json")


def plural(count: int, word: str) -> str:
    """`1 card`, `2 cards`."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    """The closing line of a check: how many errors and warnings, in how many files."""
    if not diagnostics:
        return "no problems"
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = len(diagnostics) - errors
    files = len({d.location.path for d in diagnostics})
    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(files, 'file')}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(diagnostic: Diagnostic) -> str:
    """One workflow command that GitHub shows inline on the pull request's diff."""
    loc = diagnostic.location
    properties = ",".join(
        [
            f"file={_escape_property(loc.path)}",
            f"line={loc.line}",
            f"col={loc.col}",
            f"title={_escape_property('deckgen ' + diagnostic.rule)}",
        ]
    )
    return f"::{diagnostic.severity.value} {properties}::{_escape_data(diagnostic.message)}"


def as_json(diagnostics: Sequence[Diagnostic]) -> str:
    """Every diagnostic, and the counts, as one JSON document."""
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    document = {
        "diagnostics": [
            {
                "path": d.location.path,
                "line": d.location.line,
                "col": d.location.col,
                "severity": d.severity.value,
                "rule": d.rule,
                "message": d.message,
            }
            for d in diagnostics
        ],
        "errors": errors,
        "warnings": len(diagnostics) - errors,
    }
    return json.dumps(document, ensure_ascii=False, indent=2)
