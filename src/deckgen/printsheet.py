"""The printable review sheets as HTML: one self-contained file each, made for paper.

Math is MathML rendered at build time (Chromium and Firefox draw it natively, offline,
without JavaScript), code is highlighted, images are embedded, and every source prints
its URL, so that nothing depends on a network or a screen. `review_html` has the answers;
`questions_html` has the questions only and an answer key at the end.
"""

from __future__ import annotations

import base64
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from html import escape, unescape
from pathlib import Path

from deckgen.cache import Block, BuildCache, joined
from deckgen.bibliography import cite_keys, cited
from deckgen.cloze import cloze_blank, cloze_reveal
from deckgen.labels import labels
from deckgen.links import with_media
from deckgen.model import Bank, Question, QuestionType, Source, Topic, media_name
from deckgen.outline import NumberedQuestion, Outline, TopicOutline, outline
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
table.to-fill { width: 100%%; table-layout: fixed; }
table.to-fill tr:first-child th:first-child { width: 30%%; }
pre { white-space: pre-wrap; font-size: 8.5pt; background: #f6f8fa; padding: 4pt 6pt; break-inside: avoid; }
code { font-family: "Noto Sans Mono", "DejaVu Sans Mono", monospace; font-size: 0.9em; }
math {
  font-family: "Latin Modern Math", "TeX Gyre Pagella Math", "TeX Gyre Termes Math", "TeX Gyre Schola Math",
    "TeX Gyre Bonum Math", "STIX Two Math", "DejaVu Math TeX Gyre", math;
  font-size: 1.1em;
}
math[display="block"] { margin: 0.3em 0; }
mtd[columnalign="right"] { text-align: right; text-align: -webkit-right; }
mtd[columnalign="left"] { text-align: left; text-align: -webkit-left; }
mtd[columnalign="right"]:has(+ mtd[columnalign="left"]) { padding-right: 0; }
mtd[columnalign="right"] + mtd[columnalign="left"] { padding-left: 0; }
mtd[columnalign="left"] + mtd[columnalign="right"] { padding-left: 1em; }
menclose[notation~="box"] { border: 0.06em solid currentColor; padding: 0.1em 0.25em; }
.dg-nobr { white-space: nowrap; }
img { max-width: 100%%; break-inside: avoid; }
.key .qa { padding: 0.3em 0; }
"""


LAYOUTS = ("full", "compact")
"""`full`: one column in 11 pt type; `compact`: two columns in 9.5 pt type, to carry the deck on few sheets."""
PAPERS = {"letter": "letter", "a4": "A4"}
"""The paper sizes, by the name `--paper` takes, as CSS `@page` names them."""


@dataclass(frozen=True)
class PrintStyle:
    """How a printed sheet is laid out: its layout (one of LAYOUTS) and paper (a key of PAPERS)."""

    layout: str = "full"
    paper: str = "letter"

    @property
    def writing_lines(self) -> int:
        """The ruled lines under each question of the questions sheet, to write an answer on."""
        return 2 if self.layout == "compact" else 3


SHEET_CSS = """\
body { font-family: "Noto Serif", "DejaVu Serif", "WenQuanYi Micro Hei", "Noto Serif CJK SC", "Source Han Serif SC", Georgia, "Songti SC", serif; }
h1, h2, h3, h4, .num { font-family: "Noto Sans", "DejaVu Sans", "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; }
.qa { align-items: baseline; }
.foot { display: flex; flex-wrap: wrap; justify-content: space-between; column-gap: 1em; margin: 0.3em 0 0; font-size: 7.5pt; color: #57606a; }
.qid { margin-left: auto; white-space: nowrap; font: 7pt/1.5 "Noto Sans Mono", "DejaVu Sans Mono", monospace; color: #6e7781; }
.cites a { text-decoration: none; color: #0550ae; }
td p, th p { margin: 0; }
td.blank { height: 1.6em; }
.write i { display: block; height: 1.55em; border-bottom: 0.5pt solid #afb8c1; }
.lead { break-inside: avoid; }
section.section { break-before: auto; margin-top: 1.6em; }
nav.toc { break-after: page; }
section.key { break-before: page; }
h2 { break-after: avoid; }
nav.toc a { display: flex; gap: 0.4em; }
nav.toc .t { flex: 1; display: flex; }
nav.toc .t::after { content: ""; flex: 1; margin: 0 0.3em 0.3em; border-bottom: 0.8pt dotted #8c959f; }
nav.toc .pg { min-width: 2em; text-align: right; }
nav.toc > ol > li { margin-top: 0.3em; font-weight: 600; }
nav.toc > ol > li li { font-weight: 400; }
.bib { break-before: avoid; }
.bib h3 { font-size: 10pt; color: #1f2328; margin: 1em 0 0.3em; }
.bib ol { list-style: none; padding: 0; margin: 0; font-size: 8pt; color: #3b434b; }
.bib li { margin: 0 0 0.25em; padding-left: 1.5em; text-indent: -1.5em; }
.bib .key { font-weight: 600; color: #1f2328; }
.bib .url { font-family: "Noto Sans Mono", "DejaVu Sans Mono", monospace; font-size: 7pt; overflow-wrap: anywhere; text-decoration: none; color: #0550ae; }
.bib .url::after { content: none; }
.key .cols { columns: 2; column-gap: 7mm; column-rule: 0.5pt solid #d0d7de; }
.cols .wide { column-span: all; }
table.compare td { overflow-wrap: anywhere; }
.key h3.key-section { font-size: 11pt; color: #1f2328; margin: 0.8em 0 0.2em; break-after: avoid; }
.key h4 { font: 600 9pt/1.3 "Noto Sans", "DejaVu Sans", sans-serif; color: #0550ae; margin: 0.6em 0 0.2em; break-after: avoid; }
.ans { break-inside: avoid; margin: 0 0 0.35em; font-size: 9pt; }
.ans p { margin: 0.1em 0; }
.ans .n { font-family: "Noto Sans", "DejaVu Sans", sans-serif; }
.ans table { font-size: 8pt; }
"""
"""The sheet's own parts (ids, citations, bibliography, answer key, contents), over PRINT_CSS.
TrueType fonts come first: Chromium embeds CFF-flavoured OpenType fonts (Noto CJK's .ttc,
and any .otf) as Type 3 fonts (every glyph a drawing), which inflate the file; TrueType
ones it embeds as real fonts."""

LAYOUT_CSS = {
    "full": """\
@page { margin: 20mm 24mm 18mm 24mm; }
body { font-size: 11pt; }
""",
    "compact": """\
@page { margin: 12mm 11mm 13mm 11mm; }
body { font-size: 9.5pt; line-height: 1.32; }
h1 { font-size: 17pt; }
h2 { font-size: 12.5pt; margin: 0 0 0.4em; }
h3 { font-size: 10.5pt; margin: 0.6em 0 0.3em; }
nav.toc { columns: 2; column-gap: 8mm; font-size: 9pt; }
nav.toc h2 { column-span: all; }
.cols { columns: 2; column-gap: 6mm; column-rule: 0.5pt solid #d0d7de; }
.qa { margin: 0 0 0.5em; padding: 0.2em 0 0.4em; }
.num { flex: 0 0 2.1em; font-size: 8pt; }
.extra { font-size: 8.5pt; }
table { font-size: 8pt; }
th, td { padding: 1pt 3pt; }
pre { font-size: 7.5pt; }
""",
}
"""What each layout changes."""


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


def _texts_of(question: Question) -> list[tuple[str, bool]]:
    """Every text of the question that either page prints: the question as each page shows it,
    the answer, the extra, a compare table's cells and rows' extras, a cloze's answer key line;
    each with whether a card shows it too (its printed form then comes from the card's parse)."""
    cloze = question.type is QuestionType.CLOZE
    texts = [(_shown(question, True), not cloze), (_shown(question, False), not cloze)]
    if question.type is QuestionType.BASIC:
        texts.append((question.answer, True))
    if question.extra:
        texts.append((question.extra, True))
    if question.type is QuestionType.COMPARE:
        texts += [(item, False) for item in question.items]  # a card shows items and aspects inline
        for row in question.live_rows:
            texts += [(row.aspect, False), *((value, True) for value in row.values)]
        texts += [(extra, False) for extra in question.row_extras]
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


def question_texts(bank: Bank, cache: BuildCache | None) -> Callable[[Topic, Question], dict[str, str]]:
    """How the pages get a question's printed texts: rendered, or from `cache` where it can."""
    if cache is None:
        return lambda topic, question: printed_texts(question)

    def texts(topic: Topic, question: Question) -> dict[str, str]:
        key = "print:" + cache.question_key(bank, topic, question)
        return cache.memo(key, lambda: printed_texts(question), lambda value: _cached_texts(value, question))

    return texts


def _cites(bank: Bank, question: Question, bibliography: dict[str, int], section: str) -> str:
    """The question's sources as short keys, each a link to its entry in the section's bibliography."""
    keys = cite_keys(bank.sources)
    links = [
        f'<a href="#b-{section}-{bibliography[source_id]}">[{escape(keys[source_id])}]</a>' for source_id in question.sources
    ]
    words = labels(bank.deck.language)
    return f'<span class="cites">{words.sources}{words.colon}{" ".join(links)}</span>' if links else ""


def _bibliography(bank: Bank, section: str, sources: list[Source]) -> str:
    """A section's numbered bibliography: key, original title, its gloss in the edition's language
    (English, or Chinese in the Chinese edition), and a clickable URL."""
    keys = cite_keys(bank.sources)
    items = []
    chinese = bank.deck.language == "zh"
    for number, source in enumerate(sources, start=1):
        glossed = source.title_zh if chinese else source.title_en
        gloss = f' <span class="gloss">({escape(glossed)})</span>' if glossed else ""
        lang = f' lang="{escape(source.lang)}"' if source.lang else ""
        items.append(
            f'<li id="b-{section}-{number}"><span class="key">[{escape(keys[source.id])}]</span> '
            f"<cite{lang}>{escape(source.title)}</cite>{gloss}. "
            f'<a class="url" href="{escape(source.url)}">{escape(source.url)}</a></li>'
        )
    return f'<section class="bib"><h3>{labels(bank.deck.language).sources_cited}</h3><ol>{"".join(items)}</ol></section>'


def _sorted_sources(bank: Bank, sources: list[Source]) -> list[Source]:
    """A bibliography's order: by key, as a reader looks a key up."""
    keys = cite_keys(bank.sources)
    return sorted(sources, key=lambda s: (keys[s.id].casefold(), keys[s.id]))


WIDE_COMPARE = 4
"""A compare of this many items is too wide for a column: in two columns it spans both."""


WIDE_MATH = 36
"""A formula of this many characters (its MathML's text) is likely wider than a column: its
question spans both columns, since paper cannot scroll and MathML does not wrap."""

_TAG_RE = re.compile(r"<[^<>]*>")


@lru_cache(maxsize=256)  # each page of the pair, and the answer key, asks about a question's texts in turn
def _math_length(html: str) -> int:
    """The length of the longest formula in printed HTML, in characters of its MathML's text."""
    longest, start = 0, html.find("<math")
    while start != -1:
        end = html.find("</math>", start)
        if end == -1:
            break
        longest = max(longest, len(unescape(_TAG_RE.sub("", html[start:end]))))
        start = html.find("<math", end)
    return longest


def _wide(question: Question, printed: Iterable[str]) -> str:
    """The class that lets a question too wide for a column (a compare of many items, or a long
    formula in what is `printed` of it) span both columns, or nothing."""
    many_items = question.type is QuestionType.COMPARE and len(question.items) >= WIDE_COMPARE
    return " wide" if many_items or max(map(_math_length, printed), default=0) >= WIDE_MATH else ""


def _table(question: Question, texts: dict[str, str], with_values: bool, aspect: str) -> str:
    head = "".join(f"<th>{_inline(texts[item])}</th>" for item in question.items)
    rows = []
    for row in question.live_rows:
        cells = "".join(f"<td>{_inline(texts[v])}</td>" if with_values else '<td class="blank"></td>' for v in row.values)
        rows.append(f"<tr><th>{_inline(texts[row.aspect])}</th>{cells}</tr>")
    fill = "" if with_values else " to-fill"  # blank cells take the width that is left, in equal shares
    return f'<table class="compare{fill}"><tr><th>{escape(aspect)}</th>{head}</tr>{"".join(rows)}</table>'


def _inline(html: str) -> str:
    """A one-paragraph text without its paragraph, so that a table cell holds no empty line."""
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html


def _qid(question: Question) -> str:
    """The question's id in small type: its card's ID field in Anki, and its id in the banks."""
    return f'<span class="qid">{escape(question.id)}</span>'


def _question_html(
    bank: Bank, numbered: NumberedQuestion, texts: dict[str, str], with_answers: bool, cites: str, style: PrintStyle
) -> str:
    number, question = numbered.number, numbered.question
    shown = texts[_shown(question, with_answers)]
    parts = [f'<article class="qa{_wide(question, texts.values())}" id="q{number}"><span class="num">{number}.</span><div class="body"><div class="q">{shown}</div>']
    if question.type is QuestionType.COMPARE:
        parts.append(_table(question, texts, with_values=with_answers, aspect=labels(bank.deck.language).aspect))
    elif question.type is QuestionType.BASIC and with_answers:
        parts.append(f'<div class="a">{texts[question.answer]}</div>')
    elif question.type is QuestionType.BASIC:
        parts.append('<div class="write">' + "<i></i>" * style.writing_lines + "</div>")
    if with_answers:
        if question.extra:
            parts.append(f'<div class="extra">{texts[question.extra]}</div>')
        parts += [f'<div class="extra">{texts[extra]}</div>' for extra in question.row_extras]
    parts.append(f'<p class="foot">{cites}{_qid(question)}</p>')
    parts.append("</div></article>")
    return "".join(parts)


def _answer_html(numbered: NumberedQuestion, texts: dict[str, str], aspect: str) -> str:
    """A line of the answer key: the number, then the answer on the same line (a cloze as its
    whole sentence, the deletions emphasised), and the id."""
    number, question = numbered.number, numbered.question
    if question.type is QuestionType.COMPARE:
        cells = [texts[t] for row in question.live_rows for t in (row.aspect, *row.values)]
        return f'<div class="ans{_wide(question, cells)}"><p><b class="n">{number}.</b> {_qid(question)}</p>{_table(question, texts, with_values=True, aspect=aspect)}</div>'
    body = texts[question.answer] if question.type is QuestionType.BASIC else texts[_shown(question, True)]
    first, rest = (body[3 : body.index("</p>")], body[body.index("</p>") + 4 :]) if body.startswith("<p>") else ("", body)
    return f'<div class="ans{_wide(question, [body])}"><p><b class="n">{number}.</b> {first} {_qid(question)}</p>{rest}</div>'


def _toc_entry(target: str, title: str) -> str:
    """A contents line: the title, a leader, and the page, which the PDF's second printing fills in."""
    return f'<a href="#{target}"><span class="t">{escape(title)}</span><span class="pg" data-dest="{target}"></span></a>'


def _head(outline: Outline, subtitle: str, with_answers: bool, description: str, style: PrintStyle) -> list[str]:
    deck, words = outline.deck, labels(outline.deck.language)
    version = words.version.format(version=deck.version)
    title = f"{deck.title}{words.colon}{subtitle}"
    if outline.handout:
        title = outline.handout if with_answers else f"{outline.handout}{words.colon}{subtitle}"
    running_version = words.running_version.format(version=deck.version)
    running = _css_string(f"{title} · {running_version}" if outline.handout else f"{deck.title} · {subtitle} · {running_version}")
    css = PRINT_CSS % {"running": running} + SHEET_CSS + LAYOUT_CSS[style.layout] + f"@page {{ size: {PAPERS[style.paper]}; }}\n"
    out = [
        "<!doctype html>",
        f'<html lang="{words.html_lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>\n{css}{code_css()}</style>",
        "</head>",
        f'<body class="{style.layout}{" handout" if outline.handout else ""}">',
    ]
    if outline.handout:
        meta = f"{words.from_deck.format(deck=deck.title, version=deck.version)} · {outline.counts} · {deck.homepage}"
        return out + [f'<header><h1>{escape(title)}</h1>', f'<p class="meta">{escape(meta)}</p>', "</header>"]
    out += [
        f"<header><h1>{escape(title)}</h1>",
        f'<p class="meta">{escape(version)} · {escape(outline.counts)} · {escape(deck.homepage)}</p>',
        description,
        "</header>",
        f'<nav class="toc"><h2>{escape(words.contents)}</h2><ol>',
    ]
    for section in outline.sections:
        links = "".join(f"<li>{_toc_entry('t-' + t.topic.id, t.topic.title)}</li>" for t in section.topics if t.questions)
        out.append(f"<li>{_toc_entry('s-' + section.section.id, section.section.title)}<ol>{links}</ol></li>")
    if not with_answers:
        out.append(f"<li>{_toc_entry('answer-key', words.answer_key)}</li>")
    out.append("</ol></nav>")
    return out


def _topic_lines(
    bank: Bank, cache: BuildCache | None, style: PrintStyle, section_id: str, bibliography: dict[str, int], topic: TopicOutline, review: bool, questions: bool
) -> list[list[str | Block]]:
    """A topic's part of the review page, of the questions page and of its answer key (each empty
    when that page is not made); read back from the last build where it can."""
    texts_of = question_texts(bank, cache)
    words = labels(bank.deck.language)

    def make() -> list[list[str]]:
        review_out: list[str] = []
        questions_out: list[str] = []
        key_out = [f"<h4>{escape(topic.topic.title)}</h4>"]
        opening = f'<section class="topic" id="t-{topic.topic.id}"><div class="lead"><h3>{escape(topic.topic.title)}</h3>'
        for index, numbered in enumerate(topic.questions):
            question = numbered.question
            texts = texts_of(topic.topic, question)
            lead, close = (opening, "</div>") if index == 0 else ("", "")
            if review:
                cites = _cites(bank, question, bibliography, section_id)
                review_out.append(lead + _question_html(bank, numbered, texts, True, cites, style) + close)
            if questions:
                questions_out.append(lead + _question_html(bank, numbered, texts, False, "", style) + close)
                key_out.append(_answer_html(numbered, texts, words.aspect))
        made = [review_out + ["</section>"], questions_out + ["</section>"], key_out]
        return [lines for lines, wanted in zip(made, (review, questions, questions)) if wanted]

    wanted = [review, questions, questions]
    if cache is None:
        found: list[list[str | Block]] = [[*lines] for lines in make()]
    else:
        # What the parts show: the topic, each question's number and printed texts, the keys and
        # numbers of the sources it cites (in the section's bibliography), and the page's layout.
        cites = cite_keys(bank.sources)
        chosen = [n.question for n in topic.questions]
        numbers = tuple(n.number for n in topic.questions)
        cited = dict.fromkeys(s for q in chosen for s in q.sources)
        around = (bank.deck.language, style.layout, style.writing_lines, section_id, numbers, tuple((s, bibliography[s], cites[s]) for s in cited))

        def parts(keys: tuple[str, ...]) -> object:
            shown = [(number, key, [(bibliography[s], cites[s]) for s in q.sources]) for number, key, q in zip(numbers, keys, chosen)]
            return (bank.deck.language, style.layout, style.writing_lines, section_id, topic.topic.id, topic.topic.title, shown)

        keys, digest = cache.topic_digest("print-topic", bank, topic.topic, chosen, around, parts)
        kinds = [kind for kind, made in zip(("print-review-topic", "print-questions-topic", "print-key-topic"), wanted) if made]
        found = [[block] for block in cache.blocks(kinds, digest, ("print:" + key for key in keys), make)]
    pages = iter(found)
    return [next(pages) if made else [] for made in wanted]


class _Spooled:
    """Lines and parts of a page kept in a temporary file, not in memory, until the page comes
    to them: its answer key, which follows every question of the page (at 50,000 cards, 30 MB
    of the build's peak, held until the page's end). What it keeps in memory is each line's
    size, and each part's key and hash. A context manager: the file goes when it closes."""

    def __init__(self, folder: Path | None) -> None:
        # In `folder` (a build's: beside its output folder, on the disk it writes to), or else
        # where the system keeps temporary files; never seen by name on Linux and macOS, and
        # deleted when closed on Windows, where a build that is killed leaves it, named as
        # deckgen's (as the staging folder beside it is).
        self._file = tempfile.TemporaryFile(prefix=".deckgen-answer-key-", suffix=".tmp", dir=folder)
        self._entries: list[tuple[int, str | None, str] | Block] = []
        """Each line's size in the file; with a part's key and SHA-256 (a line has no key). A
        part taken unread from the last build's file (see `Block`) is kept as it is: it holds
        no bytes."""

    def __enter__(self) -> _Spooled:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def add(self, lines: Iterable[str | Block]) -> None:
        """Keep `lines` after those kept before."""
        for line in lines:
            if isinstance(line, Block):
                if line.held is None:
                    self._entries.append(line)
                else:
                    self._file.write(line.held)
                    self._entries.append((line.size, line.key, line.sha256))
            else:
                data = line.encode("utf-8", "surrogatepass")  # given back as it was, whatever it holds
                self._file.write(data)
                self._entries.append((len(data), None, ""))

    def lines(self) -> Iterator[str | Block]:
        """Everything kept, in order, each as it was given."""
        self._file.seek(0)
        for entry in self._entries:
            if isinstance(entry, Block):
                yield entry
                continue
            size, key, sha256 = entry
            data = self._file.read(size)
            yield data.decode("utf-8", "surrogatepass") if key is None else Block.of(key, data, sha256)


def _page(outline: Outline, cache: BuildCache | None, style: PrintStyle, review: bool, folder: Path | None = None) -> Iterator[str | Block]:
    """The lines of one page, made as they are written: the review page, or (not `review`) the
    questions page with its answer key at the end. Each question's printed texts come from
    `cache` where they can, and each topic's part from the last build's page where it can. Only
    the answer key is held until the end of the page, which it follows: in a temporary file in
    `folder` (see `_Spooled`)."""
    if review:
        yield from _page_lines(outline, cache, style, None)
        return
    with _Spooled(folder) as key_out:
        yield from _page_lines(outline, cache, style, key_out)


def _page_lines(outline: Outline, cache: BuildCache | None, style: PrintStyle, key_out: _Spooled | None) -> Iterator[str | Block]:
    """`_page`'s lines: the review page's with no `key_out`, else the questions page's, with its
    answer key kept in `key_out` until the end."""
    bank = outline.bank
    words = labels(outline.deck.language)
    review = key_out is None
    yield from _head(outline, words.review_sheet if review else words.questions, review, to_print_html(bank.deck.description), style)
    for section in outline.sections:
        if not section.has_questions:
            continue
        section_id = section.section.id
        live = [t for t in section.topics if t.questions]
        cited_sources = _sorted_sources(bank, cited(bank, [n.question for t in live for n in t.questions]))
        bibliography = {source.id: number for number, source in enumerate(cited_sources, start=1)}
        yield f'<section class="section" id="s-{section_id}"><h2>{escape(section.section.title)}</h2><div class="cols">'
        if key_out is not None:
            key_out.add([f'<h3 class="key-section">{escape(section.section.title)}</h3>'])
        for topic in live:
            made = _topic_lines(bank, cache, style, section_id, bibliography, topic, review, not review)
            yield from made[0] if review else made[1]
            if key_out is not None:
                key_out.add(made[2])
        yield "</div>" + _bibliography(bank, section_id, cited_sources) + "</section>" if review else "</div></section>"
    if key_out is not None:
        yield f'<section class="section key" id="answer-key"><h2>{escape(words.answer_key)}</h2><div class="cols">'
        yield from key_out.lines()
        yield "</div></section>"
    yield "</body>"
    yield "</html>"


def review_html(bank: Bank, style: PrintStyle = PrintStyle()) -> str:
    """Every question with its answer, extra and sources, as one printable page."""
    return joined(_page(outline(bank), None, style, review=True))


def questions_html(bank: Bank, style: PrintStyle = PrintStyle()) -> str:
    """The questions only, then an answer key at the end, as one printable page."""
    return joined(_page(outline(bank), None, style, review=False))


def print_pages(
    outline: Outline, cache: BuildCache, style: PrintStyle = PrintStyle(), folder: Path | None = None
) -> tuple[Iterator[str | Block], Iterator[str | Block]]:
    """The lines of both pages (review, questions), each made only as it is written, so that a
    build holds one topic's part of a page at a time, and keeps the answer key in a temporary
    file in `folder`; each text rendered at most once, from `cache` where it can. Each page is
    its lines, each followed by a newline."""
    return _page(outline, cache, style, True, folder), _page(outline, cache, style, False, folder)


@dataclass(frozen=True)
class PrintedCard:
    """A question as a page shows it in full, in printed HTML (MathML math, images inline)."""

    front: str
    """The question: a cloze with its deletions blanked."""
    back: str
    """The question with a cloze's deletions shown (the front, for any other question)."""
    answer: str
    """A basic question's answer, or a compare's whole table; nothing for a cloze."""
    extras: tuple[str, ...]
    """The question's extra, then its rows' extras."""


def printed_cards(bank: Bank, cache: BuildCache | None) -> Callable[[Topic, Question], PrintedCard]:
    """How another page (the site) gets each question in printed HTML, from `cache` where it can."""
    texts_of = question_texts(bank, cache)
    aspect = labels(bank.deck.language).aspect

    def card(topic: Topic, question: Question) -> PrintedCard:
        texts = texts_of(topic, question)
        answer = ""
        if question.type is QuestionType.COMPARE:
            answer = _table(question, texts, with_values=True, aspect=aspect)
        elif question.type is QuestionType.BASIC:
            answer = texts[question.answer]
        extras = tuple(texts[t] for t in ((question.extra,) if question.extra else ()) + question.row_extras)
        return PrintedCard(texts[_shown(question, False)], texts[_shown(question, True)], answer, extras)

    return card
