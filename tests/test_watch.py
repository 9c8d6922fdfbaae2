"""deckgen watch: each build of a watch writes what `deckgen build` writes in a new process, an
edit is built once it is whole, a failed build changes nothing, and the values the builds keep
between them are only those of files that did not change."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any
from pathlib import Path

import pytest

from deckgen import editions as editions_module
from deckgen import validate as validate_module
from deckgen import build as build_module
from deckgen import cache as cache_module
from deckgen import cli
from deckgen.anki import package as package_module
from deckgen.anki import notes as notes_module
from deckgen import parallel
from deckgen import reader as reader_module
from deckgen import release as release_module
from deckgen import watch as watch_module
from deckgen.build import BuildOptions, build
from deckgen.cache import BuildCache, Resident
from deckgen import model as model_module
from deckgen.model import Bank, DeckgenError, media_name
from deckgen.outdir import OutputBusy, held_output
from deckgen.watch import SETTLE_LIMIT, BankState, Outcome, Watcher, bank_state, changed_files
from tests.conftest import FIXTURES, ROOT
from tests.test_cache import MINI_FILE, QK_FILE, Reads, digests, edit, edit_mini, entries
from tests.test_later import fork_counted
from tests.test_media import bank_with_image


@pytest.fixture
def banks(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Three copies of the shipped bank (it has a Chinese edition): one watched, one built anew
    in this process, one built anew in a process of its own."""
    copies = (tmp_path / "watched" / "questions", tmp_path / "built" / "questions", tmp_path / "process" / "questions")
    for copy in copies:  # each named questions: the site's edit links show the name
        shutil.copytree(ROOT / "questions", copy)
    return copies


def decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The topic files whose cached reading is decoded from here on (English and translations)."""
    seen: list[Path] = []
    for module in (validate_module, editions_module):
        original = module.topic_from_json

        def counted(data: object, path: Path, original: Callable[..., object] = original) -> object:
            seen.append(path)
            return original(data, path)

        monkeypatch.setattr(module, "topic_from_json", counted)
    return seen


def test_a_watch_builds_what_a_new_process_builds_and_decodes_only_what_changed(
    banks: tuple[Path, Path, Path], tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    watched, built, process = banks
    epoch(1_700_000_000)
    watcher = Watcher(BuildOptions(watched, tmp_path / "watched-out"))
    first = watcher.build()
    assert first.error is None and first.changed == []
    build(built, tmp_path / "built-out")
    build(process, tmp_path / "process-out")
    # Every topic file and translation read from its YAML is kept, decoded, for the next build;
    # but the one that shows an image, which is never cached (its image may change on its own).
    english = [p for p in watched.rglob("*.yaml") if not p.stem.endswith(".zh") and p.parent != watched]
    overlays = [p for p in watched.rglob("*.zh.yaml") if p.parent != watched]
    # What it kept of the first build: each topic's notes, read back from the cache for the
    # package after the lock's update made them, in each language.
    assert len(watcher.resident) == watcher.resident.count("notes-topic") == 2 * len(english)
    assert watcher.changes() == []

    second = watcher.build()  # nothing changed: every cached topic is decoded once, then kept
    assert second.error is None
    assert watcher.resident.count("topic", "edition") == len(english) - 1 + len(overlays) - 1
    # And each topic's notes as the lock records them, in each language.
    assert watcher.resident.count("note-hashes-topic") == 2 * len(english)
    # No package changed, so no note was read: what the first build kept of them is let go.
    assert watcher.resident.count("notes-topic") == 0
    assert len(watcher.resident) == len(english) - 1 + len(overlays) - 1 + 2 * len(english)

    lock = (watched / "deck.lock").read_text(encoding="utf-8")
    edit(watched)
    edit(built)
    edit(process)
    assert watcher.changes() == [QK_FILE.as_posix()]
    epoch(1_750_000_000)
    decoded = decodes(monkeypatch)
    third = watcher.build(watcher.changes())
    assert third.error is None and third.changed == [QK_FILE.as_posix()]
    assert decoded == []  # the edited file and its translation are read from YAML, the others were kept
    cold = build(built, tmp_path / "built-out")
    cached = len(english) - 1 + len(overlays) - 1
    assert len(decoded) == cached - 2  # a new process decodes every other cached file
    assert (watched / "deck.lock").read_text(encoding="utf-8") != lock
    assert (watched / "deck.lock").read_text(encoding="utf-8") == (built / "deck.lock").read_text(encoding="utf-8")
    assert digests(tmp_path / "watched-out") == digests(tmp_path / "built-out")
    # And a new process (no memo of this one's) writes the same bytes too.
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1750000000", "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-m", "deckgen", "build", str(process), "--out", str(tmp_path / "process-out")], env=env, check=True, capture_output=True)
    assert digests(tmp_path / "watched-out") == digests(tmp_path / "process-out")
    assert (watched / "deck.lock").read_text(encoding="utf-8") == (process / "deck.lock").read_text(encoding="utf-8")
    assert third.result is not None
    assert repr(third.result.bank).replace(str(watched), "BANK") == repr(cold.bank).replace(str(built), "BANK")
    assert [str(d).replace(str(watched), "BANK") for d in third.result.warnings] == [str(d).replace(str(built), "BANK") for d in cold.warnings]
    assert watcher.changes() == []  # the lock the build wrote is not a change to build
    # The edited file's old reading is dropped; its new one (read from YAML) is cached, not kept.
    assert watcher.resident.count("topic", "edition") == cached - 2
    # So are its notes' hashes in English; in Chinese, its translation shows the same text as before.
    assert watcher.resident.count("note-hashes-topic") == 2 * len(english) - 1
    # The English package changed: every English topic's notes are read for it, and kept.
    assert watcher.resident.count("notes-topic") == len(english)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# Edits that change what a topic's cards show without changing its topic file: what a watch
# keeps of a topic it did not read again (`Resident.derived`) must not outlive them.
UNREAD_EDITS = [
    ("sources.yaml", "why can't they be the same?", "why may they not be the same?"),  # a source its questions cite
    ("deck.yaml", "homepage: https://github.com/deckgen/deckgen", "homepage: https://example.org/deckgen"),
    ((QK_FILE.parent / (QK_FILE.stem + ".zh.yaml")).as_posix(), "两者相等", "两者相同"),  # the translation alone
    # The source no longer from the reading list: four of its questions get a warning.
    ("sources.yaml", 'question/319339652"\n    section: transformer\n    kind: article', 'question/319339652"\n    section: transformer\n    kind: code'),
    # A variant to avoid that a translation uses: the Chinese lint warns where it does.
    ("glossary.zh.yaml", "terms:\n", "terms:\n  - {en: symmetric matrix, zh: 对称阵, avoid: [对称矩阵]}\n"),
    # Two sections swapped: every question from the first of them on is numbered anew.
    (
        "deck.yaml",
        '  - {id: tokenizers, title: "Tokenizers", heading: "tokenizer"}\n  - {id: bert, title: "BERT", heading: "BERT"}\n',
        '  - {id: bert, title: "BERT", heading: "BERT"}\n  - {id: tokenizers, title: "Tokenizers", heading: "tokenizer"}\n',
    ),
    ("deck.yaml", 'title: "BERT", heading', 'title: "BERT Itself", heading'),  # a section's title, which its topics' pages show
    # Another source made one by the same first author in the same year as one that many cards
    # cite: that one's key becomes Vaswani 2017a, in topics that do not cite the other too.
    (
        "sources.yaml",
        'authors: [Peter Shaw, Jakob Uszkoreit, Ashish Vaswani]\n    url: "https://arxiv.org/abs/1803.02155"\n'
        '    section: transformer\n    kind: paper\n    lang: en\n    year: "2018"\n',
        'authors: [Ashish Vaswani, Peter Shaw, Jakob Uszkoreit]\n    url: "https://arxiv.org/abs/1803.02155"\n'
        '    section: transformer\n    kind: paper\n    lang: en\n    year: "2017"\n',
    ),
]


def test_a_watch_builds_what_a_new_build_builds_after_edits_outside_a_topic_file(
    banks: tuple[Path, Path, Path], tmp_path: Path, epoch: Callable[[int], None]
) -> None:
    watched, built, _ = banks
    epoch(1_700_000_000)
    watcher = Watcher(BuildOptions(watched, tmp_path / "watched-out"))
    for _ in range(2):  # the second build finds every topic in the cache, and keeps it
        assert watcher.build().error is None
    kept = watcher.resident.derived_count
    assert kept > 0
    for name, old, new in UNREAD_EDITS:
        for bank in (watched, built):
            _replace(bank / name, old, new)
        assert watcher.changes() == [name]
        outcome = watcher.build(watcher.changes())
        assert outcome.error is None and outcome.result is not None
        cold = build(built, tmp_path / "built-out")
        assert digests(tmp_path / "watched-out") == digests(tmp_path / "built-out"), name
        assert (watched / "deck.lock").read_text(encoding="utf-8") == (built / "deck.lock").read_text(encoding="utf-8")
        assert [str(d).replace(str(watched), "BANK") for d in outcome.result.warnings] == [str(d).replace(str(built), "BANK") for d in cold.warnings]
    assert sum(d.rule == "no-article" for d in outcome.result.warnings) == 4
    assert "[Vaswani 2017a]" in (tmp_path / "watched-out" / "review-sheet.html").read_text(encoding="utf-8")
    assert sum(d.rule == "glossary-variant" and "对称矩阵" in d.message for d in outcome.result.warnings) == 1
    # What is kept is what the last builds asked for: no more than after the first of them.
    assert watcher.resident.derived_count <= 2 * kept


def test_a_watch_reads_the_lock_again_only_when_its_file_changed(
    banks: tuple[Path, Path, Path], tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    watched, built, _ = banks
    epoch(1_700_000_000)
    reads: list[Path] = []
    read = release_module.read_lock_file
    monkeypatch.setattr(release_module, "read_lock_file", lambda bank_dir: (bank_dir == watched and reads.append(bank_dir)) or read(bank_dir))
    watcher = Watcher(BuildOptions(watched, tmp_path / "watched-out"))
    assert watcher.build().error is None and reads == [watched]
    lock = watched / "deck.lock"

    def built_as_new() -> None:
        """The watch's last build wrote what a new build writes, the lock too."""
        build(built, tmp_path / "built-out")
        assert digests(tmp_path / "watched-out") == digests(tmp_path / "built-out")
        assert lock.read_bytes() == (built / "deck.lock").read_bytes()

    # An edit to a topic changes the lock: the build that wrote it hands it on, unread.
    for bank in (watched, built):
        edit(bank)
    epoch(1_700_000_100)
    assert watcher.build(watcher.changes()).error is None and reads == [watched]
    built_as_new()
    assert watcher.build().error is None and reads == [watched]  # nothing changed
    # The lock edited by hand (the same entries, laid out otherwise): read again, and written again.
    lock.write_text(lock.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert watcher.changes() == ["deck.lock"]
    outcome = watcher.build(watcher.changes())
    assert outcome.error is None and outcome.result is not None and lock in outcome.result.outputs
    assert reads == [watched] * 2
    built_as_new()
    # A link to the very same bytes: read again, and refused as any build refuses it.
    elsewhere = tmp_path / "elsewhere.lock"
    shutil.copyfile(lock, elsewhere)
    lock.unlink()
    lock.symlink_to(elsewhere)
    outcome = watcher.build(watcher.changes())
    assert reads == [watched] * 3
    assert outcome.error is not None and [d.message for d in outcome.error.diagnostics] == ["deck.lock is a link; deckgen reads and writes only the lock file itself"]
    # A pipe: looked at, never opened to wait for a writer.
    lock.unlink()
    os.mkfifo(lock)
    done: queue.Queue[Outcome] = queue.Queue()
    threading.Thread(target=lambda: done.put(watcher.build()), daemon=True).start()
    outcome = done.get(timeout=300)  # a hang guard, far beyond what the build takes
    assert reads == [watched] * 4
    assert outcome.error is not None and [d.message for d in outcome.error.diagnostics] == ["deck.lock is not a file; 'deckgen build' writes it"]


def test_what_a_watch_keeps_of_an_object_is_made_again_for_another_object_or_another_context() -> None:
    resident = Resident()
    made: list[str] = []

    def make(text: str) -> Callable[[], str]:
        return lambda: made.append(text) or text

    first, second = tuple("a"), tuple("a")  # equal, but not the same object
    assert first == second and first is not second
    cache = BuildCache(None, resident=resident)
    assert cache.derived("kind", (first,), 1, make("x")) == "x"
    assert cache.derived("kind", (first,), 1, make("y")) == "x"  # kept
    assert cache.derived("kind", (second,), 1, make("y")) == "y"  # another object
    assert cache.derived("kind", (first,), 2, make("z")) == "z"  # another context
    assert cache.derived("other", (first,), 1, make("w")) == "w"  # another kind
    assert made == ["x", "y", "z", "w"]
    assert resident.derived_count == 4
    resident.sweep(succeeded=True)
    assert BuildCache(None, resident=resident).derived("kind", (first,), 1, make("v")) == "x"  # the next build finds it
    resident.sweep(succeeded=True)  # a build that asked only for that one
    assert resident.derived_count == 1 and len(resident) == 0
    # Without a resident store (a build in a process of its own), nothing is kept.
    plain = BuildCache(None)
    assert plain.derived("kind", (first,), 1, make("u")) == "u" and plain.derived("kind", (first,), 1, make("t")) == "t"


def test_a_questions_key_is_the_same_in_a_watch_and_in_a_build(mini_bank: Path) -> None:
    """The key names the cache's entries that a watch and a build share: a watch, which keeps
    the hash of what each question holds, makes it as a build makes it, in every build."""
    bank, _ = validate_module.validate_bank(mini_bank)
    assert bank is not None
    plain = BuildCache(None)
    expected = [plain.question_key(bank, topic, q) for topic in bank.topics for q in (*topic.questions, *topic.retired)]
    assert len(set(expected)) == len(expected)
    resident = Resident()
    for _ in range(2):  # made, then kept
        cache = BuildCache(None, resident=resident)
        assert [cache.question_key(bank, topic, q) for topic in bank.topics for q in (*topic.questions, *topic.retired)] == expected
        assert [key for topic in bank.topics for key in cache.topic_keys(bank, topic)] == expected
        resident.sweep(succeeded=True)
    # Each topic's question hashes, the sources it cites, and its keys.
    assert resident.derived_count == 3 * len(bank.topics)
    # A question that is not the very object the topic holds is keyed by what it holds itself.
    topic = bank.topics[0]
    first = topic.questions[0]
    changed = dataclasses.replace(first, answer=first.answer + " Changed.")
    holding = dataclasses.replace(topic, questions=(changed, *topic.questions[1:]))
    for cache in (BuildCache(None), BuildCache(None, resident=resident)):
        assert cache.question_key(bank, topic, first) == expected[0]
        assert cache.question_key(bank, topic, changed) == BuildCache(None).question_key(bank, holding, changed) != expected[0]


def test_the_keys_a_watch_keeps_with_a_topic_change_with_what_is_around_it(tmp_path: Path) -> None:
    """A topic read again from a file that did not change is the same object, but its keys also
    name its images, the sources it cites and the deck: a change to any of them makes them again."""
    root = bank_with_image(tmp_path / "q")
    bank, _ = validate_module.validate_bank(root)
    assert bank is not None
    topic = bank.topics[0]
    resident = Resident()

    def kept(made: Bank) -> tuple[str, ...]:
        keys = BuildCache(None, resident=resident).topic_keys(made, topic)
        resident.sweep(succeeded=True)
        model_module.forget_media_names()  # as each build does
        assert keys == BuildCache(None).topic_keys(made, topic)  # what a build in a process of its own makes
        return keys

    first = kept(bank)
    assert kept(bank) is first  # nothing changed: kept
    image = root / "topics" / "img" / "curve.png"
    image.write_bytes(image.read_bytes() + b"\0")
    second = kept(bank)
    assert second != first
    # Each change on top of the last, so that only what it changed tells the keys apart.
    moved = dataclasses.replace(bank, deck=dataclasses.replace(bank.deck, homepage="https://example.org/other"))
    third = kept(moved)
    cited = topic.questions[0].sources[0]
    retitled = dataclasses.replace(moved, sources=tuple(dataclasses.replace(s, title=s.title + "!") if s.id == cited else s for s in moved.sources))
    fourth = kept(retitled)
    # An edition shares the topics it has no translation of: their keys are its own.
    chinese = dataclasses.replace(retitled, deck=dataclasses.replace(retitled.deck, language="zh"))
    fifth = kept(chinese)
    assert len({first, second, third, fourth, fifth}) == 5


def test_a_watch_checks_again_only_the_texts_an_edit_changed(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    watcher = Watcher(BuildOptions(mini_bank, tmp_path / "out"))
    assert watcher.build().error is None
    checked: list[str] = []
    original = reader_module.markdown_problems

    def counted(text: str, *args: object) -> object:
        checked.append(text)
        return original(text, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(reader_module, "markdown_problems", counted)
    path = mini_bank / MINI_FILE
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("(https://example.org/?a=1&b=2)", "(javascript:alert(1))"), encoding="utf-8")
    bad_link = f"{path.as_posix()}:22:13: error: link target 'javascript:alert(1)' is not an http(s) URL [link-scheme]"
    failed = watcher.build(watcher.changes())
    assert failed.error is not None and [str(d) for d in failed.error.diagnostics] == [bad_link]
    # The file is read again, but the first build checked its other texts.
    hostile = "Nothing: it is shown as text, like `<b>` and [sound:x.mp3] and [latex]x[/latex].\n\n- <img src=x onerror=alert(1)>\n- [a link]({})\n"
    assert checked == [hostile.format("javascript:alert(1)")]
    # An edit to another question: only its text is checked again, and what was found in the
    # others is still reported.
    checked.clear()
    edit_mini(mini_bank)
    failed = watcher.build(watcher.changes())
    assert failed.error is not None and [str(d) for d in failed.error.diagnostics] == [bad_link]
    assert checked == ["Their variance grows as $d_k$; scaling keeps the softmax out of its flat region."]
    checked.clear()
    path.write_text(path.read_text(encoding="utf-8").replace("(javascript:alert(1))", "(https://example.org/?a=1&b=2)"), encoding="utf-8")
    assert watcher.build(watcher.changes()).error is None
    assert checked == []  # back to the text the last build that succeeded checked
    fresh = tmp_path / "fresh"
    shutil.copytree(mini_bank, fresh)
    build(fresh, tmp_path / "fresh-out")
    assert digests(tmp_path / "out") == digests(tmp_path / "fresh-out")


def test_a_failed_build_changes_nothing_and_the_next_change_is_built(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    out = tmp_path / "out"
    watcher = Watcher(BuildOptions(mini_bank, out))
    assert watcher.build().error is None
    before = digests(out)
    path = mini_bank / MINI_FILE
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("id: why-scale", "id: why scale"), encoding="utf-8")
    assert watcher.changes() == [MINI_FILE.as_posix()]
    failed = watcher.build(watcher.changes())
    assert failed.result is None and failed.error is not None
    assert [str(d) for d in failed.error.diagnostics] == [
        f"{(mini_bank / MINI_FILE).as_posix()}:5:9: error: id 'why scale' is not kebab-case: use lowercase letters, "
        "digits and single hyphens, starting with a letter [id-format]"
    ]
    assert digests(out) == before
    assert watcher.changes() == []  # the broken file was seen: it is built again when it changes
    path.write_text(good, encoding="utf-8")
    edit_mini(mini_bank)
    assert watcher.changes() == [MINI_FILE.as_posix()]
    assert watcher.build(watcher.changes()).error is None
    fresh = tmp_path / "fresh"
    shutil.copytree(mini_bank, fresh)
    build(fresh, tmp_path / "fresh-out")
    assert digests(out) == digests(tmp_path / "fresh-out")


def test_a_file_edited_while_a_build_runs_is_built_next(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    looks = 0

    def look() -> BankState:
        # The watcher looks before a build and after it: an edit between the two was not built.
        nonlocal looks
        looks += 1
        if looks == 2:
            edit_mini(mini_bank)
        return bank_state(mini_bank)

    watcher = Watcher(BuildOptions(mini_bank, tmp_path / "out"), look)
    assert watcher.build().error is None
    assert looks == 2
    assert watcher.changes() == [MINI_FILE.as_posix()]


def test_a_build_that_fails_in_a_way_no_check_foresaw_drops_what_the_builds_kept(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    watcher = Watcher(BuildOptions(mini_bank, tmp_path / "out"))
    watcher.build()
    watcher.build()
    assert watcher.resident.count("topic") == 2  # the mini bank's two topic files

    def broken(*args: object) -> list[Path]:
        raise RuntimeError("a fault of deckgen's own")

    monkeypatch.setattr(build_module, "_write_lock", broken)
    with pytest.raises(RuntimeError, match="a fault of deckgen's own"):
        watcher.build()
    assert len(watcher.resident) == 0
    assert not (tmp_path / "out" / ".deckgen-cache.sqlite").exists()


def test_a_fault_of_deckgens_own_is_reported_and_the_watch_goes_on(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    epoch(1_700_000_000)
    watcher = Watcher(BuildOptions(mini_bank, tmp_path / "out"))

    def broken(*args: object) -> list[Path]:
        raise RuntimeError("a fault of deckgen's own")

    with monkeypatch.context() as patched:
        patched.setattr(build_module, "_write_lock", broken)
        assert cli._watched(watcher, [], tmp_path / "out", None) is None
    assert watcher.changes() == []  # built again when the bank changes, not at every look
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("Traceback (most recent call last):\n")
    assert err.endswith("RuntimeError: a fault of deckgen's own\nbuild failed: a fault of deckgen's own, not of the bank (above); please report it\n")
    outcome = cli._watched(watcher, [], tmp_path / "out", None)  # the next build is a build as any other
    assert outcome is not None and outcome.error is None
    assert capsys.readouterr().out.startswith("built 6 notes and 7 cards from 2 topics:\n")


def test_an_image_replaced_at_the_same_size_and_time_gets_its_new_name(tmp_path: Path) -> None:
    # What a process remembers of a file must change with it: `cp -p`, or a second save in one
    # tick of a coarse clock, keeps the size and the modification time.
    image = tmp_path / "figure.svg"
    image.write_text("<svg>1</svg>", encoding="utf-8")
    first = media_name(image)
    before = os.stat(image)
    image.write_text("<svg>2</svg>", encoding="utf-8")
    os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(image).st_size == before.st_size and os.stat(image).st_mtime_ns == before.st_mtime_ns
    assert first == f"deckgen-{hashlib.sha256(b'<svg>1</svg>').hexdigest()[:16]}.svg"
    assert media_name(image) == f"deckgen-{hashlib.sha256(b'<svg>2</svg>').hexdigest()[:16]}.svg"


def test_a_build_forgets_which_name_each_image_was_packed_under(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    # On a file system whose clock ticks in whole seconds, an image rewritten in place within
    # one tick, at the same size, keeps its times and inode: only hashing it again tells.
    epoch(1_700_000_000)
    result = build(bank_with_image(Path("q")), Path("out"))
    assert any(path.suffix == ".png" for path in (Path("out") / "media").iterdir()) and result.bank.topics[0].questions[0].images
    assert model_module._media_name.cache_info().currsize == 0


def test_the_resident_store_hands_out_what_it_decoded_once(tmp_path: Path) -> None:
    resident = Resident()
    first, second = BuildCache(None, resident=resident), BuildCache(None, resident=resident)
    first.put("value", {"n": 1})
    calls: list[object] = []

    def decode(data: object) -> tuple[object, ...]:
        calls.append(data)
        return (data,)

    value = first.decoded("value", "where", decode)
    assert value == ({"n": 1},) and calls == [{"n": 1}]
    assert second.decoded("value", "where", decode) is value  # another build: kept, not decoded again
    assert calls == [{"n": 1}]
    assert second.decoded("value", "elsewhere", decode) is None  # read with something else: not this value
    assert second.decoded("missing", "where", decode) is None

    def refuse(data: object) -> tuple[object, ...]:
        raise ValueError("not what deckgen stored")

    first.put("bad", [1])
    assert first.decoded("bad", "where", refuse) is None
    assert len(resident) == 1
    # A value its reader refuses (it checks what decoding cannot) is decoded again next time.
    second.refuse("value", "where")
    assert len(resident) == 0
    assert first.decoded("value", "where", decode) == value and len(calls) == 2


def test_the_resident_store_holds_what_the_last_build_and_the_last_that_succeeded_asked_for() -> None:
    resident = Resident()
    for key in ("a", "b"):
        resident.put((key, None), key)
    resident.sweep(succeeded=True)  # a build that asked for a and b
    assert len(resident) == 2
    resident.put(("c", None), "c")
    resident.sweep(succeeded=False)  # a failed build that asked for c: a and b stay for the next
    assert [resident.get((key, None)) for key in "abc"] == ["a", "b", "c"]
    resident.put(("d", None), "d")
    resident.sweep(succeeded=False)  # another, that asked for d (and for a, b and c above, just now)
    resident.put(("e", None), "e")
    resident.sweep(succeeded=False)  # and another, that asked for e: what neither it nor the last success asked is gone
    assert [resident.get((key, None)) for key in "abcde"] == ["a", "b", None, None, "e"]
    resident.sweep(succeeded=True)  # a success that asked for a, b and e above
    resident.sweep(succeeded=True)  # and one that asked for nothing
    assert len(resident) == 0


def test_failed_builds_in_a_row_keep_the_last_success_and_no_more(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers read the topic files (as in a large bank) and hand them over: the build keeps
    # what it decodes of them, though it fails after.
    monkeypatch.setenv("DECKGEN_JOBS", "2")
    monkeypatch.setattr(parallel, "MIN_BANK_BYTES", 1)
    epoch(1_700_000_000)
    sources = mini_bank / "sources.yaml"
    clean = sources.read_text(encoding="utf-8").split("  - id: uncited")[0]
    sources.write_text(clean, encoding="utf-8")
    watcher = Watcher(BuildOptions(mini_bank, tmp_path / "out", strict=True))
    assert watcher.build().error is None
    assert watcher.build().error is None
    assert watcher.resident.count("topic") == 2  # the mini bank's two topic files
    for round_number in range(3):
        # A new source changes every topic file's key (what it may cite), and is cited by no
        # card: --strict fails the build on that warning, after the topics were read.
        sources.write_text(clean + f"  - id: extra-{round_number}\n    title: Extra\n    url: https://example.org/{round_number}\n    section: peft\n", encoding="utf-8")
        failed = watcher.build()
        assert failed.error is not None and [d.rule for d in failed.error.diagnostics] == ["uncited-source"]
        assert watcher.resident.count("topic") == 4  # this build's two, and the last success's two
    sources.write_text(clean, encoding="utf-8")
    assert watcher.build().error is None
    assert watcher.resident.count("topic") == 2


LATER = 10 * 10**9
"""How much later than now a test's watch settles the last build's files: as if it had waited
that long for the next change."""


class Unread:
    """The output files a build takes parts from unread (they were settled), and the ones it reads
    parts back from (`Reads`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.taken: list[str] = []
        real_source = cache_module._OpenFiles.source

        def source(files: object, root: Path, parts: list[str], *rest: Any) -> object:
            found = real_source(files, root, parts, *rest)  # type: ignore[arg-type]
            if found is not None:
                self.taken.append("/".join(parts))
            return found

        monkeypatch.setattr(cache_module._OpenFiles, "source", source)
        self.reads = Reads(monkeypatch)
        self.read_whole: list[str] = []
        """The files a part taken unread was read from whole (to be looked at), not copied."""
        real_read = cache_module._Source.read

        def read(source: Any) -> bytes:
            self.read_whole.append("/".join(source.parts))
            return real_read(source)

        monkeypatch.setattr(cache_module._Source, "read", read)


def _built_watch(bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> tuple[Path, Watcher]:
    """A watch's output folder, and the watch, which has built `bank` into it."""
    epoch(1_700_000_000)
    out = tmp_path / "out"
    watcher = Watcher(BuildOptions(bank, out))
    assert watcher.build().error is None
    return out, watcher


def _as_a_new_build_writes(bank: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Check that the watch's output folder holds what a new build of `bank` writes (with
    deckgen's own functions back in place)."""
    monkeypatch.undo()
    build(bank, tmp_path / "cold")
    assert digests(tmp_path / "out") == digests(tmp_path / "cold")


def _files_with_parts(out: Path) -> set[str]:
    return {json.loads(value)["file"] for key, value in entries(out).items() if key.startswith("block:")}


def test_a_watch_takes_the_parts_of_settled_files_unread_and_writes_what_a_build_writes(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, watcher = _built_watch(mini_bank, tmp_path, epoch)
    assert watcher.idle() == 0  # every file was written just now: a change now might not move its times
    files = _files_with_parts(out)
    assert files == {
        "mini-deck.apkg", "review-questions.html", "review-questions.md", "review-sheet.html", "review-sheet.md",
        "site/assets/search-index.js", "site/attention/scaled-attention.html", "site/peft/lora-vs-adapter.html",
    }
    assert watcher.idle(time.time_ns() + LATER) == len(files)
    checked = _counted(monkeypatch, cache_module, "_part_digest")
    assert watcher.idle(time.time_ns() + LATER) == len(files) and checked == []  # each file is checked once
    # The same edit, built by a new process: the files it reads unchanged parts back from.
    plain = tmp_path / "plain"
    shutil.copytree(mini_bank, plain)
    build(plain, tmp_path / "plain-out")
    edit_mini(plain)
    reads = Reads(monkeypatch)
    build(plain, tmp_path / "plain-out")
    read_back = {path.relative_to(tmp_path / "plain-out").as_posix() for path in reads.read}
    assert read_back and read_back < files
    edit_mini(mini_bank)
    unread = Unread(monkeypatch)
    assert watcher.build(watcher.changes()).error is None
    # The watch takes each of them unread, and reads none back; it copies each into its new
    # file, but for the Markdown sheets' parts, each read once to see whether it ends the sheet.
    assert unread.reads.calls == [] and sorted(unread.taken) == sorted(path.relative_to(tmp_path / "plain-out").as_posix() for path in reads.read)
    assert sorted(unread.read_whole) == sorted(name for name in unread.taken if name.endswith(".md"))
    monkeypatch.undo()
    assert watcher.idle() == 0  # the new files are not settled yet
    build(mini_bank, tmp_path / "cold")
    assert digests(out) == digests(tmp_path / "cold") == digests(tmp_path / "plain-out")


def _counted(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[tuple[object, ...]]:
    calls: list[tuple[object, ...]] = []
    real = getattr(module, name)

    def counted(*args: object) -> object:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(module, name, counted)
    return calls


def _changed_in_place(path: Path) -> None:
    """One byte of the file changed, its size and its times (but the time of change) as they were."""
    info = path.stat()
    data = path.read_bytes()
    assert b"saturat" in data
    path.write_bytes(data.replace(b"saturat", b"Saturat"))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size and path.stat().st_mtime_ns == info.st_mtime_ns


SETTLED_TAMPERING: dict[str, Callable[[Path], None]] = {
    "a byte changed, its times set back": lambda out: _changed_in_place(out / "review-sheet.html"),
    "a file cut in half": lambda out: (out / "review-questions.md").write_bytes((out / "review-questions.md").read_bytes()[: (out / "review-questions.md").stat().st_size // 2]),
    "a removed page": lambda out: shutil.rmtree(out / "site"),
    "a linked file": lambda out: ((out / "review-sheet.md").rename(out / "moved.md"), (out / "review-sheet.md").symlink_to(out / "moved.md")),
}


@pytest.mark.parametrize("before", [True, False], ids=["before it is settled", "after it is settled"])
@pytest.mark.parametrize("tampering", list(SETTLED_TAMPERING))
def test_a_part_is_taken_unread_only_from_a_file_as_it_was_settled(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, tampering: str, before: bool
) -> None:
    # A file changed after it was settled has a later time of change; one changed before is
    # checked byte for byte as it is settled. Either way its parts are not taken unread.
    out, watcher = _built_watch(mini_bank, tmp_path, epoch)
    files = _files_with_parts(out)
    if before:
        SETTLED_TAMPERING[tampering](out)
    settled = watcher.idle(time.time_ns() + LATER)
    if not before:
        SETTLED_TAMPERING[tampering](out)
    unread = Unread(monkeypatch)
    assert watcher.build(watcher.changes()).error is None
    changed = {"a byte changed, its times set back": {"review-sheet.html"}, "a file cut in half": {"review-questions.md"}, "a linked file": {"review-sheet.md"}}
    spoilt = changed.get(tampering) or {name for name in files if name.startswith("site/")}
    assert settled == len(files) - (len(spoilt) if before else 0)
    assert set(unread.taken) == files - spoilt
    _as_a_new_build_writes(mini_bank, tmp_path, monkeypatch)


def test_a_watch_settles_files_a_few_at_a_time_and_never_where_a_write_keeps_the_time_of_change(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, watcher = _built_watch(mini_bank, tmp_path, epoch)
    files = _files_with_parts(out)
    # Now is read from the clock of the file system (a file made beside the output folder, and
    # removed), which gave the files their times: by it, every file was written just now.
    clock = _counted(monkeypatch, cache_module, "_file_system_now")
    assert watcher.idle() == 0 and len(clock) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".deckgen-clock-")] == []
    # On Windows a file's "ctime" is the time it was made: no file is settled there.
    with monkeypatch.context() as windows:
        windows.setattr(cache_module, "_CHANGE_TIMES", False)
        assert watcher.idle(time.time_ns() + LATER) == 0
    # With no time to spare, one file at each call.
    assert [watcher.idle(time.time_ns() + LATER, budget=0) for _ in files] == list(range(1, len(files) + 1))
    assert watcher.idle() == len(files) and len(clock) == 1  # nothing is left to settle: no clock is read


@pytest.mark.parametrize("copy", ["none", "refused", "partly"])
def test_parts_taken_unread_are_copied_by_reading_where_the_system_cannot_copy(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, copy: str
) -> None:
    out, watcher = _built_watch(mini_bank, tmp_path, epoch)
    assert watcher.idle(time.time_ns() + LATER) == len(_files_with_parts(out))
    edit_mini(mini_bank)
    if copy == "none":  # a system without copy_file_range
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    elif copy == "refused":  # or one that cannot copy between these two files

        def refused(*args: object) -> int:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

        monkeypatch.setattr(os, "copy_file_range", refused, raising=False)
    else:  # or that copies a few bytes of a part, then cannot copy more
        real_copy = os.copy_file_range
        calls: list[int] = []

        def partly(source: int, target: int, count: int, offset: int) -> int:
            calls.append(count)
            if len(calls) % 2 == 0:
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
            return real_copy(source, target, min(count, 7), offset)

        monkeypatch.setattr(os, "copy_file_range", partly)
    unread = Unread(monkeypatch)
    assert watcher.build(watcher.changes()).error is None
    assert unread.taken and unread.reads.calls == []
    _as_a_new_build_writes(mini_bank, tmp_path, monkeypatch)


def test_a_settled_page_that_another_name_links_to_is_copied_and_checked(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page taken whole is linked into the new folder, unless another name links to it too (a
    # backup made with `cp -al`): the link is undone, which moves the file's time of change, and
    # the page is copied, then read again and checked, its bytes being as they were.
    out, watcher = _built_watch(mini_bank, tmp_path, epoch)
    page = out / "site" / "peft" / "lora-vs-adapter.html"
    os.link(page, tmp_path / "backup.html")
    assert watcher.idle(time.time_ns() + LATER) == len(_files_with_parts(out))
    unread = Unread(monkeypatch)
    assert watcher.build().error is None
    assert "site/peft/lora-vs-adapter.html" in unread.taken and "site/peft/lora-vs-adapter.html" in unread.read_whole
    assert (out / "site" / "peft" / "lora-vs-adapter.html").stat().st_nlink == 1
    _as_a_new_build_writes(mini_bank, tmp_path, monkeypatch)


def test_a_file_changed_while_a_part_is_copied_from_it_fails_the_build_and_changes_nothing(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, watcher = _built_watch(mini_bank, tmp_path, epoch)
    assert watcher.idle(time.time_ns() + LATER) > 0
    before = digests(out)
    real_copy = cache_module._Source.copy_into
    spoilt: list[tuple[Path, int, bytes]] = []

    def copy_into(source: Any, target: Any) -> None:
        if not spoilt:  # another program changes the first part copied, as it is copied
            with open(source.settled.path, "r+b") as other:
                other.seek(source.at)
                byte = other.read(1)
                other.seek(source.at)
                other.write(b"X" if byte != b"X" else b"Y")
            spoilt.append((source.settled.path, source.at, byte))
        real_copy(source, target)

    monkeypatch.setattr(cache_module._Source, "copy_into", copy_into)
    outcome = watcher.build()
    assert isinstance(outcome.error, DeckgenError)
    assert [(d.message, d.rule) for d in outcome.error.diagnostics] == [
        ("cannot write the output: a file of the last build changed while this build copied from it; build again", "io")
    ]
    assert outcome.error.diagnostics[0].location.path.startswith(out.as_posix() + "/")
    path, at, byte = spoilt[0]
    with open(path, "r+b") as other:  # put back
        other.seek(at)
        other.write(byte)
    assert digests(out) == before  # the outputs are as they were
    monkeypatch.undo()
    # The failed build linked the files into its staging folder, which moved their times: the
    # watch checks them all again, the one written to and put back too.
    assert watcher.idle(time.time_ns() + LATER) == len(_files_with_parts(out))
    unread = Unread(monkeypatch)
    assert watcher.build().error is None
    assert set(unread.taken) == _files_with_parts(out) and unread.reads.calls == []
    _as_a_new_build_writes(mini_bank, tmp_path, monkeypatch)


def test_a_file_written_to_while_a_part_is_copied_from_it_gives_the_part_it_still_holds(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another program adds to a sheet of the last build as a part of it is copied into the new
    # sheet, after another part: the part is read again, checked, and written where it goes.
    out, watcher = _built_watch(mini_bank, tmp_path, epoch)
    assert watcher.idle(time.time_ns() + LATER) > 0
    real_copy = cache_module._Source.copy_into
    grown: list[Path] = []

    def copy_into(source: Any, target: Any) -> None:
        if not grown and source.parts[-1].endswith(".html") and source.size < source.settled.size and target.tell() > 0:
            with open(source.settled.path, "ab") as other:
                other.write(b"<!-- -->")
            grown.append(source.settled.path)
        real_copy(source, target)

    monkeypatch.setattr(cache_module._Source, "copy_into", copy_into)
    unread = Unread(monkeypatch)
    assert watcher.build().error is None
    assert grown and grown[0].relative_to(out).as_posix() in unread.read_whole
    _as_a_new_build_writes(mini_bank, tmp_path, monkeypatch)


def _remove_deep(top: Path) -> None:
    """Remove a chain of folders `top/d/d/…` (as much of it as was made), from its deepest, without recursing."""
    if not top.is_dir():
        return
    chain = [top]
    while (chain[-1] / "d").is_dir():
        chain.append(chain[-1] / "d")
    for folder in reversed(chain):
        for path in folder.iterdir():
            if not path.is_dir():
                path.unlink()
        folder.rmdir()


def test_the_bank_state_is_the_files_deckgen_reads(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    bank = tmp_path / "bank"
    names = ("deck.yaml", "topic/a.yaml", "images/x.svg", ".git/HEAD", ".a.yaml.swp", "topic/a.yaml~", "build/.deckgen-output", "build/deck.apkg",
             "other-build/.deckgen-output", "other-build/x.apkg", "skipped/x.yaml", "drafts~/b.yaml", ".figures/y.svg")
    for name in names:
        (bank / name).parent.mkdir(parents=True, exist_ok=True)
        (bank / name).write_text(name, encoding="utf-8")
    (bank / "link.yaml").symlink_to(bank / "deck.yaml")
    (bank / "linked-folder").symlink_to(bank / "topic")  # a folder reached through a link is not read, as deckgen reads none
    (bank / "broken.yaml").symlink_to(bank / "nowhere.yaml")
    os.mkfifo(bank / "pipe.yaml")
    deep = bank / "deep"
    request.addfinalizer(lambda: _remove_deep(bank / "deep"))  # shutil.rmtree, which pytest cleans up with, recurses too
    deep.mkdir()
    for _ in range(1_200):  # deeper than Python's stack: os.walk (which recurses on Python 3.11) would raise
        deep = deep / "d"
        deep.mkdir()
    (deep / "z.yaml").write_text("z", encoding="utf-8")
    (tmp_path / "alias").symlink_to(bank)
    # The skipped folder, spelt through a link; and an image the bank shows from a hidden folder.
    state = bank_state(bank, (tmp_path / "alias" / "skipped",), also=[".figures/y.svg", ".figures/gone.svg"])
    assert sorted(state) == [".figures/y.svg", "deck.yaml", "deep/" + "d/" * 1_200 + "z.yaml", "drafts~/b.yaml", "images/x.svg", "link.yaml", "topic/a.yaml"]
    (bank / "topic/a.yaml").write_text("changed", encoding="utf-8")
    (bank / "images/x.svg").unlink()
    (bank / "topic/b.yaml").write_text("new", encoding="utf-8")
    assert changed_files(state, bank_state(bank, (bank / "skipped",), also=[".figures/y.svg"])) == ["images/x.svg", "topic/a.yaml", "topic/b.yaml"]


def test_a_file_saved_twice_in_one_tick_of_a_coarse_clock_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bank = tmp_path / "bank"
    bank.mkdir()
    path = bank / "a.yaml"
    path.write_text("first", encoding="utf-8")
    info = os.stat(path)
    # A file changed just now is hashed: a second save of the same size in the same tick of a
    # coarse clock keeps its times, and only its bytes tell.
    (signature,) = bank_state(bank).values()
    assert signature[:4] == (5, info.st_mtime_ns, info.st_ctime_ns, info.st_ino) and signature[4] == hashlib.sha256(b"first").hexdigest()
    later = time.time_ns() + 60_000_000_000
    monkeypatch.setattr(time, "time_ns", lambda: later)
    assert bank_state(bank)["a.yaml"][4] == ""  # long unchanged: its times suffice
    assert bank_state(bank, rehash=["a.yaml"]) == {"a.yaml": signature}  # hashed when the state it is compared with was
    path.write_text("other", encoding="utf-8")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert bank_state(bank, rehash=["a.yaml"])["a.yaml"][4] == hashlib.sha256(b"other").hexdigest()


def test_a_watch_hashes_only_files_that_changed_just_before_it_looked(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    hashed: list[str] = []
    real_hash = watch_module._hash

    def counted(path: str) -> str:
        hashed.append(os.path.relpath(path, mini_bank))
        return real_hash(path)

    monkeypatch.setattr(watch_module, "_hash", counted)
    clock = [time.time_ns()]
    monkeypatch.setattr(time, "time_ns", lambda: clock[0])
    watcher = Watcher(BuildOptions(mini_bank, tmp_path / "out"))
    assert watcher.build().error is None
    # The copy's files were all written just now, and the lock by the build: each is hashed,
    # and again at each look while they are compared with hashes.
    files = sorted(["attention.yaml", "deck.lock", "deck.yaml", "extra/lora.yml", "sources.yaml"])
    assert sorted(set(hashed)) == files
    clock[0] += 60_000_000_000  # a minute on
    hashed.clear()
    assert watcher.changes() == []  # hashed again, since they were hashed when the build looked
    assert sorted(hashed) == files
    assert watcher.build().error is None  # a build that looks at files a minute old keeps no hash of them
    hashed.clear()
    assert watcher.changes() == [] and hashed == []
    edit_mini(mini_bank)  # written at the real time: a minute before this clock, yet its times moved
    assert watcher.changes() == [MINI_FILE.as_posix()] and hashed == []


def test_a_change_is_built_once_the_bank_is_still(tmp_path: Path) -> None:
    seen = {"a.yaml": (1, 1, 1, 1, "")}
    states: list[BankState] = [
        seen,  # the build looks before it starts (and, as it fails, not after)
        seen,  # nothing yet
        {**seen, ".a.yaml.tmp": (1, 1, 1, 1, "")},  # an editor's file
        seen,  # gone at the next look
        seen,  # and still gone: no change, and the watch waits on
        {"a.yaml": (2, 2, 2, 2, "")},  # an editor begins to save
        {"a.yaml": (3, 3, 3, 3, "h"), "b.yaml": (1, 1, 1, 1, "")},
        {"a.yaml": (3, 3, 3, 3, ""), "b.yaml": (1, 1, 1, 1, "")},  # still (a.yaml hashed at one look and not the next): built
    ]
    slept: list[float] = []
    watcher = Watcher(BuildOptions(tmp_path / "bank", tmp_path / "out"), lambda: states.pop(0))
    assert watcher.build().error is not None  # there is no bank; the state it looked at is seen
    assert watcher.wait(0.25, slept.append) == ["a.yaml", "b.yaml"]
    assert slept == [0.25] * 7 and states == []


def test_a_change_met_by_another_build_of_the_folder_is_built_when_it_ends(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    out = tmp_path / "out"
    watcher = Watcher(BuildOptions(mini_bank, out))
    assert watcher.build().error is None
    edit_mini(mini_bank)
    with held_output(out):  # another deckgen build, writing the folder now
        busy = watcher.build(watcher.changes())
    assert isinstance(busy.error, OutputBusy)
    assert [str(d) for d in busy.error.diagnostics] == [
        f"{out.as_posix()}:1:1: error: another deckgen build is writing this output folder now; run this one when it has finished [output]"
    ]
    assert watcher.changes() == [MINI_FILE.as_posix()]  # not taken as seen: built at the next look
    assert watcher.build(watcher.changes()).error is None
    assert watcher.changes() == []


def test_the_watch_says_once_that_another_build_holds_the_folder(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], capsys: pytest.CaptureFixture[str]
) -> None:
    epoch(1_700_000_000)
    out = tmp_path / "out"
    watcher = Watcher(BuildOptions(mini_bank, out))
    with held_output(out):
        first = cli._watched(watcher, [], out, None)
        assert first is not None and isinstance(first.error, OutputBusy)
        assert capsys.readouterr() == (
            "",
            f"{out.as_posix()}:1:1: error: another deckgen build is writing this output folder now; run this one when it has finished [output]\n"
            "waiting for it: the change is built when it has finished\n",
        )
        again = cli._watched(watcher, [MINI_FILE.as_posix()], out, first)
        assert again is not None and isinstance(again.error, OutputBusy)
        assert capsys.readouterr() == ("", "")
    built = cli._watched(watcher, [MINI_FILE.as_posix()], out, again)
    assert built is not None and built.error is None
    assert capsys.readouterr().out.startswith("built 6 notes and 7 cards from 2 topics:\n")


def test_a_bank_that_never_stops_changing_is_built_after_a_while(tmp_path: Path) -> None:
    count = 0

    def look() -> BankState:
        nonlocal count
        count += 1
        return {"a.yaml": (count, count, count, count, "")}

    watcher = Watcher(BuildOptions(tmp_path / "bank", tmp_path / "out"), look)
    watcher.build()
    slept: list[float] = []
    assert watcher.wait(1.0, slept.append) == ["a.yaml"]
    assert len(slept) == 1 + SETTLE_LIMIT


def _ctrl_c_stops() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


@pytest.fixture
def watching(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Callable[[str], list[str]], Path]]:
    """`deckgen watch` on a copy of the mini bank, and a function that reads its output (both
    streams) up to a line that starts with the text given."""
    bank = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", bank)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000", "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "deckgen", "watch", "mini", "--out", "out", "--interval", "0.1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
        # Ctrl-C, as a terminal sends it: a test run started in the background (`cmd &` in a
        # script) ignores SIGINT, and a child inherits that.
        preexec_fn=_ctrl_c_stops,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()

    def read_until(start: str) -> list[str]:
        read: list[str] = []
        deadline = time.monotonic() + 120  # a hang guard, not a timing: a build of the mini bank takes a second
        while not read or not read[-1].startswith(start):
            read.append(lines.get(timeout=max(0.0, deadline - time.monotonic())).rstrip("\n"))
        return read

    try:
        yield process, read_until, bank
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


BUILT = [
    "mini/sources.yaml:17:5: warning: source 'uncited' is cited by no card [uncited-source]",
    "built 6 notes and 7 cards from 2 topics:",
    "  out/mini-deck.apkg",
    "  out/review-sheet.md",
    "  out/review-questions.md",
    "  out/review-sheet.html",
    "  out/review-questions.html",
    "  out/site/ (9 files; open index.html)",
]


def test_watch_builds_on_each_change_until_ctrl_c(watching: tuple[subprocess.Popen[str], Callable[[str], list[str]], Path]) -> None:
    process, read_until, bank = watching
    # The first build writes the bank's lock (the mini bank has none); the last, after an edit
    # that was undone, finds it as it would write it.
    assert read_until("watching") == [*BUILT[:-1], "  mini/deck.lock", BUILT[-1], "watching mini for changes; press Ctrl-C to stop"]
    path = bank / MINI_FILE
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("id: why-scale", "id: why scale"), encoding="utf-8")
    assert read_until("build failed") == [
        "changed: attention.yaml; building again",
        "mini/attention.yaml:5:9: error: id 'why scale' is not kebab-case: use lowercase letters, digits and single hyphens, starting with a letter [id-format]",
        "build failed: 1 error, 0 warnings in 1 file; the outputs are as they were",
    ]
    path.write_text(good, encoding="utf-8")
    assert read_until("  out/site/") == ["changed: attention.yaml; building again", *BUILT]
    process.send_signal(signal.SIGINT)
    assert read_until("stopped watching") == ["stopped watching"]
    assert process.wait(timeout=120) == 0


@pytest.mark.parametrize(("jobs", "forked"), [("2", 1), ("1", 0)], ids=["two processes", "one process"])
def test_a_watch_writes_a_changed_package_in_a_forked_process_as_a_build_writes_it(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, jobs: str, forked: int
) -> None:
    monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
    out, watcher = _built_watch(mini_bank, tmp_path, epoch)
    forks = fork_counted(monkeypatch)
    files = sorted(os.listdir("/proc/self/fd"))
    edit_mini(mini_bank)
    assert watcher.build(watcher.changes()).error is None
    assert len(forks) == forked  # the package, whose note changed; nothing else
    assert watcher.build().error is None and len(forks) == forked  # nothing changed: the package is copied
    for round in range(3):
        _replace(mini_bank / MINI_FILE, "flat region", f"flat region ({round})")
        assert watcher.build(watcher.changes()).error is None
    assert len(forks) == 4 * forked
    for pid in forks:  # each was waited for, and left nothing open
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    assert sorted(os.listdir("/proc/self/fd")) == files
    _as_a_new_build_writes(mini_bank, tmp_path, monkeypatch)


@pytest.mark.parametrize("room", [0, -1], ids=["room for them", "one too many"])
def test_a_watch_holds_at_most_so_many_notes_that_it_does_not_keep_to_fork_the_package(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, room: int
) -> None:
    # A watch keeps every topic's notes as it read them (tuples); notes that a build made and
    # nothing keeps (lists), held at once to fork the package, would be more than it holds.
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "2")
    out, watcher = _built_watch(mini_bank, tmp_path, epoch)
    by_deck = notes_module.DeckNotes.by_deck

    def made_now(notes: Any) -> Iterator[tuple[tuple[str, ...], str, list[Any]]]:
        for path, name, specs in by_deck(notes):
            yield path, name, list(specs)

    monkeypatch.setattr(notes_module.DeckNotes, "by_deck", made_now)
    built = watcher.build().result
    assert built is not None
    count = sum(len(specs) for _, _, specs in made_now(notes_module.deck_notes(built.bank)))
    monkeypatch.setattr(package_module, "MOST_HELD", count + room)
    forks = fork_counted(monkeypatch)
    edit_mini(mini_bank)
    assert watcher.build(watcher.changes()).error is None
    assert len(forks) == (1 if room == 0 else 0)
    _as_a_new_build_writes(mini_bank, tmp_path, monkeypatch)


@pytest.mark.parametrize("jobs", ["2", "1"], ids=["two processes", "one process"])
def test_a_package_database_that_fills_its_disk_is_an_error_at_the_package(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
    out, watcher = _built_watch(mini_bank, tmp_path, epoch)
    with zipfile.ZipFile(out / "mini-deck.apkg") as package:
        (tmp_path / "collection.anki2").write_bytes(package.read("collection.anki2"))
    connection = sqlite3.connect(tmp_path / "collection.anki2")
    ((pages,),) = connection.execute("PRAGMA page_count").fetchall()
    connection.close()
    before = digests(out)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    # A disk with room for every page of the database but its last.
    monkeypatch.setattr(package_module, "APKG_SCHEMA", f"PRAGMA max_page_count = {pages - 1};\n{package_module.APKG_SCHEMA}")
    edit_mini(mini_bank)
    outcome = watcher.build(watcher.changes())
    assert isinstance(outcome.error, DeckgenError)
    (problem,) = outcome.error.diagnostics
    assert (problem.location.path, problem.rule) == ((out / "mini-deck.apkg").as_posix(), "io")
    assert re.fullmatch(
        rf"cannot write the output: database or disk is full \(writing the package's database in {re.escape(str(scratch))}/deckgen-\w+\)", problem.message
    ), problem.message
    assert digests(out) == before and list(scratch.iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
    assert watcher.build().error is None
    _as_a_new_build_writes(mini_bank, tmp_path, monkeypatch)
