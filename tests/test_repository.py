"""The repository's workflows, issue form and hooks: they parse, and call commands that exist."""

from __future__ import annotations

import fnmatch
import shlex
import subprocess
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
    assert "--notes-file release-notes.md" in runs
    assert "python -m deckgen check --strict --locked --format github" in runs
    assert "bash scripts/install-system-packages.sh" in runs and 'SOURCE_DATE_EPOCH="$epoch" python -m deckgen build --pdf' in runs
    (publish,) = [line for line in runs.replace("\\\n", " ").splitlines() if "gh release create" in line]
    assets = [word for word in shlex.split(publish) if word.startswith("build/")]
    # What the globs pick from a build's files, as the shell expands them: every edition's deck and sheets.
    sheets = [f"build/review-{name}{edition}.{kind}" for kind in ("md", "html", "pdf") for name in ("sheet", "questions") for edition in ("", ".zh")]
    decks = ["build/nlp-pretraining.apkg", "build/nlp-pretraining.zh.apkg"]
    others = ["build/site/index.html", "build/media/deckgen-c70c436d281e5337.svg", "build/.deckgen-cache.sqlite"]
    picked = sorted({name for name in [*sheets, *decks, *others] for glob in assets if fnmatch.fnmatchcase(name, glob)})
    assert picked == sorted([*sheets, *decks])


def test_the_issue_form_takes_the_card_id_that_cards_link_with() -> None:
    form = load(ROOT / ".github" / "ISSUE_TEMPLATE" / REPORT_FORM)
    assert [field["id"] for field in form["body"] if "id" in field][0] == "card"


def test_the_pre_commit_hook_calls_a_real_command() -> None:
    (hook,) = load(ROOT / ".pre-commit-hooks.yaml")
    assert hook["id"] == "deckgen-check"
    assert hook["entry"] == "deckgen check --strict --locked"
    assert_valid_call(shlex.split(hook["entry"])[1:])


def test_the_readme_counts_the_shipped_banks_as_anki_does() -> None:
    from deckgen.load import load_bank
    from deckgen.stats import bank_stats, deck_counts

    bank = load_bank(ROOT / "questions")
    stats, counts = bank_stats(bank), deck_counts(bank)
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert (
        f"today {stats.notes} notes make {stats.cards} cards, and the package also carries "
        f"{counts.retired_notes} retired notes until you delete them." in readme
    )


def test_contributing_shows_the_pre_commit_hook_as_a_local_one() -> None:
    (hook,) = load(ROOT / ".pre-commit-hooks.yaml")
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    (config,) = [block.split("```")[0] for block in text.split("```yaml\n")[1:] if block.startswith("repos:")]
    (repo,) = yaml.safe_load(config)["repos"]
    assert repo["repo"] == "local"
    (local,) = repo["hooks"]
    assert local == {**{k: v for k, v in hook.items() if k != "description"}, "language": "system"}


def documented_calls() -> list[tuple[str, list[str]]]:
    """Every deckgen command that the README and CONTRIBUTING.md show as one to run: inline code,
    and the lines of shell blocks (a usage line, with its [OPTIONS], is not one)."""
    calls = []
    for name in ("README.md", "CONTRIBUTING.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        blocks = text.split("```")
        prose, code = blocks[0::2], blocks[1::2]
        spans = [span for part in prose for span in part.split("`")[1::2]]
        spans += [line.strip().removeprefix("$ ") for block in code if block.startswith(("sh\n", "\n$ ")) for line in block.splitlines()[1:]]
        for span in spans:
            if "[" in span or "<" in span or not span.startswith(("deckgen ", "python -m deckgen ")):
                continue
            calls += [(span, call) for call in deckgen_calls(span) if not call[0][:1].isupper()]  # `deckgen Basic` is a note type
    return calls


def test_the_commands_the_docs_show_exist_with_their_options() -> None:
    calls = documented_calls()
    assert ("deckgen build --topic lora-vs-adapter --out handouts/lora-vs-adapter --pdf", ["build", "--topic", "lora-vs-adapter", "--out", "handouts/lora-vs-adapter", "--pdf"]) in calls
    assert ("deckgen check --strict --locked", ["check", "--strict", "--locked"]) in calls
    for span, call in calls:
        assert call[0] in main.commands or call[0] == "--version", span
        if call[0] in main.commands:
            assert_valid_call(call)


def test_handouts_go_to_a_folder_git_ignores_and_no_build_replaces() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "handouts/" in ignored and "build/" in ignored
    outs = [call[call.index("--out") + 1] for _, call in documented_calls() if "--out" in call]
    assert outs == ["handouts/lora-vs-adapter", "handouts/why-separate-qk"]


def test_the_readme_shows_the_image_the_bank_ships() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "not supported" not in readme
    assert "`build/media/`" in readme and "`questions/images/attention-masks.svg`" in readme and "`bert-family/unilm-masks.yaml`" in readme
    assert (ROOT / "questions" / "images" / "attention-masks.svg").is_file()
    assert "](../images/attention-masks.svg)" in (ROOT / "questions" / "bert-family" / "unilm-masks.yaml").read_text(encoding="utf-8")


def test_the_revision_the_readme_diffs_against_is_the_first_release() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the revision cannot be looked up")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "deckgen diff v0.1.0`" not in readme.replace("`deckgen diff v0.1.0` says the same", "")
    subject = subprocess.run(["git", "log", "-1", "--format=%s", "58e5e88"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert subject == "Lock the first release of the banks: 530 cards\n"
