"""The benchmark runs end to end (at a tiny size: CI proves it works, it does not time anything)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_the_benchmark_runs_and_reports_every_target(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "40", "80", "--rounds", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    report = out.read_text(encoding="utf-8")
    assert result.stdout == report
    assert (
        "| cards | floor s | build s | build, one process s | rebuild s | rebuild in watch s | check s | check after an edit s | least check s "
        "| start-up s | peak MB (build) | peak MB (watch) |" in report
    )
    assert (
        "| cards | build / floor | build, one process / floor | rebuild / floor | rebuild in watch / floor | check / floor "
        "| check after an edit / floor | least check / floor | .apkg / genanki |" in report
    )
    assert re.search(
        r"\n- the same rebuild in `deckgen watch` at 80 cards \(which stays running between edits; the build alone, not the "
        r"watch's wait for the bank to be still\): \d+\.\d\d \(against the same target ≤ 0\.12\): ",
        report,
    )
    assert re.search(r"`deckgen watch` stays running between edits: it pays no start-up, decodes again only the topic files that changed, "
                     r"and copies the unchanged parts of the files it checked while it waited without reading them; "
                     r"the same rebuild there costs \d+\.\d\d s, \d+\.\d\dx the floor, and its largest steps are [a-z]+", report)
    assert report.count("\n| 40 |") == 2 and report.count("\n| 80 |") == 2
    assert re.search(r"Each peak is the measured process's own: more than what the benchmark held when it started that process \(at most \d+ MB\), which a process's peak starts from\.\n", report)
    assert re.search(r"\n- check / floor at 80 cards: \d+\.\d\d \(target ≤ 0\.3; the least any check does: \d+\.\d\d\): ", report)
    for target in ("build / floor at 80 cards", "rebuild / floor at 80 cards", "check / floor at 80 cards",
                   "peak memory of a build at 80 cards", "check after a one-file edit at 80 cards", "the site's share of a cold build",
                   ".apkg size against genanki's", "cost per 1,000 cards"):
        assert target in report, target
    for output in ("apkg", "markdown", "html", "site"):
        assert f"- {output}'s share of a cold build at 80 cards: " in report, output
    # deckgen's own breakdown by step, and a reason for every target that is not met.
    assert "## Where the time goes, at 80 cards\n" in report
    for step in ("validate", "lock", "lint", "editions", "render", "update lock", "apkg", "markdown", "html", "site", "cache", "total"):
        assert re.search(rf"\n\| {step} \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| (\d+\.\d\d)? \|\n", report), step
        assert re.search(rf"\n\| {step} \| \d+ \| \d+ \|\n", report.split("## Where the memory goes, at 80 cards\n")[1]), step
    assert re.search(r"\n\nA build of one topic file alone \(110 cards, and its translation\) grows by \d+ MB from the start of validation to its last output\.\n", report)
    # Which library the time goes to, for the floor and a build in one process.
    profile = report.split("## Where a build's time goes, by library, at 80 cards\n")[1].split("\n## ")[0]
    rows = re.findall(r"\n\| ([a-zA-Z/._ ()-]+) \| (\d\.\d\d) \| (\d\.\d\d) \| \d+\.\d\d \|", profile)
    parts = [part for part, _, _ in rows]
    assert {"markdown-it-py (parse)", "markdown-it-py (render)", "deckgen/render.py"} <= set(parts)
    assert parts[-1] == "everything else"
    # At this size nothing is met: each reason names what bounds it, and what would meet it.
    assert re.search(r"Starting Python and the package step \(which writes the package whose notes changed\) alone take \d+\.\d\d s, \d+\.\d\dx the floor, of the target's 0\.12x\.", report)
    assert re.search(r"costs \d+\.\d\dx the floor, which leaves \d+\.\d\dx of the target for every rule", report)
    for line in report.splitlines():
        # (the rebuild in a watch is explained with the rebuild)
        if line.endswith("**not met**") and not line.startswith(("- the site's share", "- the same rebuild in `deckgen watch`")):
            name = "memory" if line.startswith("- peak memory") else line.removeprefix("- ").split(" at ")[0]
            reason = report.split(f"- **{name}**: ")[1].split("\n")[0]
            assert " What would meet it: " in reason, name
    assert re.search(r"What would meet it: even with every step split evenly across \d+ cores, a build may do at most \d+\.\d\dx", report)


def test_the_benchmark_compares_each_deckgen_step_with_a_baseline_commit_run_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "40", "--rounds", "1", "--baseline", "HEAD", "--out", str(out)],
        capture_output=True,
        check=True,
        timeout=600,
    )
    section = out.read_text(encoding="utf-8").split("## Against the baseline (HEAD)\n")[1].split("\n## ")[0]
    rows = re.findall(r"\n\| 40 \| ([a-z, -]+) \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| \d+ \| \d+ \| \d+\.\d\d \|", section)
    assert rows == ["build", "build, one process", "rebuild", "check", "check after an edit", "start-up"]


def test_the_baseline_is_the_commits_own_source_and_each_side_imports_its_own_deckgen(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from run import baseline_tree, importing

    source = baseline_tree("HEAD", tmp_path / "baseline")
    committed = subprocess.run(["git", "-C", str(ROOT), "show", "HEAD:src/deckgen/build.py"], capture_output=True, check=True).stdout
    assert (source / "deckgen" / "build.py").read_bytes() == committed
    where = "import deckgen, pathlib; print(pathlib.Path(deckgen.__file__).parent)"
    for tree in (source, ROOT / "src"):
        found = subprocess.run([sys.executable, "-c", where], capture_output=True, text=True, check=True, env=importing(tree, dict(os.environ)), cwd=tmp_path)
        assert found.stdout == f"{tree / 'deckgen'}\n"
    refused = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--baseline", "no-such-commit"], capture_output=True, text=True)
    assert (refused.returncode, refused.stderr) == (1, f"--baseline no-such-commit: not a commit of {ROOT}\n")


def test_the_benchmark_reads_deckgens_timings() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from run import parse_timings

    stderr = (
        "warning line\ntimings: validate 1.25 s, lint 0.50 s, total 1.80 s\npeak memory after: validate 67 MB, lint 99 MB, total 99 MB\n"
        "peak memory grew: validate 20 MB, lint 32 MB, total 52 MB\n"
    )
    assert parse_timings(stderr) == (
        {"validate": 1.25, "lint": 0.5, "total": 1.8},
        {"validate": 67.0, "lint": 99.0, "total": 99.0},
        {"validate": 20.0, "lint": 32.0, "total": 52.0},
    )


def test_the_generated_bank_is_clean_and_the_floor_builds(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from generate import write_bank

    from deckgen.build import check

    write_bank(tmp_path / "bank", 250, languages=True)
    bank, diagnostics = check(tmp_path / "bank")
    assert bank is not None and diagnostics == []
    assert sum(q.note_count for q in bank.questions) == 250
    assert bank.deck.languages == ("en", "zh")
    stats = subprocess.run([sys.executable, "-m", "deckgen", "stats", str(tmp_path / "bank")], capture_output=True, text=True, check=True).stdout
    assert "\nzh: 228 of 228 questions translated (100%), none stale\n" in stats  # 250 cards: 228 questions, 11 of them compares of 3 rows
    subprocess.run([sys.executable, str(ROOT / "bench" / "floor.py"), str(tmp_path / "bank"), str(tmp_path / "floor.apkg")], check=True)
    assert (tmp_path / "floor.apkg").stat().st_size > 0 and (tmp_path / "floor.zh.apkg").stat().st_size > 0


def _marked_texts(node: object, key: str | None = None) -> list[str]:
    """The texts under `node` that hold a `[`, `<` or `$`, leaving out ids, sources, tags and settings."""
    if key in ("id", "from", "sources", "tags", "type", "section", "topic", "lint"):
        return []
    if isinstance(node, str):
        return [node] if any(mark in node for mark in "[<$") else []
    if isinstance(node, list):
        return [text for item in node for text in _marked_texts(item, key)]
    if isinstance(node, dict):
        return [text for k, v in node.items() for text in _marked_texts(v, k)]
    return []


def test_the_least_check_parses_each_text_that_may_hold_a_link_or_math_once_per_file(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import yaml
    from generate import write_bank

    write_bank(tmp_path / "bank", 250, languages=True)
    files = sorted((tmp_path / "bank").glob("*.yaml"))
    expected = sum(len(set(_marked_texts(yaml.safe_load(f.read_text(encoding="utf-8")).get("questions", [])))) for f in files)
    assert expected > 250  # every question's texts hold math
    for jobs in ("1", "2"):
        result = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "least_check.py"), str(tmp_path / "bank"), "--jobs", jobs], capture_output=True, text=True, check=True
        )
        assert result.stdout == f"{len(files)} files, {expected} texts parsed\n"


def test_the_profile_gives_each_frames_own_time_to_its_library_or_deckgen_module_else_to_its_caller() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from types import SimpleNamespace

    from profile_libraries import part_of, shares

    site, deckgen = "/usr/lib/python3.11/site-packages", "/home/me/deckgen/src/deckgen"
    assert [part_of(path, function, deckgen) for path, function in (
        (f"{site}/markdown_it/parser_block.py", "tokenize"), (f"{site}/mdit_py_plugins/dollarmath/index.py", "math_inline"),
        (f"{site}/yaml/__init__.py", "load"), ("/usr/lib/python3.11/json/decoder.py", "decode"),
        ("/usr/lib/python3.11/zipfile.py", "write"), (f"{deckgen}/anki/package.py", "write_rows"),
        ("<built-in>", "Connection.execute"), ("<built-in>", "Cursor.executemany"), ("<built-in>", "compress"),
        ("/home/me/deckgen/bench/floor.py", "main"), ("/usr/lib/python3.11/functools.py", "wrapper"), (None, "[self]"),
    )] == [
        "markdown-it-py", "markdown-it-py", "PyYAML", "json", "zip", "deckgen/anki/package.py",
        "SQLite", "SQLite", None, None, None, None,
    ]  # fmt: skip

    def frame(path: str | None, time: float, *children: SimpleNamespace, function: str = "f") -> SimpleNamespace:
        return SimpleNamespace(file_path=path, function=function, time=time, children=list(children))

    root = frame("<module>", 12.0,
        frame("/x/click/core.py", 11.5,
            frame(f"{deckgen}/render.py", 8.0,
                frame(f"{site}/markdown_it/main.py", 3.0, frame(f"{site}/markdown_it/rules_inline/text.py", 2.0)),
                frame(f"{site}/markdown_it/renderer.py", 3.5,
                    frame(f"{deckgen}/render.py", 1.0, frame(f"{site}/markdown_it/common/utils.py", 0.25)),  # a render rule of deckgen's
                    frame("/usr/lib/python3.11/re/__init__.py", 0.5),
                ),
                frame("/usr/lib/python3.11/functools.py", 0.5, frame(None, 0.5, function="[self]")),  # Python's own: the caller's
            ),
            frame(f"{deckgen}/cache.py", 3.0, frame("/usr/lib/python3.11/json/decoder.py", 1.5), frame("<built-in>", 1.0, function="Connection.execute")),
        ),
    )  # fmt: skip
    assert shares(root, deckgen) == {
        "other": 1.0,
        "deckgen/render.py": 1.0 + 0.75 + 0.5,
        "markdown-it-py (parse)": 3.0,
        "markdown-it-py (render)": 2.0 + 0.5 + 0.25,
        "deckgen/cache.py": 0.5,
        "json": 1.5,
        "SQLite": 1.0,
    }


def test_the_profile_of_a_run_finds_where_it_spends_its_time() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from markdown_it import MarkdownIt
    from profile_libraries import profiled

    md = MarkdownIt("commonmark").enable("table")
    text = "| a | *b* |\n|---|---|\n| [c](https://example.org) | `d` and **e** |\n\n" * 20

    def run() -> None:
        for _ in range(60):
            md.render(text)

    found = profiled(run)
    assert set(found) <= {"markdown-it-py (parse)", "markdown-it-py (render)", "other"}
    assert found["markdown-it-py (parse)"] > found["markdown-it-py (render)"] > found.get("other", 0.0)


def test_what_would_meet_the_build_and_memory_targets_is_worked_out_from_the_measurements(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "bench"))
    import run

    monkeypatch.setattr(run, "cores", lambda: 2)
    sample = run.Sample(seconds={"floor": [2.0], "build, one process": [8.0]})
    sample.profile = {
        "floor": {"markdown-it-py (parse)": 0.6, "markdown-it-py (render)": 0.2, "PyYAML": 0.1, "genanki": 0.1},
        "build, one process": {"markdown-it-py (parse)": 0.3, "markdown-it-py (render)": 0.1, "json": 0.05, "deckgen/render.py": 0.3, "other": 0.25},
    }
    # At most 0.8 x 2 cores = 1.60x; parsing 1.20x, rendering 0.40x and json 0.20x leave nothing
    # for deckgen's own code: 1.60 - 1.20 - 0.40 - 0.20 < 0.
    assert run._would_meet_build(sample) == (
        "What would meet it: even with every step split evenly across 2 cores, a build may do at most 1.60x the floor's "
        "work in one process. In one process it does 4.00x: markdown-it-py parsing 1.20x and rendering 0.40x (the "
        "floor's own: 0.60x and 0.20x), the other libraries 0.20x, deckgen's own code and the Python it calls 2.20x. "
        "A text is parsed once, to be checked and to be rendered, unless it can hold a link: so no deckgen code would "
        "fit, and only a faster Markdown parser than markdown-it-py would, with every step, the outputs' included, on "
        "every core."
    )
    sample.profile["build, one process"]["markdown-it-py (parse)"] = 0.1
    # Parsing 0.40x, rendering 0.40x and json 0.20x leave 1.60 - 1.00 = 0.60x for deckgen, which does 4.00 - 1.00 = 3.00x.
    assert run._would_meet_build(sample).endswith(
        "calls 3.00x. A text is parsed once, to be checked and to be rendered, unless it can hold a link: so deckgen's "
        "own code would have to fall from 3.00x to 0.60x the floor, with every step, the outputs' included, on every core."
    )
    sample.profile["build, one process"]["markdown-it-py (render)"] = 0.3
    assert run._would_meet_build(sample).endswith(
        "so no deckgen code would fit, and only a faster Markdown parser than markdown-it-py would, with every step, "
        "the outputs' included, on every core."
    )
    sample.step_peaks["build"] = {"validate": 315.0, "lint": 411.0, "update lock": 836.0}
    sample.step_growth["build"] = {"validate": 190.0, "lint": 89.0, "update lock": 29.0}
    sample.one_topic_mb = 21.0
    # 125 MB before validating, 89 + 29 MB for the lint and the lock, 21 MB for one topic: 264 MB.
    assert run._would_meet_memory(sample, 50_000) == (
        "What would meet it: a pipeline that holds one topic at a time, from reading its file to writing its part of "
        "every output, and keeps across topics only what the lint and the lock need. Such a build would still hold what "
        "this one holds before validating (125 MB: Python, deckgen, the lock and the cache it read) and about what the "
        "lint and the lock's update add (118 MB), and a build of one topic file alone grows by 21 MB from validating to "
        "its last output: about 264 MB in all, within the target's 300 MB if the print page's answer key, the one output "
        "that still gathers across topics in memory, goes to disk as each topic is done."
    )
    assert run._would_meet_memory(sample, 10_000).endswith(": about 264 MB in all, above the target's 110 MB.")


def test_what_would_meet_the_check_target_is_worked_out_from_what_reading_every_file_costs() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import run

    # The floor 10 s, reading every file 2.6 s (0.26x), check 7.7 s (0.77x): 0.04x is left for the checks, which cost 0.51x.
    sample = run.Sample(seconds={"floor": [10.0], "least check": [2.6], "check": [7.7]})
    assert run._would_meet_check(sample) == (
        "What would meet it: a check whose rules, lint and translations' checks cost at most 0.04x the floor on top of "
        "reading every file (deckgen's cost 0.51x), or one that reads less, or a faster Markdown parser."
    )
    sample.seconds["least check"] = [3.0]
    assert run._would_meet_check(sample) == (
        "What would meet it: no check that reads every file with PyYAML's C loader and markdown-it-py: only a check "
        "that reads less, or a faster Markdown parser."
    )


def test_a_peak_no_more_than_what_the_benchmark_held_is_refused_not_reported() -> None:
    """A forked process's peak memory starts at what the process that started it held: from a
    process as large as this test's, a small process's own peak cannot be measured, and the
    benchmark says so instead of reporting it."""
    sys.path.insert(0, str(ROOT / "bench"))
    import run

    command = [sys.executable, "-c", "pass"]
    with pytest.raises(SystemExit) as stopped:
        run.timed(command, dict(os.environ))
    assert re.fullmatch(
        rf"{re.escape(' '.join(command))}: its peak memory \(\d+ MB\) is no more than what the benchmark held when it "
        r"started it \(\d+ MB\), which its peak starts from: its own cannot be measured",
        str(stopped.value),
    )
    assert run.own_mb() > 40  # this test's process: pytest, deckgen and Anki's backend
    assert run.measurable(41.5, 40.0, command) == 41.5


def test_a_process_is_measured_from_what_the_benchmark_holds_not_from_its_peak() -> None:
    """After the benchmark's process has held 1.5 GB and let it go, a process that holds 600 MB
    is measured at its own peak: forked, it starts from what the benchmark holds now (this test's
    process, well under 600 MB), not from the benchmark's peak, as it would with vfork."""
    sys.path.insert(0, str(ROOT / "bench"))
    import run

    held = bytearray(1536 * 1024 * 1024)
    held[::4096] = b"\1" * len(range(0, len(held), 4096))  # touch every page: resident
    del held
    command = [sys.executable, "-c", "held = bytearray(600 * 1024 * 1024); held[::4096] = b'\\1' * len(range(0, len(held), 4096))"]
    _, peak = run.timed(command, dict(os.environ))
    assert 600 < peak < 1200


def test_the_page_cache_benchmark_writes_the_same_database_at_every_size(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from generate import write_bank

    from deckgen.build import build

    write_bank(tmp_path / "bank", 250)
    built = build(tmp_path / "bank", tmp_path / "out").outputs[0]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "page_cache.py"), str(built), "--copies", "3", "--rounds", "1", "--sizes", "64", "4096"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    with zipfile.ZipFile(built) as package, sqlite3.connect(package.extract("collection.anki2", tmp_path)) as db:
        (notes,) = db.execute("SELECT count(*) FROM notes").fetchone()
    assert notes == 250
    assert lines[0].startswith("750 notes, ") and lines[0].endswith(" bytes; medians of 1 rounds")
    assert lines[1:3] == ["| page cache | seconds | against the largest | grew MB | digest |", "|---|---|---|---|---|"]
    rows = [line.split(" | ") for line in lines[3:]]
    assert [row[0] for row in rows] == ["| 64 KiB", "| 4096 KiB"]
    assert rows[1][2] == "1.00x"
    assert rows[0][4] == rows[1][4] and re.fullmatch(r"[0-9a-f]{16} \|", rows[0][4])
