"""`deckgen new`: entries that pass check, with ids, sources and texts to write that check --strict reports."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from deckgen.build import check
from deckgen.cli import main
from deckgen.lint.questions import is_new_id, new_id
from tests.conftest import FIXTURES, ROOT


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


FILL_IN = "rename the question's id, pick its sources and replace its TODOs, then run 'deckgen check --strict'"


def test_new_topic_and_question_pass_check_but_not_strict(in_tmp: Path) -> None:
    shutil.copytree(FIXTURES / "mini", "questions")
    assert run("new", "rope", "--section", "attention", "--title", "Rotary position embedding") == (
        0,
        f"created questions/attention/rope.yaml: {FILL_IN}\n",
        "",
    )
    text = Path("questions/attention/rope.yaml").read_text(encoding="utf-8")
    assert text == (
        "# yaml-language-server: $schema=../../schema/topic.schema.json\n"
        'topic: "Rotary position embedding"\nid: rope\nsection: attention\nquestions:\n'
        "  - id: rope-todo-1\n"
        "    question: >-\n"
        '      TODO Ask one thing and name the model or paper, e.g. "In XLNet, why ...?"\n'
        "    answer: >-\n"
        "      TODO A phrase or one sentence (about 25 words at most).\n"
        "    extra: >-\n"
        "      TODO Optional: the reasoning, derivation or caveats; delete if not needed.\n"
        "    sources: [TODO-pick-a-source]\n"
        "    # Cite the reading-list article that covers the card and the original paper. This section's sources:\n"
        "    #   paper\n"
        "    #   zh-article\n"
    )
    assert run("new", "--question", "questions/attention/rope.yaml") == (
        0,
        f"added question 'rope-todo-2' to questions/attention/rope.yaml: {FILL_IN}\n",
        "",
    )
    bank, diagnostics = check(Path("questions"))
    assert bank is not None
    assert [q.id for t in bank.topics if t.id == "rope" for q in t.questions] == ["rope-todo-1", "rope-todo-2"]
    assert [q.sources for t in bank.topics if t.id == "rope" for q in t.questions] == [(), ()]
    first = [str(d) for d in diagnostics if d.location.line < 14 and d.location.path.endswith("rope.yaml")]
    assert first == [
        "questions/attention/rope.yaml:6:9: warning: id 'rope-todo-1' was made up by 'deckgen new': rename it now to say "
        "what the card asks, since ids are permanent once released [new-id]",
        "questions/attention/rope.yaml:7:15: warning: 'question' still says TODO: write it, or delete it if optional [placeholder]",
        "questions/attention/rope.yaml:9:13: warning: 'answer' still says TODO: write it, or delete it if optional [placeholder]",
        "questions/attention/rope.yaml:11:12: warning: 'extra' still says TODO: write it, or delete it if optional [placeholder]",
        "questions/attention/rope.yaml:13:15: warning: source 'TODO-pick-a-source' is a placeholder: cite the reading-list "
        "article that covers this card and the original paper, by their ids in sources.yaml [source-placeholder]",
    ]
    assert sorted({d.rule for d in diagnostics}) == ["near-duplicate", "new-id", "placeholder", "source-placeholder", "uncited-source"]
    assert run("check", "--strict")[0] == 1


def test_a_question_whose_todos_are_replaced_passes_only_once_its_id_and_sources_are_too(in_tmp: Path) -> None:
    shutil.copytree(FIXTURES / "mini", "questions")
    path = Path("questions/attention/rope.yaml")
    assert run("new", "rope", "--section", "attention")[0] == 0
    written = path.read_text(encoding="utf-8")
    texts = written.replace("TODO Ask one thing and name the model or paper, e.g. \"In XLNet, why ...?\"", "Why does RoPE rotate queries and keys?")
    texts = texts.replace("TODO A phrase or one sentence (about 25 words at most).", "So that their dot product depends on the offset.")
    texts = texts.replace("      TODO Optional: the reasoning, derivation or caveats; delete if not needed.\n", "      Rotation preserves norms.\n")
    path.write_text(texts, encoding="utf-8")
    unused = "questions/sources.yaml:17:5: warning: source 'uncited' is cited by no card [uncited-source]\n"
    assert run("check", "--strict") == (
        1,
        "",
        "questions/attention/rope.yaml:6:9: warning: id 'rope-todo-1' was made up by 'deckgen new': rename it now to say "
        "what the card asks, since ids are permanent once released [new-id]\n"
        "questions/attention/rope.yaml:13:15: warning: source 'TODO-pick-a-source' is a placeholder: cite the reading-list "
        "article that covers this card and the original paper, by their ids in sources.yaml [source-placeholder]\n"
        + unused + "0 errors, 3 warnings in 2 files\n",
    )
    path.write_text(texts.replace("rope-todo-1", "rope-why-rotate").replace("TODO-pick-a-source", "zh-article, paper"), encoding="utf-8")
    assert run("check", "--strict") == (1, "", unused + "0 errors, 1 warning in 1 file\n")


def test_only_ids_of_the_form_new_writes_are_flagged() -> None:
    assert new_id("rope", 3) == "rope-todo-3" and is_new_id("rope-todo-3") and is_new_id("x-todo-12")
    for released in ("todo-1", "rope-todo", "rope-todo-x", "rope-todos-1", "todo-list-1", "rope-1", "xlnet-new-york-example", "rope-todo-١"):
        assert not is_new_id(released), released


def test_the_shipped_banks_hold_no_id_new_would_write() -> None:
    bank, diagnostics = check(ROOT / "questions")
    assert bank is not None and diagnostics == []
    assert [q.id for q in bank.questions if is_new_id(q.id)] == []


def test_new_never_reuses_an_id_of_its_own_form(in_tmp: Path) -> None:
    shutil.copytree(FIXTURES / "mini", "questions")
    assert run("new", "rope", "--section", "attention")[0] == 0
    path = Path("questions/attention/rope.yaml")
    path.write_text(path.read_text(encoding="utf-8").replace("rope-todo-1", "rope-todo-2"), encoding="utf-8")
    assert run("new", "--question", str(path))[1] == f"added question 'rope-todo-1' to questions/attention/rope.yaml: {FILL_IN}\n"
    assert run("new", "--question", str(path))[1] == f"added question 'rope-todo-3' to questions/attention/rope.yaml: {FILL_IN}\n"


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
