"""The repository's workflows, issue form and hooks: they parse, and call commands that exist."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from deckgen.anki.notetypes import REPORT_FORM
from deckgen.cli import main
from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def deckgen_calls(script: str) -> list[list[str]]:
    """Every deckgen invocation in a shell script, as its arguments after `deckgen`."""
    calls = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        command: list[str] = []
        for token in [*lexer, ";"]:
            if token and set(token) <= set("&|;<>()"):
                words = [w for w in command if "=" not in w or w.startswith("-")]
                if words[:3] == ["python", "-m", "deckgen"]:
                    calls.append(words[3:])
                elif words[:1] == ["deckgen"]:
                    calls.append(words[1:])
                command = [] if token != ">" else ["redirect"]
            elif command != ["redirect"]:
                command.append(token)
            else:
                command = []
    return calls


def assert_valid_call(args: list[str]) -> None:
    command = main.commands.get(args[0])
    assert isinstance(command, click.Command), args
    options = {opt for p in command.params for opt in getattr(p, "opts", [])}
    for word in args[1:]:
        if word.startswith("--"):
            assert word.split("=")[0] in options, (args, word)


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_workflows_parse_and_call_real_commands(path: Path) -> None:
    workflow = load(path)
    triggers = workflow.get("on", workflow.get(True))
    assert triggers and "pull_request_target" not in triggers
    calls = [call for job in workflow["jobs"].values() for step in job["steps"] if "run" in step for call in deckgen_calls(step["run"])]
    assert calls, "the workflow should run deckgen"
    for call in calls:
        assert_valid_call(call)


def test_the_pull_request_workflow_checks_builds_and_summarises() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "pull-request.yml")
    assert workflow["permissions"] == {} and workflow["jobs"]["check"]["permissions"] == {"contents": "read"}
    runs = "\n".join(step.get("run", "") for step in workflow["jobs"]["check"]["steps"])
    assert "python -m deckgen check --strict --locked --format github" in runs
    assert "python -m pytest" in runs and "python -m deckgen build" in runs
    assert "GITHUB_STEP_SUMMARY" in runs and "deckgen diff" in runs


def test_the_release_workflow_publishes_the_deck_and_sheets_on_a_tag() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "release.yml")
    assert workflow.get("on", workflow.get(True)) == {"push": {"tags": ["v*"]}}
    runs = "\n".join(step.get("run", "") for step in workflow["jobs"]["release"]["steps"])
    assert "gh release create" in runs and "build/*.apkg" in runs and "--notes-file release-notes.md" in runs
    assert "python -m deckgen check --strict --locked --format github" in runs


def test_the_issue_form_takes_the_card_id_that_cards_link_with() -> None:
    form = load(ROOT / ".github" / "ISSUE_TEMPLATE" / REPORT_FORM)
    assert [field["id"] for field in form["body"] if "id" in field][0] == "card"


def test_the_pre_commit_hook_calls_a_real_command() -> None:
    (hook,) = load(ROOT / ".pre-commit-hooks.yaml")
    assert hook["id"] == "deckgen-check"
    assert hook["entry"] == "deckgen check --strict --locked"
    assert_valid_call(shlex.split(hook["entry"])[1:])
