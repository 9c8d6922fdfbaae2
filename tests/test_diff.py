"""`deckgen diff`: what a release changes, from two packages or two git revisions."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from deckgen import anki as deck_anki
from deckgen.build import build
from deckgen.cli import main
from deckgen.diff import diff_packages, format_diff, read_package
from tests.conftest import GOLDEN, check_golden
from tests.test_release import release_v2


@pytest.fixture
def two_releases(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    epoch(1_700_000_000)
    v1 = tmp_path / "v1.apkg"
    shutil.copy(build(mini_bank, tmp_path / "out").outputs[0], v1)
    release_v2(mini_bank)
    monkeypatch.setattr(deck_anki, "CARD_CSS", deck_anki.CARD_CSS + "/* v2 look */\n")
    epoch(1_800_000_000)
    v2 = tmp_path / "v2.apkg"
    shutil.copy(build(mini_bank, tmp_path / "out").outputs[0], v2)
    return v1, v2


def test_diff_of_two_packages_as_text_and_markdown(two_releases: tuple[Path, Path]) -> None:
    v1, v2 = two_releases
    result = diff_packages(read_package(v1), read_package(v2))
    assert result.problems == 0
    check_golden(GOLDEN / "diff.txt", format_diff(result))
    check_golden(GOLDEN / "diff.md", format_diff(result, markdown=True))


def test_diff_through_the_cli(two_releases: tuple[Path, Path]) -> None:
    v1, v2 = two_releases
    result = CliRunner().invoke(main, ["diff", str(v1), str(v2)])
    assert result.exit_code == 0
    assert result.stdout == (GOLDEN / "diff.txt").read_text(encoding="utf-8")


def test_diff_flags_changed_guids_and_removed_notes(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    v1 = tmp_path / "v1.apkg"
    shutil.copy(build(mini_bank, tmp_path / "out").outputs[0], v1)
    (mini_bank / "deck.lock").unlink()
    lora = mini_bank / "extra" / "lora.yml"
    text = lora.read_text(encoding="utf-8")
    lora.write_text(text[: text.index("  - id: lora-code")], encoding="utf-8")
    monkeypatch.setattr(deck_anki, "GUID_NAMESPACE", "not-deckgen")
    v2 = build(mini_bank, tmp_path / "out2").outputs[0]
    result = diff_packages(read_package(v1), read_package(v2))
    assert [note.key for note in result.removed] == ["lora-code"]
    assert [key for key, _, _ in result.guid_changed] == ["formula", "hostile", "lora-adapter/latency", "lora-adapter/where", "why-scale"]
    text = format_diff(result)
    assert text.startswith("deck changes: 0 added, 0 changed, 0 retired, 6 problems\n\nProblems:\n")
    assert "  removed without being retired: lora-code; learners keep it, and it is never updated again\n" in text


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_diff_of_two_git_revisions(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(mini_bank, repo / "questions")
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "v1")
    release_v2(repo / "questions")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qam", "v2")
    monkeypatch.chdir(repo)
    epoch(1_700_000_000)
    result = CliRunner().invoke(main, ["diff", "HEAD~1", "HEAD", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("## Deck changes: 1 added, 1 changed, 1 retired, 0 problems\n")
    # Without NEW, the working tree; nothing in it may change.
    (repo / "questions" / "attention.yaml").write_text(
        (repo / "questions" / "attention.yaml").read_text(encoding="utf-8").replace("flat region", "plateau"), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["diff", "HEAD"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("deck changes: 0 added, 1 changed, 0 retired, 0 problems\n")
    assert not (repo / "questions" / "deck.lock").exists()
    bad = CliRunner().invoke(main, ["diff", "no-such-revision"])
    assert bad.exit_code == 1
    assert bad.stderr.startswith("no-such-revision:1:1: error: cannot read the banks at git revision 'no-such-revision': ")
