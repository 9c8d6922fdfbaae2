"""The field policy: what a value of each kind may hold, checked as every output will read it.

Each check is a pure function of the text that returns the problems it finds, as
(message, rule) pairs; deckgen.validate locates them at the node that holds the text.
Markdown is checked as markdown-it reads it (links, images, math), then as the Markdown
sheets print it; math against the TeX allowlist; clozes as Anki will read them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from deckgen.model import clipped
from deckgen.cloze import cloze_blank, cloze_reveal, clozes
from deckgen.links import image_targets, is_safe_url, url_problem
from deckgen.render import (
    MarkdownFacts,
    card_html_for_check,
    markdown_facts,
    markdown_has_html,
    to_sheet_cell,
    to_sheet_markdown,
    unplaced_sheet_math,
)
from deckgen.tex import braces_balanced, tex_problems

Problem = tuple[str, str]
"""A problem found in a value: its message and its rule."""

ImageFile = Callable[[str], "Path | str"]
"""The file an image target names, or why it cannot be used."""

MAX_CLOZE = 500
"""The highest cloze number a bank may write: Anki refuses a package past 65,536, and no real card needs more than a few."""

_TEX_START = frozenset("\\{(^_|") | frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TEX_SYNTAX = frozenset("\\^_{}")
_BLOCKS = {
    "fence": "a fenced code block",
    "code_block": "an indented code block",
    "list_item_open": "a list",
    "tr_open": "a table",
    "table_open": "a table",
}


def _unclosed_math(text: str) -> list[int]:
    """Where a `$` that opened no math was meant to: followed by a letter or TeX, or by anything
    with TeX syntax after it. A price (`$5`, `$ 10`) is text."""
    found = []
    for at, char in enumerate(text):
        if char != "$" or at + 1 >= len(text):
            continue
        after = text[at + 1]
        if after in _TEX_START or (not after.isspace() and not _TEX_SYNTAX.isdisjoint(text[at + 1 :])):
            found.append(at)
    return found


def markdown_problems(
    text: str, unfolded: str | None = None, image_file: ImageFile | None = None, media: dict[str, Path] | None = None
) -> list[Problem]:
    """What is wrong with a Markdown field: its links, images, math, folding and sheet forms.

    `unfolded` is the text as a literal scalar would hold it, for a folded (`>`) scalar.
    Images are allowed only with `image_file`; each file found is recorded in `media`.
    """
    problems: list[Problem] = []
    facts = markdown_facts(text, structure=unfolded is not None)
    for target in dict.fromkeys(facts.links):
        if not is_safe_url(target):
            problems.append((f"link target '{clipped(target)}' is not an http(s) URL", "link-scheme"))
    if image_file is not None:
        problems += _image_problems(text, facts.images, image_file, media if media is not None else {})
    elif facts.images:
        problems.append(("images go in question, answer and extra only", "image"))
    problems += _math_problems(text, facts)
    if unfolded is not None:
        problems += _folding_problems(facts, markdown_facts(unfolded, structure=True))
    if "<" in text:
        problems += _sheet_problems(text)
    return problems


def _math_problems(text: str, facts: MarkdownFacts) -> list[Problem]:
    """Every math span is allowed TeX with balanced braces; every `$` opens math that closes."""
    problems: list[Problem] = []
    for tex, display in facts.math:
        problems += [(problem.message, "math-command") for problem in tex_problems(tex)]
        dollars = "$$" if display else "$"
        if not braces_balanced(tex):
            problems.append((f"unbalanced braces in math '{clipped(dollars + tex + dollars)}'", "math"))
    problems += sheet_math_problems(text, facts)
    for stray in facts.stray_dollars:
        if "$$" in stray:
            problems.append(("'$$' opens display math that is never closed", "math"))
            continue
        for at in _unclosed_math(stray):
            snippet = stray[at:][:20].split("\n")[0]
            problems.append((f"'$' opens math that is never closed, at '{snippet}'; write \\$ for a dollar sign", "math"))
    for cloze in clozes(text):
        if cloze.body.count("{") > cloze.body.count("}") and not clozes(cloze.body + "}}"):
            problems.append(
                (
                    f"cloze deletion '{clipped(cloze.written)}' ends at the first '}}}}': inside math, write '}} }}' instead of '}}}}'",
                    "cloze-deletion",
                )
            )
    return problems


def sheet_math_problems(text: str, facts: MarkdownFacts | None = None) -> list[Problem]:
    """Math that the Markdown sheets can write in GitHub's literal forms, $`…`$ and a ```math fence:
    no backtick in it (it would end the code span the TeX stands in), and found where it is written."""
    facts = markdown_facts(text) if facts is None else facts
    problems: list[Problem] = []
    for tex, display in facts.math:
        if "`" in tex:
            dollars = "$$" if display else "$"
            problems.append(
                (f"math '{clipped(dollars + tex + dollars)}' holds a backtick, which would end the Markdown sheets' math: leave it out", "math")
            )
    if facts.math and unplaced_sheet_math(text):
        problems.append(("the Markdown sheets cannot find where this text's math is written (a '\\|' in math in a table?): write it on one line, as plain `$…$`", "math"))
    return problems


def _folding_problems(folded: MarkdownFacts, unfolded: MarkdownFacts) -> list[Problem]:
    """A folded (`>`) scalar must not join the lines of a code block, a list or a table."""
    if folded.blocks == unfolded.blocks:
        return []
    lost = sorted({_BLOCKS[kind] for kind, _, _ in Counter(unfolded.blocks) - Counter(folded.blocks)} or {"a code block, list or table"})
    return [(f"'>' folds the lines of {' and '.join(lost)} into one: write '|' instead of '>' to keep its lines", "folded-markdown")]


def _sheet_problems(text: str) -> list[Problem]:
    """What the Markdown sheets print of `text` must hold no HTML for a Markdown viewer to run."""
    for sheet_text in (to_sheet_markdown(text), to_sheet_cell(text)):  # a compare cell is printed as one line
        if markdown_has_html(sheet_text):
            return [
                (
                    "a '<' here would reach the Markdown sheets as HTML (code spans that do not pair up line by line): "
                    "balance the backticks on each line, or use a fenced code block",
                    "raw-html",
                )
            ]
    return []


def _image_problems(text: str, found: tuple[str, ...], image_file: ImageFile, media: dict[str, Path]) -> list[Problem]:
    """Each image reference is written as ![alt](path) and names a usable file, which is recorded."""
    problems: list[Problem] = []
    written = image_targets(text)
    for target in found:
        if target not in written:
            problems.append((f"image '{clipped(target)}' must be written as ![alt](path), with the path in the same text", "image"))
    for target in written:
        packed = image_file(target)
        if isinstance(packed, str):
            problems.append((packed, "image"))
        else:
            media[target] = packed
    return problems


def url_problems(key: str, url: str) -> list[Problem]:
    """A link that stands as it is in cards, templates and sheets: a checked http(s) URL."""
    problem = url_problem(url)
    return [] if problem is None else [(f"{key} '{clipped(url)}' {problem}", "invalid-url")]


_LINE_BREAKS_AND_TABS = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029")
"""What would break a deck name over lines (the loader refuses the rarer ones already). Other
spaces, such as the ideographic space of a Chinese title, are fine."""


def title_problems(key: str, title: str) -> list[Problem]:
    """A title that becomes part of an Anki deck name, where `::` would nest a deck of its own."""
    problems: list[Problem] = []
    if "::" in title:
        problems.append((f"{key} '{clipped(title)}' holds '::', which Anki reads as a deck inside a deck", "deck-name"))
    if any(char in _LINE_BREAKS_AND_TABS for char in title):
        problems.append((f"{key} '{clipped(title)}' holds a line break or tab; a deck name is one line", "deck-name"))
    return problems


def cloze_problems(text: str) -> list[Problem]:
    """A cloze text's deletions as Anki will read them from the card deckgen writes: numbered 1 to
    MAX_CLOZE, not empty, not nested, and the same after rendering, so that every deletion makes a card."""
    found = clozes(text)
    if not found:
        return [("cloze question has no deletion; mark one as {{c1::text}}", "cloze-deletion")]
    problems: list[Problem] = []
    for cloze in found:
        number = int(cloze.ordinal) if len(cloze.ordinal) <= 6 else MAX_CLOZE + 1
        if number == 0:
            problems.append(("cloze numbers start at 1: Anki makes no card for {{c0::…}}", "cloze-deletion"))
        elif number > MAX_CLOZE:
            problems.append(
                (f"cloze number {clipped(cloze.ordinal, 20)} is too high: number deletions from 1 to {MAX_CLOZE} (no card needs more)", "cloze-deletion")
            )
        if not cloze.text.strip():
            problems.append((f"cloze deletion '{clipped(cloze.written)}' is empty: Anki makes no card for it", "cloze-deletion"))
        if clozes(cloze.body + "}}"):
            problems.append(
                (f"cloze deletion '{clipped(cloze.written)}' holds another deletion: write them side by side, not nested", "cloze-deletion")
            )
    written = markdown_facts(text)
    # Math the text itself holds is checked with the text; a hint put into math is checked here.
    in_forms = [] if sheet_math_problems(text, written) else [p for form in (cloze_blank(text), cloze_reveal(text)) for p in sheet_math_problems(form)]
    problems += [(f"in the review sheets' form of this cloze, {message}", rule) for message, rule in dict.fromkeys(in_forms)]
    for form in (cloze_blank(text), cloze_reveal(text)):
        facts = markdown_facts(form)
        for target in dict.fromkeys(facts.links):
            if target not in written.links and not is_safe_url(target):
                problems.append((f"the review sheets would turn this cloze into a link to '{clipped(target)}'", "link-scheme"))
        for target in dict.fromkeys(facts.images):
            if target not in written.images:
                problems.append((f"the review sheets would turn this cloze into an image of '{clipped(target)}'", "image"))
    rendered = [c.ordinal for c in clozes(card_html_for_check(text))]
    if rendered != [c.ordinal for c in found]:
        problems.append(
            (
                "the Markdown around a deletion changes it on the card (a '}}' or '::' inside code or a link?): "
                f"Anki would read deletions {', '.join(rendered) or 'none'} instead of {', '.join(c.ordinal for c in found)}",
                "cloze-deletion",
            )
        )
    return problems
