"""Nothing a bank says runs as HTML or script, in a card or in a sheet; nothing crashes the loader."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from deckgen.build import Selection, build, check
from deckgen.load import MAX_FILE_BYTES, parse_text
from deckgen.model import DeckgenError
from tests.bankfiles import DECK, SOURCES, TOPIC, write_bank
from tests.inert import assert_inert, assert_inert_html_output, assert_inert_page, assert_inert_site_page, note_fields

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<iframe src=https://example.org></iframe>",
    "<style>body{display:none}</style>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<!-- comment --> <![CDATA[x]]> <?php ?>",
    "[sound:evil.mp3] [latex]\\input{/etc/passwd}[/latex] [$]x[/$] [anki:tts]x[/anki:tts]",
    "&lt;script&gt; &#60;script&#62;",
    "`<script>` in code",
    "$<script>alert(1)</script>$",
    "$\\text{<svg/onload=alert(1)>}$",
]
ANKI_MARKUP = re.compile(r"\[(sound:|latex\]|\$\]|\$\$\]|anki:)")
def hostile_topic() -> str:
    lines = ["topic: Hostile", "id: hostile", "section: transformer", "questions:"]
    for i, payload in enumerate(PAYLOADS):
        quoted = payload.replace("\\", "\\\\").replace('"', '\\"')
        lines += [
            f"  - id: hostile-{i}",
            f'    question: "Why is {quoted} harmless?"',
            f'    answer: "Because {quoted} is text."',
            f'    extra: "{quoted}"',
            "    sources: [paper]",
            '    lint: {ignore: [answer-length, near-duplicate], reason: "Safety fixture."}',
        ]
    return "\n".join(lines) + "\n"


def test_hostile_text_is_inert_in_the_deck_and_in_sheets(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    bank = write_bank(Path("q"), {"hostile.yaml": hostile_topic()})
    result = build(bank, Path("out"))
    fields = note_fields(result.outputs[0])
    assert len(fields) == 6 * (len(PAYLOADS) + 1)
    for field in fields:
        assert_inert(field)
        assert not ANKI_MARKUP.search(field), field
    assert any("&lt;script&gt;" in field for field in fields)
    for page in [p for p in result.outputs if p.suffix == ".html"]:
        assert_inert_html_output(page)
    # A permissive viewer (raw HTML on, as in VS Code or Typora) still finds nothing live.
    viewer = MarkdownIt("commonmark", {"html": True})
    for sheet in [p for p in result.outputs if p.suffix == ".md"]:
        html = viewer.render(sheet.read_text(encoding="utf-8"))
        assert_inert(html)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_huge_file_is_refused_without_reading_it(in_tmp: Path) -> None:
    bank = write_bank(Path("q"))
    with open(bank / "huge.yaml", "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    _, diagnostics = check(bank)
    assert [str(d) for d in diagnostics] == [
        "q/huge.yaml:1:1: error: file is 16 MiB; a bank file may hold at most 16 MiB, so split it into topics [file-size]"
    ]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_loads_or_gives_located_diagnostics(text: str) -> None:
    root, diagnostics = parse_text(text, "fuzz.yaml")
    for diagnostic in diagnostics:
        assert diagnostic.location.path == "fuzz.yaml"
        assert diagnostic.location.line >= 1 and diagnostic.location.col >= 1
    assert root is not None or diagnostics


GOOD_FILES = {"deck.yaml": DECK, "sources.yaml": SOURCES, "attention.yaml": TOPIC}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(sorted(GOOD_FILES)),
    position=st.floats(min_value=0, max_value=1),
    cut=st.integers(min_value=0, max_value=8),
    insert=st.text(alphabet=st.sampled_from(list(" \t\n:-[]{}&*!|>'\"#%@`$\\,?") + ["a", "é", "中"]), max_size=8),
)
def test_mutated_banks_never_crash(tmp_path: Path, name: str, position: float, cut: int, insert: str) -> None:
    original = GOOD_FILES[name]
    at = int(position * len(original))
    mutated = original[:at] + insert + original[at + cut :]
    root = tmp_path / f"bank-{abs(hash((name, position, cut, insert)))}"
    write_bank(root, {name: mutated})
    bank, diagnostics = check(root)
    assert bank is not None or any(d.severity.value == "error" for d in diagnostics)
    for diagnostic in diagnostics:
        assert diagnostic.location.line >= 1 and diagnostic.location.col >= 1
    if bank is not None:
        try:
            build(root, root / "out")
        except DeckgenError as err:
            assert err.diagnostics


def test_hostile_deck_and_section_titles_stay_text_in_every_sheet(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    deck = DECK.replace("title: Test Deck", 'title: "Deck </style><script>alert(1)</script>"').replace(
        "title: Transformer,", 'title: "<img src=x onerror=alert(2)>",'
    )
    topic = TOPIC.replace("topic: Attention", 'topic: "<b>bold</b>"').replace(
        "Why scale the logits?", "Why does x ``` <img src=x onerror=alert(6)> ` scale?"
    )
    result = build(write_bank(Path("q"), {"deck.yaml": deck, "attention.yaml": topic}), Path("out"))
    viewer = MarkdownIt("commonmark", {"html": True})
    for path in result.outputs:
        if path.suffix == ".md":
            assert_inert(viewer.render(path.read_text(encoding="utf-8")))
        elif path.suffix == ".html":
            assert_inert_html_output(path)
    handout = build(write_bank(Path("q"), {"deck.yaml": deck, "attention.yaml": topic}), Path("handout"), selection=Selection(topics=("attention",)))
    for path in handout.outputs:
        if path.suffix == ".md":
            assert_inert(viewer.render(path.read_text(encoding="utf-8")))
        elif path.suffix == ".html" and "site" in path.parts:
            assert_inert_site_page(path.read_text(encoding="utf-8"))
        elif path.suffix == ".html":
            page = path.read_text(encoding="utf-8")
            assert_inert_page(page)
            assert "<h1>&lt;b&gt;bold&lt;/b&gt;" in page
