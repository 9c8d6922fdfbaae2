"""The hostile battery: what a pull request could put into any field, and what deckgen makes of it.

Each case is either refused by `check` with an exact, located message, or built into a deck
that the real Anki backend imports and renders, that plays nothing and holds no live link,
script, math or Anki markup, and into sheets with no live or remote link.
"""

from __future__ import annotations

import re
from html import unescape
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from anki.collection import Collection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from deckgen.build import build, check
from deckgen.model import DeckgenError, Severity
from deckgen.tex import tex_problems
from tests.hostile import FIELDS, INERT_MARKDOWN, INERT_PLAIN, MARKDOWN_FIELDS, TEXT_FIELDS, URL_FIELDS, hostile_bank, inert_bank, quoted
from tests.conftest import import_apkg
from tests.inert import assert_inert, assert_inert_html_output, note_fields


def errors(bank: Path) -> list[str]:
    """`check`'s errors for a bank, as printed."""
    _, diagnostics = check(bank)
    return [str(d) for d in diagnostics if d.severity is Severity.ERROR]


def refused(name: str, value: str, message: str, rule: str) -> list[str]:
    """Check a bank with `value` in field `name`; the one expected error is `message` at that field."""
    return [f"{FIELDS[name].at()}: error: {message} [{rule}]"]


MATH_COMMANDS = [
    ("$\\href{javascript:alert(1)}{\\text{the paper}}$", ["\\href is not allowed in math"]),
    ("$$\\style{color:red}{x}$$", ["\\style is not allowed in math"]),
    ("$\\bbox[background:url(https://example.org/x)]{x}$", ["\\bbox is not allowed in math"]),
    ("$\\class{dg-answer}{x}$", ["\\class is not allowed in math"]),
    ("$\\cssId{dg-id}{x}$", ["\\cssId is not allowed in math"]),
    ("$\\unicode{x41}$", ["\\unicode is not allowed in math"]),
    ("$\\require{html}$", ["\\require is not allowed in math"]),
    ("$\\def\\x{y}$", ["\\def is not allowed in math", "\\x is not allowed in math"]),
    ("$a \\) \\href{javascript:alert(1)}{x} \\($", ["\\) is not allowed in math", "\\href is not allowed in math", "\\( is not allowed in math"]),
    ("$\\begin{equation}x\\end{equation}$", ["environment 'equation' is not allowed in math"] * 2),
    ("$\\text{\\href{javascript:alert(1)}{x}}$", ["\\href is not allowed in math"]),
    ("$x^{\\HREF{javascript:alert(1)}{y}}$", ["\\HREF is not allowed in math"]),
]


@pytest.mark.parametrize("name", MARKDOWN_FIELDS)
@pytest.mark.parametrize(("tex", "messages"), MATH_COMMANDS)
def test_math_commands_that_link_style_or_load_are_refused(in_tmp: Path, name: str, tex: str, messages: list[str]) -> None:
    expected = [f"{FIELDS[name].at()}: error: {m} [math-command]" for m in sorted(messages)]
    assert errors(hostile_bank(Path("q"), {name: tex})) == expected


CONTROL_ESCAPES = [("\\x1f", 0x1F), ("\\x01", 0x01), ("\\x7f", 0x7F), ("\\x9b", 0x9B), ("\\N", 0x85), ("\\L", 0x2028), ("\\P", 0x2029), ("\\uFFFE", 0xFFFE), ("\\u202E", 0x202E), ("\\u2066", 0x2066)]
TEX_LIKE_ESCAPES = ["\\0", "\\e", "\\v"]


@pytest.mark.parametrize("name", [*TEXT_FIELDS, *URL_FIELDS])
@pytest.mark.parametrize(("escape", "code"), CONTROL_ESCAPES)
def test_escapes_for_control_characters_are_refused_in_every_field(in_tmp: Path, name: str, escape: str, code: int) -> None:
    message = (
        f"this double-quoted text has an escape for U+{code:04X}, a control character or noncharacter that no card "
        "can hold (Anki reads U+001F as the end of a field): remove it"
    )
    assert errors(hostile_bank(Path("q"), {}, {name: f'"a{escape}b"'})) == refused(name, "", message, "yaml-escape")


@pytest.mark.parametrize("name", [*TEXT_FIELDS, *URL_FIELDS])
@pytest.mark.parametrize("escape", TEX_LIKE_ESCAPES)
def test_escapes_that_look_like_tex_get_the_tex_advice(in_tmp: Path, name: str, escape: str) -> None:
    message = (
        "this double-quoted text has an escape that YAML turns into a control character (\\t in \\top, \\f in \\frac, "
        "\\b in \\beta ...): write text with backslashes as a block scalar (>-) or in single quotes"
    )
    assert errors(hostile_bank(Path("q"), {}, {name: f'"a{escape}b"'})) == refused(name, "", message, "yaml-escape")


@pytest.mark.parametrize("name", [*TEXT_FIELDS, *URL_FIELDS])
@pytest.mark.parametrize("char", ["\x7f", "\x9b", "\x85", "\u2028", "\u202e", "\u2067"])
def test_raw_control_characters_are_refused_in_every_field(in_tmp: Path, name: str, char: str) -> None:
    field = FIELDS[name]
    what = "line separator" if char in "\x85\u2028" else "control character"
    expected = [
        f"q/{field.file}:{field.line}:{field.col + 2}: error: {what} U+{ord(char):04X} is not allowed in a bank; "
        "use plain text and newlines [encoding]"
    ]
    assert errors(hostile_bank(Path("q"), {}, {name: f'"a{char}b"'})) == expected


@pytest.mark.parametrize("name", [*TEXT_FIELDS, *URL_FIELDS])
def test_every_value_has_a_size_limit(in_tmp: Path, name: str) -> None:
    message = "text of 10,001 characters; a value holds at most 10,000: split it into several cards"
    assert errors(hostile_bank(Path("q"), {name: "{{c1::a}}" + "x" * 9_992})) == refused(name, "", message, "text-size")


CLOZES = [
    ("{{c65537::softmax}} saturates.", "cloze number 65537 is too high: number deletions from 1 to 500 (no card needs more)"),
    ("{{c501::softmax}} saturates.", "cloze number 501 is too high: number deletions from 1 to 500 (no card needs more)"),
    (
        "{{c" + "9" * 20 + "::softmax}} saturates.",
        "cloze number 99999999999999999999 is too high: number deletions from 1 to 500 (no card needs more)",
    ),
    ("{{c1::}} saturates.", "cloze deletion '{{c1::}}' is empty: Anki makes no card for it"),
    ("{{c1:: ::hint}} saturates.", "cloze deletion '{{c1:: ::hint}}' is empty: Anki makes no card for it"),
    ("{{c0::softmax}} saturates.", "cloze numbers start at 1: Anki makes no card for {{c0::…}}"),
    (
        "The {{c1::soft {{c2::max}} }} saturates.",
        "cloze deletion '{{c1::soft {{c2::max}}' holds another deletion: write them side by side, not nested",
    ),
    (
        "[{{c1::softmax}}](https://example.org/{{c2::x}}) saturates.",
        "the Markdown around a deletion changes it on the card (a '}}' or '::' inside code or a link?): "
        "Anki would read deletions 1 instead of 1, 2",
    ),
]


@pytest.mark.parametrize(("text", "message"), CLOZES)
def test_clozes_that_anki_cannot_import_or_makes_no_card_for_are_refused(in_tmp: Path, text: str, message: str) -> None:
    assert errors(hostile_bank(Path("q"), {"cloze": text})) == refused("cloze", text, message, "cloze-deletion")


def test_a_cloze_with_no_deletion_is_refused(in_tmp: Path) -> None:
    raw = {"cloze": quoted("The softmax saturates.")}
    message = "cloze question has no deletion; mark one as {{c1::text}}"
    assert errors(hostile_bank(Path("q"), {}, raw)) == refused("cloze", "", message, "cloze-deletion")


LINKS = [
    "[the paper](javascript:alert(1))",
    "[the paper]( JavaScript:alert(1))",
    "[the paper](<javascript:alert(1)>)",
    "[the paper](data:text/html;base64,PHNjcmlwdD4=)",
    "[the paper](vbscript:msgbox(1))",
    "[the paper](file:///etc/passwd)",
    "[the paper][p]\n\n[p]: javascript:alert(1)",
    "See [p].\n\n[p]: javascript:alert(1)",
    "[unused]: javascript:alert(1)",
    "<javascript:alert(1)>",
]


@pytest.mark.parametrize("name", MARKDOWN_FIELDS)
@pytest.mark.parametrize("text", LINKS)
def test_every_link_in_markdown_is_a_checked_http_url(in_tmp: Path, name: str, text: str) -> None:
    target = re.search(r"(?:\]\(\s*<?|\]: |<)([^>)]*\)?)", text)
    assert target is not None
    shown = target.group(1).strip()
    if shown.endswith(")") and shown.count("(") < shown.count(")"):
        shown = shown[:-1]
    message = f"link target '{shown}' is not an http(s) URL"
    assert errors(hostile_bank(Path("q"), {name: text})) == refused(name, text, message, "link-scheme")


REMOTE_IMAGES = [
    ("![chart](https://example.org/x.png)", "https://example.org/x.png"),
    ("![chart](//example.org/x.png)", "//example.org/x.png"),
    ("![chart][img]\n\n[img]: https://example.org/x.png", "https://example.org/x.png"),
]


@pytest.mark.parametrize("name", MARKDOWN_FIELDS)
@pytest.mark.parametrize(("text", "target"), REMOTE_IMAGES)
def test_no_remote_image_reaches_a_card_or_a_sheet(in_tmp: Path, name: str, text: str, target: str) -> None:
    at = FIELDS[name].at()
    if name not in ("question", "answer", "extra", "cloze"):
        expected = [f"{at}: error: images go in question, answer and extra only [image]"]
    elif "[img]:" in text:
        expected = [f"{at}: error: image '{target}' must be written as ![alt](path), with the path in the same text [image]"]
    else:
        expected = [
            f"{at}: error: image '{target}' is not a file in the bank folder; a remote image would be fetched on every review [image]"
        ]
    assert errors(hostile_bank(Path("q"), {name: text})) == expected


@pytest.mark.parametrize("name", MARKDOWN_FIELDS)
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Divide by $1/\\sqrt{d_k}.", "'$' opens math that is never closed, at '$1/\\sqrt{d_k}.'; write \\$ for a dollar sign"),
        ("Divide by $x, then stop.", "'$' opens math that is never closed, at '$x, then stop.'; write \\$ for a dollar sign"),
        ("Display $$x", "'$$' opens display math that is never closed"),
        ("Display $$x^2 and more", "'$$' opens display math that is never closed"),
    ],
)
def test_unclosed_math_is_reported_whatever_follows_the_opener(in_tmp: Path, name: str, text: str, message: str) -> None:
    assert errors(hostile_bank(Path("q"), {name: text})) == refused(name, text, message, "math")


def test_a_price_is_text_not_unclosed_math(in_tmp: Path) -> None:
    assert errors(hostile_bank(Path("q"), {"extra": "A GPU hour costs $2 and a TPU hour $ 3."})) == []


@pytest.mark.parametrize("name", ["deck_title", "section_title", "topic_title"])
def test_a_title_that_would_nest_a_deck_is_refused(in_tmp: Path, name: str) -> None:
    key = "topic" if name == "topic_title" else "title"
    message = f"{key} 'Attention::Extra' holds '::', which Anki reads as a deck inside a deck"
    assert errors(hostile_bank(Path("q"), {name: "Attention::Extra"})) == refused(name, "", message, "deck-name")


URLS = [
    ("https://example.org/[sound:x.mp3]", "has characters to percent-encode (spaces, quotes, brackets, braces, parentheses: [ is %5B)"),
    ("https://example.org/x?[latex]a[/latex]", "has characters to percent-encode (spaces, quotes, brackets, braces, parentheses: [ is %5B)"),
    ("https://example.org/{{Question}}", "has characters to percent-encode (spaces, quotes, brackets, braces, parentheses: { is %7B)"),
    ("https://example.org/a b", "has characters to percent-encode (spaces, quotes, brackets, braces, parentheses: a space is %20)"),
    ('https://example.org/"onmouseover=x', "has characters to percent-encode (spaces, quotes, brackets, braces, parentheses: \" is %22)"),
    ("https://example.org/%zz", "has a '%' that does not start a percent-encoded byte such as %20"),
    ("javascript:alert(1)", "is not an http(s) URL"),
    ("https:///path-only", "is not an http(s) URL"),
    ("deckgen-0123456789abcdef.png", "is not an http(s) URL"),
]


@pytest.mark.parametrize("name", URL_FIELDS)
@pytest.mark.parametrize(("url", "problem"), URLS)
def test_urls_are_checked_http_urls_with_nothing_anki_would_read(in_tmp: Path, name: str, url: str, problem: str) -> None:
    key = "homepage" if name == "homepage" else "url"
    message = f"{key} '{url}' {problem}"
    assert errors(hostile_bank(Path("q"), {name: url})) == refused(name, url, message, "invalid-url")


FOLDED = {
    "a fenced code block": "```python\n      import numpy as np\n      x = np.ones(3)\n      ```",
    "a list": "Two steps:\n\n      - mask the tokens\n      - predict them",
    "a table": "| a | b |\n      |---|---|\n      | 1 | 2 |",
}


@pytest.mark.parametrize("name", ["question", "answer", "extra"])
@pytest.mark.parametrize("what", sorted(FOLDED))
def test_a_folded_scalar_that_destroys_markdown_is_reported(in_tmp: Path, name: str, what: str) -> None:
    # The topic's fields are indented by four spaces; the block's lines by six.
    raw = {name: ">-\n      " + FOLDED[what]}
    message = f"'>' folds the lines of {what} into one: write '|' instead of '>' to keep its lines"
    assert errors(hostile_bank(Path("q"), {}, raw)) == refused(name, "", message, "folded-markdown")
    literal = {name: "|-\n      " + FOLDED[what]}
    assert errors(hostile_bank(Path("q2"), {}, literal)) == []


def test_ids_must_be_kebab_case_to_the_end(in_tmp: Path) -> None:
    bank = hostile_bank(Path("q"), {})
    topic = (bank / "attention.yaml").read_text(encoding="utf-8")
    (bank / "attention.yaml").write_text(topic.replace("  - id: cloze-q", '  - id: "basic-q\\n"'), encoding="utf-8")
    assert errors(bank) == [
        "q/attention.yaml:10:9: error: id 'basic-q\\n' is not kebab-case: use lowercase letters, digits and single "
        "hyphens, starting with a letter [id-format]"
    ]


# What a bank may write and deckgen must make inert: it builds, and no output runs, plays or links it.
ANKI_MARKUP = re.compile(r"\[sound:|\[\[type:|\[latex\]|\[\$\]|\[\$\$\]|\[anki:")


def assert_card_inert(html: str) -> None:
    """A card as Anki renders it: no tag, handler, link or Anki markup that the bank wrote, and no math
    for MathJax but what passed the TeX allowlist."""
    body = re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)
    assert_inert(body)
    assert not ANKI_MARKUP.search(body), body
    assert "<img" not in body, body
    for opener, closer in (("\\(", "\\)"), ("\\[", "\\]")):
        for piece in body.split(opener)[1:]:
            assert closer in piece, body
            assert tex_problems(unescape(piece.split(closer)[0])) == [], body


@pytest.mark.slow
@pytest.mark.parametrize("index", range(max(len(INERT_MARKDOWN), len(INERT_PLAIN))))
def test_accepted_hostile_text_imports_into_real_anki_and_stays_inert(
    in_tmp: Path, epoch: Callable[[int], None], collection: Collection, index: int
) -> None:
    epoch(1_700_000_000)
    result = build(inert_bank(Path("q"), index), Path("out"))
    import_apkg(collection, result.outputs[0], merge_notetypes=False)
    cards = [collection.get_card(card_id) for card_id in collection.find_cards("")]
    # basic, cloze (one card for c1), two compare rows (one live, the retired one's note has one row)
    assert len(cards) == 4
    for card in cards:
        assert card.question_av_tags() == [] and card.answer_av_tags() == []
        assert_card_inert(card.question())
        assert_card_inert(card.answer())
    viewer = MarkdownIt("commonmark", {"html": True})
    for path in result.outputs:
        if path.suffix == ".md":
            html = viewer.render(path.read_text(encoding="utf-8"))
            assert_inert(html)
        elif path.suffix == ".html":
            assert_inert_html_output(path)


@pytest.mark.slow
def test_the_deck_description_is_inert_in_anki(in_tmp: Path, epoch: Callable[[int], None], collection: Collection) -> None:
    epoch(1_700_000_000)
    text = "[sound:evil.mp3] <script>alert(1)</script> \\\\(\\href{javascript:alert(2)}{x}\\\\)"
    result = build(hostile_bank(Path("q"), {"description": text}), Path("out"))
    import_apkg(collection, result.outputs[0], merge_notetypes=False)
    roots = [d for d in collection.decks.all_names_and_ids() if "::" not in d.name and d.id != 1]
    assert len(roots) == 1
    description = collection.decks.get(roots[0].id)["desc"]  # type: ignore[index]
    assert_inert(description)
    assert not ANKI_MARKUP.search(description) and "\\(" not in description, description
    assert "&lt;script&gt;" in description


PATHOLOGICAL = {
    "unclosed clozes": "{{c1::" * 1_500,
    "clozes": "{{c1::a}} " * 900,
    "backticks": "`" * 9_999,
    "backtick runs of every length": "a".join("`" * n for n in range(1, 140)),
    "brackets": "[" * 9_999,
    "image openers": "![" * 4_999,
    "link openers": "[a](" * 2_499,
    "dollars": "$" * 9_999,
    "dollar letters": "$a" * 4_999,
    "double dollars": "$$ a " * 1_999,
    "backslashes": "\\" * 9_999,
    "angle brackets": "<" * 9_999,
    "angle brackets and backticks": "`<" * 4_999,
    "emphasis": "*a _" * 2_499,
    "braces": "{" * 9_999,
    "math commands": "$" + "\\alpha" * 1_600 + "$",
    "percent signs": "%" * 9_999,
}
HANG_GUARD_SECONDS = 20.0
"""Far above what any of these takes; only a hang (a regular expression gone super-linear) can reach it."""


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_no_pathological_text_hangs_check_or_build(in_tmp: Path, epoch: Callable[[int], None], text: str) -> None:
    epoch(1_700_000_000)
    values = {name: text for name in ("question", "answer", "extra", "cloze", "value", "description")}
    values.update({"source_title": text, "topic_title": text.replace("::", ":")})
    bank = hostile_bank(Path("q"), values)
    start = time.monotonic()
    _, diagnostics = check(bank)
    if not any(d.severity is Severity.ERROR for d in diagnostics):
        build(bank, Path("out"))
    assert time.monotonic() - start < HANG_GUARD_SECONDS


FRAGMENTS = [
    "a", " ", "\n", "\n\n", "中", "$", "$$", "\\", "`", "```", "[", "]", "(", ")", "<", ">", "{", "}", "{{c1::", "}}", "::",
    "![x](", "[x](", "javascript:", "https://example.org/", "[sound:x.mp3]", "[[type:Answer]]", "\\(", "\\)", "\\href{",
    "\\frac{a}{b}", "<script>", "- ", "| a |", "*", "_", "#", "&amp;", "&#91;", "\u200b", "[p]: ", "%", "'", '"',
]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from([*TEXT_FIELDS, *URL_FIELDS]),
    pieces=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12),
)
# Found by this test in CI: a compare item is rendered as one line, where a blank line ends no
# paragraph, so `[x](` and `)` around one made a link that the check (which reads a block) never saw.
@example(name="item", pieces=["[x](", "\n\n", ")"])
def test_any_text_in_any_field_is_refused_or_builds_inert(tmp_path: Path, name: str, pieces: list[str]) -> None:
    text = "".join(pieces)
    root = tmp_path / f"bank-{abs(hash((name, text)))}"
    bank, diagnostics = check(hostile_bank(root, {name: text}))
    for diagnostic in diagnostics:
        assert diagnostic.location.line >= 1 and diagnostic.location.col >= 1
    if bank is None:
        assert any(d.severity is Severity.ERROR for d in diagnostics)
        return
    try:
        result = build(root, root / "out")
    except DeckgenError as err:
        pytest.fail(f"check passed but build refused: {err.diagnostics}")

    for field in note_fields(result.outputs[0]):
        assert_inert(field)
        assert not ANKI_MARKUP.search(field), field


# Found by an adversarial review: each passed check before its fix.


def test_math_braces_are_counted_as_mathjax_counts_them(in_tmp: Path) -> None:
    # `\\{` is a line break and a brace: MathJax would run past deckgen's `\)` into unchecked text.
    text = "$a\\\\{$ \\href{javascript:alert(1)}{click} $\\\\}$"
    at = FIELDS["answer"].at()
    assert errors(hostile_bank(Path("q"), {"answer": text})) == [
        f"{at}: error: unbalanced braces in math '$\\\\}}$' [math]",
        f"{at}: error: unbalanced braces in math '$a\\\\{{$' [math]",
    ]


def test_a_compare_front_renders_each_piece_as_it_was_checked(in_tmp: Path, epoch: Callable[[int], None], collection: Collection) -> None:
    epoch(1_700_000_000)
    bank = hostile_bank(Path("q"), {"item": "$5", "aspect": "\\href{javascript:alert(1)}{click}$"})
    assert errors(bank) == []
    result = build(bank, Path("out"))
    import_apkg(collection, result.outputs[0], merge_notetypes=False)
    (card_id,) = collection.find_cards("ID:compare-q/output")
    front = collection.get_card(card_id).question()
    assert_card_inert(front)
    assert "$5 vs Sigmoid: \\href{javascript:alert(1)}{click}$" in front


def test_a_cloze_blank_in_the_sheet_is_never_a_link_or_an_image(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    text = "Pick {{c1::softmax::click}}(javascript:alert(1)) and !{{c2::x::y}}(https://example.org/a.png) now."
    bank = hostile_bank(Path("q"), {"cloze": text})
    assert errors(bank) == []
    build(bank, Path("out"))
    sheet = Path("out/review-questions.md").read_text(encoding="utf-8")
    assert "Pick \\[click\\](javascript:alert(1)) and !\\[y\\](https://example.org/a.png) now." in sheet
    html = MarkdownIt("commonmark", {"html": True}).render(sheet)
    assert_inert(html)
    assert "Pick [click](javascript:alert(1)) and ![y](https://example.org/a.png) now." in html


def test_a_code_fence_in_a_table_cell_is_inert_in_the_sheets(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    raw = {"value": "|-\n            ~~~\n            <img src=x onerror=alert(1)>\n            ~~~"}
    bank = hostile_bank(Path("q"), {}, raw)
    topic = (bank / "attention.yaml").read_text(encoding="utf-8")
    (bank / "attention.yaml").write_text(
        topic.replace("values: [|-", "values:\n          - |-").replace("~~~, One probability per input]", "~~~\n          - One probability per input"),
        encoding="utf-8",
    )
    assert errors(bank) == []
    build(bank, Path("out"))
    viewer = MarkdownIt("commonmark", {"html": True}).enable("table")
    for name in ("review-sheet.md", "review-questions.md"):
        html = viewer.render(Path("out", name).read_text(encoding="utf-8"))
        assert_inert(html)
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_url_port_must_be_a_port(in_tmp: Path) -> None:
    message = "url 'https://example.org:99999/' has a port that is not a number from 0 to 65535"
    assert errors(hostile_bank(Path("q"), {"source_url": "https://example.org:99999/"})) == refused("source_url", "", message, "invalid-url")


def test_no_value_starts_a_line_of_text_output(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    from click.testing import CliRunner

    from deckgen.cli import main

    epoch(1_700_000_000)
    command = "\n::error file=README.md::pwned\n"
    bank = hostile_bank(Path("q"), {"topic_title": "Attention" + command})
    topic = (bank / "attention.yaml").read_text(encoding="utf-8")
    (bank / "attention.yaml").write_text(topic + f"{quoted('x' + command)}: 1\n", encoding="utf-8")
    checked = CliRunner().invoke(main, ["check", "q"])
    assert checked.exit_code == 1
    shown = "\\n::error file=README.md::pwned\\n"
    assert checked.stderr.splitlines() == [
        f"q/attention.yaml:1:8: error: topic 'Attention{shown}' holds '::', which Anki reads as a deck inside a deck [deck-name]",
        f"q/attention.yaml:1:8: error: topic 'Attention{shown}' holds a line break or tab; a deck name is one line [deck-name]",
        f"q/attention.yaml:29:1: error: unknown key 'x{shown}' in a topic file [unknown-key]",
        "3 errors, 0 warnings in 1 file",
    ]
    # A valid bank whose values hold line breaks: stats and build print each on one line.
    hostile_bank(Path("ok"), {"source_title": "A paper" + command})
    source = Path("ok/sources.yaml").read_text(encoding="utf-8")
    Path("ok/sources.yaml").write_text(source + "  - {id: other, title: " + quoted("Other" + command) + ", url: https://example.org/o, section: transformer}\n", encoding="utf-8")
    stats = CliRunner().invoke(main, ["stats", "ok"])
    built = CliRunner().invoke(main, ["build", "ok", "--out", "out" + command.rstrip()])
    for output in (stats.stdout, built.stdout):
        assert not any(line.startswith("::") for line in output.splitlines()), output
    assert "  other  Other\\n::error file=README.md::pwned\\n" in stats.stdout
    assert "  out\\n::error file=README.md::pwned/test-deck.apkg\n" in built.stdout, built.stdout


def test_the_diff_summary_shows_package_text_as_text(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    from deckgen.diff import diff, format_diff

    epoch(1_700_000_000)
    old = build(hostile_bank(Path("a"), {}), Path("a-out")).outputs[0]
    epoch(1_700_000_100)
    # A new compare row whose text, shown literally on the card, is Markdown syntax.
    bank = hostile_bank(Path("b"), {"aspect": "\\[click\\](https://example.org/x) \\`code\\` \\*this\\* <b>"})
    topic = (bank / "attention.yaml").read_text(encoding="utf-8")
    (bank / "attention.yaml").write_text(topic.replace("- id: output", "- id: output-two"), encoding="utf-8")
    new = build(bank, Path("b-out")).outputs[0]
    summary = format_diff(diff(str(old), str(new), Path("b")), markdown=True)
    added = "- `compare-q/output-two`: Softmax vs Sigmoid: \\[click\\](https://example.org/x) \\`code\\` \\*this\\* \\<b\\>"
    assert added in summary.splitlines(), summary


def test_a_compare_row_can_carry_its_own_extra(in_tmp: Path, epoch: Callable[[int], None], collection: Collection) -> None:
    epoch(1_700_000_000)
    bank = hostile_bank(Path("q"), {})
    topic = (bank / "attention.yaml").read_text(encoding="utf-8")
    (bank / "attention.yaml").write_text(
        topic.replace(
            "        values: [\"A distribution over positions\", One probability per input]\n",
            "        values: [\"A distribution over positions\", One probability per input]\n"
            "        extra: \"Only the softmax's outputs sum to one, [see](javascript:alert(1)).\"\n",
        ),
        encoding="utf-8",
    )
    assert errors(bank) == [
        "q/attention.yaml:22:16: error: link target 'javascript:alert(1)' is not an http(s) URL [link-scheme]"
    ]
    (bank / "attention.yaml").write_text(topic.replace(
        "        values: [\"A distribution over positions\", One probability per input]\n",
        "        values: [\"A distribution over positions\", One probability per input]\n"
        "        extra: \"Only the softmax's outputs sum to *one*.\"\n",
    ), encoding="utf-8")
    result = build(bank, Path("out"))
    import_apkg(collection, result.outputs[0], merge_notetypes=False)
    (note_id,) = collection.find_notes("ID:compare-q/output")
    assert collection.get_note(note_id)["Extra"] == "<p>Only the softmax's outputs sum to <em>one</em>.</p>"
    sheet = Path("out/review-sheet.md").read_text(encoding="utf-8")
    assert "> **Output:** Only the softmax's outputs sum to *one*.\n" in sheet
    assert "<strong>Output:</strong> Only the softmax's outputs sum to <em>one</em>." in Path("out/review-sheet.html").read_text(encoding="utf-8")


def test_an_extra_shared_by_two_rows_is_printed_once(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    # Each row's card shows its own extra; on paper, where the rows sit in one table, an extra
    # that two rows share is printed once, after both their aspects.
    epoch(1_700_000_000)
    bank = hostile_bank(Path("q"), {})
    topic = (bank / "attention.yaml").read_text(encoding="utf-8")
    row = "        values: [\"A distribution over positions\", One probability per input]\n"
    shared = "        extra: Both come from *one* formula.\n"
    second = "      - id: range\n        aspect: Range\n        values: [\"[0, 1]\", \"(0, 1)\"]\n" + shared
    (bank / "attention.yaml").write_text(topic.replace(row, row + shared + second), encoding="utf-8")
    build(bank, Path("out"))
    sheet = Path("out/review-sheet.md").read_text(encoding="utf-8")
    assert sheet.count("formula.") == 1
    assert "> **Output; Range:** Both come from *one* formula.\n" in sheet
    page = Path("out/review-sheet.html").read_text(encoding="utf-8")
    assert page.count("formula.") == 1
    assert '<div class="extra"><p><strong>Output; Range:</strong> Both come from <em>one</em> formula.</p></div>' in page


def test_math_cannot_end_the_markdown_sheets_code_span(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    # The Markdown sheets write math as $`…`$ (GitHub keeps a code span's TeX as it is): a backtick
    # in the TeX, from the bank or from a cloze's hint put into math, would end it early.
    at, cloze_at = FIELDS["answer"].at(), FIELDS["cloze"].at()
    bank = hostile_bank(Path("q"), {"answer": "$a` <b>x</b> `$", "cloze": "Scaling $x = {{c1::y::a`b}}$ keeps it calm."})
    assert errors(bank) == [
        f"{at}: error: math '$a` <b>x</b> `$' holds a backtick, which would end the Markdown sheets' math: leave it out [math]",
        f"{cloze_at}: error: math '$x = {{{{c1::y::a`b}}}}$' holds a backtick, which would end the Markdown sheets' math: leave it out [math]",
    ]
    # A `$` or a backtick in a cloze's hint outside math is text, in a sheet's `\[…\]`.
    epoch(1_700_000_000)
    bank = hostile_bank(Path("r"), {"cloze": "Scaling keeps the {{c1::softmax::`$x`}} calm $y$."})
    assert errors(bank) == []
    build(bank, Path("out"))
    sheet = Path("out/review-questions.md").read_text(encoding="utf-8")
    assert "Scaling keeps the \\[`$x`\\] calm $`y`$." in sheet
