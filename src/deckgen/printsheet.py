"""The printable review sheets as HTML: one self-contained file each, made for paper.

Math is MathML rendered at build time (Chromium and Firefox draw it natively, offline,
without JavaScript), code is highlighted, images are embedded, and every source prints
its URL, so that nothing depends on a network or a screen. `review_html` has the answers;
`questions_html` has the questions only and an answer key at the end.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from html import escape
from pathlib import Path

from deckgen.cache import BuildCache
from deckgen.cloze import cloze_answers, cloze_blank, cloze_reveal
from deckgen.links import with_media
from deckgen.model import Bank, CompareRow, Question, QuestionType, Topic, media_name
from deckgen.outline import Outline, outline
from deckgen.render import code_css, print_only_html, to_print_html

# Chromium's MathML has no <menclose>, so \boxed would not show on paper; colour and a
# square do.
PRINT_MATH_MARK = "{\\color{#0550ae}{%s}}"
PRINT_MATH_BLANK = "\\boxed{\\text{\u2002%s\u2002}}"

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif", ".svg": "image/svg+xml", ".webp": "image/webp"}

PRINT_CSS = """\
@page {
  margin: 20mm 16mm 18mm 16mm;
  @top-left { content: "%(running)s"; font: 8pt/1 "Noto Sans", "Noto Sans CJK SC", sans-serif; color: #57606a; }
  @bottom-right { content: counter(page) " / " counter(pages); font: 8pt/1 "Noto Sans", sans-serif; color: #57606a; }
}
:root { color-scheme: light; }
body {
  font: 10.5pt/1.45 "Noto Serif", "Noto Serif CJK SC", "Source Han Serif SC", Georgia, "Songti SC", serif;
  color: #1f2328; background: #ffffff; margin: 0;
}
@media screen { body { max-width: 46em; margin: 2em auto; padding: 0 1em; } }
h1 { font: 600 22pt/1.2 "Noto Sans", "Noto Sans CJK SC", sans-serif; margin: 0 0 0.3em; }
h2, h3 { font-family: "Noto Sans", "Noto Sans CJK SC", sans-serif; break-after: avoid; }
h2 { font-size: 15pt; border-bottom: 1.5pt solid #1f2328; padding-bottom: 2pt; margin: 0 0 0.6em; }
h3 { font-size: 12pt; margin: 1.2em 0 0.5em; color: #0550ae; }
.meta { color: #57606a; margin: 0 0 1em; }
nav.toc ol { padding-left: 1.2em; }
nav.toc a { color: inherit; text-decoration: none; }
section.section { break-before: page; }
.qa { display: flex; gap: 0.2em; break-inside: avoid; margin: 0 0 0.9em; padding: 0.5em 0 0.6em; border-bottom: 0.5pt solid #d0d7de; }
.qa .body { flex: 1; min-width: 0; }
.q { font-weight: 600; }
.num { flex: 0 0 2.4em; font: 600 9pt/1.9 "Noto Sans", sans-serif; color: #57606a; }
.q a[href]::after, .a a[href]::after, .extra a[href]::after { content: " <" attr(href) ">"; font-size: 8pt; word-break: break-all; }
.a { margin-top: 0.3em; }
.extra { margin-top: 0.4em; padding-left: 0.8em; border-left: 2pt solid #d0d7de; color: #3b434b; font-size: 9.5pt; }
.q p, .a p, .extra p { margin: 0.2em 0; }
.refs { margin: 0.4em 0 0; padding-left: 1.4em; font-size: 8pt; color: #57606a; }
.refs .url { font-family: "Noto Sans Mono", monospace; word-break: break-all; }
a { color: inherit; }
table { border-collapse: collapse; margin: 0.4em 0; break-inside: avoid; font-size: 9.5pt; }
th, td { border: 0.5pt solid #8c959f; padding: 2pt 5pt; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.blank { min-width: 8em; }
pre { white-space: pre-wrap; font-size: 8.5pt; background: #f6f8fa; padding: 4pt 6pt; break-inside: avoid; }
code { font-family: "Noto Sans Mono", "DejaVu Sans Mono", monospace; font-size: 0.9em; }
math {
  font-family: "Latin Modern Math", "TeX Gyre Pagella Math", "TeX Gyre Termes Math", "TeX Gyre Schola Math",
    "TeX Gyre Bonum Math", "STIX Two Math", "DejaVu Math TeX Gyre", math;
  font-size: 1.1em;
}
math[display="block"] { margin: 0.3em 0; }
menclose[notation~="box"] { border: 0.06em solid currentColor; padding: 0.1em 0.25em; }
.dg-nobr { white-space: nowrap; }
img { max-width: 100%%; break-inside: avoid; }
.key .qa { padding: 0.3em 0; }
"""


def _css_string(text: str) -> str:
    """Text for a CSS string in a <style> block: quotes escaped, and no `<` to end the block."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3C ").replace(">", "\\3E ")
    return re.sub(r"[\r\n\f]", "\\\\A ", escaped)


def _embed(html: str, question: Question) -> str:
    """Images as data URIs, so the file is self-contained."""
    for _, path in question.images:
        name = media_name(path)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        html = html.replace(f'src="{name}"', f'src="data:{_MIME.get(Path(name).suffix, "application/octet-stream")};base64,{data}"')
    return html


def _shown(question: Question, with_answers: bool) -> str:
    """The question's text as a page shows it: a cloze revealed on the review page, blanked on the other."""
    if question.type is not QuestionType.CLOZE:
        return question.question
    return cloze_reveal(question.question, PRINT_MATH_MARK) if with_answers else cloze_blank(question.question, PRINT_MATH_BLANK)


def _row_extra(row: CompareRow) -> str:
    return f"**{row.aspect}:** {row.extra}"


def _key_line(question: Question) -> str:
    """A cloze's line in the answer key: its answers."""
    return " · ".join(cloze_answers(question.question))


def _texts_of(question: Question) -> list[tuple[str, bool]]:
    """Every text of the question that either page prints: the question as each page shows it,
    the answer, the extra, a compare table's cells and rows' extras, a cloze's answer key line;
    each with whether a card shows it too (its printed form then comes from the card's parse)."""
    cloze = question.type is QuestionType.CLOZE
    texts = [(_shown(question, True), not cloze), (_shown(question, False), not cloze)]
    if cloze:
        texts.append((_key_line(question), False))
    if question.type is QuestionType.BASIC:
        texts.append((question.answer, True))
    if question.extra:
        texts.append((question.extra, True))
    if question.type is QuestionType.COMPARE:
        texts += [(item, False) for item in question.items]  # a card shows items and aspects inline
        for row in question.live_rows:
            texts += [(row.aspect, False), *((value, True) for value in row.values)]
            if row.extra:
                texts.append((_row_extra(row), False))
    return texts


def printed_texts(question: Question) -> dict[str, str]:
    """Each text the pages print of the question, as printable HTML with its images embedded."""
    media = question.media()
    return {
        text: _embed((to_print_html if on_card else print_only_html)(with_media(text, media)), question)
        for text, on_card in _texts_of(question)
    }


def _cached_texts(value: object, question: Question) -> dict[str, str] | None:
    """A question's printed texts as the cache stored them; None unless it is text for text, and
    holds every text the pages print."""
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return value if all(text in value for text, _ in _texts_of(question)) else None


def _question_texts(bank: Bank, cache: BuildCache | None) -> Callable[[Topic, Question], dict[str, str]]:
    """How the pages get a question's printed texts: rendered, or from `cache` where it can."""
    if cache is None:
        return lambda topic, question: printed_texts(question)

    def texts(topic: Topic, question: Question) -> dict[str, str]:
        key = "print:" + cache.question_key(bank, topic, question)
        return cache.memo(key, lambda: printed_texts(question), lambda value: _cached_texts(value, question))

    return texts


def _refs(bank: Bank, question: Question) -> str:
    items = []
    for source_id in question.sources:
        source = bank.source(source_id)
        items.append(f'<li>{escape(source.title)} <span class="url">{escape(source.url)}</span></li>')
    return f'<ol class="refs">{"".join(items)}</ol>'


def _table(question: Question, texts: dict[str, str], with_values: bool) -> str:
    head = "".join(f"<th>{texts[item].removeprefix('<p>').removesuffix('</p>')}</th>" for item in question.items)
    rows = []
    for row in question.live_rows:
        cells = "".join(f"<td>{texts[v]}</td>" if with_values else '<td class="blank"></td>' for v in row.values)
        rows.append(f"<tr><th>{texts[row.aspect]}</th>{cells}</tr>")
    return f'<table><tr><th>Aspect</th>{head}</tr>{"".join(rows)}</table>'


def _question_html(bank: Bank, number: int, question: Question, texts: dict[str, str], with_answers: bool) -> str:
    shown = texts[_shown(question, with_answers)]
    parts = [f'<article class="qa" id="q{number}"><span class="num">{number}.</span><div class="body"><div class="q">{shown}</div>']
    if question.type is QuestionType.COMPARE:
        parts.append(_table(question, texts, with_values=with_answers))
    elif question.type is QuestionType.BASIC and with_answers:
        parts.append(f'<div class="a">{texts[question.answer]}</div>')
    if with_answers:
        if question.extra:
            parts.append(f'<div class="extra">{texts[question.extra]}</div>')
        for row in question.live_rows if question.type is QuestionType.COMPARE else ():
            if row.extra:
                parts.append(f'<div class="extra">{texts[_row_extra(row)]}</div>')
        parts.append(_refs(bank, question))
    parts.append("</div></article>")
    return "".join(parts)


def _answer_html(number: int, question: Question, texts: dict[str, str]) -> str:
    if question.type is QuestionType.BASIC:
        body = texts[question.answer]
    elif question.type is QuestionType.CLOZE:
        body = texts[_key_line(question)]
    else:
        body = _table(question, texts, with_values=True)
    return f'<div class="qa"><span class="num">{number}.</span><div class="body">{body}</div></div>'


def _head(outline: Outline, subtitle: str, with_answers: bool, description: str) -> list[str]:
    deck = outline.deck
    running = _css_string(f"{deck.title} · {subtitle} · version {deck.version}")
    out = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(deck.title)}: {escape(subtitle)}</title>",
        f"<style>\n{PRINT_CSS % {'running': running}}{code_css()}</style>",
        "</head>",
        "<body>",
        f"<header><h1>{escape(deck.title)}: {escape(subtitle)}</h1>",
        f'<p class="meta">Version {escape(deck.version)} · {escape(outline.counts)} · {escape(deck.homepage)}</p>',
        description,
        "</header>",
        '<nav class="toc"><h2>Contents</h2><ol>',
    ]
    for section in outline.sections:
        links = "".join(f'<li><a href="#t-{t.topic.id}">{escape(t.topic.title)}</a></li>' for t in section.topics)
        out.append(f'<li><a href="#s-{section.section.id}">{escape(section.section.title)}</a><ol>{links}</ol></li>')
    if not with_answers:
        out.append('<li><a href="#answer-key">Answer key</a></li>')
    out.append("</ol></nav>")
    return out


def _pages(outline: Outline, cache: BuildCache | None, review: bool = True, questions: bool = True) -> tuple[list[str], list[str]]:
    """The lines of both pages (review, questions), made in one pass over the questions, whose
    printed texts come from `cache` where they can."""
    bank = outline.bank
    texts_of = _question_texts(bank, cache)
    description = to_print_html(bank.deck.description)
    review_out = _head(outline, "review sheet", True, description) if review else []
    questions_out = _head(outline, "questions", False, description) if questions else []
    key_out: list[str] = []
    for section in outline.sections:
        if not section.has_questions:
            continue
        opening = [f'<section class="section" id="s-{section.section.id}"><h2>{escape(section.section.title)}</h2>']
        for topic in (t for t in section.topics if t.questions):
            opening.append(f'<section class="topic" id="t-{topic.topic.id}"><h3>{escape(topic.topic.title)}</h3>')
            for numbered in topic.questions:
                number, question = numbered.number, numbered.question
                texts = texts_of(topic.topic, question)
                if review:
                    review_out += opening
                    review_out.append(_question_html(bank, number, question, texts, with_answers=True))
                if questions:
                    questions_out += opening
                    questions_out.append(_question_html(bank, number, question, texts, with_answers=False))
                    key_out.append(_answer_html(number, question, texts))
                opening = []
            opening.append("</section>")
        opening[-1] = "</section></section>"
        for out in (review_out, questions_out):
            if out:
                out += opening
    if questions:
        questions_out.append('<section class="section key" id="answer-key"><h2>Answer key</h2>')
        questions_out += key_out
        questions_out.append("</section>")
    for out in (review_out, questions_out):
        if out:
            out += ["</body>", "</html>"]
    return review_out, questions_out


def review_html(bank: Bank) -> str:
    """Every question with its answer, extra and sources, as one printable page."""
    return "\n".join(_pages(outline(bank), None, questions=False)[0]) + "\n"


def questions_html(bank: Bank) -> str:
    """The questions only, then an answer key at the end, as one printable page."""
    return "\n".join(_pages(outline(bank), None, review=False)[1]) + "\n"


def print_pages(outline: Outline, cache: BuildCache) -> tuple[list[str], list[str]]:
    """The lines of both pages (review, questions), each text rendered at most once, from
    `cache` where it can. Each page is its lines, each followed by a newline."""
    return _pages(outline, cache)
