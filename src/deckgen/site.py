"""The deck on the web: a static site to browse, search and study every card, that works from
any static host and from `file://`, with no network access and nothing from elsewhere.

- `index.html`: what the deck is, its version, downloads, search and the contents;
- `<section>/<topic>.html`: every card of a topic as the learner sees it, each at its own
  anchor (`#<question-id>`), with a study mode that hides the answers until revealed;
- `q/index.html#<question-id>`: a card's permanent address, which never changes when a card
  moves topic: a small script looks the id up in `assets/pages.js` (retired cards say why);
- `assets/`: the style sheet, the script, the search index (a script file, which `file://`
  allows) and MiniSearch, vendored.

Card text is the printed sheets' HTML (MathML math, images inline), which check has made
inert; everything else is escaped here, and the search index is JSON in a script file with
`<` escaped, which the page shows as text only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from html import escape, unescape
from importlib.resources import files
from urllib.parse import quote

from deckgen.anki.notetypes import changelog_url, report_url
from deckgen.cache import Block, BuildCache
from deckgen.labels import labels
from deckgen.model import Bank, Question, Topic
from deckgen.outline import Outline, TopicOutline
from deckgen.printsheet import PrintedCard, printed_cards

ASSETS = ("site.css", "site.js", "minisearch.js")
"""The site's fixed files, in `deckgen/site_assets/`, copied into `assets/`."""

_TAG_RE = re.compile(r"<[^<>]*>")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class SiteWords:
    """The site's own words in one language."""

    contents: str
    download: str
    search: str
    search_hint: str
    study: str
    study_help: str
    reveal: str
    report: str
    edit: str
    sources: str
    anki_deck: str
    changelog: str
    notes_cards: str
    retired: str
    no_script: str
    cards: str
    """`{n} cards`."""


WORDS = {
    "en": SiteWords(
        "Contents", "Download", "Search", "Search the questions, answers and extras", "Study mode",
        "Space reveals the answer; the arrow keys move between cards.", "Show the answer", "report a problem",
        "suggest an edit", "Sources", "Anki deck (.apkg)", "changelog", "notes / cards", "This card was retired",
        "This address opens a card with a small script; turn JavaScript on, or use the contents.",
        "{n} cards",
    ),
    "zh": SiteWords(
        "目录", "下载", "搜索", "搜索题目、答案与补充说明", "自测模式",
        "空格键显示答案，方向键在卡片间移动。", "显示答案", "报告问题",
        "建议修改", "出处", "Anki 卡组（.apkg）", "更新日志", "笔记 / 卡片", "这张卡片已停用",
        "这个地址用一小段脚本打开卡片；请启用 JavaScript，或使用目录。",
        "{n} 张卡片",
    ),
}


def page_path(topic: Topic) -> str:
    """A topic's page, from the site's root: `<section>/<topic>.html`."""
    return f"{topic.section}/{topic.id}.html"


def _plain(html: str) -> str:
    """Printed HTML as the search index holds it: text only, on one line."""
    return _SPACE_RE.sub(" ", unescape(_TAG_RE.sub(" ", html))).strip()


def _script_json(value: object) -> str:
    """`value` as JSON for a script file: no `<` that could end a script or open a comment."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _head(title: str, language: str, root: str) -> list[str]:
    return [
        "<!doctype html>",
        f'<html lang="{labels(language).html_lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f'<link rel="stylesheet" href="{root}assets/site.css">',
        "</head>",
    ]


def _scripts(root: str, search: bool) -> list[str]:
    names = (["minisearch.js", "search-index.js"] if search else []) + ["site.js"]
    return [f'<script src="{root}assets/{name}"></script>' for name in names]


def _edit_url(bank: Bank, topic: Topic, question: Question) -> str | None:
    """The question's line in the repository's web editor, for a homepage on GitHub (the bank
    folder sits at the repository's top, as `questions/` does)."""
    base = _edit_base(bank, topic)
    return None if base is None else f"{base}#L{question.location.line}"


def _edit_base(bank: Bank, topic: Topic) -> str | None:
    """The topic's file in the repository's web editor, for a homepage on GitHub."""
    base = bank.deck.homepage.rstrip("/")
    if not base.startswith(("https://github.com/", "https://www.github.com/")):
        return None
    try:
        within = topic.path.resolve().relative_to(bank.root.resolve()).as_posix()
    except ValueError:
        return None
    return f"{base}/edit/main/{quote(bank.root.resolve().name)}/{quote(within)}"


def _card(bank: Bank, topic: Topic, question: Question, card: PrintedCard, words: SiteWords) -> str:
    """One card: the front, then the back (hidden in study mode), its sources and its links."""
    qid = escape(question.id)
    back = [card.back] if card.back != card.front else []
    back += [f'<div class="answer">{card.answer}</div>'] if card.answer else []
    back += [f'<div class="extra">{extra}</div>' for extra in card.extras]
    sources = "".join(
        f'<li><a href="{escape(bank.source(s).url)}">{escape(bank.source(s).title)}</a> <span class="site">({escape(bank.source(s).site)})</span></li>'
        for s in question.sources
    )
    back.append(f'<div class="sources"><h3>{words.sources}</h3><ul>{sources}</ul></div>')
    report = report_url(bank.deck.homepage).replace("{{ID}}", quote(question.id))
    edit = _edit_url(bank, topic, question)
    links = [f'<a class="permalink" href="#{qid}">{qid}</a>', f'<a href="{report}">{words.report}</a>']
    if edit:
        links.append(f'<a href="{escape(edit)}">{words.edit}</a>')
    return (
        f'<article class="card" id="{qid}" tabindex="-1"><div class="front">{card.front}</div>'
        f'<button type="button" class="reveal">{words.reveal}</button>'
        f'<div class="back">{"".join(back)}</div><footer>{" · ".join(links)}</footer></article>'
    )


def topic_page(bank: Bank, topic: Topic, questions: list[Question], card_of: Callable[[Topic, Question], PrintedCard]) -> list[str]:
    """A topic's page: every live card of it, in order."""
    words, deck = WORDS[bank.deck.language], bank.deck
    section = bank.section(topic.section)
    out = _head(f"{topic.title} · {deck.title}", bank.deck.language, "../")
    out += [
        "<body>",
        f'<header><nav aria-label="breadcrumb"><a href="../index.html">{escape(deck.title)}</a> › {escape(section.title)}</nav>',
        f"<h1>{escape(topic.title)}</h1>",
        f'<p class="study-toggle"><label><input type="checkbox" id="study"> {words.study}</label> <span class="help">{words.study_help}</span></p></header>',
        "<main>",
    ]
    out += [_card(bank, topic, q, card_of(topic, q), words) for q in questions]
    out += ["</main>", *_scripts("../", False), "</body>", "</html>"]
    return out


def _card_count(questions: tuple[Question, ...], cache: BuildCache | None) -> int:
    """How many cards `questions` make, counted again in a process that builds again and again
    (with `cache`) only when one of them changed."""

    def count() -> int:
        return sum(question.card_count for question in questions)

    return count() if cache is None else cache.derived("card-count", questions, None, count)


def index_page(
    bank: Bank, outline: Outline, description: str, downloads: list[tuple[str, str]], other: list[tuple[str, str, str]], cache: BuildCache | None = None
) -> list[str]:
    """The home page: the deck, its downloads, search and contents (each topic's cards counted
    again only when it changed, with `cache`; see `_card_count`)."""
    words, deck = WORDS[bank.deck.language], bank.deck
    changelog = changelog_url(deck.homepage, deck.version)
    out = _head(deck.title, bank.deck.language, "")
    switch = " · ".join(f'<a href="{escape(href)}" hreflang="{escape(lang)}">{escape(name)}</a>' for name, href, lang in other)
    out += [
        "<body>",
        f"<header><h1>{escape(deck.title)}</h1>",
        f'<p class="meta">{escape(labels(deck.language).version.format(version=deck.version))} · {escape(outline.counts)} · '
        f'<a href="{changelog}">{words.changelog}</a>{" · " + switch if switch else ""}</p></header>',
        "<main>",
        f'<section class="intro">{description}</section>',
        f'<section><h2>{words.download}</h2><ul class="downloads">'
        + "".join(f'<li><a href="{escape(href)}">{escape(name)}</a></li>' for name, href in downloads)
        + "</ul></section>",
        f'<section role="search"><h2><label for="q">{words.search}</label></h2>'
        f'<input id="q" type="search" placeholder="{escape(words.search_hint)}" autocomplete="off"><ol id="results"></ol></section>',
        f"<section><h2>{words.contents}</h2><ol class=\"contents\">",
    ]
    for section in outline.sections:
        topics = "".join(
            f'<li><a href="{escape(page_path(t.topic))}">{escape(t.topic.title)}</a></li>' for t in section.topics if t.questions
        )
        if not topics:
            continue
        cards = sum(_card_count(tuple(n.question for n in t.questions), cache) for t in section.topics)
        out.append(f'<li>{escape(section.section.title)} <span class="count">({words.cards.format(n=cards)})</span><ol>{topics}</ol></li>')
    out += ["</ol></section>", "</main>", *_scripts("", True), "</body>", "</html>"]
    return out


def permalink_page(bank: Bank) -> list[str]:
    """`q/index.html`: opens the card its address names (`q/#<id>`), wherever it now lives."""
    words = WORDS[bank.deck.language]
    out = _head(bank.deck.title, bank.deck.language, "../")
    out += [
        '<body class="permalink-page">',
        f'<main><p id="where"><noscript>{words.no_script}</noscript></p><p><a href="../index.html">{escape(bank.deck.title)}</a></p></main>',
        '<script src="../assets/pages.js"></script>',
        *_scripts("../", False),
        "</body>",
        "</html>",
    ]
    return out


def _topic_pages(topic: Topic) -> dict[str, object]:
    """Where each card of `topic` lives, or why it was retired (see `pages_script`)."""
    pages: dict[str, object] = {}
    for question in topic.questions:
        # A compare row's card (`<question>/<row>`, its ID in Anki) opens its question's card.
        where = f"{page_path(topic)}#{question.id}"
        pages[question.id] = where
        for row in question.rows:
            pages[f"{question.id}/{row.id}"] = where if row.retired is None else {"retired": _plain(row.retired)}
    for question in topic.retired:
        pages[question.id] = {"retired": _plain(question.retired or "")}
        for row in question.rows:
            pages[f"{question.id}/{row.id}"] = {"retired": _plain(question.retired or "")}
    return pages


def _topic_pages_json(topic: Topic) -> tuple[tuple[str, ...], str]:
    """The ids of `_topic_pages`, and its entries as `pages_script` writes them (its JSON, without the braces)."""
    pages = _topic_pages(topic)
    return tuple(pages), _script_json(pages)[1:-1]


def pages_script(bank: Bank, whole: Bank, cache: BuildCache | None = None) -> str:
    """`assets/pages.js`: where each card of the whole bank lives (its page and anchor), and why
    a retired one was retired; by the id a card shows in Anki. A process that builds again and
    again (with `cache`) writes each topic's entries again only when the topic changed."""
    words = WORDS[bank.deck.language]
    retired = _script_json(words.retired)
    if cache is not None:
        parts = [cache.derived("site-pages", (topic,), None, partial(_topic_pages_json, topic)) for topic in whole.topics]
        # Each id once, as in the bank that passed its checks: a table of them all has their entries in this order.
        if sum(len(ids) for ids, _ in parts) == len({i for ids, _ in parts for i in ids}):
            entries = ",".join(text for ids, text in parts if ids)
            return f"window.DECKGEN_PAGES={{{entries}}};\nwindow.DECKGEN_RETIRED={retired};\n"
    pages: dict[str, object] = {}
    for topic in whole.topics:
        pages.update(_topic_pages(topic))
    return f"window.DECKGEN_PAGES={_script_json(pages)};\nwindow.DECKGEN_RETIRED={retired};\n"


SEARCHED = ("question", "answer", "extra")
"""What the search index holds of each card, as text."""


def _cached_search(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict) or sorted(value) != sorted(SEARCHED) or not all(isinstance(v, str) for v in value.values()):
        return None
    return value


def search_texts(bank: Bank, cache: BuildCache | None) -> Callable[[Topic, Question], dict[str, str]]:
    """How the search index gets each card's text (its question, its answer and its extra, from
    its printed HTML), from `cache` where it can."""
    card_of = printed_cards(bank, cache)

    def plain(topic: Topic, question: Question) -> dict[str, str]:
        card = card_of(topic, question)
        return {"question": _plain(card.front), "answer": _plain(card.back + " " + card.answer), "extra": _plain(" ".join(card.extras))}

    if cache is None:
        return plain
    prefix = f"search-{bank.deck.language}:"

    def texts(topic: Topic, question: Question) -> dict[str, str]:
        return cache.memo(prefix + cache.question_key(bank, topic, question), lambda: plain(topic, question), _cached_search)

    return texts


def search_script(bank: Bank, whole: Bank, outline: Outline, cache: BuildCache | None) -> Iterator[str | Block]:
    """`assets/search-index.js`: every live card's text, for MiniSearch, as a script file (which
    `file://` may load, where a fetched index would be refused); each topic's cards read back
    from the last build's file where it can (see `BuildCache.blocks`). Made a topic at a time, as
    it is written: the index is the largest file of a site (5 MB at 10,000 cards), and what it
    is made from larger still."""
    texts_of = search_texts(whole, cache)
    # As `_script_json` writes {"language": …, "documents": [...]}, a document at a time.
    yield f'window.DECKGEN_SEARCH={{"language":{_script_json(bank.deck.language)},"documents":['
    first = True
    for section in outline.sections:
        for topic in section.topics:
            if not topic.questions:
                continue

            def make(topic: TopicOutline = topic) -> list[dict[str, str]]:
                made = []
                for numbered in topic.questions:
                    texts = texts_of(topic.topic, numbered.question)
                    made.append({"id": numbered.question.id, "page": page_path(topic.topic), "topic": topic.topic.title, **{name: texts[name] for name in SEARCHED}})
                return made

            def text(make: Callable[[], list[dict[str, str]]] = make) -> str:
                return ",".join(_script_json(document) for document in make())

            if not first:
                yield ","
            first = False
            if cache is None:
                yield text()
                continue
            # What the topic's part shows: its page, its title, and each card's id and texts.
            chosen = [n.question for n in topic.questions]

            def parts(keys: tuple[str, ...], topic: Topic = topic.topic, chosen: list[Question] = chosen) -> object:
                return (whole.deck.language, page_path(topic), topic.title, [(q.id, key) for q, key in zip(chosen, keys)])

            keys, digest = cache.topic_digest("search-topic", whole, topic.topic, chosen, whole.deck.language, parts)
            yield cache.text_block("search-topic", digest, (f"search-{whole.deck.language}:{key}" for key in keys), text)
    yield "]};\n"


def asset(name: str) -> bytes:
    """One of the site's fixed files."""
    return files("deckgen").joinpath("site_assets", name).read_bytes()


def site_pages(
    bank: Bank, whole: Bank, outline: Outline, cache: BuildCache | None, description: str, downloads: list[tuple[str, str]], other: list[tuple[str, str, str]]
) -> dict[str, Callable[[], str | Block | Iterator[str | Block]]]:
    """Every generated file of the site, by its path from the site's root: each made when it is
    asked for, so that a build holds one page at a time (a topic's page read back from the last
    build where it can; the search index made in parts, as it is written)."""
    card_of = printed_cards(whole, cache)
    pages: dict[str, Callable[[], str | Block | Iterator[str | Block]]] = {"index.html": lambda: "\n".join(index_page(bank, outline, description, downloads, other, cache)) + "\n"}
    for section in outline.sections:
        for topic in section.topics:
            if topic.questions:
                pages[page_path(topic.topic)] = partial(_topic_page_text, bank, whole, topic.topic, [n.question for n in topic.questions], card_of, cache)
    pages["q/index.html"] = lambda: "\n".join(permalink_page(bank)) + "\n"
    pages["assets/pages.js"] = lambda: pages_script(bank, whole, cache)
    pages["assets/search-index.js"] = lambda: search_script(bank, whole, outline, cache)
    return pages


def _topic_page_text(
    bank: Bank, whole: Bank, topic: Topic, questions: list[Question], card_of: Callable[[Topic, Question], PrintedCard], cache: BuildCache | None
) -> str | Block:
    """A topic's page, read back from the last build where it can."""

    def make() -> list[str]:
        return topic_page(bank, topic, questions, card_of)

    if cache is None:
        return "\n".join(make()) + "\n"
    # What the page shows: the deck's title, the section's and the topic's, and each card with
    # its link to the web editor (which names the question's line).
    around = (bank.deck.language, bank.deck.title, bank.section(topic.section).title, _edit_base(bank, topic))

    def parts(keys: tuple[str, ...]) -> object:
        return (*around[:3], topic.title, around[3], [(key, q.location.line) for q, key in zip(questions, keys)])

    keys, digest = cache.topic_digest("site-topic", whole, topic, questions, around, parts)
    return cache.block("site-topic", digest, ("print:" + key for key in keys), make)
