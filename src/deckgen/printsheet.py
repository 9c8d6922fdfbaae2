"""The printable review sheets as HTML: one self-contained file each, made for paper.

Math is MathML rendered at build time (Chromium and Firefox draw it natively, offline,
without JavaScript), code is highlighted, images are embedded, and every source prints
its URL, so that nothing depends on a network or a screen. `review_html` has the answers;
`questions_html` has the questions only and an answer key at the end.
"""

from __future__ import annotations

import base64
import re
from html import escape
from pathlib import Path

from deckgen.cache import BuildCache
from deckgen.model import Bank, Question, QuestionType, media_name
from deckgen.cloze import cloze_answers, cloze_blank, cloze_reveal
from deckgen.links import with_media
from deckgen.render import code_css, to_print_html
from deckgen.sheet import numbered

# Chromium's MathML has no <menclose>, so \boxed would not show on paper; colour and a
# square do.
PRINT_MATH_MARK = "{\\color{#0550ae}{%s}}"
PRINT_MATH_BLANK = "\\square_{\\text{%s}}"

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
math { font-size: 1.05em; }
math[display="block"] { margin: 0.3em 0; }
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


# Both pages show the same texts (the answer key repeats the answers). They are made in
# one pass, question by question, and each question's printed texts are one cache entry:
# `_texts` holds the current question's, while it is being printed.
_texts: dict[str, str] = {}
_texts_changed = False


def _md(text: str, question: Question) -> str:
    """A question's text as printable HTML."""
    global _texts_changed
    html = _texts.get(text)
    if html is None:
        html = _texts[text] = _embed(to_print_html(with_media(text, question.media())), question)
        _texts_changed = True
    return html


def _cached_texts(value: object) -> dict[str, str]:
    """A question's printed texts as the cache stored them; empty if the value is not that."""
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return value
    return {}


def _refs(bank: Bank, question: Question) -> str:
    items = []
    for source_id in question.sources:
        source = bank.source(source_id)
        items.append(f'<li>{escape(source.title)} <span class="url">{escape(source.url)}</span></li>')
    return f'<ol class="refs">{"".join(items)}</ol>'


def _table(question: Question, with_values: bool) -> str:
    head = "".join(f"<th>{_md(item, question).removeprefix('<p>').removesuffix('</p>')}</th>" for item in question.items)
    rows = []
    for row in question.live_rows:
        cells = "".join(
            f"<td>{_md(v, question)}</td>" if with_values else '<td class="blank"></td>' for v in row.values
        )
        rows.append(f"<tr><th>{_md(row.aspect, question)}</th>{cells}</tr>")
    return f'<table><tr><th>Aspect</th>{head}</tr>{"".join(rows)}</table>'


def _question_html(bank: Bank, number: int, question: Question, with_answers: bool) -> str:
    text = question.question
    if question.type is QuestionType.CLOZE:
        text = cloze_reveal(text, PRINT_MATH_MARK) if with_answers else cloze_blank(text, PRINT_MATH_BLANK)
    parts = [f'<article class="qa" id="q{number}"><span class="num">{number}.</span><div class="body"><div class="q">{_md(text, question)}</div>']
    if question.type is QuestionType.COMPARE:
        parts.append(_table(question, with_values=with_answers))
    elif question.type is QuestionType.BASIC and with_answers:
        parts.append(f'<div class="a">{_md(question.answer, question)}</div>')
    if with_answers:
        if question.extra:
            parts.append(f'<div class="extra">{_md(question.extra, question)}</div>')
        for row in question.live_rows if question.type is QuestionType.COMPARE else ():
            if row.extra:
                parts.append(f'<div class="extra">{_md(f"**{row.aspect}:** {row.extra}", question)}</div>')
        parts.append(_refs(bank, question))
    parts.append("</div></article>")
    return "".join(parts)


def _answer_html(number: int, question: Question) -> str:
    if question.type is QuestionType.BASIC:
        body = _md(question.answer, question)
    elif question.type is QuestionType.CLOZE:
        body = _md(" · ".join(cloze_answers(question.question)), question)
    else:
        body = _table(question, with_values=True)
    return f'<div class="qa"><span class="num">{number}.</span><div class="body">{body}</div></div>'


def _head(bank: Bank, subtitle: str, with_answers: bool, description: str) -> list[str]:
    deck = bank.deck
    cards = sum(q.card_count for q in bank.questions)
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
        f'<p class="meta">Version {escape(deck.version)} · {len(bank.questions)} questions, {cards} cards · {escape(deck.homepage)}</p>',
        description,
        "</header>",
        '<nav class="toc"><h2>Contents</h2><ol>',
    ]
    topics = bank.ordered_topics()
    for section in deck.sections:
        in_section = [t for t in topics if t.section == section.id]
        if in_section:
            links = "".join(f'<li><a href="#t-{t.id}">{escape(t.title)}</a></li>' for t in in_section)
            out.append(f'<li><a href="#s-{section.id}">{escape(section.title)}</a><ol>{links}</ol></li>')
    if not with_answers:
        out.append('<li><a href="#answer-key">Answer key</a></li>')
    out.append("</ol></nav>")
    return out


def _pages(bank: Bank, cache: BuildCache | None, review: bool = True, questions: bool = True) -> tuple[list[str], list[str]]:
    """The lines of both pages (review, questions), made in one pass over the questions;
    each question's printed texts come from `cache` where they can."""
    global _texts, _texts_changed
    description = to_print_html(bank.deck.description)
    review_out = _head(bank, "review sheet", True, description) if review else []
    questions_out = _head(bank, "questions", False, description) if questions else []
    key_out: list[str] = []
    keys = {q.id: cache.question_key(bank, t, q) for t in bank.topics for q in t.questions} if cache is not None else {}
    current_section = current_topic = ""
    try:
        for number, topic, question in numbered(bank):
            opening = []
            if topic.section != current_section:
                if current_section:
                    opening.append("</section></section>")
                    current_topic = ""
                current_section = topic.section
                title = bank.section(topic.section).title
                opening.append(f'<section class="section" id="s-{topic.section}"><h2>{escape(title)}</h2>')
            if topic.id != current_topic:
                if current_topic:
                    opening.append("</section>")
                current_topic = topic.id
                opening.append(f'<section class="topic" id="t-{topic.id}"><h3>{escape(topic.title)}</h3>')
            key = "print:" + keys[question.id] if question.id in keys else None
            _texts = _cached_texts(cache.get(key)) if cache is not None and key is not None else {}
            _texts_changed = False
            if review:
                review_out += opening
                review_out.append(_question_html(bank, number, question, with_answers=True))
            if questions:
                questions_out += opening
                questions_out.append(_question_html(bank, number, question, with_answers=False))
                key_out.append(_answer_html(number, question))
            if _texts_changed and cache is not None and key is not None:
                cache.put(key, _texts)
    finally:
        _texts, _texts_changed = {}, False
    for out in (review_out, questions_out):
        if out and current_section:
            out.append("</section></section>")
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
    return "\n".join(_pages(bank, None, questions=False)[0]) + "\n"


def questions_html(bank: Bank) -> str:
    """The questions only, then an answer key at the end, as one printable page."""
    return "\n".join(_pages(bank, None, review=False)[1]) + "\n"


def print_pages(bank: Bank, cache: BuildCache) -> tuple[list[str], list[str]]:
    """The lines of both pages (review, questions), rendering each text at most once, from
    `cache` where it can. Each page is its lines, each followed by a newline."""
    return _pages(bank, cache)
