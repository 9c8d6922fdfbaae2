"""The command line, through click's CliRunner, with exact messages."""

from __future__ import annotations

import errno
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import deckgen
from deckgen.cli import main
from deckgen.model import Diagnostic
from tests.bankfiles import write_bank
from tests.conftest import FIXTURES


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def mini(in_tmp: Path) -> Path:
    import shutil

    shutil.copytree(FIXTURES / "mini", "mini")
    return Path("mini")


def test_version() -> None:
    assert run("--version") == (0, f"deckgen {deckgen.__version__}\n", "")
    assert deckgen.__version__ == "0.2.0"


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "deckgen", "--help"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("Usage: python -m deckgen [OPTIONS] COMMAND [ARGS]...")


UNCITED = "mini/sources.yaml:17:5: warning: source 'uncited' is cited by no card [uncited-source]\n"


def test_check_a_clean_bank(in_tmp: Path) -> None:
    write_bank(Path("questions"))
    assert run("check") == (0, "no problems; 1 note and 1 card in 1 topic\n", "")


def test_check_reports_warnings_and_fails_on_them_only_when_strict(mini: Path) -> None:
    assert run("check", "mini") == (0, "0 errors, 1 warning in 1 file; 6 notes and 7 cards in 2 topics\n", UNCITED)
    assert run("check", "--strict", "mini") == (1, "", UNCITED + "0 errors, 1 warning in 1 file\n")


def test_check_reports_every_problem_and_fails(in_tmp: Path) -> None:
    write_bank(Path("questions"), {"broken.yaml": "topic: [x\n", "attention.yaml": "topic: A\nid: a\nsection: nope\nquestions: []\n"})
    code, out, err = run("check")
    assert code == 1 and out == ""
    assert err == (
        "questions/attention.yaml:3:10: error: unknown section 'nope'; sections are listed in deck.yaml [unknown-section]\n"
        "questions/attention.yaml:4:12: error: 'questions' is empty; expected a list of questions [empty-value]\n"
        "questions/broken.yaml:2:1: error: unclosed '[': the list opened at line 1, column 8 is not closed before this point [yaml-syntax]\n"
        "3 errors, 0 warnings in 2 files\n"
    )


def test_warnings_do_not_fail_a_check(in_tmp: Path) -> None:
    from tests.bankfiles import TOPIC

    write_bank(Path("questions"), {"attention.yaml": b"\xef\xbb\xbf" + TOPIC.encode()})
    assert run("check") == (
        0,
        "0 errors, 1 warning in 1 file; 1 note and 1 card in 1 topic\n",
        "questions/attention.yaml:1:1: warning: byte-order mark at the start of the file; save it as UTF-8 without BOM [bom]\n",
    )


def lock_line(lock: Path, note_id: str) -> int:
    """The line of a note in a lock file."""
    lines = lock.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if line.startswith(f'    "{note_id}": '))


def test_check_locked_passes_on_the_lock_a_build_wrote_and_writes_nothing(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    assert run("build", "mini", "--out", "out")[0] == 0
    shutil.rmtree("out")
    before = {p: p.read_bytes() for p in sorted(Path(".").rglob("*")) if p.is_file()}
    epoch(1_800_000_000)  # a later build would stamp what changed with this time; nothing did
    assert run("check", "--locked", "mini") == (0, "0 errors, 1 warning in 1 file; 6 notes and 7 cards in 2 topics\n", UNCITED)
    assert run("check", "--locked", "--strict", "mini") == (1, "", UNCITED + "0 errors, 1 warning in 1 file\n")
    assert {p: p.read_bytes() for p in sorted(Path(".").rglob("*")) if p.is_file()} == before


def test_check_locked_fails_when_an_answer_changed_without_a_rebuild(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    assert run("build", "mini", "--out", "out")[0] == 0
    attention = mini / "attention.yaml"
    attention.write_text(attention.read_text(encoding="utf-8").replace("out of saturation", "out of its flat region"), encoding="utf-8")
    line = lock_line(mini / "deck.lock", "why-scale")
    stale = (
        f"mini/deck.lock:{line}:5: error: deck.lock is out of date: note 'why-scale' has changed since the lock was built; "
        "run 'deckgen build mini' and commit the lock [stale-lock]\n"
    )
    assert run("check", "--locked", "mini") == (1, "", stale + UNCITED + "1 error, 1 warning in 2 files\n")
    assert run("check", "mini")[0] == 0  # without --locked, a stale lock is no problem
    assert run("build", "mini", "--out", "out")[0] == 0
    assert run("check", "--locked", "mini")[0] == 0


def test_check_locked_fails_on_a_question_the_lock_does_not_hold(mini: Path, epoch: Callable[[int], None]) -> None:
    from tests.conftest import NEW_QUESTION

    new_question = NEW_QUESTION.replace("[paper]", "[paper, zh-article]")
    epoch(1_700_000_000)
    assert run("build", "mini", "--out", "out")[0] == 0
    attention = mini / "attention.yaml"
    text = attention.read_text(encoding="utf-8")
    attention.write_text(text.replace("  - id: formula\n", new_question + "  - id: formula\n"), encoding="utf-8")
    fix = "run 'deckgen build mini' and commit the lock [stale-lock]"
    assert run("check", "--locked", "mini") == (
        1,
        "",
        f"mini/deck.lock:1:1: error: deck.lock is out of date: note 'why-multi-head' is not in the lock yet; {fix}\n"
        + UNCITED
        + "1 error, 1 warning in 2 files\n",
    )
    # Named first and pointed at: the first stale note that has a line in the lock.
    attention.write_text(attention.read_text(encoding="utf-8").replace("out of saturation", "out of range"), encoding="utf-8")
    code, _, err = run("check", "--locked", "mini")
    line = lock_line(mini / "deck.lock", "why-scale")
    assert (code, err.splitlines()[0]) == (
        1,
        f"mini/deck.lock:{line}:5: error: deck.lock is out of date: note 'why-scale' has changed since the lock was built (and 1 more); {fix}",
    )


def test_check_locked_fails_without_a_lock_or_with_one_deckgen_did_not_write(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    import json

    write_bank(Path("questions"))
    fix = "run 'deckgen build' and commit the lock [stale-lock]"
    assert run("check", "--locked") == (1, "", f"questions/deck.lock:1:1: error: deck.lock is missing: {fix}\n1 error, 0 warnings in 1 file\n")
    epoch(1_700_000_000)
    assert run("build", "--out", "out")[0] == 0 and run("check", "--locked")[0] == 0
    lock = Path("questions/deck.lock")
    lock.write_text(json.dumps(json.loads(lock.read_text(encoding="utf-8")), indent=4), encoding="utf-8")
    assert run("check", "--locked") == (
        1,
        "",
        f"questions/deck.lock:1:1: error: deck.lock is not as deckgen writes it (an older format, or edited by hand): {fix}\n"
        "1 error, 0 warnings in 1 file\n",
    )


def test_check_locked_in_json(mini: Path, epoch: Callable[[int], None]) -> None:
    import json

    epoch(1_700_000_000)
    assert run("build", "mini", "--out", "out")[0] == 0
    (mini / "deck.lock").unlink()
    code, out, err = run("check", "--locked", "--format", "json", "mini")
    assert (code, err) == (1, "")
    assert json.loads(out)["diagnostics"][0] == {
        "path": "mini/deck.lock",
        "line": 1,
        "col": 1,
        "severity": "error",
        "rule": "stale-lock",
        "message": "deck.lock is missing: run 'deckgen build mini' and commit the lock",
    }
    assert (json.loads(out)["errors"], json.loads(out)["warnings"]) == (1, 1)


def test_build_writes_deck_and_sheets(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    assert run("build", "mini", "--out", "out") == (
        0,
        "built 6 notes and 7 cards from 2 topics:\n  out/mini-deck.apkg\n  out/review-sheet.md\n  out/review-questions.md\n"
        "  out/review-sheet.html\n  out/review-questions.html\n  mini/deck.lock\n  out/site/ (9 files; open index.html)\n",
        UNCITED,
    )
    assert run("build", "mini", "--out", "strict", "--strict") == (
        1,
        "",
        UNCITED + "build failed: 0 errors, 1 warning in 1 file; nothing was written\n",
    )
    assert not Path("strict").exists()
    assert sorted(p.name for p in Path("out").iterdir()) == [
        ".deckgen-cache.sqlite", ".deckgen-output", "mini-deck.apkg", "review-questions.html", "review-questions.md", "review-sheet.html", "review-sheet.md", "site"
    ]


def test_build_defaults_to_questions_and_build(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    write_bank(Path("questions"))
    code, out, _ = run("build")
    assert code == 0 and out.splitlines()[1] == "  build/test-deck.apkg"


def test_a_failed_build_leaves_the_previous_one_untouched(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    assert run("build", "mini", "--out", "out")[0] == 0
    before = snapshot(Path("out"))
    (mini / "attention.yaml").write_text("topic: [x\n", encoding="utf-8")
    epoch(1_750_000_000)
    code, out, err = run("build", "mini", "--out", "out")
    assert (code, out) == (1, "")
    assert err == (
        "mini/attention.yaml:2:1: error: unclosed '[': the list opened at line 1, column 8 is not closed before this point [yaml-syntax]\n"
        "build failed: 1 error, 0 warnings in 1 file; nothing was written\n"
    )
    assert snapshot(Path("out")) == before


def test_an_unwritable_output_is_an_error_not_a_traceback(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    Path("out").write_text("a file where the folder should be", encoding="utf-8")
    code, out, err = run("build", "mini", "--out", "out")
    assert (code, out) == (1, "")
    assert err == (
        "out:1:1: error: the output folder is a file or a link; pick another --out [output]\n"
        "build failed: 1 error, 0 warnings in 1 file; nothing was written\n"
    )
    Path("out").unlink()
    Path("out").mkdir()
    Path("out/mini-deck.apkg").mkdir()
    code, out, err = run("build", "mini", "--out", "out")
    assert (code, out) == (1, "")
    assert err == (
        "out:1:1: error: the output folder holds files deckgen did not write (mini-deck.apkg); deckgen replaces its "
        "output folder whole, so pick an empty or new --out [output]\n"
        "build failed: 1 error, 0 warnings in 1 file; nothing was written\n"
    )
    assert sorted(p.name for p in Path("out").iterdir()) == ["mini-deck.apkg"]


def test_a_build_that_cannot_write_its_lock_says_its_outputs_were_written(
    mini: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The outputs replace the folder before the lock is written: a lock the file system then
    refuses leaves new outputs and the old lock, and the build says so, not "nothing was written"."""
    from deckgen import build as build_module
    from deckgen import cli
    from deckgen.build import BuildOptions
    from deckgen.watch import Watcher

    epoch(1_700_000_000)
    assert run("build", "mini", "--out", "out")[0] == 0
    lock = (mini / "deck.lock").read_bytes()
    edit = mini / "attention.yaml"
    edit.write_text(edit.read_text(encoding="utf-8").replace("out of saturation", "out of its flat region"), encoding="utf-8")

    def full(path: Path, lines: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(build_module, "write_lock", full)
    epoch(1_750_000_000)
    message = (
        "mini/deck.lock:1:1: error: cannot write the lock: No space left on device; the outputs were built with the times it holds, "
        "so build again once it can be written [io]\n"
        "build failed: 1 error, 0 warnings in 1 file; the outputs were written, the lock was not\n"
    )
    code, out, err = run("build", "mini", "--out", "out")
    assert (code, out, err) == (1, "", message)
    assert "out of its flat region" in (Path("out") / "review-sheet.md").read_text(encoding="utf-8")
    assert (mini / "deck.lock").read_bytes() == lock
    # A watch says the same of its build, and goes on.
    capsys.readouterr()
    outcome = cli._watched(Watcher(BuildOptions(mini, Path("out"))), [], Path("out"), None)
    assert outcome is not None and outcome.error is not None
    assert capsys.readouterr().err == message


def test_filters_build_a_subset(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    code, out, _ = run("build", "mini", "--out", "out", "--topic", "lora-vs-adapter")
    assert code == 0 and out.startswith("built 3 notes and 3 cards from 1 topic:\n")
    sheet = Path("out/review-sheet.md").read_text(encoding="utf-8")
    assert "LoRA vs Adapter" in sheet and "Scaled attention" not in sheet
    code, out, _ = run("build", "mini", "--out", "out2", "--section", "attention", "--tag", "safety")
    assert code == 0 and out.startswith("built 1 note and 1 card from 1 topic:\n")


def test_unknown_filters_are_errors(mini: Path) -> None:
    assert run("build", "mini", "--out", "out", "--topic", "nope", "--tag", "why", "--tag", "missing") == (
        1,
        "",
        "mini:1:1: error: no topic 'nope' in this bank [unknown-filter]\n"
        "mini:1:1: error: no tag 'missing' in this bank [unknown-filter]\n"
        "build failed: 2 errors, 0 warnings in 1 file; nothing was written\n",
    )
    assert not Path("out").exists()


def test_bad_source_date_epoch(mini: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    assert run("build", "mini", "--out", "out") == (
        1,
        "",
        "SOURCE_DATE_EPOCH:1:1: error: expected whole seconds since 1970, found 'yesterday' [environment]\n"
        "build failed: 1 error, 0 warnings in 1 file; nothing was written\n",
    )


def test_stats(mini: Path) -> None:
    assert run("stats", "mini") == (
        0,
        "notes  cards\n"
        "    3      4  Attention [attention]\n"
        "    3      4    Scaled attention [scaled-attention]\n"
        "    3      3  Fine-Tuning [peft]\n"
        "    3      3    LoRA vs Adapter [lora-vs-adapter]\n"
        "    0      0  Unused [unused]\n"
        "    6      7  in total, as Anki counts them (a cloze note has a card per deletion number)\n"
        "\n"
        "1 of 4 sources are cited by no card:\n"
        "  uncited  Nobody cites me\n",
        "",
    )


def test_every_lint_rule_is_documented_in_the_readme() -> None:
    from deckgen.lint import RULES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"| `{rule}` |" in readme, rule


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name, command in main.commands.items():
        assert f"deckgen {name}" in readme, name
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert opt in readme, f"{name} {opt}"


def test_each_commands_heading_in_the_readme_lists_its_options() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    headings = [line for line in readme.splitlines() if line.startswith("### `deckgen ")]
    for name, command in main.commands.items():
        (heading,) = [h for h in headings if h.startswith(f"### `deckgen {name} ")]
        options = [opt for param in command.params for opt in getattr(param, "opts", []) if opt.startswith("--")]
        assert [opt for opt in options if f"[{opt} " not in heading and f"[{opt}]" not in heading and f" {opt} " not in heading] == [], heading


@pytest.mark.parametrize(("output_format", "golden"), [("github", "check-github.txt"), ("json", "check.json")])
def test_machine_readable_diagnostics(in_tmp: Path, output_format: str, golden: str) -> None:
    from tests.conftest import GOLDEN, check_golden

    topic = (
        "topic: Attention\nid: attention\nsection: transformer\nquestions:\n"
        "  - id: why-scale\n    question: Is scaling needed?\n    anwser: Yes, 100%.\n    sources: [papr]\n"
    )
    write_bank(Path("questions"), {"attention.yaml": topic})
    code, out, err = run("check", "--format", output_format)
    assert code == 1
    check_golden(GOLDEN / golden, out)
    assert err == ("2 errors, 0 warnings in 1 file\n" if output_format == "github" else "")


def test_github_annotations_are_escaped() -> None:
    from deckgen.model import Location, Severity
    from deckgen.report import github_annotation

    diagnostic = Diagnostic(Location("a,b:c.yaml", 3, 4), Severity.WARNING, "100% sure\nnext line", "rule-id")
    assert github_annotation(diagnostic) == (
        "::warning file=a%2Cb%3Ac.yaml,line=3,col=4,title=deckgen rule-id::100%25 sure%0Anext line"
    )


def test_timings_give_deckgens_own_peak_memory_whatever_started_it(mini: Path) -> None:
    """Started by Python's subprocess (vfork) from a process holding 300 MB more, deckgen reports
    the peak of its own memory, not the 300 MB it never held."""
    held = bytearray(300 * 1024 * 1024)
    held[:: 4096] = b"\1" * len(range(0, len(held), 4096))  # touch every page: resident
    result = subprocess.run([sys.executable, "-m", "deckgen", "check", "mini", "--timings"], capture_output=True, text=True, check=True)
    del held
    validate = re.search(r"^peak memory after: validate (\d+) MB,", result.stderr, re.MULTILINE)
    assert validate is not None, result.stderr
    assert 10 < int(validate.group(1)) < 200


def test_timings_name_every_step_in_order(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    seconds = r"\d+\.\d\d s"
    code, _, err = run("build", "mini", "--out", "out", "--timings")
    assert code == 0
    steps = ("validate", "lock", "lint", "editions", "render", "update lock", "apkg", "markdown", "html", "site", "cache", "total")
    assert re.fullmatch("timings: " + ", ".join(f"{step} {seconds}" for step in steps), err.splitlines()[0])
    after = [int(m) for m in re.fullmatch("peak memory after: " + ", ".join(f"{step} (\\d+) MB" for step in steps), err.splitlines()[1]).groups()]  # type: ignore[union-attr]
    grew = [int(m) for m in re.fullmatch("peak memory grew: " + ", ".join(f"{step} (\\d+) MB" for step in steps), err.splitlines()[2]).groups()]  # type: ignore[union-attr]
    # The peak only grows; what it grew by in the steps is at most what it grew by in all of them.
    assert after[:-1] == sorted(after[:-1]) and after[-1] == max(after)
    assert sum(grew[:-1]) <= grew[-1] + len(steps)  # each step rounded to a MB
    code, _, err = run("check", "mini", "--timings")
    assert code == 0
    steps = ("validate", "lock", "lint", "editions", "total")
    assert re.fullmatch("timings: " + ", ".join(f"{step} {seconds}" for step in steps), err.splitlines()[0])
    code, _, err = run("check", "mini", "--timings", "--locked")
    assert code == 0
    steps = ("validate", "lock", "lint", "editions", "locked", "total")
    assert re.fullmatch("timings: " + ", ".join(f"{step} {seconds}" for step in steps), err.splitlines()[0])


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--layout", "huge", "Error: Invalid value for '--layout': 'huge' is not one of 'full', 'compact'.\n"),
        ("--paper", "a5", "Error: Invalid value for '--paper': 'a5' is not one of 'letter', 'a4'.\n"),
    ],
)
def test_bad_layout_or_paper_is_refused_by_click(mini: Path, option: str, value: str, message: str) -> None:
    code, out, err = run("build", "mini", "--out", "out", option, value)
    assert (code, out) == (2, "")
    assert err.endswith(message)
    assert not Path("out").exists()


def test_layout_and_paper_reach_the_printed_sheets(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    assert run("build", "mini", "--out", "out", "--layout", "compact", "--paper", "a4")[0] == 0
    for page in ("review-sheet.html", "review-questions.html"):
        html = Path("out", page).read_text(encoding="utf-8")
        assert '<body class="compact">' in html and "@page { size: A4; }" in html and "columns: 2;" in html
    assert run("build", "mini", "--out", "out")[0] == 0
    html = Path("out/review-sheet.html").read_text(encoding="utf-8")
    assert '<body class="full">' in html and "@page { size: letter; }" in html


def test_a_handout_is_titled_by_its_topic_and_keeps_the_full_sheets_numbers(mini: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    assert run("build", "mini", "--out", "full")[0] == 0
    assert run("build", "mini", "--out", "out", "--topic", "lora-vs-adapter")[0] == 0
    full = Path("full/review-sheet.md").read_text(encoding="utf-8")
    sheet = Path("out/review-sheet.md").read_text(encoding="utf-8")
    questions = Path("out/review-questions.md").read_text(encoding="utf-8")
    assert sheet.startswith("# LoRA vs Adapter\n\nFrom Mini Deck, version 1.2.3 · 2 questions: 3 notes and 3 cards in Anki · <")
    assert questions.startswith("# LoRA vs Adapter: questions\n\nFrom Mini Deck, version 1.2.3 · ")
    assert "## Contents" not in sheet and "A tiny bank" not in sheet
    assert re.findall(r"\*\*Q(\d+)\.\*\*", sheet) == ["4", "5"]
    assert "**Q4.** How do LoRA and adapters differ?" in full and "**Q4.** How do LoRA and adapters differ?" in sheet
    assert "*ID:* `lora-adapter`" in sheet and "*ID:* `lora-code`" in questions
    html = Path("out/review-sheet.html").read_text(encoding="utf-8")
    assert "<h1>LoRA vs Adapter</h1>" in html and "<title>LoRA vs Adapter</title>" in html
    assert 'nav class="toc"' not in html and "A tiny bank" not in html
    assert re.findall(r'<article class="qa" id="q(\d+)">', html) == ["4", "5"]
    assert '<span class="qid">lora-adapter</span>' in html
    key = Path("out/review-questions.html").read_text(encoding="utf-8").split('id="answer-key"')[1]
    assert re.findall(r'<b class="n">(\d+)\.</b>', key) == ["4", "5"]


def test_timings_never_say_the_peak_fell(monkeypatch: pytest.MonkeyPatch) -> None:
    from deckgen import timing

    readings = iter([100.4, 100.1, 100.1, 103.0])  # the kernel's count, a few pages behind at first
    monkeypatch.setattr(timing, "peak_memory_mb", lambda: next(readings))
    clock = timing.Timings()
    with clock.phase("cache"):
        pass
    with clock.phase("total"):
        pass
    assert clock.format().splitlines()[1:] == ["peak memory after: cache 100 MB, total 103 MB", "peak memory grew: cache 0 MB, total 3 MB"]


def test_a_file_that_both_editions_write_is_listed_once(mini: Path, epoch: Callable[[int], None], capsys: pytest.CaptureFixture[str]) -> None:
    # An image both editions show is one file of the build folder (media/), written by each.
    from dataclasses import replace

    from deckgen.build import build
    from deckgen.cli import _built

    epoch(1_700_000_000)
    result = build(Path("mini"), Path("out"))
    image = Path("out/media/deckgen-0123456789abcdef.svg")
    assert _built(replace(result, outputs=(result.outputs[0], image, *result.outputs[1:], image)), Path("out"))
    assert capsys.readouterr().out.splitlines() == [
        "built 6 notes and 7 cards from 2 topics:",
        "  out/mini-deck.apkg",
        f"  {image.as_posix()}",
        "  out/review-sheet.md",
        "  out/review-questions.md",
        "  out/review-sheet.html",
        "  out/review-questions.html",
        "  mini/deck.lock",
        "  out/site/ (9 files; open index.html)",
    ]
