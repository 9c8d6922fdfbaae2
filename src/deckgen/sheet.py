"""The printable review sheets, as pure functions of the bank: Bank -> Markdown text.

`review_sheet` has every question with its answer; `questions_sheet` has the questions
only, for self-testing, and an answer key at the end. Both are written from the bank's
outline (deckgen.outline), so numbers match between them and the HTML sheets.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator
from itertools import chain

from typing import TYPE_CHECKING

from deckgen.cloze import cloze_blank, cloze_reveal
from deckgen.labels import labels
from deckgen.links import with_media
from deckgen.model import Bank, Question, QuestionType, Source, Topic
from deckgen.outline import NumberedQuestion, Outline, TopicOutline, outline
from deckgen.render import to_sheet_cell, to_sheet_markdown

from deckgen.cache import Block, joined

if TYPE_CHECKING:
    from deckgen.cache import BuildCache

MEDIA_FOLDER = "media"
"""Where the sheets' images are copied, beside the sheets."""

QuestionLines = Callable[[Topic, NumberedQuestion], list[str]]
"""A question's lines in a sheet, given its topic and its number."""


class _Slugger:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens, repeats numbered."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def slug(self, heading: str) -> str:
        base = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = self.seen.get(base, 0)
        self.seen[base] = count + 1
        return base if count == 0 else f"{base}-{count}"


_MARKDOWN_PUNCTUATION = "\\`*_[]$~|!"
"""What could make plain text into Markdown syntax inside a line: code, emphasis, links,
images, math, strikethrough and table cells. Each is written with a backslash."""


def _plain(text: str) -> str:
    """Plain text (a title) for Markdown: it reads as the characters written, never as syntax or HTML."""
    text = html.escape(text, quote=False)
    if any(char in text for char in _MARKDOWN_PUNCTUATION):
        text = "".join("\\" + char if char in _MARKDOWN_PUNCTUATION else char for char in text)
    return text


def _source_link(source: Source) -> str:
    return f"[{_plain(source.title)}]({source.url})"


def _compare_table(question: Question, with_values: bool, aspect: str) -> str:
    header = f"| {aspect} | " + " | ".join(to_sheet_cell(item) for item in question.items) + " |"
    rule = "|---" * (len(question.items) + 1) + "|"
    rows = []
    for row in question.live_rows:
        values = [to_sheet_cell(v) if with_values else " " for v in row.values]
        rows.append(f"| {to_sheet_cell(row.aspect)} | " + " | ".join(values) + " |")
    return "\n".join([header, rule, *rows])


def _labelled(label: str, text: str) -> str:
    """`**label** text`, keeping a block that starts with a list, fence or math on its own line."""
    body = to_sheet_markdown(text)
    if re.match(r"^(\s*([-*+]|\d+[.)])\s|```|~~~|\$\$|\|)", body):
        return f"{label}\n\n{body}"
    return f"{label} {body}"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in to_sheet_markdown(text).split("\n"))


def _header(outline: Outline, subtitle: str, slugger: _Slugger, extra_headings: tuple[str, ...]) -> list[str]:
    deck, words = outline.deck, labels(outline.deck.language)
    if outline.handout:
        # A handout is titled by what it holds, and has no cover: no deck blurb, no contents.
        title = outline.handout if subtitle == words.review_sheet else f"{outline.handout}{words.colon}{subtitle}"
        slugger.slug(title)
        meta = f"{words.from_deck.format(deck=_plain(deck.title), version=_plain(deck.version))} · {outline.counts} · <{deck.homepage}>"
        return [f"# {_plain(title)}", "", meta, ""]
    title = f"{deck.title}{words.colon}{subtitle}"
    slugger.slug(title)
    lines = [
        f"# {_plain(title)}",
        "",
        f"{words.version.format(version=_plain(deck.version))} · {outline.counts} · <{deck.homepage}>",
        "",
        to_sheet_markdown(deck.description),
        "",
        f"## {words.contents}",
        "",
    ]
    slugger.slug(words.contents)
    toc: list[str] = []
    for section in outline.sections:
        toc.append(f"- [{_plain(section.section.title)}](#{slugger.slug(section.section.title)})")
        for topic in section.topics:
            toc.append(f"  - [{_plain(topic.topic.title)}](#{slugger.slug(topic.topic.title)})")
    for heading in extra_headings:
        toc.append(f"- [{heading}](#{slugger.slug(heading)})")
    return lines + toc + [""]


def _by_topic(outline: Outline, level: int, kind: str, cache: BuildCache | None) -> Iterator[str | Block]:
    """Each question's lines of `kind` (one of `KINDS`), by section and topic, under headings of
    `level` and `level + 1`; each topic's part read back from the last build where it can. Made
    as they are asked for, so that a sheet is written holding a topic's part or two at a time
    (`_trimmed` holds back the last one made), not the whole sheet."""
    bank = outline.bank
    question_lines = fragments(bank, cache)[KINDS.index(kind)]
    for section in outline.sections:
        if section.has_questions:
            yield from (f"{'#' * level} {_plain(section.section.title)}", "")
        for topic in section.topics:
            if not topic.questions:
                continue
            heading = [f"{'#' * (level + 1)} {_plain(topic.topic.title)}", ""]

            def make(topic: TopicOutline = topic, heading: list[str] = heading) -> list[str]:
                return heading + [line for numbered in topic.questions for line in question_lines(topic.topic, numbered)]

            if cache is None:
                yield from make()
                continue
            # What the topic's part shows: its heading, and each question's number and lines.
            prefix = f"sheet-{kind}-{bank.deck.language}"
            numbers = tuple(n.number for n in topic.questions)

            def parts(keys: tuple[str, ...], heading: list[str] = heading, numbers: tuple[int, ...] = numbers) -> object:
                return (heading, list(zip(numbers, keys)))

            keys, digest = cache.topic_digest(f"{prefix}-topic", bank, topic.topic, [n.question for n in topic.questions], (tuple(heading), numbers), parts)
            yield cache.block(f"{prefix}-topic", digest, (f"{prefix}:{key}" for key in keys), make)


_UNNUMBERED = 0
"""The number that a question's lines are cached with: no question has it (numbers start at 1).
Its label, which starts the first line, is swapped for the question's own."""


def _label(number: int) -> str:
    return f"**Q{number}.**"


def _cached_lines(
    bank: Bank, cache: BuildCache | None, kind: str, lines_of: Callable[[Question, int], list[str]]
) -> QuestionLines:
    """`lines_of` for each question, from `cache` where it can: a question's lines depend on its
    number only through the label that starts them, so moving or renumbering a question costs
    nothing. `kind` names what the lines are (with the edition's language, as labels are)."""
    prefix = f"sheet-{kind}-{bank.deck.language}:"
    unnumbered = _label(_UNNUMBERED)

    def decode(value: object) -> list[str] | None:
        if isinstance(value, list) and value and all(isinstance(line, str) for line in value) and value[0].startswith(unnumbered):
            return value
        return None

    def lines(topic: Topic, numbered: NumberedQuestion) -> list[str]:
        question = numbered.question
        if cache is None:
            return lines_of(question, numbered.number)
        found = cache.memo(prefix + cache.question_key(bank, topic, question), lambda: lines_of(question, _UNNUMBERED), decode)
        return [_label(numbered.number) + found[0][len(unnumbered) :], *found[1:]]

    return lines


KINDS = ("answers", "questions", "key")
"""What `fragments` gives a question's lines for, in its order."""


def fragments(bank: Bank, cache: BuildCache | None) -> tuple[QuestionLines, QuestionLines, QuestionLines]:
    """How the sheets get a question's lines, from `cache` where they can: in the review sheet,
    in the questions sheet, and in its answer key."""
    aspect = labels(bank.deck.language).aspect
    return (
        _cached_lines(bank, cache, "answers", lambda question, number: _question(bank, number, question, True)),
        _cached_lines(bank, cache, "questions", lambda question, number: _question(bank, number, question, False)),
        _cached_lines(bank, cache, "key", lambda question, number: _answer(question, number, aspect)),
    )


def _body(outline: Outline, with_answers: bool, cache: BuildCache | None) -> Iterator[str | Block]:
    return _by_topic(outline, 2, "answers" if with_answers else "questions", cache)


def _question(bank: Bank, number: int, question: Question, with_answers: bool) -> list[str]:
    label = _label(number)
    media = question.media(MEDIA_FOLDER + "/")
    if question.type is QuestionType.CLOZE:
        text = cloze_reveal(question.question) if with_answers else cloze_blank(question.question)
        lines = [_labelled(label, with_media(text, media)), ""]
    else:
        lines = [_labelled(label, with_media(question.question, media)), ""]
    if question.type is QuestionType.COMPARE:
        lines += [_compare_table(question, with_values=with_answers, aspect=labels(bank.deck.language).aspect), ""]
    elif question.type is QuestionType.BASIC and with_answers:
        lines += [_labelled("**A.**", with_media(question.answer, media)), ""]
    if with_answers:
        if question.extra:
            lines += [_quote(with_media(question.extra, media)), ""]
        for extra in question.row_extras:
            lines += [_quote(extra), ""]
        links = " · ".join(_source_link(bank.source(s)) for s in question.sources)
        words = labels(bank.deck.language)
        lines += [f"*{words.sources}{words.colon.rstrip()}* {links} · {_id_label(question)}", ""]
    else:
        lines += [_id_label(question), ""]
    return lines


def _id_label(question: Question) -> str:
    """The question's id, as its Anki card's ID field and the banks name it (ids are `[a-z0-9-]`)."""
    return f"*ID:* `{question.id}`"


def _answer_key(outline: Outline, cache: BuildCache | None) -> Iterator[str | Block]:
    """The answers by section and topic, each on its number's line; a cloze as its whole
    sentence with the deletions in bold."""
    words = labels(outline.deck.language)
    yield from (f"## {words.answer_key}", "")
    yield from _by_topic(outline, 3, "key", cache)


def _answer(question: Question, number: int, aspect: str) -> list[str]:
    """A question's lines in the answer key."""
    label = _label(number)
    media = question.media(MEDIA_FOLDER + "/")
    if question.type is QuestionType.BASIC:
        return [_labelled(label, with_media(question.answer, media)), ""]
    if question.type is QuestionType.CLOZE:
        return [_labelled(label, with_media(cloze_reveal(question.question), media)), ""]
    return [label, "", _compare_table(question, with_values=True, aspect=aspect), ""]


def _trimmed(lines: Iterable[str | Block]) -> Iterator[str | Block]:
    """The lines without the blank ones at the end, so that the file ends in one newline (a part
    read back from the last build that ends the file is taken apart into its lines). Made as
    they are asked for: what is held back is the last line or part that shows anything, and
    the blank lines after it."""
    held: list[str | Block] = []
    for line in lines:
        if _shows(line):
            yield from held
            held = [line]
        else:
            held.append(line)
    while held:
        last = held[-1]
        if isinstance(last, Block):
            held[-1:] = last.lines()
        elif last.rstrip("\n"):
            held[-1] = last.rstrip("\n")
            break
        else:
            held.pop()
    yield from held


def _shows(line: str | Block) -> bool:
    """Whether a line, or any line of a part, is more than newlines (what `_trimmed` keeps at the end)."""
    if isinstance(line, str):
        return bool(line.rstrip("\n"))
    # A part's lines are what comes before its last newline (`Block.lines`).
    data = line.data
    end = data.rfind(b"\n")
    return end > 0 and data.count(b"\n", 0, end) < end


def review_sheet_lines(outline: Outline, cache: BuildCache | None = None) -> Iterator[str | Block]:
    """The review sheet's lines, each to be followed by a newline, made as they are asked for;
    each question's from `cache` where it can."""
    head = _header(outline, labels(outline.deck.language).review_sheet, _Slugger(), ())
    return _trimmed(chain(head, _body(outline, True, cache)))


def questions_sheet_lines(outline: Outline, cache: BuildCache | None = None) -> Iterator[str | Block]:
    """The questions sheet's lines, each to be followed by a newline, made as they are asked
    for; each question's from `cache` where it can."""
    words = labels(outline.deck.language)
    head = _header(outline, words.questions, _Slugger(), (words.answer_key,))
    return _trimmed(chain(head, _body(outline, False, cache), _answer_key(outline, cache)))


def review_sheet(bank: Bank) -> str:
    """Every question with its answer, extra and sources, by section and topic."""
    return joined(review_sheet_lines(outline(bank)))


def questions_sheet(bank: Bank) -> str:
    """The questions only, for self-testing, with the answer key at the end."""
    return joined(questions_sheet_lines(outline(bank)))
