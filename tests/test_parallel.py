"""Both cores: a build that renders in worker processes writes the same bytes as a build in one
process, and its own process then reads and renders nothing itself: every value comes from the
workers through the cache. A small build stays in one process."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

import deckgen.anki.notes
import deckgen.cli
import deckgen.editions
import deckgen.printsheet
import deckgen.sheet
import deckgen.validate
from deckgen import parallel
from deckgen.build import build
from deckgen.cache import BuildCache
from deckgen.load import load_bank
from tests.conftest import FIXTURES, ROOT, markdown_texts

COUNTED: list[tuple[ModuleType, str]] = [
    (deckgen.validate, "read_topic"),
    (deckgen.anki.notes, "question_notes"),
    (deckgen.printsheet, "printed_texts"),
    (deckgen.sheet, "_question"),
    (deckgen.sheet, "_answer"),
]
"""The expensive pure steps: reading a topic file, and rendering a question's notes, its printed
texts and its lines in the Markdown sheets."""


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often this process runs each of COUNTED (a worker's calls are its own)."""
    calls: Counter[str] = Counter()
    for module, name in COUNTED:
        original = getattr(module, name)

        def counted(*args: Any, _original: Callable[..., Any] = original, _name: str = name, **kwargs: Any) -> Any:
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return calls


def _outputs(folder: Path) -> dict[str, str]:
    """Every file the build wrote (its cache aside), by its digest."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def test_a_build_in_worker_processes_writes_the_bytes_of_a_build_in_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epoch: Callable[[int], None]) -> None:
    bank = tmp_path / "questions"
    shutil.copytree(ROOT / "questions", bank)
    epoch(1_700_000_000)
    lock = (bank / "deck.lock").read_bytes()
    shipped = load_bank(bank)
    live = sum(len(t.questions) for t in shipped.topics)
    retired = sum(len(t.retired) for t in shipped.topics)
    calls = _count_calls(monkeypatch)

    monkeypatch.setenv(parallel.JOBS_VARIABLE, "1")
    build(bank, tmp_path / "one")
    alone = dict(calls)
    one_lock = (bank / "deck.lock").read_bytes()

    (bank / "deck.lock").write_bytes(lock)
    calls.clear()
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "2")
    monkeypatch.setattr(parallel, "MIN_QUESTIONS", 1)  # the shipped bank is below the thresholds
    monkeypatch.setattr(parallel, "MIN_BANK_BYTES", 1)
    build(bank, tmp_path / "two")

    assert _outputs(tmp_path / "two") == _outputs(tmp_path / "one")
    assert (bank / "deck.lock").read_bytes() == one_lock
    topic_files = len([p for p in bank.rglob("*.yaml") if ".zh." not in p.name and p.name not in ("deck.yaml", "sources.yaml")])
    overlays = len(list(bank.rglob("*.zh.yaml"))) - 2  # deck.zh.yaml and glossary.zh.yaml are not topics
    # Both editions: each question's notes, printed texts, two sheets' lines and answer key's.
    expected = {"read_topic": topic_files + overlays, "question_notes": 2 * (live + retired), "printed_texts": 2 * live, "_question": 4 * live, "_answer": 2 * live}
    assert alone == expected
    # In one process, every file is read and every question rendered. With workers, the build's
    # own process reads only the topic that shows an image (which is never cached), and its
    # Chinese translation (read back into it).
    assert dict(calls) == {"read_topic": 2}


def _ends_in_an_open_block(text: str) -> bool:
    """Whether newlines after `text` change its tokens: it ends in a code block or a display formula
    that they run into. Found from the renderer itself, by parsing it with and without them."""
    from deckgen.render import markdown

    def shape(tokens: Any) -> list[Any]:
        return [(t.type, t.content, t.info, t.markup, shape(t.children or [])) for t in tokens]

    return shape(markdown().parse(text)) != shape(markdown().parse(text.rstrip("\n")))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_build_parses_each_question_text_once_to_check_and_render_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epoch: Callable[[int], None], jobs: str
) -> None:
    # A build renders a topic as soon as it has checked it, from the parse that checking made:
    # the renderer parses again only a text that can hold a link (which the two parse apart), one
    # that starts with a newline (whose lines they count apart), or one whose last newlines run
    # into a code block still open (which the checker does not see). In one process, and in the
    # workers, which are forked and so share the parsers as patched here.
    from deckgen import render
    from deckgen.editions import editions

    render.forget_rendered()  # nothing rendered or checked by an earlier test is remembered
    render.card_html_for_check.cache_clear()
    bank = tmp_path / "questions"
    shutil.copytree(ROOT / "questions", bank)
    epoch(1_700_000_000)
    monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
    monkeypatch.setattr(parallel, "MIN_QUESTIONS", 1)
    monkeypatch.setattr(parallel, "MIN_BANK_BYTES", 1)
    log = tmp_path / "parsed.log"  # each process appends the texts it parsed, one JSON line each

    def logged(parser: Any, name: str) -> None:
        real = parser.parse

        def parse(src: str, env: Any = None) -> Any:
            with log.open("a", encoding="utf-8") as out:
                out.write(json.dumps([name, src]) + "\n")
            return real(src, env)

        monkeypatch.setattr(parser, "parse", parse)

    logged(render._reader(), "checked")
    logged(render.markdown(), "rendered")
    build(bank, tmp_path / "out")
    monkeypatch.undo()

    parsed: dict[str, list[str]] = {"checked": [], "rendered": []}
    for line in log.read_text(encoding="utf-8").splitlines():
        name, text = json.loads(line)
        parsed[name].append(text)
    found, _ = editions(load_bank(bank))
    # A text written in more than one place (a short cell, say) may be checked in one topic and
    # rendered in another: only a text written once is counted.
    written = Counter(text for made in found for q in made.bank.questions for text in dict.fromkeys(markdown_texts(q)) if text.strip())
    texts = {text for text, count in written.items() if count == 1}
    checked = set(parsed["checked"])
    twice = [text for text in parsed["rendered"] if text in texts and text.strip("\n") in checked]
    assert len(texts) > 1000 and len(checked & {t.strip("\n") for t in texts}) > 1000
    assert [t for t in twice if not ("[" in t or "<" in t or t.startswith("\n") or _ends_in_an_open_block(t))] == []
    assert len(twice) < len(texts) // 10


def test_check_in_worker_processes_reports_what_it_does_in_one_and_holds_nothing_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epoch: Callable[[int], None]
) -> None:
    # check's cache gives up what the workers handed it once it is read, and keeps nothing it
    # made: no value is read twice, so none is made twice, and nothing is held to the end.
    bank = tmp_path / "questions"
    shutil.copytree(ROOT / "questions", bank)
    edited = bank / "transformer" / "why-separate-qk.yaml"  # an answer edited since the lock
    edited.write_text(edited.read_text(encoding="utf-8").replace("allow directed scores", "allow directed, asymmetric scores"), encoding="utf-8")
    epoch(1_700_000_000)
    held: list[tuple[int, int]] = []

    class Checks(BuildCache):
        def close(self) -> None:
            held.append((len(self.made()), len(self._handed)))
            super().close()

    monkeypatch.setattr(deckgen.cli, "BuildCache", Checks)
    monkeypatch.setattr(parallel, "MIN_QUESTIONS", 1)
    monkeypatch.setattr(parallel, "MIN_BANK_BYTES", 1)
    calls = _count_calls(monkeypatch)
    translate = deckgen.editions._translate_topic
    monkeypatch.setattr(deckgen.editions, "_translate_topic", lambda *args: calls.update(["_translate_topic"]) or translate(*args))
    reports = {}
    for jobs in ("1", "2"):
        monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
        calls.clear()
        result = CliRunner().invoke(deckgen.cli.main, ["check", bank.as_posix(), "--locked", "--out", (tmp_path / "none").as_posix()])
        reports[jobs] = (result.exit_code, result.output, result.stderr, calls["read_topic"], calls["_translate_topic"], calls["question_notes"])
    topic_files = len([p for p in bank.rglob("*.yaml") if ".zh." not in p.name and p.name not in ("deck.yaml", "sources.yaml")])
    overlays = len(list(bank.rglob("*.zh.yaml"))) - 2
    assert reports["1"][:3] == reports["2"][:3]
    assert "deck.lock is out of date: note 'qk-separate-projections-why' has changed" in reports["1"][1]
    shipped = load_bank(bank)
    notes = 2 * sum(len(t.questions) + len(t.retired) for t in shipped.topics)  # both editions'
    # In one process, check reads and translates every file; with workers, its own process reads
    # only the topic that shows an image (never cached) and translates it. Either way it renders
    # each note once, to compare the lock: none is made twice.
    assert [reports[jobs][3:] for jobs in ("1", "2")] == [(topic_files + overlays, topic_files, notes), (2, 1, notes)]
    assert held == [(0, 0), (0, 0)]


def test_a_small_build_stays_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epoch: Callable[[int], None]) -> None:
    bank = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", bank)
    epoch(1_700_000_000)
    calls = _count_calls(monkeypatch)
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "2")
    build(bank, tmp_path / "out")
    assert calls["read_topic"] == 2 and calls["question_notes"] > 0 and calls["printed_texts"] > 0


@pytest.mark.parametrize(("setting", "expected"), [("1", 1), ("3", 3), (" 2 ", 2), ("0", None), ("two", None), ("", None)])
def test_deckgen_jobs_sets_how_many_processes_a_build_uses(monkeypatch: pytest.MonkeyPatch, setting: str, expected: int | None) -> None:
    import os
    import sys

    monkeypatch.setenv(parallel.JOBS_VARIABLE, setting)
    if sys.platform != "linux":
        assert parallel.jobs() == 1
    else:
        assert parallel.jobs() == (expected if expected is not None else len(os.sched_getaffinity(0)))


_real_work = parallel._work


def _counted_work(chunk: range) -> list[tuple[str, str]]:
    """`parallel._work`, which also hands back how many tasks its chunk had."""
    return [("chunk", str(len(chunk))), *_real_work(chunk)]


def _record_task(index: int, made: BuildCache) -> None:
    made.put(f"task:{index}", [index, os.getpid()])


def test_a_run_of_many_tasks_takes_them_in_chunks_and_keeps_every_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # A build takes in what a chunk made all at once, so chunks stay small however many tasks there are.
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "2")
    monkeypatch.setattr(parallel, "CHUNK", 3)
    sizes: list[int] = []
    monkeypatch.setattr(parallel, "_work", _counted_work)
    cache = BuildCache(None, writable=False)
    real_put = cache.put_json
    monkeypatch.setattr(cache, "put_json", lambda key, text, **given: sizes.append(int(text)) if key == "chunk" else real_put(key, text, **given))
    assert parallel.run(cache, [partial(_record_task, i) for i in range(50)], enough=True)
    assert (max(sizes), len(sizes), sum(sizes)) == (3, 17, 50)  # 17 chunks of at most 3, not 4 chunks per worker
    values = [cache.get(f"task:{i}") for i in range(50)]
    assert [v[0] for v in values] == list(range(50))
    assert os.getpid() not in {v[1] for v in values}
