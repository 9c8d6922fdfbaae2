"""Unusual inputs and environments: located errors, never tracebacks, and nothing half-written."""

from __future__ import annotations

import gc
import hashlib
import shutil
import sqlite3
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from deckgen.anki import notes as anki_notes
from deckgen.anki import package as anki_package
from deckgen import parallel
from deckgen.outputs import apkg as apkg_output
from deckgen.outputs import markdown as markdown_output
from deckgen.build import build, check
from deckgen.cache import CACHE_FILE
from deckgen.cli import main
from deckgen.lock import read_lock
from deckgen.model import DeckgenError
from tests.bankfiles import TOPIC, write_bank
from tests.conftest import FIXTURES


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def mini(in_tmp: Path) -> Path:
    shutil.copytree(FIXTURES / "mini", "mini")
    return Path("mini")


def digests(folder: Path) -> dict[str, str]:
    return {p.as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def disk_full(*args: object) -> None:
    raise OSError(28, "No space left on device")


def built_then_edited(mini: Path) -> dict[str, str]:
    """Build the mini bank into `out`, then edit one of its answers: what `out` and the bank held before the edit."""
    build(mini, Path("out"))
    before = digests(Path("out")) | digests(mini)
    attention = mini / "attention.yaml"
    attention.write_text(attention.read_text(encoding="utf-8").replace("saturation", "its flat region"), encoding="utf-8")
    return before


def assert_nothing_changed_but_the_edit(mini: Path, before: dict[str, str]) -> None:
    after = digests(Path("out")) | digests(mini)
    assert {k: v for k, v in after.items() if k != "mini/attention.yaml"} == {k: v for k, v in before.items() if k != "mini/attention.yaml"}
    assert sorted(p.name for p in Path(".").iterdir() if p.name.startswith(".")) == [".out.deckgen-lock"]


def test_a_build_that_fails_while_writing_changes_no_output_and_not_the_lock(
    mini: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    before = built_then_edited(mini)
    monkeypatch.setattr(apkg_output, "write_apkg", disk_full)
    code, _, err = run("build", "mini", "--out", "out")
    assert code == 1
    assert err.startswith("out/mini-deck.apkg:1:1: error: cannot write the output: No space left on device [io]\n")
    assert_nothing_changed_but_the_edit(mini, before)


@pytest.fixture
def own_tmp(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of the test's own, where a build keeps its working files."""
    folder = Path("tmp").absolute()
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.parametrize(("jobs", "packed_by"), [("1", ["deckgen-background_0"]), ("2", [])], ids=["second thread", "forked process"])
def test_a_package_that_cannot_be_packed_on_the_second_thread_or_in_a_forked_process_fails_the_build_at_its_file(
    mini: Path, own_tmp: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, jobs: str, packed_by: list[str]
) -> None:
    # A rebuild after an edit packs its package on its second thread; on two cores, it writes the
    # whole package in a forked process, which reports the error back (and whose threads are not
    # this process's).
    monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
    epoch(1_700_000_000)
    before = built_then_edited(mini)
    threads: list[str] = []

    def disk_full_here(*args: object) -> None:
        threads.append(threading.current_thread().name)
        disk_full()

    monkeypatch.setattr(anki_package, "write_package", disk_full_here)
    code, _, err = run("build", "mini", "--out", "out")
    assert (code, threads) == (1, packed_by)
    assert err == "out/mini-deck.apkg:1:1: error: cannot write the output: No space left on device [io]\nbuild failed: 1 error, 0 warnings in 1 file; nothing was written\n"
    assert_nothing_changed_but_the_edit(mini, before)
    assert list(own_tmp.iterdir()) == []


def test_a_build_that_can_start_no_thread_packs_its_packages_itself(
    mini: Path, own_tmp: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A process at its system's limit of threads: the build is the same, done on one thread.
    epoch(1_700_000_000)
    build(mini, Path("before"))
    (mini / "deck.lock").unlink()

    def no_thread(*args: object, **kwargs: object) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(ThreadPoolExecutor, "submit", no_thread)
    build(mini, Path("out"))
    assert {k.removeprefix("out/"): v for k, v in digests(Path("out")).items()} == {
        k.removeprefix("before/"): v for k, v in digests(Path("before")).items()
    }
    assert list(own_tmp.iterdir()) == []
    # And a package that cannot be written so is reported at its file, as on the second thread.
    monkeypatch.setattr(anki_package, "write_package", disk_full)
    code, _, err = run("build", "mini", "--out", "again")
    assert code == 1
    assert err == "again/mini-deck.apkg:1:1: error: cannot write the output: No space left on device [io]\nbuild failed: 1 error, 0 warnings in 1 file; nothing was written\n"
    assert not Path("again").exists() and list(own_tmp.iterdir()) == []


def test_a_build_that_fails_while_a_package_is_packed_waits_for_it_before_removing_its_folder(
    mini: Path, own_tmp: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    failing = threading.Event()
    packed: list[Path] = []
    real_write_package = anki_package.write_package

    def slow_write_package(path: Path, collection: Path, media: dict[str, Path]) -> None:
        # Still packing when the Markdown sheet fails on the build's own thread.
        assert failing.wait(timeout=60)
        time.sleep(0.2)
        real_write_package(path, collection, media)
        packed.append(path)

    def sheet_lines(*args: object) -> Iterator[str]:
        failing.set()
        raise OSError(28, "No space left on device")
        yield ""

    monkeypatch.setattr(anki_package, "write_package", slow_write_package)
    monkeypatch.setattr(markdown_output, "review_sheet_lines", sheet_lines)
    code, _, err = run("build", "mini", "--out", "out")
    assert code == 1
    assert err == "out/review-sheet.md:1:1: error: cannot write the output: No space left on device [io]\nbuild failed: 1 error, 0 warnings in 1 file; nothing was written\n"
    # The package was finished in the staging folder before the build removed it.
    assert len(packed) == 1 and packed[0].name == "mini-deck.apkg" and not packed[0].exists()
    assert not Path("out").exists()
    assert sorted(p.name for p in Path(".").iterdir() if p.name.startswith(".")) == [".out.deckgen-lock"]
    assert list(own_tmp.iterdir()) == []


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "-5", "1.5"])
def test_odd_source_date_epochs_are_errors(mini: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    code, _, err = run("build", "mini", "--out", "out")
    assert code == 1
    assert err.startswith(f"SOURCE_DATE_EPOCH:1:1: error: expected whole seconds since 1970, found '{value}' [environment]\n")


def test_a_lock_that_is_not_utf8_is_a_located_error(mini: Path) -> None:
    (mini / "deck.lock").write_bytes(b'{"format": 1, "notes": {"caf\xe9": 1}}')
    _, diagnostics = check(mini)
    assert [d.rule for d in diagnostics if d.severity.value == "error"] == ["lock"]
    assert [str(d) for d in diagnostics] == ["mini/deck.lock:1:1: error: deck.lock is not UTF-8 text; 'deckgen build' writes it [lock]"]


def test_a_strange_cache_never_fails_a_build(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    assert run("build", "mini", "--out", "out")[0] == 0

    def outputs() -> dict[str, str]:
        return {name: digest for name, digest in digests(Path("out")).items() if CACHE_FILE not in name}

    expected = outputs()
    cache = Path("out") / CACHE_FILE
    strange = [
        "CREATE TABLE other (x)",
        "DROP TABLE entries; CREATE TABLE entries (key TEXT, value TEXT); INSERT INTO entries VALUES ('salt', 'not json')",
        "UPDATE entries SET value = 'null'",
        "UPDATE entries SET value = '[1, 2]'",
        "UPDATE entries SET value = '{\"id\": 1}' WHERE key LIKE 'topic:%'",
        "UPDATE entries SET value = '\"text\"' WHERE key LIKE 'notes:%' OR key LIKE 'topic:%'",
        "UPDATE entries SET value = '[[1, \"basic\", [], []]]' WHERE key LIKE 'notes:%'",
        "UPDATE entries SET value = '[\"html\"]' WHERE key LIKE 'print:%'",
        "UPDATE entries SET value = json_set(value, '$.questions[0].location', json('[1, 2]')) WHERE key LIKE 'topic:%'",
        "UPDATE entries SET value = json_set(value, '$.questions[0].answer', 5) WHERE key LIKE 'topic:%'",
        "UPDATE entries SET value = '[[\"g\", \"bogus\", [\"why-scale\"], []]]' WHERE key LIKE 'notes:%'",
        "UPDATE entries SET value = '[[\"g\", \"basic\", [], []]]' WHERE key LIKE 'notes:%'",
        "UPDATE entries SET value = '[[\"g\", \"basic\", [\"nope\"], []]]' WHERE key LIKE 'notes:%'",
        "UPDATE entries SET value = json_set(value, '$.questions[0].sources', json('[\"nope\"]')) WHERE key LIKE 'topic:%'",
        "UPDATE entries SET value = json_set(value, '$.section', 'nope') WHERE key LIKE 'topic:%'",
        "UPDATE entries SET value = json_set(value, '$.questions[1].id', json_extract(value, '$.questions[0].id')) WHERE key LIKE 'topic:%'",
        "UPDATE entries SET value = printf('%.*c%.*c', 100000, '[', 100000, ']') WHERE key LIKE 'print:%'",
        "DROP TABLE entries",
    ]
    for statement in strange:
        assert run("build", "mini", "--out", "out")[0] == 0
        with sqlite3.connect(cache) as db:
            db.executescript(statement)
        assert run("build", "mini", "--out", "out")[0] == 0
        assert outputs() == expected, statement
    cache.unlink()
    cache.mkdir()
    assert run("build", "mini", "--out", "out")[0] == 0
    assert outputs() == expected


def test_diff_of_a_zip_that_is_not_a_deckgen_package(in_tmp: Path) -> None:
    with zipfile.ZipFile("bogus.apkg", "w") as package:
        package.writestr("collection.anki2", b"not sqlite at all")
    code, _, err = run("diff", "bogus.apkg", "bogus.apkg")
    assert code == 1
    assert err.startswith("bogus.apkg:1:1: error: not a deckgen .apkg (")


def test_cloze_numbers_start_at_one(in_tmp: Path) -> None:
    topic = TOPIC + '  - id: zero\n    type: cloze\n    question: "Nothing is {{c0::hidden}}."\n    sources: [paper]\n'
    _, diagnostics = check(write_bank(Path("q"), {"attention.yaml": topic}))
    assert [str(d) for d in diagnostics] == [
        "q/attention.yaml:11:15: error: cloze numbers start at 1: Anki makes no card for {{c0::…}} [cloze-deletion]"
    ]


def test_an_unreadable_image_path_is_an_error(in_tmp: Path) -> None:
    name = "x" * 300 + ".png"
    topic = TOPIC.replace("answer: To keep the softmax out of saturation.", f"answer: See ![a]({name})")
    _, diagnostics = check(write_bank(Path("q"), {"attention.yaml": topic}))
    assert [d.rule for d in diagnostics] == ["image"]
    assert "cannot be read: File name too long" in diagnostics[0].message


def test_a_note_time_never_goes_back(mini: Path) -> None:
    import os

    os.environ["SOURCE_DATE_EPOCH"] = "1750000000"
    try:
        build(mini, Path("out"))
        attention = mini / "attention.yaml"
        attention.write_text(attention.read_text(encoding="utf-8").replace("saturation", "its flat region"), encoding="utf-8")
        os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
        build(mini, Path("out"))
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]
    lock, _ = read_lock(mini)
    assert lock is not None
    assert lock.notes["why-scale"].mtime == 1_750_000_001
    assert lock.notes["formula"].mtime == 1_750_000_000


def test_urls_that_could_break_out_of_markdown_or_templates_are_refused(in_tmp: Path) -> None:
    sources = (
        "sources:\n  - id: paper\n    title: A paper\n    url: \"https://a.org/x) <img src=x onerror=alert(5)>\"\n"
        "    section: transformer\n"
    )
    deck_text = (Path(__file__).parent / "bankfiles.py").read_text(encoding="utf-8")
    assert "homepage: https://example.org" in deck_text
    from tests.bankfiles import DECK

    deck = DECK.replace("homepage: https://example.org", "homepage: https://example.org/{{ID}}")
    _, diagnostics = check(write_bank(Path("q"), {"sources.yaml": sources, "deck.yaml": deck}))
    assert [str(d) for d in diagnostics] == [
        "q/deck.yaml:4:11: error: homepage 'https://example.org/{{ID}}' has characters to percent-encode "
        "(spaces, quotes, brackets, braces, parentheses: { is %7B) [invalid-url]",
        "q/sources.yaml:4:10: error: url 'https://a.org/x) <img src=x onerror=alert(5)>' has characters to "
        "percent-encode (spaces, quotes, brackets, braces, parentheses: ) is %29) [invalid-url]",
    ]


def test_a_fault_of_deckgens_own_is_not_hidden_behind_the_cache(
    mini: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cache that holds something unexpected is a miss (see test_cache.py); a build never
    # runs again without it, so an error in deckgen itself shows as what it is.
    epoch(1_700_000_000)
    build(mini, Path("out"))
    edit = mini / "attention.yaml"
    edit.write_text(edit.read_text(encoding="utf-8").replace("saturation", "its flat region"), encoding="utf-8")
    monkeypatch.setattr(anki_notes, "question_notes", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        build(mini, Path("out"))
    # Whatever caused it, the next build reads no cache: a value that no check foresaw cannot
    # fail every build after it.
    assert not (Path("out") / CACHE_FILE).exists()
    assert (Path("out") / "mini-deck.apkg").is_file()


def test_a_build_leaves_the_cycle_collector_as_it_found_it(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    before = gc.get_threshold()
    build(mini, Path("out"))
    assert gc.get_threshold() == before
    (mini / "attention.yaml").write_text("topic: [", encoding="utf-8")
    with pytest.raises(DeckgenError):
        build(mini, Path("out"))
    assert gc.get_threshold() == before
