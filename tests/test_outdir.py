"""The output folder: all old or all new, however a build ends; deckgen's own; one build at a time."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from deckgen.build import build
from deckgen.lock import read_lock
from deckgen.model import DeckgenError
from deckgen.outdir import MARKER
from tests.conftest import FIXTURES, ROOT

OLD_EPOCH, NEW_EPOCH = 1_700_000_000, 1_750_000_000

# Runs one build in a process of its own that kills itself with SIGKILL just before or just
# after its N-th rename, replace or folder exchange. os is patched before deckgen is imported.
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    bank, out, n, when = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    calls = [0]

    def killing(real):
        def step(*args, **kwargs):
            calls[0] += 1
            if calls[0] == n and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            result = real(*args, **kwargs)
            if calls[0] == n and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return step

    os.replace = killing(os.replace)
    os.rename = killing(os.rename)
    import deckgen.outdir
    deckgen.outdir.exchange = killing(deckgen.outdir.exchange)
    from deckgen.build import build
    build(Path(bank), Path(out))
    """
)


def outputs(folder: Path) -> dict[str, str]:
    """Every file of an output folder but the cache (whose bytes depend on what the build read from it), by digest."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".deckgen-cache.sqlite"
    }


def edit(bank: Path) -> None:
    attention = bank / "attention.yaml"
    attention.write_text(attention.read_text(encoding="utf-8").replace("saturation", "its flat region"), encoding="utf-8")


def run_killed(bank: Path, out: Path, n: int, when: str) -> int:
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(NEW_EPOCH), PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-c", KILLER, str(bank), str(out), str(n), when], env=env, capture_output=True).returncode


def test_a_build_killed_at_any_step_leaves_the_old_outputs_or_the_new_ones(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    # The old release, and the new one as a build that is not killed makes it.
    shutil.copytree(FIXTURES / "mini", tmp_path / "bank")
    epoch(OLD_EPOCH)
    build(tmp_path / "bank", tmp_path / "old")
    old_lock = (tmp_path / "bank" / "deck.lock").read_text(encoding="utf-8")
    edit(tmp_path / "bank")
    shutil.copytree(tmp_path / "bank", tmp_path / "reference")
    epoch(NEW_EPOCH)
    build(tmp_path / "reference", tmp_path / "new")
    new_lock = (tmp_path / "reference" / "deck.lock").read_text(encoding="utf-8")
    old, new = outputs(tmp_path / "old"), outputs(tmp_path / "new")
    assert old != new and old_lock != new_lock
    killed = 0
    for n in range(1, 20):
        for when in ("before", "after"):
            bank, out = tmp_path / f"bank-{n}-{when}", tmp_path / f"out-{n}-{when}"
            shutil.copytree(tmp_path / "bank", bank)
            (bank / "deck.lock").write_text(old_lock, encoding="utf-8")
            shutil.copytree(tmp_path / "old", out)
            code = run_killed(bank, out, n, when)
            if code == 0:
                continue
            assert code == -signal.SIGKILL, code
            killed += 1
            assert outputs(out) in (old, new), (n, when)
            assert (bank / "deck.lock").read_text(encoding="utf-8") in (old_lock, new_lock), (n, when)
            lock, problems = read_lock(bank)
            assert lock is not None and problems == []
            build(bank, out)
            assert outputs(out) == new, (n, when)
            assert (bank / "deck.lock").read_text(encoding="utf-8") == new_lock
            assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}.")) == [f".{out.name}.deckgen-lock"]
        if code == 0:
            break
    # The cache, the lock and the exchange, each killed before and after: six kills.
    assert killed == 6


def test_a_build_while_another_holds_the_folder_is_refused(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    shutil.copytree(FIXTURES / "mini", tmp_path / "bank")
    epoch(OLD_EPOCH)
    build(tmp_path / "bank", tmp_path / "out")
    before = outputs(tmp_path / "out")
    edit(tmp_path / "bank")
    with open(tmp_path / ".out.deckgen-lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(DeckgenError) as err:
            build(tmp_path / "bank", tmp_path / "out")
    assert [str(d) for d in err.value.diagnostics] == [
        f"{tmp_path.as_posix()}/out:1:1: error: another deckgen build is writing this output folder now; "
        "run this one when it has finished [output]"
    ]
    assert outputs(tmp_path / "out") == before
    build(tmp_path / "bank", tmp_path / "out")
    assert outputs(tmp_path / "out") != before


def test_two_builds_started_together_leave_one_whole_set(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    shutil.copytree(FIXTURES / "mini", tmp_path / "a")
    shutil.copytree(FIXTURES / "mini", tmp_path / "b")
    edit(tmp_path / "b")
    epoch(OLD_EPOCH)
    sets = {}
    for name in ("a", "b"):
        shutil.copytree(tmp_path / name, tmp_path / f"{name}-reference")
        build(tmp_path / f"{name}-reference", tmp_path / f"{name}-out")
        sets[name] = outputs(tmp_path / f"{name}-out")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    busy = "another deckgen build is writing this output folder now"
    for _ in range(3):
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "deckgen", "build", str(tmp_path / name), "--out", str(tmp_path / "out")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("a", "b")
        ]
        results = [(run.wait(timeout=300), run.communicate()[1]) for run in runs]
        assert all(code == 0 or (code == 1 and busy in err) for code, err in results), results
        assert any(code == 0 for code, _ in results)
        assert outputs(tmp_path / "out") in (sets["a"], sets["b"])


def test_a_folder_of_other_files_is_never_replaced(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(OLD_EPOCH)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.tex").write_text("years of work", encoding="utf-8")
    with pytest.raises(DeckgenError) as err:
        build(FIXTURES / "mini", tmp_path / "notes")
    assert [str(d) for d in err.value.diagnostics] == [
        f"{tmp_path.as_posix()}/notes:1:1: error: the output folder holds files deckgen did not write (thesis.tex); "
        "deckgen replaces its output folder whole, so pick an empty or new --out [output]"
    ]
    assert (tmp_path / "notes" / "thesis.tex").read_text(encoding="utf-8") == "years of work"


def test_a_folder_an_older_deckgen_wrote_is_taken_over(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    shutil.copytree(FIXTURES / "mini", tmp_path / "bank")
    epoch(OLD_EPOCH)
    out = tmp_path / "build"
    (out / "media").mkdir(parents=True)
    for name in ("mini-deck.apkg", "review-sheet.md", "review-questions.html", ".deckgen-cache.json", ".review-sheet.md.x1.tmp"):
        (out / name).write_text("0.1", encoding="utf-8")
    (out / "media" / "deckgen-0123456789abcdef.svg").write_text("<svg/>", encoding="utf-8")
    build(tmp_path / "bank", out)
    assert (out / MARKER).is_file() and not (out / ".deckgen-cache.json").exists()
    assert (out / "mini-deck.apkg").read_bytes() != b"0.1"


def test_no_output_folder_nests_in_another(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(OLD_EPOCH)
    shutil.copytree(FIXTURES / "mini", tmp_path / "bank")
    build(tmp_path / "bank", tmp_path / "out")
    with pytest.raises(DeckgenError) as inside:
        build(tmp_path / "bank", tmp_path / "out" / "media" / "more")
    assert [str(d) for d in inside.value.diagnostics] == [
        f"{tmp_path.as_posix()}/out/media/more:1:1: error: the output folder is inside '{tmp_path.as_posix()}/out', "
        "another deckgen output folder: pick a --out outside it [output]"
    ]
    shutil.copytree(tmp_path / "out", tmp_path / "around" / "out")
    with pytest.raises(DeckgenError) as around:
        build(tmp_path / "bank", tmp_path / "around")
    assert [str(d) for d in around.value.diagnostics] == [
        f"{tmp_path.as_posix()}/around:1:1: error: the output folder holds files deckgen did not write (out); "
        "deckgen replaces its output folder whole, so pick an empty or new --out [output]"
    ]


def test_the_next_build_removes_what_killed_builds_left_and_nothing_else(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(OLD_EPOCH)
    shutil.copytree(FIXTURES / "mini", tmp_path / "bank")
    # deckgen's own leftovers: a new folder (with its marker), an old one killed before it was
    # emptied, an empty new one, the cache's working file, and a lock's temporary file.
    (tmp_path / ".out.new-abcd1234").mkdir()
    (tmp_path / ".out.new-abcd1234" / MARKER).write_text("", encoding="utf-8")
    (tmp_path / ".out.new-abcd1234" / "mini-deck.apkg").write_bytes(b"x" * 1000)
    (tmp_path / ".out.old-efgh_678").mkdir()
    (tmp_path / ".out.new-cache-ijkl9012.tmp").write_bytes(b"x")
    (tmp_path / "bank" / ".deck.lock.k1x2c3v4.tmp").write_text("{", encoding="utf-8")
    # What only looks like them is the user's, and stays.
    kept = [".other.new-abcd1234", ".out.new-thesis", ".out.new-mnop3456", ".out.backup.old-2023", ".out.old-notes.txt"]
    for name in kept[:4]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "chapter1.tex").write_text("years of work", encoding="utf-8")
    (tmp_path / kept[4]).write_text("notes", encoding="utf-8")
    (tmp_path / "bank" / ".deck.lock.folder.tmp").mkdir()  # not a file: left alone, and no traceback
    build(tmp_path / "bank", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == sorted([*kept, ".out.deckgen-lock"])
    assert [p.name for p in (tmp_path / "bank").glob(".deck.lock.*")] == [".deck.lock.folder.tmp"]


def test_a_folder_of_other_decks_is_never_taken_for_an_older_deckgens(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(OLD_EPOCH)
    decks = tmp_path / "decks"
    (decks / "media").mkdir(parents=True)
    for name in ("Japanese-Core2k.apkg", ".session.tmp", "review-sheet.pdf", "media/deckgen-notes.txt"):
        (decks / name).write_text("mine", encoding="utf-8")
    with pytest.raises(DeckgenError) as err:
        build(FIXTURES / "mini", decks)
    assert "the output folder holds files deckgen did not write (.session.tmp, Japanese-Core2k.apkg, media, …)" in str(err.value.diagnostics[0])
    assert (decks / "Japanese-Core2k.apkg").read_text(encoding="utf-8") == "mine"


def test_a_mount_point_or_the_current_folder_is_refused(tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> None:
    epoch(OLD_EPOCH)
    (tmp_path / "volume").mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda path: str(path).endswith("volume") or real(path))
    with pytest.raises(DeckgenError) as mount:
        build(FIXTURES / "mini", tmp_path / "volume")
    assert str(mount.value.diagnostics[0]).endswith(
        "volume:1:1: error: the output folder is a mount point, which deckgen cannot replace whole; pick a folder inside it [output]"
    )
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    with pytest.raises(DeckgenError) as here:
        build(FIXTURES / "mini", Path("."))
    assert [str(d) for d in here.value.diagnostics] == [
        ".:1:1: error: the output folder is the current folder, which deckgen cannot replace whole; pick a folder inside it [output]"
    ]
