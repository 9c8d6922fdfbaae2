"""The GitHub workflows are hardened: zizmor finds nothing, actions are pinned, no credentials persist.

zizmor (https://docs.zizmor.sh) is the GitHub Actions security linter; it is a test extra, run
offline here. The structural tests below say the same rules plainly, so a failure names the step.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.system_tools import extra

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
DEPENDABOT = GITHUB / "dependabot.yml"
SHA = re.compile(r"[0-9a-f]{40}")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
VERSION_COMMENT = re.compile(r"v\d+(?:\.\d+)*")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def steps(workflow: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])]


def run_zizmor(*options: str) -> subprocess.CompletedProcess[str]:
    # Offline: no GitHub API, so the online audits (impostor commits, known-vulnerable
    # actions) do not run here; every offline audit at the default "regular" persona does.
    # --strict-collection: a workflow that does not parse fails instead of being skipped.
    command = [extra("zizmor", "zizmor"), "--offline", "--persona", "regular", "--strict-collection", "--no-progress", "--color", "never"]
    inputs = [str(GITHUB / "workflows"), str(DEPENDABOT)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZIZMOR_")}
    return subprocess.run([*command, *options, *inputs], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def test_zizmor_finds_nothing_in_the_workflows_and_dependabot_config() -> None:
    result = run_zizmor("--format", "json")
    try:
        findings = json.loads(result.stdout)
    except json.JSONDecodeError:
        findings = None
    if result.returncode != 0 or findings != []:
        plain = run_zizmor("--format", "plain", "--show-audit-urls", "always", "--render-links", "never")
        pytest.fail(
            f"zizmor --offline failed or found problems in .github/ (exit {result.returncode}); fix them, or if one is a "
            f"false positive, ignore it with a `# zizmor: ignore[<audit>]` comment saying why:\n"
            f"{plain.stdout}\n{plain.stderr}",
            pytrace=False,
        )


def test_every_action_is_pinned_to_a_commit_sha_with_its_version_in_a_comment() -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOWS:
        parsed = [
            use
            for job in load(path)["jobs"].values()
            for use in [job.get("uses"), *(step.get("uses") for step in job.get("steps", []))]
            if use
        ]
        lines = [m for line in path.read_text(encoding="utf-8").splitlines() if (m := USES_LINE.match(line))]
        assert [m["ref"] for m in lines] == parsed, f"{path.name}: write each `uses:` on one line, as `uses: owner/repo@<sha> # vX.Y.Z`"
        for match in lines:
            ref, comment = match["ref"], (match["comment"] or "").strip()
            if ref.startswith("./"):
                continue  # an action in this repository: pinned by the checkout itself
            action, _, version = ref.partition("@")
            assert SHA.fullmatch(version), f"{path.name}: `{ref}` is not pinned to a full 40-hex commit SHA"
            assert VERSION_COMMENT.fullmatch(comment), f"{path.name}: `{ref}` needs its version in a comment, as `# v4.2.2`, not `# {comment}`"
            pins.setdefault(action, set()).add((version, comment))
    assert pins, "the workflows should use actions"
    for action, versions in pins.items():
        assert len(versions) == 1, f"{action} is pinned differently across the workflows: {sorted(versions)}"


def test_every_checkout_leaves_no_credentials_in_the_workspace() -> None:
    checkouts = [
        (path.name, job_id, step)
        for path in WORKFLOWS
        for job_id, step in steps(load(path))
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkouts, "the workflows should check out the repository"
    for name, job_id, step in checkouts:
        assert (step.get("with") or {}).get("persist-credentials") is False, f"{name}: job {job_id}: actions/checkout needs `persist-credentials: false`"


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_no_run_block_expands_a_template(path: Path) -> None:
    for job_id, step in steps(load(path)):
        run = step.get("run", "")
        assert "${{" not in run, (
            f"{path.name}: job {job_id}, step {step.get('name', run.splitlines()[0])!r}: pass `${{{{ ... }}}}` "
            f"values through `env:` and use them as \"$VAR\" in `run:`"
        )


WRITES = {
    ("release.yml", "release"): {"contents": "write"},  # gh release create
    ("pages.yml", "deploy"): {"pages": "write", "id-token": "write"},  # actions/deploy-pages, and nothing else
}
"""The jobs that write, and exactly what each may write; every other job only reads."""


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_permissions_are_none_by_default_and_least_per_job(path: Path) -> None:
    workflow = load(path)
    assert workflow.get("permissions") == {}, f"{path.name}: set `permissions: {{}}` at the top; each job asks for its own"
    for job_id, job in workflow["jobs"].items():
        wanted = WRITES.get((path.name, job_id), {"contents": "read"})
        assert job.get("permissions") == wanted, f"{path.name}: job {job_id} should have exactly `permissions: {wanted}`"


def test_the_release_time_stamp_is_the_tags_own_time_and_not_in_the_future(tmp_path: Path) -> None:
    """Run the release's "Check and build" script against a scratch repository, with deckgen stubbed."""
    workflow = load(GITHUB / "workflows" / "release.yml")
    (script,) = [step["run"] for _, step in steps(workflow) if "deckgen build" in step.get("run", "")]

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "python"  # `python -m deckgen build` prints the epoch it was given
    stub.write_text('#!/bin/sh\nif [ "$3" = build ]; then echo "epoch=${SOURCE_DATE_EPOCH-unset}"; fi\n', encoding="utf-8")
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    repo = tmp_path / "repo"
    repo.mkdir()
    now = int(time.time())
    committed, tagged, future = now - 30 * 86400, now - 86400, now + 3 * 86400
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base |= {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    base |= {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*args: str, when: int) -> None:
        env = base | {"GIT_AUTHOR_DATE": f"@{when} +0000", "GIT_COMMITTER_DATE": f"@{when} +0000"}
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    git("init", "-q", when=committed)
    git("commit", "-q", "--allow-empty", "-m", "cards", when=committed)
    git("tag", "-a", "v1.0", "-m", "annotated", when=tagged)
    git("tag", "v1.1", when=tagged)  # lightweight: no time of its own
    git("tag", "-a", "v9.0", "-m", "from a wrong clock", when=future)

    def release(tag: str) -> subprocess.CompletedProcess[str]:
        env = base | {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_REF_NAME": tag}
        # GitHub runs a `run:` block without a `shell:` as `bash -e {0}`.
        return subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=60)

    annotated, lightweight, wrong_clock = release("v1.0"), release("v1.1"), release("v9.0")
    for result, expected, what in [(annotated, tagged, "an annotated tag's tagger date"), (lightweight, committed, "a lightweight tag's commit date")]:
        assert (result.returncode, result.stdout) == (0, f"epoch={expected}\n"), (
            f"SOURCE_DATE_EPOCH should be {what}, {expected}; the script printed {result.stdout!r}, {result.stderr!r}"
        )
    assert wrong_clock.returncode != 0 and "epoch=" not in wrong_clock.stdout, "a tag dated days ahead of the clock should stop the release"
    assert "more than a day in the future" in wrong_clock.stdout + wrong_clock.stderr


CHANGELOG = """# Changelog

## Unreleased

Nothing yet.

## 1.1.0

### What this release does to your deck

Every note is updated.

## 1.0.0

The first release.
"""


def test_the_release_notes_are_the_versions_changelog_entry_then_the_diff(tmp_path: Path) -> None:
    """Run the release's "Release notes" script in a scratch repository, with deckgen stubbed."""
    workflow = load(GITHUB / "workflows" / "release.yml")
    (script,) = [step["run"] for _, step in steps(workflow) if step.get("name") == "Release notes"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "python"  # `python -m deckgen diff OLD NEW ...` names what it compares
    stub.write_text('#!/bin/sh\necho "diff $4..$5"\n', encoding="utf-8")
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "CHANGELOG.md").write_text(CHANGELOG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    env |= {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["init", "-q"], ["add", "CHANGELOG.md"], ["commit", "-q", "-m", "one"], ["tag", "v1.0.0"], ["commit", "-q", "--allow-empty", "-m", "two"], ["tag", "v1.1.0"], ["tag", "v2.0.0"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    def notes(tag: str) -> tuple[int, str, str]:
        run_env = env | {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_REF_NAME": tag}
        result = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=run_env, capture_output=True, text=True, timeout=60)
        written = (repo / "release-notes.md").read_text(encoding="utf-8") if (repo / "release-notes.md").exists() else ""
        return result.returncode, result.stdout, written

    assert notes("v1.1.0") == (0, "", "\n### What this release does to your deck\n\nEvery note is updated.\n\n\ndiff v1.0.0..v1.1.0\n")
    assert notes("v1.0.0") == (0, "", "\nThe first release.\n")  # no earlier tag: no diff
    code, out, _ = notes("v2.0.0")
    assert code == 1 and out == "::error::CHANGELOG.md has no '## 2.0.0' entry: write it before tagging v2.0.0\n"
