"""Validation: every problem found in one run, each at the node that causes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from deckgen.validate import validate_bank
from tests.bankfiles import TOPIC, write_bank


def problems(root: Path, files: dict[str, str | bytes]) -> list[str]:
    bank, diagnostics = validate_bank(write_bank(root, files))
    assert (bank is None) == any(d.severity.value == "error" for d in diagnostics)
    return [str(d) for d in diagnostics]


@pytest.fixture
def bank_root(in_tmp: Path) -> Path:
    return Path("q")


def test_a_good_bank_has_no_problems(bank_root: Path) -> None:
    bank, diagnostics = validate_bank(write_bank(bank_root))
    assert diagnostics == []
    assert bank is not None
    assert [q.id for q in bank.questions] == ["why-scale"]
    assert bank.questions[0].answer == "To keep the softmax out of saturation."


def test_every_problem_of_a_question_is_reported_at_once(bank_root: Path) -> None:
    topic = """\
topic: Attention
id: attention
section: transformr
questions:
  - id: Why_Scale
    question: [not, text]
    anwser: typo
    sources: paper
  - id: cloze-without-deletion
    type: cloze
    question: Nothing is deleted here.
    answer: clozes have none
    sources: [papr]
  - id: bad-type
    type: flashcard
    question: q
    sources: [paper]
  - question: no id
    answer: a
    sources: []
    tags: [two words, ok]
"""
    assert problems(bank_root, {"attention.yaml": topic}) == [
        "q/attention.yaml:3:10: error: unknown section 'transformr' (did you mean 'transformer'?); sections are listed in deck.yaml [unknown-section]",
        "q/attention.yaml:5:9: error: id 'Why_Scale' is not kebab-case: use lowercase letters, digits and single hyphens, starting with a letter [id-format]",
        "q/attention.yaml:6:15: error: expected text for 'question', found a list [wrong-type]",
        "q/attention.yaml:7:5: error: unknown key 'anwser' in a basic question (did you mean 'answer'?) [unknown-key]",
        "q/attention.yaml:8:14: error: expected a list for 'sources', found 'paper' [wrong-type]",
        "q/attention.yaml:11:15: error: cloze question has no deletion; mark one as {{c1::text}} [cloze-deletion]",
        "q/attention.yaml:12:5: error: unknown key 'answer' in a cloze question [unknown-key]",
        "q/attention.yaml:13:15: error: unknown source 'papr' (did you mean 'paper'?); sources are listed in sources.yaml [unknown-source]",
        "q/attention.yaml:15:11: error: type 'flashcard' is not one of basic, cloze, compare [invalid-value]",
        "q/attention.yaml:18:5: error: missing required key 'id' in a basic question [missing-key]",
        "q/attention.yaml:20:14: error: 'sources' is empty [empty-value]",
        "q/attention.yaml:21:12: error: tag 'two words' contains a space; Anki tags cannot [tag-format]",
    ]


def test_a_placeholder_source_is_a_warning_of_its_own_and_is_not_cited(bank_root: Path) -> None:
    questions = TOPIC.replace("[paper]", "[TODO-pick-a-source]") + (
        "  - id: why-both\n    question: Why cite two?\n    answer: One is a placeholder.\n    sources: [paper, TODO]\n"
        "  - id: why-lowercase\n    question: Why not lowercase?\n    answer: It would be an id.\n    sources: [todo-pick-a-source]\n"
    )
    placeholder = "is a placeholder: cite the reading-list article that covers this card and the original paper, by their ids in sources.yaml [source-placeholder]"
    assert problems(bank_root, {"attention.yaml": questions}) == [
        f"q/attention.yaml:8:15: warning: source 'TODO-pick-a-source' {placeholder}",
        f"q/attention.yaml:12:22: warning: source 'TODO' {placeholder}",
        "q/attention.yaml:16:15: error: unknown source 'todo-pick-a-source'; sources are listed in sources.yaml [unknown-source]",
    ]
    bank, _ = validate_bank(write_bank(bank_root, {"attention.yaml": questions.split("  - id: why-lowercase")[0]}))
    assert bank is not None
    assert [(q.id, q.sources) for q in bank.questions] == [("why-scale", ()), ("why-both", ("paper",))]


def test_duplicate_ids_across_files_name_the_first(bank_root: Path) -> None:
    other = TOPIC.replace("id: attention", "id: attention-two").replace("topic: Attention", "topic: Attention, again")
    assert problems(bank_root, {"sub/other.yml": other}) == [
        "q/sub/other.yml:5:9: error: duplicate question id 'why-scale' (first at q/attention.yaml:5:9) [duplicate-id]",
    ]


def test_compare_rows_are_checked(bank_root: Path) -> None:
    topic = """\
topic: Compare
id: compare
section: transformer
questions:
  - id: xlnet-vs-bert
    type: compare
    question: How do XLNet and BERT differ?
    items: [XLNet, BERT]
    rows:
      - {id: objective, aspect: Objective, values: [PLM, MLM]}
      - {id: objective, aspect: Again, values: [a, b]}
      - {id: three, aspect: Three, values: [a, b, c]}
      - {id: Bad, aspect: "", values: [No, Yes]}
    sources: [paper]
"""
    assert problems(bank_root, {"compare.yaml": topic}) == [
        "q/compare.yaml:11:14: error: duplicate row id 'objective' (first at q/compare.yaml:10:14) [duplicate-id]",
        "q/compare.yaml:12:44: error: row has 3 values but the question compares 2 items [compare-values]",
        "q/compare.yaml:13:14: error: id 'Bad' is not kebab-case: use lowercase letters, digits and single hyphens, starting with a letter [id-format]",
        "q/compare.yaml:13:27: error: 'aspect' is empty [empty-value]",
    ]


def test_compare_values_stay_as_written(bank_root: Path) -> None:
    topic = TOPIC + """\
  - id: yes-no
    type: compare
    question: Which needs what?
    items: [A, B]
    rows:
      - {id: r, aspect: Needs it, values: [No, on]}
      - {id: v, aspect: Version, values: [3.10, 1e3]}
    sources: [paper]
"""
    bank, diagnostics = validate_bank(write_bank(bank_root, {"attention.yaml": topic}))
    assert diagnostics == [] and bank is not None
    rows = bank.questions[1].rows
    assert [r.values for r in rows] == [("No", "on"), ("3.10", "1e3")]


def test_links_must_be_http(bank_root: Path) -> None:
    topic = TOPIC.replace(
        "answer: To keep the softmax out of saturation.",
        "answer: See [this](javascript:alert(1)) and ![a](https://x.org/a.png)",
    )
    assert problems(bank_root, {"attention.yaml": topic}) == [
        "q/attention.yaml:7:13: error: image 'https://x.org/a.png' is not a file in the bank folder; a remote image would be fetched on every review [image]",
        "q/attention.yaml:7:13: error: link target 'javascript:alert(1)' is not an http(s) URL [link-scheme]",
    ]


def test_sources_file_is_checked(bank_root: Path) -> None:
    sources = """\
sources:
  - id: paper
    title: A paper
    url: https://example.org/paper
    section: transformer
  - id: paper
    title: Again
    url: https://example.org/paper
    section: bert
    kind: blog
    year: 17
  - id: ftp
    title: FTP
    url: ftp://example.org/x
    section: transformer
    lang: Chinese
"""
    assert problems(bank_root, {"sources.yaml": sources}) == [
        "q/sources.yaml:6:9: error: duplicate source id 'paper' (first at q/sources.yaml:2:9) [duplicate-id]",
        "q/sources.yaml:8:10: error: duplicate source url 'https://example.org/paper' (first at q/sources.yaml:4:10) [duplicate-url]",
        "q/sources.yaml:9:14: error: unknown section 'bert'; sections are listed in deck.yaml [unknown-section]",
        "q/sources.yaml:10:11: error: kind 'blog' is not one of article, paper, homepage, code [invalid-value]",
        "q/sources.yaml:11:11: error: year '17' is not a four-digit year [invalid-value]",
        "q/sources.yaml:14:10: error: url 'ftp://example.org/x' is not an http(s) URL [invalid-url]",
        "q/sources.yaml:16:11: error: lang 'Chinese' is not a language code such as 'en' or 'zh' [invalid-value]",
    ]


def test_deck_file_is_checked(bank_root: Path) -> None:
    deck = """\
title: T
version: 1
homepage: file:///etc/passwd
sections:
  - {id: transformer, title: Transformer, heading: Transformer}
  - {id: transformer, title: Again, heading: Again}
  - just text
"""
    assert problems(bank_root, {"deck.yaml": deck}) == [
        "q/deck.yaml:1:1: error: missing required key 'description' in deck.yaml [missing-key]",
        "q/deck.yaml:3:11: error: homepage 'file:///etc/passwd' is not an http(s) URL [invalid-url]",
        "q/deck.yaml:6:10: error: duplicate section id 'transformer' (first at q/deck.yaml:5:10) [duplicate-id]",
        "q/deck.yaml:7:5: error: expected a section to be a mapping, found 'just text' [wrong-type]",
    ]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"attention.yaml": "questions:\n"}, [
            "q/attention.yaml:1:1: error: missing required key 'id' in a topic file [missing-key]",
            "q/attention.yaml:1:1: error: missing required key 'section' in a topic file [missing-key]",
            "q/attention.yaml:1:1: error: missing required key 'topic' in a topic file [missing-key]",
            "q/attention.yaml:1:11: error: 'questions' is empty; expected a list of questions [empty-value]",
        ]),
        ({"attention.yaml": "- a list\n"}, ["q/attention.yaml:1:1: error: expected a topic file to be a mapping, found a list [wrong-type]"]),
        ({"attention.yaml": TOPIC.encode("utf-16")}, ["q/attention.yaml:1:1: error: file is UTF-16; save it as UTF-8 without a byte-order mark [encoding]"]),
        ({"attention.yaml": b"topic: caf\xe9\n"}, ["q/attention.yaml:1:11: error: file is not valid UTF-8: byte 0xe9 here; save it as UTF-8 [encoding]"]),
        ({"attention.yaml": b"\xef\xbb\xbf" + TOPIC.encode()}, ["q/attention.yaml:1:1: warning: byte-order mark at the start of the file; save it as UTF-8 without BOM [bom]"]),
        ({"deck.yml": "x: 1\n"}, ["q/deck.yml:1:1: error: both deck.yaml and deck.yml exist; keep one [duplicate-file]"]),
    ],
)
def test_file_level_problems(bank_root: Path, files: dict[str, str | bytes], expected: list[str]) -> None:
    assert problems(bank_root, files) == expected


def test_missing_files_and_empty_folders(in_tmp: Path) -> None:
    Path("empty").mkdir()
    _, diagnostics = validate_bank(Path("empty"))
    assert [str(d) for d in diagnostics] == [
        "empty:1:1: error: no topic banks: add a YAML file with 'topic:' and 'questions:' [no-banks]",
        "empty/deck.yaml:1:1: error: missing deck.yaml: every bank folder needs one [missing-file]",
        "empty/sources.yaml:1:1: error: missing sources.yaml: every bank folder needs one [missing-file]",
    ]
    _, diagnostics = validate_bank(Path("nowhere"))
    assert [str(d) for d in diagnostics] == ["nowhere:1:1: error: bank folder not found [missing-file]"]


def test_yml_and_hidden_files(bank_root: Path) -> None:
    write_bank(bank_root, {".hidden/x.yaml": "not: [valid", "more.yml": TOPIC.replace("why-scale", "why-more").replace("id: attention", "id: more").replace("topic: Attention", "topic: More")})
    bank, diagnostics = validate_bank(bank_root)
    assert diagnostics == [] and bank is not None
    assert [t.id for t in bank.topics] == ["attention", "more"]


def test_a_type_that_is_not_text_is_reported_once(bank_root: Path) -> None:
    topic = TOPIC.replace("  - id: why-scale\n", "  - id: why-scale\n    type: [cloze]\n")
    assert problems(bank_root, {"attention.yaml": topic}) == [
        "q/attention.yaml:6:11: error: expected text for 'type', found a list [wrong-type]",
    ]


@pytest.mark.parametrize(
    ("year", "message"),
    [
        ("1" * 5000, f"year '{'1' * 59}…' is not a four-digit year"),
        ("0x" + "f" * 6000, f"year '0x{'f' * 57}…' is not a four-digit year"),
        ("0999", "year '0999' is not a four-digit year"),
    ],
    ids=["5000-digits", "huge-hex", "leading-zero"],
)
def test_a_bare_year_that_is_no_year_is_an_error_not_a_crash(bank_root: Path, year: str, message: str) -> None:
    sources = f"sources:\n  - id: paper\n    title: A paper\n    url: https://example.org/paper\n    section: transformer\n    year: {year}\n"
    found = problems(bank_root, {"sources.yaml": sources})
    assert f"q/sources.yaml:6:11: error: {message} [invalid-value]" in found


def test_a_bare_year_is_read_as_editors_read_it(bank_root: Path) -> None:
    for year in ("2019", "02019", "+2019", "0x7E3"):
        sources = f"sources:\n  - id: paper\n    title: A paper\n    url: https://example.org/paper\n    section: transformer\n    year: {year}\n"
        bank, diagnostics = validate_bank(write_bank(bank_root, {"sources.yaml": sources}))
        assert bank is not None, diagnostics
        assert bank.sources[0].year == "2019"


def test_a_title_may_hold_any_space_but_a_line_break_or_tab(bank_root: Path) -> None:
    for title in ("Attention\u3000注意力", "Attention\u00a0(scaled)"):
        assert problems(bank_root, {"attention.yaml": TOPIC.replace("topic: Attention", f"topic: {title}")}) == []
    assert problems(bank_root, {"attention.yaml": TOPIC.replace("topic: Attention", "topic: 'Atten\ttion'")}) == [
        "q/attention.yaml:1:8: error: topic 'Atten\\ttion' holds a line break or tab; a deck name is one line [deck-name]",
    ]
