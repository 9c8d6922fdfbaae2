"""Editions in another language: translation overlays, how check reads them, and what a build writes."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from click.testing import CliRunner

from deckgen.build import build, check
from deckgen.anki.notes import deck_notes
from deckgen.editions import editions, text_hash
from deckgen.cli import main
from deckgen.load import load_bank
from deckgen.lock import Lock, NoteState, read_lock, repaired
from tests.conftest import FIXTURES, GOLDEN, IF_NEWER, ROOT, check_golden, release_v2, review_first_card

WHY_SCALE_QUESTION = r"In scaled dot-product attention, why divide the logits by $\sqrt{d_k}$?"
WHY_SCALE_ANSWER = "Their variance grows as $d_k$; scaling keeps the softmax out of saturation."


def overlay(question: str = "在缩放点积注意力（scaled dot-product attention）中，为什么要把 logits 除以 $\\sqrt{d_k}$？", **fields: str) -> str:
    """A Chinese overlay of the mini bank's attention topic, translating `why-scale` (and the
    compare's row `where` in lora.zh.yml, written by `zh_bank`)."""
    hashes = {"question": text_hash(WHY_SCALE_QUESTION), "answer": text_hash(WHY_SCALE_ANSWER), **fields}
    return (
        "title: 缩放注意力\n"
        "questions:\n"
        "  - id: why-scale\n"
        f"    from: {{question: {hashes['question']}, answer: {hashes['answer']}}}\n"
        f"    question: \"{question.replace(chr(92), chr(92) * 2)}\"\n"
        "    answer: \"其方差随 $d_k$ 增大；缩放使 softmax 不至于饱和。\"\n"
    )


@pytest.fixture
def zh_bank(in_tmp: Path) -> Path:
    bank = in_tmp / "q"
    shutil.copytree(FIXTURES / "mini", bank)
    deck = bank / "deck.yaml"
    deck.write_text(deck.read_text(encoding="utf-8").replace("sections:", "languages: [en, zh]\nsections:"), encoding="utf-8")
    (bank / "attention.zh.yaml").write_text(overlay(), encoding="utf-8")
    return Path("q")


def messages(bank: Path) -> list[str]:
    """What check says of the translations."""
    return [str(d) for d in check(bank)[1] if d.rule.startswith("translation-") or "zh.yaml" in d.location.path]


def test_the_hash_a_translation_records_is_pinned() -> None:
    # Changing how it is computed would make every translation in every bank stale at once.
    assert text_hash("x") == "2d711642"
    assert text_hash(("a", "b")) == text_hash("a\x1fb")


def test_a_partial_translation_warns_only_for_the_questions_its_topic_leaves_out(zh_bank: Path) -> None:
    assert messages(zh_bank) == [
        "q/attention.zh.yaml:3:3: warning: no zh translation of 'formula': the zh edition shows it in English [translation-missing]",
        "q/attention.zh.yaml:3:3: warning: no zh translation of 'hostile': the zh edition shows it in English [translation-missing]",
    ]


def test_a_changed_english_text_makes_its_translation_stale_at_the_overlays_line(zh_bank: Path) -> None:
    topic = zh_bank / "attention.yaml"
    topic.write_text(topic.read_text(encoding="utf-8").replace("out of saturation.", "away from saturation."), encoding="utf-8")
    new = text_hash(WHY_SCALE_ANSWER.replace("out of", "away from"))
    assert [m for m in messages(zh_bank) if "stale" in m] == [
        f"q/attention.zh.yaml:4:40: warning: the English answer of 'why-scale' changed since it was translated: "
        f"bring the translation up to date, then set from.answer to {new} [translation-stale]"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda text: text.replace("$\\\\sqrt{d_k}$", "$\\\\sqrt{d}$"),
            "q/attention.zh.yaml:5:15: error: the question of 'why-scale' must keep the English math as written: '$\\sqrt{d}$' is not in the English [translation-math]",
        ),
        (
            lambda text: text.replace("- id: why-scale", "- id: why-scales"),
            "q/attention.zh.yaml:3:9: error: 'why-scales' is no question of attention.yaml [translation-id]",
        ),
        (
            lambda text: text.replace("    answer:", "    type: basic\n    answer:"),
            "q/attention.zh.yaml:6:5: error: unknown key 'type' in a translated question; a translation holds id, from, question, answer, extra, items, rows [translation-key]",
        ),
        (
            lambda text: text.replace("answer: ", "answer: x", 1),
            "q/attention.zh.yaml:4:40: error: from.answer should be the 8-character hash of the English it translates [translation-from]",
        ),
        (
            lambda text: text + "    items: [甲, 乙]\n",
            "q/attention.zh.yaml:7:12: error: 'why-scale' has no items in English to translate [translation-key]",
        ),
        (
            lambda text: text + "  - id: why-scale\n    question: 又一次\n",
            "q/attention.zh.yaml:7:9: error: 'why-scale' is translated twice; keep one entry [translation-duplicate]",
        ),
        (
            lambda text: text.replace("    from: {question: ", "    from: {extra: 12345678, question: "),
            "q/attention.zh.yaml:4:12: error: 'from' names extra, which this entry does not translate [translation-from]",
        ),
        (
            lambda text: text.replace("其方差随", "[见](javascript:alert(1))其方差随"),
            "q/attention.zh.yaml:6:13: error: link target 'javascript:alert(1)' is not an http(s) URL [link-scheme]",
        ),
    ],
)
def test_a_translation_that_breaks_a_rule_is_an_error_at_its_line(zh_bank: Path, change: Callable[[str], str], expected: str) -> None:
    path = zh_bank / "attention.zh.yaml"
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    found = messages(zh_bank)
    assert expected in found, found
    assert check(zh_bank)[0] is None


def test_an_overlay_is_not_read_as_a_topic_when_its_language_is_not_an_edition(in_tmp: Path) -> None:
    # A bank valid before editions existed stays valid: `x.zh.yaml` is a topic file there.
    bank = in_tmp / "q"
    shutil.copytree(FIXTURES / "mini", bank)
    (bank / "extra" / "lora.yml").rename(bank / "extra" / "lora.zh.yml")
    assert {t.id for t in load_bank(bank).topics} == {"scaled-attention", "lora-vs-adapter"}


def test_the_build_writes_each_edition_beside_the_english_one(zh_bank: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    result = build(zh_bank, Path("out"))
    names = sorted(p.name for p in result.outputs if p.parent.name == "out")
    assert names == [
        "mini-deck.apkg",
        "mini-deck.zh.apkg",
        "review-questions.html",
        "review-questions.md",
        "review-questions.zh.html",
        "review-questions.zh.md",
        "review-sheet.html",
        "review-sheet.md",
        "review-sheet.zh.html",
        "review-sheet.zh.md",
    ]
    sheet = Path("out/review-sheet.zh.md").read_text(encoding="utf-8")
    assert "**Q1.** 在缩放点积注意力（scaled dot-product attention）中，为什么要把 logits 除以 $`\\sqrt{d_k}`$？" in sheet
    assert "**Q2.** （尚未翻译）Attention is" in sheet
    assert "## 目录" in sheet and "### 缩放注意力" in sheet
    # The English sheets are what they were without the edition.
    assert Path("out/review-sheet.md").read_text(encoding="utf-8") == (Path(__file__).parent / "golden" / "review-sheet.md").read_text(encoding="utf-8")


def test_lang_builds_one_edition(zh_bank: Path, epoch: Callable[[int], None]) -> None:
    from deckgen.build import BuildOptions, build_deck

    epoch(1_700_000_000)
    result = build_deck(BuildOptions(zh_bank, Path("out"), languages=("zh",)))
    assert sorted(p.name for p in result.outputs if p.parent.name == "out") == [
        "mini-deck.zh.apkg",
        "review-questions.zh.html",
        "review-questions.zh.md",
        "review-sheet.zh.html",
        "review-sheet.zh.md",
    ]


ALWAYS = 1  # ImportAnkiPackageUpdateCondition.ALWAYS: what the README says to choose when switching editions


def _import(col: Collection, apkg: Path, update: int) -> None:
    options = ImportAnkiPackageOptions(merge_notetypes=True, update_notes=update, update_notetypes=IF_NEWER, with_scheduling=False, with_deck_configs=False)
    col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg), options=options))


def _texts(col: Collection) -> dict[str, str]:
    return {col.get_note(nid)["ID"]: col.get_note(nid).fields[1] for nid in col.find_notes("")}


def _answer(bank: Path, text: str) -> None:
    """Give `why-scale` a new English answer."""
    topic = bank / "attention.yaml"
    lines = topic.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == "- id: why-scale")
    at = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("answer:"))
    lines[at] = lines[at].split("answer:")[0] + f'answer: "{text}"\n'
    topic.write_text("".join(lines), encoding="utf-8")


def test_an_english_edit_leaves_the_translations_time_and_package_as_they_were(zh_bank: Path, epoch: Callable[[int], None]) -> None:
    # A clock that stands still, as under SOURCE_DATE_EPOCH: each edit steps the English time on by one.
    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    chinese = Path("out/mini-deck.zh.apkg").read_bytes()
    times = []
    for edit in range(3):
        _answer(zh_bank, f"Their variance grows as $d_k$ (edit {edit}).")
        build(zh_bank, Path("out"))
        lock, _ = read_lock(zh_bank)
        assert lock is not None
        times.append((lock.notes["why-scale"].mtime, lock.notes["why-scale"].editions[0][2]))
        # The translation did not change, so neither does its note: Anki gives the learner's
        # own edits of it no reason to be replaced.
        assert Path("out/mini-deck.zh.apkg").read_bytes() == chinese
    # The English time steps over the translation's (1,700,000,001) and never takes it.
    assert times == [(1_700_000_002, 1_700_000_001), (1_700_000_003, 1_700_000_001), (1_700_000_004, 1_700_000_001)]
    # And the lock is the one the next build would write.
    assert [d.rule for d in check(zh_bank, locked=True)[1] if d.rule.startswith("lock")] == []


def test_an_editions_time_from_the_future_is_refused_and_repaired(zh_bank: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    path = zh_bank / "deck.lock"
    text = path.read_text(encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if row.strip().startswith('"why-scale"'))
    # A pull request can write any time into the lock, a translation's too.
    path.write_text(text.replace('"mtime": 1700000001}}, "hash": "612b', '"mtime": 99999999999}}, "hash": "612b'), encoding="utf-8")
    assert [str(d) for d in check(zh_bank)[1] if d.rule == "lock-time"] == [
        f"q/deck.lock:{line}:5: error: note 'why-scale' in the zh edition has the time 5138-11-16 09:46:39 UTC, "
        "later than tomorrow: every release would overwrite learners' own edits of it. A build with a wrong clock or "
        "SOURCE_DATE_EPOCH wrote it; run 'deckgen repair-lock' [lock-time]"
    ]
    result = CliRunner().invoke(main, ["repair-lock", "q"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("set 1 time in q/deck.lock back to ")
    lock, problems = read_lock(zh_bank)
    assert lock is not None and problems == []
    assert 1_700_000_001 < lock.notes["why-scale"].editions[0][2] <= time.time() + 1
    assert lock.notes["why-scale"].mtime == 1_700_000_000
    assert [str(d) for d in check(zh_bank)[1] if d.rule == "lock-time"] == []


def test_an_editions_time_set_back_never_takes_its_notes() -> None:
    note = NoteState("basic", "0123456789abcdef", 5_000, "fedcba9876543210", None, (("zh", "0011223344556677", 99_999_999_999),))
    fixed, count = repaired(Lock({}, {"n": note}, {}, "1.0.0"), 5_000)
    assert count == 1
    assert fixed.notes["n"] == replace(note, editions=(("zh", "0011223344556677", 4_999),))
    # A note and its translation both from the future: each set back, one second apart.
    both = replace(note, mtime=99_999_999_999)
    fixed, count = repaired(Lock({}, {"n": both}, {}, "1.0.0"), 5_000)
    assert count == 2
    assert (fixed.notes["n"].mtime, fixed.notes["n"].editions) == (5_000, (("zh", "0011223344556677", 4_999),))
    # A note from the future whose translation has the time it is set back to.
    fixed, count = repaired(Lock({}, {"n": replace(both, editions=(("zh", "0011223344556677", 5_000),))}, {}, "1.0.0"), 5_000)
    assert count == 2
    assert (fixed.notes["n"].mtime, fixed.notes["n"].editions) == (5_000, (("zh", "0011223344556677", 4_999),))
    # Times that are not from the future are left as they are.
    assert repaired(Lock({}, {"n": note}, {}, "1.0.0"), 99_999_999_999) == (Lock({}, {"n": note}, {}, "1.0.0"), 0)


@pytest.mark.slow
def test_a_learner_moves_between_editions_in_real_anki_and_keeps_every_review(
    zh_bank: Path, epoch: Callable[[int], None], collection: Collection
) -> None:
    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    english, chinese = Path("out/mini-deck.apkg"), Path("out/mini-deck.zh.apkg")
    _import(collection, english, IF_NEWER)
    notes, decks = len(collection.find_notes("")), sorted(d.name for d in collection.decks.all_names_and_ids())
    collection.decks.select(collection.decks.id_for_name("Mini Deck"))
    reviewed = [review_first_card(collection) for _ in range(3)]
    revlog = collection.db.scalar("select count() from revlog")
    assert revlog == 3
    models = sorted(m.name for m in collection.models.all_names_and_ids())
    # To the Chinese edition, as the README says: Update notes "Always".
    _import(collection, chinese, ALWAYS)
    texts = _texts(collection)
    assert len(collection.find_notes("")) == notes  # the same notes, none added
    assert texts["why-scale"].startswith("<p>在缩放点积注意力（scaled dot-product attention）中")
    assert texts["hostile"].startswith("<p>（尚未翻译）What does")
    assert collection.db.scalar("select count() from revlog") == revlog
    assert all(collection.get_card(cid).reps == 1 for cid in reviewed)
    assert sorted(d.name for d in collection.decks.all_names_and_ids()) == decks  # one deck tree for both
    assert sorted(m.name for m in collection.models.all_names_and_ids()) == models  # no copy of a note type
    topic = collection.get_note(collection.find_notes('"ID:why-scale"')[0])["Topic"]
    assert topic == '<span lang="zh-Hans">缩放注意力</span>'
    # And back to English.
    _import(collection, english, ALWAYS)
    back = _texts(collection)
    assert back["why-scale"] == "<p>In scaled dot-product attention, why divide the logits by \\(\\sqrt{d_k}\\)?</p>"
    assert len(collection.find_notes("")) == notes
    assert collection.db.scalar("select count() from revlog") == revlog
    assert all(collection.get_card(cid).reps == 1 for cid in reviewed)


@pytest.mark.slow
def test_the_chinese_edition_imports_alone(zh_bank: Path, epoch: Callable[[int], None], collection: Collection) -> None:
    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    _import(collection, Path("out/mini-deck.zh.apkg"), IF_NEWER)
    assert _texts(collection)["why-scale"].startswith("<p>在缩放点积注意力")
    assert sorted(d.name for d in collection.decks.all_names_and_ids() if "::" in d.name) == ["Mini Deck::Attention", "Mini Deck::Attention::Scaled attention", "Mini Deck::Fine-Tuning", "Mini Deck::Fine-Tuning::LoRA vs Adapter"]


def _translated_deck(bank: Path) -> None:
    """A deck.zh.yaml beside the mini bank that translates the deck's title and every section's title."""
    titles = {"attention": ("Attention", "注意力"), "peft": ("Fine-Tuning", "微调"), "unused": ("Unused", "未用")}
    sections = "".join(f'  - {{id: {key}, title: "{zh}", from: {{title: {text_hash(en)}}}}}\n' for key, (en, zh) in titles.items())
    description = text_hash("A tiny bank that exercises every question type.")
    (bank / "deck.zh.yaml").write_text(
        f"title: 迷你牌组\ndescription: 一个小小的题库。\nfrom: {{title: {text_hash('Mini Deck')}, description: {description}}}\nsections:\n{sections}",
        encoding="utf-8",
    )


@pytest.mark.slow
def test_a_translated_deck_title_keeps_one_deck_tree_in_real_anki(zh_bank: Path, epoch: Callable[[int], None], collection: Collection) -> None:
    # Every edition names its decks in English, the root and the sections as the topics: the
    # Chinese package's decks are the English package's, whatever deck.zh.yaml calls them, and
    # its description is the one in Chinese.
    _translated_deck(zh_bank)
    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    _import(collection, Path("out/mini-deck.zh.apkg"), IF_NEWER)
    names = sorted(d.name for d in collection.decks.all_names_and_ids())
    assert names == ["Default", "Mini Deck", "Mini Deck::Attention", "Mini Deck::Attention::Scaled attention", "Mini Deck::Fine-Tuning", "Mini Deck::Fine-Tuning::LoRA vs Adapter"]
    assert collection.decks.by_name("Mini Deck")["desc"].startswith("<p>一个小小的题库。</p>")
    _import(collection, Path("out/mini-deck.apkg"), ALWAYS)
    assert sorted(d.name for d in collection.decks.all_names_and_ids()) == names


RELEASE_0_2_0 = "c91f1a0"
"""The commit that released 0.2.0, whose Chinese package named its top deck and sections in Chinese."""


@pytest.mark.slow
def test_a_learner_who_started_with_the_chinese_edition_keeps_every_deck_and_review(
    zh_bank: Path, epoch: Callable[[int], None], collection: Collection, tmp_path: Path
) -> None:
    # Built by 0.2.0's own code, the Chinese package left its top deck out: Anki made one by
    # name, with no description. This deckgen's package goes over it: the same decks, the same
    # cards in them, the same reviews, and now the description.
    _translated_deck(zh_bank)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", RELEASE_0_2_0, "src"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path / "v0.2.0", filter="data")
    environment = {**os.environ, "PYTHONPATH": str(tmp_path / "v0.2.0" / "src"), "SOURCE_DATE_EPOCH": "1700000000"}
    subprocess.run([sys.executable, "-m", "deckgen", "build", str(zh_bank), "--out", "old"], env=environment, capture_output=True, check=True)
    _import(collection, Path("old/mini-deck.zh.apkg"), IF_NEWER)
    assert collection.decks.by_name("Mini Deck")["desc"] == ""
    collection.decks.select(collection.decks.id_for_name("Mini Deck::Attention::Scaled attention"))
    reviewed = review_first_card(collection)

    def placed() -> tuple[list[tuple[str, int]], list[tuple[int, int, int]]]:
        cards = [collection.get_card(cid) for cid in collection.find_cards("")]
        return sorted((d.name, d.id) for d in collection.decks.all_names_and_ids()), sorted((c.id, c.did, c.reps) for c in cards)

    before = placed()
    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    _import(collection, Path("out/mini-deck.zh.apkg"), IF_NEWER)
    assert placed() == before
    assert collection.get_card(reviewed).reps == 1
    assert collection.db.scalar("select count() from revlog") == 1
    assert collection.decks.by_name("Mini Deck")["desc"].startswith("<p>一个小小的题库。</p>\n<p>版本 1.2.3 · ")


def test_every_deck_is_named_under_its_parent_in_every_edition(zh_bank: Path) -> None:
    # Each deck's name is its parent's and its own part, in English: a root or a section named
    # otherwise is a deck of its own to Anki, which it never imports (see above).
    _translated_deck(zh_bank)
    english = load_bank(zh_bank)
    chinese = editions(english)[0][1].bank
    assert chinese.deck.title == "迷你牌组"
    named = [{d.path: d.name for d in deck_notes(bank).decks} for bank in (english, chinese)]
    assert named[0] == named[1] == {
        ("mini-deck",): "Mini Deck",
        ("mini-deck", "attention"): "Mini Deck::Attention",
        ("mini-deck", "attention", "scaled-attention"): "Mini Deck::Attention::Scaled attention",
        ("mini-deck", "peft"): "Mini Deck::Fine-Tuning",
        ("mini-deck", "peft", "lora-vs-adapter"): "Mini Deck::Fine-Tuning::LoRA vs Adapter",
    }


GLOSSARY = """\
terms:
  - {en: attention, zh: 注意力}
  - {en: scaled dot-product attention, zh: 缩放点积注意力}
  - {en: fine-tuning, zh: 微调, avoid: [精调]}
"""


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        (
            "缩放点积注意力（scaled dot-product attention）中，是否要把 logits 除以 $\\\\sqrt{d_k}$？",
            "其方差随 $d_k$ 增大；缩放使 softmax 不至于饱和。",
            "q/attention.zh.yaml:5:15: warning: a yes/no question (是否, 吗): ask for the fact itself (什么, 为什么, 如何) [zh-yes-no-question]",
        ),
        (
            "这在缩放点积注意力（scaled dot-product attention）中为什么要除以 $\\\\sqrt{d_k}$？",
            "其方差随 $d_k$ 增大；缩放使 softmax 不至于饱和。",
            "q/attention.zh.yaml:5:15: warning: the question opens with 它 or 这: name what it asks about [zh-vague-start]",
        ),
        (
            "缩放点积注意力中，为什么要把 logits 除以 $\\\\sqrt{d_k}$？",
            "其方差随 $d_k$ 增大；缩放使 softmax 不至于饱和。",
            "q/attention.zh.yaml:5:15: warning: the first 缩放点积注意力 of the card (its question) needs its English after it: "
            "缩放点积注意力（scaled dot-product attention） [glossary-english]",
        ),
        (
            "缩放点积注意力（scaled dot-product attention）中，为什么要把 logits 除以 $\\\\sqrt{d_k}$？",
            "其方差随 $d_k$ 增大，注意力会饱和。",
            "q/attention.zh.yaml:6:13: warning: the first 注意力 of the card (its answer) needs its English after it: 注意力（attention） [glossary-english]",
        ),
        (
            "缩放点积注意力（scaled dot-product attention）中，为什么要把 logits 除以 $\\\\sqrt{d_k}$？",
            "其方差随 $d_k$ 增大；精调时也一样。",
            "q/attention.zh.yaml:6:13: warning: '精调' in the answer: the glossary's term is 微调（fine-tuning） [glossary-variant]",
        ),
        (
            "缩放点积注意力（scaled dot-product attention）中，为什么要把 logits 除以 $\\\\sqrt{d_k}$？",
            "其方差随着维度 $d_k$ 的增大而线性地增大，于是点积的数值也会跟着变得越来越大，最终把 softmax 推进梯度极小、几乎不再更新的饱和区域。",
            "q/attention.zh.yaml:6:13: warning: answer has 55 characters (at most about 50): keep the core, move reasoning to 'extra' [zh-answer-length]",
        ),
    ],
)
def test_the_chinese_lint_reads_the_translations(zh_bank: Path, question: str, answer: str, expected: str) -> None:
    (zh_bank / "glossary.zh.yaml").write_text(GLOSSARY, encoding="utf-8")
    text = overlay(question.replace("\\\\", "\\")).replace("其方差随 $d_k$ 增大；缩放使 softmax 不至于饱和。", answer)
    (zh_bank / "attention.zh.yaml").write_text(text, encoding="utf-8")
    assert [m for m in messages(zh_bank) if "translation-missing" not in m] == [expected]


def test_the_chinese_lint_passes_a_good_card_and_leaves_english_to_the_english_rules(zh_bank: Path) -> None:
    # 来自编码器 holds the term 编码器 (encoder), not 自编码 (autoencoding), which it overlaps.
    glossary = GLOSSARY + "  - {en: autoencoding, zh: 自编码}\n  - {en: encoder, zh: 编码器}\n"
    (zh_bank / "glossary.zh.yaml").write_text(glossary, encoding="utf-8")
    text = (zh_bank / "attention.zh.yaml").read_text(encoding="utf-8")
    (zh_bank / "attention.zh.yaml").write_text(text.replace("缩放使 softmax", "来自编码器（encoder）的缩放使 softmax"), encoding="utf-8")
    # 缩放点积注意力 is one use of itself, not of 注意力; the untranslated cards are not read.
    assert [m for m in messages(zh_bank) if "translation-missing" not in m] == []


def test_a_broken_glossary_is_an_error_at_its_line(zh_bank: Path) -> None:
    (zh_bank / "glossary.zh.yaml").write_text(GLOSSARY + "  - {en: attention again, zh: 注意力}\n  - just text\n", encoding="utf-8")
    assert [m for m in messages(zh_bank) if "glossary" in m] == [
        "q/glossary.zh.yaml:5:31: error: 注意力 is in the glossary twice (also at q/glossary.zh.yaml:2:25) [glossary]",
        "q/glossary.zh.yaml:6:5: error: expected a term: {en: …, zh: …, avoid: [...]} [glossary]",
    ]


def test_an_empty_glossary_term_is_an_error_at_its_line(zh_bank: Path) -> None:
    # An empty term would be found at every place of every text, an empty variant in every text.
    glossary = GLOSSARY + '  - {en: encoder, zh: ""}\n  - {en: " ", zh: 编码器}\n  - {en: decoder, zh: 解码器, avoid: [解码, ""]}\n'
    (zh_bank / "glossary.zh.yaml").write_text(glossary, encoding="utf-8")
    assert [m for m in messages(zh_bank) if "glossary" in m] == [
        "q/glossary.zh.yaml:5:23: error: a glossary term, its English and each variant to avoid are text: this one is empty [glossary]",
        "q/glossary.zh.yaml:6:10: error: a glossary term, its English and each variant to avoid are text: this one is empty [glossary]",
        "q/glossary.zh.yaml:7:40: error: a glossary term, its English and each variant to avoid are text: this one is empty [glossary]",
    ]


def test_diff_compares_the_edition_it_is_asked_for(zh_bank: Path, tmp_path: Path, epoch: Callable[[int], None]) -> None:
    from deckgen.diff import package_for
    from deckgen.model import DeckgenError

    epoch(1_700_000_000)
    assert package_for(None, zh_bank, tmp_path / "zh", "zh").name == "mini-deck.zh.apkg"
    assert package_for(None, zh_bank, tmp_path / "en", "en").name == "mini-deck.apkg"
    with pytest.raises(DeckgenError) as refused:
        package_for(None, zh_bank, tmp_path / "fr", "fr")
    assert [str(d) for d in refused.value.diagnostics] == ["q:1:1: error: the working tree has no 'fr' edition (deck.yaml's languages) [diff]"]


def test_new_translate_starts_an_overlay_that_check_follows_until_it_is_translated(zh_bank: Path) -> None:
    from click.testing import CliRunner

    from deckgen.cli import main

    run = CliRunner().invoke(main, ["new", "--translate", "q/extra/lora.yml", "--bank", "q"])
    assert (run.exit_code, run.output) == (
        0,
        "q/extra/lora.zh.yml: added 2 entries to translate: replace each 'TODO translate:' text, then run 'deckgen check --strict'\n",
    )
    overlay = zh_bank / "extra" / "lora.zh.yml"
    assert [m for m in messages(zh_bank) if "lora" in m] == [
        "q/extra/lora.zh.yml:2:8: warning: the title of lora.yml is still the English to translate [translation-todo]",
        "q/extra/lora.zh.yml:6:15: warning: the question of 'lora-adapter' is still the English to translate [translation-todo]",
        "q/extra/lora.zh.yml:19:15: warning: the question of 'lora-code' is still the English to translate [translation-todo]",
        "q/extra/lora.zh.yml:20:13: warning: the answer of 'lora-code' is still the English to translate [translation-todo]",
    ]
    text = overlay.read_text(encoding="utf-8")
    for english, chinese in [
        ("LoRA vs Adapter", "LoRA 与 Adapter"),
        ("How do LoRA and adapters differ?", "LoRA 与 adapter 有何不同？"),
        ("Where parameters are added", "参数加在哪里"),
        ("Low-rank $\\\\Delta W = BA$ beside a weight", "权重旁的低秩 $\\\\Delta W = BA$"),
        ("Bottleneck layers | in series", "串联的瓶颈层"),
        ("Extra inference latency", "额外的推理延迟"),
        ('"TODO translate: No"', '"无"'),
        ('"TODO translate: Yes"', '"有"'),
        ("In PyTorch, how is a LoRA update merged into a weight?", "在 PyTorch 中，如何把 LoRA 更新合并进权重？"),
    ]:
        assert english in text, english
        text = text.replace(english, chinese)
    text = text.replace("TODO translate: \\n\\n```python", "```python").replace("TODO translate: ", "")
    overlay.write_text(text, encoding="utf-8")
    assert [m for m in messages(zh_bank) if "lora" in m] == []
    # A second run adds nothing: every question has its entry.
    again = CliRunner().invoke(main, ["new", "--translate", "q/extra/lora.yml", "--bank", "q"])
    assert again.output == "q/extra/lora.zh.yml: every question already has an entry: replace each 'TODO translate:' text, then run 'deckgen check --strict'\n"


@pytest.mark.parametrize("name", ["review-sheet.zh.md", "review-questions.zh.md", "review-sheet.zh.html", "review-questions.zh.html"])
def test_the_chinese_sheets_match_golden(zh_bank: Path, epoch: Callable[[int], None], name: str) -> None:
    from deckgen.render import code_css

    epoch(1_700_000_000)
    (zh_bank / "glossary.zh.yaml").write_text(GLOSSARY, encoding="utf-8")
    build(zh_bank, Path("out"))
    page = Path("out", name).read_text(encoding="utf-8")
    check_golden(GOLDEN / name, page.replace(code_css(), "/* Pygments styles */\n"))


@pytest.mark.slow
def test_the_reviewer_shows_each_editions_labels(zh_bank: Path, epoch: Callable[[int], None], tmp_path: Path) -> None:
    # The card's own labels follow the note's language (its Topic field), in Anki's own reviewer.
    from tests.anki_reviewer import collection_cards, render_cards

    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    probe = "(qa, side) => side === 'answer' ? [...qa.querySelectorAll('.dg-report span')].filter(s => s.offsetParent).map(s => s.textContent) : null"
    shown = []
    for package in ("mini-deck.apkg", "mini-deck.zh.apkg"):
        col = Collection(str(tmp_path / f"{package}.anki2"))
        try:
            _import(col, Path("out", package), IF_NEWER)
            inputs = collection_cards(col, '"ID:why-scale"')
            views = render_cards([(i.question, i.answer) for i in inputs], probe=probe)
            shown.append(views[0].answer.probe)
        finally:
            col.close()
    assert shown == [["report a problem"], ["报告问题"]]


def test_a_retired_note_carries_its_banner_in_the_editions_language(zh_bank: Path, epoch: Callable[[int], None]) -> None:
    from deckgen.anki.read import read_package

    release_v2(zh_bank)
    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    english, chinese = (read_package(Path("out", name)) for name in ("mini-deck.apkg", "mini-deck.zh.apkg"))
    fronts = [dict(next(n for n in package.notes.values() if n.key == "hostile").fields)["Question"] for package in (english, chinese)]
    assert fronts[0].startswith('<div class="dg-retired"><strong>Retired: delete this card.</strong> Superseded by the safety tests.')
    assert fronts[1].startswith('<div class="dg-retired"><strong>已停用：请删除这张卡片。</strong> Superseded by the safety tests.（在“浏览”中搜索')
    # Both editions hold the same notes, under the same GUIDs.
    assert {n.guid: n.key for n in english.notes.values()} == {n.guid: n.key for n in chinese.notes.values()}


def test_each_editions_bibliography_glosses_titles_in_its_own_language(zh_bank: Path, epoch: Callable[[int], None]) -> None:
    sources = zh_bank / "sources.yaml"
    sources.write_text(
        sources.read_text(encoding="utf-8")
        .replace('    kind: paper\n', '    kind: paper\n    title_zh: "注意力就是你所需要的全部"\n')
        .replace("    lang: zh\n", '    lang: zh\n    title_en: "Why use different K and Q [notes]"\n'),
        encoding="utf-8",
    )
    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    english, chinese = (Path("out", name).read_text(encoding="utf-8") for name in ("review-sheet.html", "review-sheet.zh.html"))
    assert '<cite>Attention Is All You Need</cite>. ' in english and "注意力就是你所需要的全部" not in english
    assert '<cite lang="zh">为什么使用不同的K和Q [笔记]</cite> <span class="gloss">(Why use different K and Q [notes])</span>. ' in english
    assert '<cite>Attention Is All You Need</cite> <span class="gloss">(注意力就是你所需要的全部)</span>. ' in chinese
    assert '<cite lang="zh">为什么使用不同的K和Q [笔记]</cite>. ' in chinese and "Why use different K" not in chinese


def test_a_handout_of_an_edition_is_titled_in_its_language(zh_bank: Path, epoch: Callable[[int], None]) -> None:
    from deckgen.build import BuildOptions, Selection, build_deck

    epoch(1_700_000_000)
    build_deck(BuildOptions(zh_bank, Path("out"), Selection(topics=("scaled-attention",)), languages=("zh",)))
    lines = Path("out/review-sheet.zh.md").read_text(encoding="utf-8").splitlines()
    assert lines[:3] == ["# 缩放注意力", "", "摘自《Mini Deck》，版本 1.2.3 · 3 道题：在 Anki 中为 3 条笔记、4 张卡片 · <https://example.org/mini>"]


def test_the_chinese_decks_description_is_in_chinese(zh_bank: Path, epoch: Callable[[int], None]) -> None:
    from deckgen.anki.package import deck_description_html
    from deckgen.editions import edition
    from deckgen.release import read_release

    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    lock = read_release(zh_bank).lock
    assert lock is not None
    made, _ = edition(load_bank(zh_bank), "zh")
    assert made is not None
    description = deck_description_html(made.bank, lock.edition("zh"))
    assert description.splitlines()[1:] == [
        '<p>版本 1.2.3 · <a href="https://example.org/mini">1.2.3 的更新内容</a> · <a href="https://example.org/mini">https://example.org/mini</a></p>',
        "<p>建议设置（牌组选项）：每天 10–20 张新卡片；开启 FSRS，保持默认的期望保留率 0.90。请用旗标而不是标签标记卡片：更新会替换被修改笔记的标签。"
        "导入更新时，不要勾选 <em>Import any deck presets</em>（导入牌组预设）。</p>",
    ]


def test_an_editions_questions_share_what_they_have_as_in_english(zh_bank: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> None:
    from deckgen import editions
    from deckgen.cache import BuildCache
    from deckgen.editions import edition

    found: list[object] = []
    read = editions._cached

    def cached(*args: Any) -> Any:
        found.append(read(*args))
        return found[-1]

    monkeypatch.setattr(editions, "_cached", cached)
    release_v2(zh_bank)  # a retired question too
    epoch(1_700_000_000)
    build(zh_bank, Path("out"))
    english = load_bank(zh_bank)
    originals = {q.id: q for topic in english.topics for q in topic.questions}
    # Read from the overlays, then from the cache the build wrote: each reading makes a copy of
    # every value, which the edition gives up for the English question's own when they are equal.
    for cache in (None, BuildCache(Path("out"), writable=False)):
        try:
            made, _ = edition(english, "zh", cache)
        finally:
            if cache is not None:
                cache.close()
        assert made is not None
        compared = []
        for topic in made.bank.topics:
            for question in topic.questions:
                original = originals[question.id]
                for name in ("id", "location", "sources", "tags", "items", "images"):
                    value = getattr(question, name)
                    if value == getattr(original, name) and value != ():
                        assert value is getattr(original, name), (question.id, name)
                        compared.append(name)
                if question.id == "why-scale":  # translated: its own text, and where that is written
                    assert question.question.startswith("在缩放点积注意力")
                    assert question.field_locations != original.field_locations
        assert set(compared) == {"id", "location", "sources", "tags", "items"}
        retired = [(topic.retired, english.topic(topic.id).retired) for topic in made.bank.topics if topic.retired]
        assert retired and all(ours is theirs for ours, theirs in retired)
    assert found[-1] is not None  # the second reading came from the cache
