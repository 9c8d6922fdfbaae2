"""The bank's borders: nothing outside the bank folder is read, and nothing unreadable is skipped."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from deckgen.build import check
from deckgen.cli import main
from tests.bankfiles import TOPIC, write_bank

SECRET = "root:x:0:0:root:/root:/bin/bash\n"


def errors(bank: Path) -> list[str]:
    _, diagnostics = check(bank)
    return [str(d) for d in diagnostics if d.severity.value == "error"]


@pytest.fixture
def outside(in_tmp: Path) -> Path:
    """A folder beside the bank, with a secret and a valid topic file in it."""
    folder = Path("outside")
    folder.mkdir()
    (folder / "passwd").write_text(SECRET, encoding="utf-8")
    (folder / "topic.yaml").write_text(TOPIC.replace("id: attention", "id: smuggled").replace("why-scale", "smuggled-q"), encoding="utf-8")
    return folder.absolute()


def test_a_topic_that_links_outside_the_bank_is_refused_and_never_printed(outside: Path) -> None:
    bank = write_bank(Path("q"))
    (bank / "passwd.yaml").symlink_to(outside / "passwd")
    (bank / "smuggled.yaml").symlink_to(outside / "topic.yaml")
    message = "is a link that leads outside the bank folder; deckgen reads only files inside it [bank-file]"
    assert errors(bank) == [f"q/passwd.yaml:1:1: error: {message}", f"q/smuggled.yaml:1:1: error: {message}"]
    result = CliRunner().invoke(main, ["check", "q", "--format", "github"])
    assert result.exit_code == 1 and "root:x" not in result.output and "smuggled-q" not in result.output


def test_deck_and_sources_that_link_outside_are_refused(outside: Path) -> None:
    bank = write_bank(Path("q"))
    (bank / "deck.yaml").unlink()
    (bank / "deck.yaml").symlink_to(outside / "passwd")
    assert errors(bank) == ["q/deck.yaml:1:1: error: is a link that leads outside the bank folder; deckgen reads only files inside it [bank-file]"]


def test_links_to_folders_and_to_nothing_are_reported(outside: Path) -> None:
    more = TOPIC.replace("id: attention", "id: more").replace("why-scale", "more-q").replace("topic: Attention", "topic: More")
    bank = write_bank(Path("q"), {"topics/more.yaml": more})
    (bank / "elsewhere").symlink_to(outside, target_is_directory=True)
    (bank / "again").symlink_to(bank.absolute() / "topics", target_is_directory=True)
    (bank / "gone.yaml").symlink_to(bank.absolute() / "missing.yaml")
    (bank / "loop.yaml").symlink_to(bank.absolute() / "loop.yaml")
    assert errors(bank) == [
        "q/again:1:1: error: is a link to a folder; deckgen does not follow links to folders: move the files into the bank [bank-file]",
        "q/elsewhere:1:1: error: is a link that leads outside the bank folder; deckgen reads only files inside it [bank-file]",
        "q/gone.yaml:1:1: error: is a link to a file that does not exist [bank-file]",
        "q/loop.yaml:1:1: error: is a link that leads nowhere (a loop of links) [bank-file]",
    ]


def test_a_topic_that_is_a_pipe_is_reported_not_read(in_tmp: Path) -> None:
    bank = write_bank(Path("q"))
    os.mkfifo(bank / "pipe.yaml")
    assert errors(bank) == [
        "q/pipe.yaml:1:1: error: is not a regular file (a pipe, socket or device?); a topic file is a plain YAML file [bank-file]"
    ]


def test_a_link_to_a_topic_inside_the_bank_is_read(in_tmp: Path) -> None:
    bank = write_bank(Path("q"), {"topics/attention.yaml": TOPIC})
    (bank / "attention.yaml").unlink()
    (bank / "alias.yaml").symlink_to(Path("topics/attention.yaml"))
    assert errors(bank) == [
        "q/topics/attention.yaml:1:8: error: topic title 'Attention' is the deck name of the topic at q/alias.yaml:1:8; "
        "Anki would rename one of them with a trailing _: give each topic a title of its own [duplicate-deck-name]",
        "q/topics/attention.yaml:2:5: error: duplicate topic id 'attention' (first at q/alias.yaml:2:5) [duplicate-id]",
        "q/topics/attention.yaml:5:9: error: duplicate question id 'why-scale' (first at q/alias.yaml:5:9) [duplicate-id]",
    ]


def test_an_unreadable_folder_is_an_error_not_skipped(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bank = write_bank(Path("q"), {"locked/more.yaml": TOPIC.replace("id: attention", "id: more").replace("why-scale", "more-q")})
    real = os.scandir

    def scandir(path: os.PathLike[str] | str) -> Iterator[os.DirEntry[str]]:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert errors(bank) == ["q/locked:1:1: error: cannot read this folder: Permission denied [bank-file]"]


def test_an_unreadable_file_is_an_error(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root reads a mode-000 file, so the refusal is injected where deckgen reads.
    bank = write_bank(Path("q"), {"secret.yaml": TOPIC.replace("id: attention", "id: other")})
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "secret.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert errors(bank) == ["q/secret.yaml:1:1: error: cannot read file: Permission denied [io]"]


NOT_UTF8 = pytest.mark.skipif(sys.platform == "darwin", reason="macOS's file systems refuse a name that is not UTF-8: such a bank cannot be checked out there")


@NOT_UTF8
def test_a_topic_file_or_folder_whose_name_is_not_utf8_is_an_error_not_a_crash(in_tmp: Path) -> None:
    # A pull request can add any bytes as a file name; deckgen's messages, cache keys and links
    # are text. Through the CLI, with the build's cache, which keys each file by its name.
    more = TOPIC.replace("id: attention", "id: more").replace("why-scale", "more-q").replace("topic: Attention", "topic: More")
    bank = write_bank(Path("q"), {"more.yaml": more})
    os.rename(bank / "attention.yaml", os.fsencode(bank) + b"/atten\xfftion.yaml")
    os.mkdir(os.fsencode(bank) + b"/f\xfeolder")
    (Path(os.fsdecode(os.fsencode(bank) + b"/f\xfeolder")) / "more.yaml").write_text(TOPIC, encoding="utf-8")
    (Path(os.fsdecode(os.fsencode(bank) + b"/not\xfeyaml.txt"))).write_text("not read", encoding="utf-8")  # not read: no error
    expected = [
        "q/atten\\udcfftion.yaml:1:1: error: has a name that is not UTF-8 (a byte is shown as \\udcXX): rename it [bank-file]",
        "q/f\\udcfeolder:1:1: error: has a name that is not UTF-8 (a byte is shown as \\udcXX): rename it [bank-file]",
    ]
    assert errors(bank) == expected
    runner = CliRunner()
    checked = runner.invoke(main, ["check", "q", "--strict"])
    assert (checked.exit_code, checked.output) == (1, "\n".join(expected) + "\n2 errors, 0 warnings in 2 files\n")
    built = runner.invoke(main, ["build", "q", "--out", "out"])
    assert (built.exit_code, built.output) == (1, "\n".join(expected) + "\nbuild failed: 2 errors, 0 warnings in 2 files; nothing was written\n")
    assert not Path("out").exists()
    github = runner.invoke(main, ["check", "q", "--format", "github"])
    assert github.output.splitlines()[0] == (
        "::error file=q/atten\\udcfftion.yaml,line=1,col=1,title=deckgen bank-file::has a name that is not UTF-8 (a byte is shown as \\udcXX): rename it"
    )


@NOT_UTF8
def test_a_topic_that_links_to_a_file_whose_name_is_not_utf8_is_an_error(in_tmp: Path) -> None:
    # The site's "suggest an edit" link names the file a topic link leads to.
    more = TOPIC.replace("id: attention", "id: more").replace("why-scale", "more-q").replace("topic: Attention", "topic: More")
    bank = write_bank(Path("q"), {"more.yaml": more})
    raw = os.fsencode(bank) + b"/raw"
    os.mkdir(raw)
    os.rename(bank / "attention.yaml", raw + b"/atten\xfftion.dat")
    (bank / "attention.yaml").symlink_to(Path(os.fsdecode(b"raw/atten\xfftion.dat")))
    expected = "q/attention.yaml:1:1: error: is a link to a file whose name is not UTF-8 (a byte is shown as \\udcXX): rename it [bank-file]"
    assert errors(bank) == [expected]
    built = CliRunner().invoke(main, ["build", "q", "--out", "out"])
    assert (built.exit_code, built.output) == (1, expected + "\nbuild failed: 1 error, 0 warnings in 1 file; nothing was written\n")


@NOT_UTF8
def test_a_bank_folder_whose_own_path_is_not_utf8_is_an_error_not_a_crash(in_tmp: Path) -> None:
    # Every file's name in messages and cache keys starts with the folder as given.
    bank = Path(os.fsdecode(bytes(write_bank(Path("q"))) + b"\xff"))
    os.rename("q", bank)
    expected = "q\\udcff:1:1: error: the bank folder's path is not UTF-8 (a byte is shown as \\udcXX): rename the folder, or give a path to it that is [bank-file]"
    assert errors(bank) == [expected]
    runner = CliRunner()
    checked = runner.invoke(main, ["check", str(bank), "--strict"])
    assert (checked.exit_code, checked.output) == (1, expected + "\n1 error, 0 warnings in 1 file\n")
    built = runner.invoke(main, ["build", str(bank), "--out", "out"])
    assert (built.exit_code, built.output) == (1, expected + "\nbuild failed: 1 error, 0 warnings in 1 file; nothing was written\n")
    assert not Path("out").exists()
    stats = runner.invoke(main, ["stats", str(bank)])
    assert (stats.exit_code, stats.output) == (1, expected + "\n1 error, 0 warnings in 1 file\n")
    # The same folder by a path that is UTF-8 builds.
    Path("q").symlink_to(bank)
    assert errors(Path("q")) == []
    built = runner.invoke(main, ["build", "q", "--out", "out"])
    assert built.exit_code == 0, built.output
