"""`deckgen new`: entries that pass check, with fresh ids, and TODOs the lint reports."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from deckgen.build import check
from deckgen.cli import main
from tests.conftest import FIXTURES


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_new_topic_and_question_pass_check_but_not_strict(in_tmp: Path) -> None:
    shutil.copytree(FIXTURES / "mini", "questions")
    assert run("new", "rope", "--section", "attention", "--title", "Rotary position embedding") == (
        0,
        "created questions/attention/rope.yaml: replace its TODOs, then run 'deckgen check'\n",
        "",
    )
    text = Path("questions/attention/rope.yaml").read_text(encoding="utf-8")
    assert text.startswith(
        "# yaml-language-server: $schema=../../schema/topic.schema.json\n"
        "topic: \"Rotary position embedding\"\nid: rope\nsection: attention\nquestions:\n  - id: rope-1\n"
    )
    assert "    sources: [paper]\n" in text and "    #   zh-article\n" in text
    assert run("new", "--question", "questions/attention/rope.yaml") == (
        0,
        "added question 'rope-2' to questions/attention/rope.yaml: replace its TODOs\n",
        "",
    )
    bank, diagnostics = check(Path("questions"))
    assert bank is not None
    assert [q.id for t in bank.topics if t.id == "rope" for q in t.questions] == ["rope-1", "rope-2"]
    placeholders = [str(d) for d in diagnostics if d.rule == "placeholder"]
    assert placeholders[0] == "questions/attention/rope.yaml:7:15: warning: 'question' still says TODO: write it, or delete it if optional [placeholder]"
    assert len(placeholders) == 6
    assert run("check", "--strict")[0] == 1


def test_new_refuses_used_ids_unknown_sections_and_bad_calls(in_tmp: Path) -> None:
    shutil.copytree(FIXTURES / "mini", "questions")
    assert run("new", "why-scale", "--section", "attention") == (
        1, "", "why-scale:1:1: error: id 'why-scale' is already used [new]\n"
    )
    assert run("new", "rope", "--section", "attn") == (
        1, "", "attn:1:1: error: unknown section 'attn'; sections are: attention, peft, unused [new]\n"
    )
    code, _, err = run("new", "rope")
    assert code == 2 and "a new topic needs TOPIC_ID and --section" in err


def test_new_quotes_titles_and_refuses_to_append_after_other_keys(in_tmp: Path) -> None:
    shutil.copytree(FIXTURES / "mini", "questions")
    assert run("new", "lora-rank", "--section", "peft", "--title", "LoRA: why low rank \"works\"")[0] == 0
    assert 'topic: "LoRA: why low rank \\"works\\""\n' in Path("questions/peft/lora-rank.yaml").read_text(encoding="utf-8")
    with open("questions/peft/lora-rank.yaml", "a", encoding="utf-8") as f:
        f.write('lint: {ignore: [no-why-card], reason: "Numbers only."}\n')
    assert run("new", "--question", "questions/peft/lora-rank.yaml") == (
        1, "", "questions/peft/lora-rank.yaml:1:1: error: 'questions:' is not the file's last key; add the question by hand [new]\n"
    )
    bank, _ = check(Path("questions"))
    assert bank is not None
