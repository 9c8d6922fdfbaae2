"""The printable review sheets, as pure functions of the bank: Bank -> Markdown text.

`review_sheet` has every question with its answer; `questions_sheet` has the questions
only, for self-testing, and an answer key at the end. Numbers match between the two.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deckgen.model import Bank, Question, QuestionType, Source, Topic
from deckgen.cloze import cloze_answers, cloze_blank, cloze_reveal
from deckgen.links import with_media
from deckgen.render import to_sheet_cell, to_sheet_markdown

MEDIA_FOLDER = "media"
"""Where the sheets' images are copied, beside the sheets."""


class _Slugger:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens, repeats numbered."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def slug(self, heading: str) -> str:
        base = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = self.seen.get(base, 0)
        self.seen[base] = count + 1
        return base if count == 0 else f"{base}-{count}"


def numbered(bank: Bank) -> Iterator[tuple[int, Topic, Question]]:
    """Every live question with its number in the sheets, in deck order."""
    number = 0
    for topic in bank.ordered_topics():
        for question in topic.questions:
            number += 1
            yield number, topic, question


_MARKDOWN_PUNCTUATION = "\\`*_[]$~|!"
"""What could make plain text into Markdown syntax inside a line: code, emphasis, links,
images, math, strikethrough and table cells. Each is written with a backslash."""


def _plain(text: str) -> str:
    """Plain text (a title) for Markdown: it reads as the characters written, never as syntax or HTML."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if any(char in text for char in _MARKDOWN_PUNCTUATION):
        text = "".join("\\" + char if char in _MARKDOWN_PUNCTUATION else char for char in text)
    return text


def _escape_link_text(text: str) -> str:
    return _plain(text)


def _source_link(source: Source) -> str:
    return f"[{_escape_link_text(source.title)}]({source.url})"


def _compare_table(question: Question, with_values: bool) -> str:
    header = "| Aspect | " + " | ".join(to_sheet_cell(item) for item in question.items) + " |"
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


def _header(bank: Bank, subtitle: str, slugger: _Slugger, extra_headings: tuple[str, ...]) -> list[str]:
    deck = bank.deck
    questions = bank.questions
    cards = sum(q.card_count for q in questions)
    title = f"{deck.title}: {subtitle}"
    slugger.slug(title)
    lines = [
        f"# {_plain(title)}",
        "",
        f"Version {_plain(deck.version)} · {len(questions)} questions, {cards} cards · <{deck.homepage}>",
        "",
        to_sheet_markdown(deck.description),
        "",
        "## Contents",
        "",
    ]
    slugger.slug("Contents")
    toc: list[str] = []
    for section in bank.deck.sections:
        topics = [t for t in bank.ordered_topics() if t.section == section.id]
        if not topics:
            continue
        toc.append(f"- [{_escape_link_text(section.title)}](#{slugger.slug(section.title)})")
        for topic in topics:
            toc.append(f"  - [{_escape_link_text(topic.title)}](#{slugger.slug(topic.title)})")
    for heading in extra_headings:
        toc.append(f"- [{heading}](#{slugger.slug(heading)})")
    return lines + toc + [""]


def _body(bank: Bank, with_answers: bool) -> list[str]:
    lines: list[str] = []
    current_section = ""
    current_topic = ""
    for number, topic, question in numbered(bank):
        if topic.section != current_section:
            current_section = topic.section
            lines += [f"## {_plain(bank.section(topic.section).title)}", ""]
        if topic.id != current_topic:
            current_topic = topic.id
            lines += [f"### {_plain(topic.title)}", ""]
        label = f"**Q{number}.**"
        media = question.media(MEDIA_FOLDER + "/")
        if question.type is QuestionType.CLOZE:
            text = cloze_reveal(question.question) if with_answers else cloze_blank(question.question)
            lines += [_labelled(label, with_media(text, media)), ""]
        else:
            lines += [_labelled(label, with_media(question.question, media)), ""]
        if question.type is QuestionType.COMPARE:
            lines += [_compare_table(question, with_values=with_answers), ""]
        elif question.type is QuestionType.BASIC and with_answers:
            lines += [_labelled("**A.**", with_media(question.answer, media)), ""]
        if with_answers:
            if question.extra:
                lines += [_quote(with_media(question.extra, media)), ""]
            for row in question.live_rows if question.type is QuestionType.COMPARE else ():
                if row.extra:
                    lines += [_quote(f"**{row.aspect}:** {row.extra}"), ""]
            links = " · ".join(_source_link(bank.source(s)) for s in question.sources)
            lines += [f"*Sources:* {links}", ""]
    return lines


def _answer_key(bank: Bank) -> list[str]:
    lines = ["## Answer key", ""]
    for number, _, question in numbered(bank):
        label = f"**Q{number}.**"
        if question.type is QuestionType.BASIC:
            lines += [_labelled(label, with_media(question.answer, question.media(MEDIA_FOLDER + "/"))), ""]
        elif question.type is QuestionType.CLOZE:
            lines += [_labelled(label, " · ".join(cloze_answers(question.question))), ""]
        else:
            lines += [label, "", _compare_table(question, with_values=True), ""]
    return lines


def _trimmed(lines: list[str]) -> list[str]:
    """The lines without the blank ones at the end, so that the file ends in one newline."""
    while lines and not lines[-1].rstrip("\n"):
        lines.pop()
    if lines:
        lines[-1] = lines[-1].rstrip("\n")
    return lines


def review_sheet_lines(bank: Bank) -> list[str]:
    """The review sheet's lines, each to be followed by a newline."""
    slugger = _Slugger()
    return _trimmed(_header(bank, "review sheet", slugger, ()) + _body(bank, with_answers=True))


def questions_sheet_lines(bank: Bank) -> list[str]:
    """The questions sheet's lines, each to be followed by a newline."""
    slugger = _Slugger()
    return _trimmed(_header(bank, "questions", slugger, ("Answer key",)) + _body(bank, with_answers=False) + _answer_key(bank))


def review_sheet(bank: Bank) -> str:
    """Every question with its answer, extra and sources, by section and topic."""
    return "".join(line + "\n" for line in review_sheet_lines(bank))


def questions_sheet(bank: Bank) -> str:
    """The questions only, for self-testing, with the answer key at the end."""
    return "".join(line + "\n" for line in questions_sheet_lines(bank))
