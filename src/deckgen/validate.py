"""Turn loaded YAML nodes into a validated Bank, collecting every problem on the way.

Validation never stops at the first problem: a contributor sees all of them at once,
each located at the node that causes it.
"""

from __future__ import annotations

import difflib
from collections import Counter
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from deckgen.cache import BuildCache, topic_from_json, topic_json
from deckgen.load import LoadedFile, Mapping, Node, Scalar, Sequence, load_file, read_bank_file
from deckgen.model import (
    clipped,
    Bank,
    CompareRow,
    Deck,
    DeckgenError,
    Diagnostic,
    Location,
    Question,
    QuestionType,
    Section,
    Severity,
    Source,
    SourceKind,
    Topic,
)
from deckgen.lint import QUESTION_RULES, RULES, SOURCE_RULES, TOPIC_RULES
from deckgen.cloze import cloze_blank, cloze_reveal, clozes
from deckgen.links import image_targets, is_safe_url, url_problem
from deckgen.render import MarkdownFacts, markdown_facts, markdown_has_html, to_html, to_sheet_cell, to_sheet_markdown
from deckgen.svg import svg_problem
from deckgen.tex import braces_balanced, tex_problems

DECK_FILE = "deck"
SOURCES_FILE = "sources"
YAML_SUFFIXES = (".yaml", ".yml")

KEBAB_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
YEAR_RE = re.compile(r"[0-9]{4}")
LANG_RE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]+)*")

DECK_KEYS = (("title", "version", "description", "homepage", "sections"), ())
SECTION_KEYS = (("id", "title", "heading"), ())
SOURCES_KEYS = (("sources",), ())
SOURCE_KEYS = (("id", "title", "url", "section"), ("lang", "kind", "authors", "year", "lint"))
TOPIC_KEYS = (("topic", "id", "section", "questions"), ("lint", "retired"))
LINT_KEYS = (("ignore", "reason"), ())
QUESTION_REQUIRED = {
    QuestionType.BASIC: ("id", "question", "answer", "sources"),
    QuestionType.CLOZE: ("id", "question", "sources"),
    QuestionType.COMPARE: ("id", "question", "items", "rows", "sources"),
}
QUESTION_OPTIONAL = {
    QuestionType.BASIC: ("type", "extra", "tags", "lint"),
    QuestionType.CLOZE: ("type", "extra", "tags", "lint"),
    QuestionType.COMPARE: ("type", "extra", "tags", "lint", "retired_rows"),
}
NUMBER_RE = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
ROW_KEYS = (("id", "aspect", "values"), ("extra",))
RETIRED_ROW_KEYS = (("id", "aspect", "values", "reason"), ("extra",))
ALL_QUESTION_KEYS = tuple(sorted({k for keys in (*QUESTION_REQUIRED.values(), *QUESTION_OPTIONAL.values()) for k in keys}))


_TEX_START = frozenset("\\{(^_|") | frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TEX_SYNTAX = frozenset("\\^_{}")


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




def _describe(node: Node) -> str:
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    return "nothing" if node.is_null else f"'{node.value}'"


def _suggest(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


@dataclass
class _Checker:
    """Collects diagnostics while reading nodes into typed values."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    unfolded: dict[Location, str] = field(default_factory=dict)
    """Each folded (`>`) scalar read so far, as a literal scalar would hold it, by where it is written."""
    flawed: set[Location] = field(default_factory=set)
    """Where text already reported as unfit is written: its content is not checked again."""

    def error(self, location: Location, message: str, rule: str) -> None:
        self.diagnostics.append(Diagnostic(location, Severity.ERROR, message, rule))

    def mapping(self, node: Node | None, what: str, location: Location) -> Mapping | None:
        if isinstance(node, Mapping):
            return node
        if isinstance(node, Scalar) and node.reported:
            return None
        found = "nothing" if node is None else _describe(node)
        self.error(node.location if node else location, f"expected {what} to be a mapping, found {found}", "wrong-type")
        return None

    def keys(self, node: Mapping, keys: tuple[tuple[str, ...], tuple[str, ...]], what: str) -> None:
        required, optional = keys
        allowed = (*required, *optional)
        for key, _ in node.items:
            if key.value not in allowed:
                self.error(
                    key.location, f"unknown key '{key.value}' in {what}{_suggest(key.value, allowed)}", "unknown-key"
                )
        misspelt = {_suggest(k.value, allowed) for k, _ in node.items if k.value not in allowed}
        for key_name in required:
            if node.get(key_name) is None and f" (did you mean '{key_name}'?)" not in misspelt:
                self.error(node.location, f"missing required key '{key_name}' in {what}", "missing-key")

    def text(self, node: Mapping, key: str, required: bool = True) -> str | None:
        value = node.get(key)
        if value is None or (isinstance(value, Scalar) and value.reported):
            return None
        if not isinstance(value, Scalar):
            self.error(value.location, f"expected text for '{key}', found {_describe(value)}", "wrong-type")
            return None
        if value.is_null or not value.value.strip():
            if required:
                self.error(value.location, f"'{key}' is empty", "empty-value")
            return None
        self.note(value)
        return value.value

    def note(self, value: Scalar) -> None:
        """Remember what the content checks need to know of a scalar: how it reads unfolded, and whether it is flawed."""
        if value.unfolded is not None:
            self.unfolded[value.location] = value.unfolded
        if value.flawed:
            self.flawed.add(value.location)

    def text_list(self, node: Mapping, key: str, required: bool = True) -> list[Scalar] | None:
        value = node.get(key)
        if value is None or (isinstance(value, Scalar) and value.reported):
            return None
        if isinstance(value, Scalar) and value.is_null:
            if required:
                self.error(value.location, f"'{key}' is empty", "empty-value")
            return None
        if not isinstance(value, Sequence):
            self.error(value.location, f"expected a list for '{key}', found {_describe(value)}", "wrong-type")
            return None
        if required and not value.items:
            self.error(value.location, f"'{key}' is empty", "empty-value")
        items: list[Scalar] = []
        for item in value.items:
            if isinstance(item, Scalar) and item.reported:
                continue
            if not isinstance(item, Scalar) or item.is_null:
                self.error(item.location, f"expected text in '{key}', found {_describe(item)}", "wrong-type")
            else:
                self.note(item)
                items.append(item)
        return items

    def node_list(self, node: Mapping, key: str, what: str) -> list[Node]:
        value = node.get(key)
        if value is None or (isinstance(value, Scalar) and value.reported):
            return []
        if isinstance(value, Scalar) and value.is_null:
            self.error(value.location, f"'{key}' is empty; expected a list of {what}", "empty-value")
            return []
        if not isinstance(value, Sequence):
            self.error(value.location, f"expected a list of {what} for '{key}', found {_describe(value)}", "wrong-type")
            return []
        if not value.items:
            self.error(value.location, f"'{key}' is empty; expected a list of {what}", "empty-value")
        return value.items

    def ident(self, node: Mapping, key: str = "id") -> str | None:
        value = self.text(node, key)
        if value is None:
            return None
        if NUMBER_RE.fullmatch(value):
            self.error(
                self.location_of(node, key),
                f"{key} {clipped(value)} is a number; an id is kebab-case text that starts with a letter",
                "id-format",
            )
        elif not KEBAB_RE.fullmatch(value):
            self.error(
                self.location_of(node, key),
                f"{key} '{clipped(value)}' is not kebab-case: use lowercase letters, digits and single hyphens, starting with a letter",
                "id-format",
            )
        return value

    @staticmethod
    def location_of(node: Mapping, key: str) -> Location:
        value = node.get(key)
        return value.location if value is not None else node.location

    def markdown(self, text: str, location: Location, context: _Context | None = None) -> None:
        """Check a Markdown field as every output will read it: links, images, math, folding and the sheet."""
        if location in self.flawed:
            return
        unfolded = self.unfolded.get(location)
        facts = markdown_facts(text, structure=unfolded is not None)
        for target in dict.fromkeys(facts.links):
            if not is_safe_url(target):
                self.error(location, f"link target '{clipped(target)}' is not an http(s) URL", "link-scheme")
        if context is not None:
            self.images(text, facts.images, location, context)
        elif facts.images:
            self.error(location, "images go in question, answer and extra only", "image")
        self.math(text, facts, location)
        if unfolded is not None:
            self.folding(facts, markdown_facts(unfolded, structure=True), location)
        if "<" in text:
            self.sheet(text, location)

    def math(self, text: str, facts: MarkdownFacts, location: Location) -> None:
        """Every math span is allowed TeX with balanced braces; every `$` opens math that closes."""
        for tex, display in facts.math:
            for problem in tex_problems(tex):
                self.error(location, problem.message, "math-command")
            if not braces_balanced(tex):
                dollars = "$$" if display else "$"
                self.error(location, f"unbalanced braces in math '{clipped(dollars + tex + dollars)}'", "math")
        for stray in facts.stray_dollars:
            if "$$" in stray:
                self.error(location, "'$$' opens display math that is never closed", "math")
                continue
            for at in _unclosed_math(stray):
                snippet = stray[at:][:20].split("\n")[0]
                self.error(location, f"'$' opens math that is never closed, at '{snippet}'; write \\$ for a dollar sign", "math")
        for cloze in clozes(text):
            if cloze.body.count("{") > cloze.body.count("}") and not clozes(cloze.body + "}}"):
                self.error(
                    location,
                    f"cloze deletion '{clipped(cloze.written)}' ends at the first '}}}}': inside math, write '}} }}' instead of '}}}}'",
                    "cloze-deletion",
                )

    def folding(self, folded: MarkdownFacts, unfolded: MarkdownFacts, location: Location) -> None:
        """A folded (`>`) scalar must not join the lines of a code block, a list or a table."""
        if folded.blocks == unfolded.blocks:
            return
        kinds = {"fence": "a fenced code block", "code_block": "an indented code block", "list_item_open": "a list", "tr_open": "a table", "table_open": "a table"}
        lost = sorted({kinds[kind] for kind, _, _ in Counter(unfolded.blocks) - Counter(folded.blocks)} or {"a code block, list or table"})
        self.error(
            location,
            f"'>' folds the lines of {' and '.join(lost)} into one: write '|' instead of '>' to keep its lines",
            "folded-markdown",
        )

    def sheet(self, text: str, location: Location) -> None:
        """What the Markdown sheets print of `text` must hold no HTML for a Markdown viewer to run."""
        for sheet_text in (to_sheet_markdown(text), to_sheet_cell(text)):  # a compare cell is printed as one line
            if markdown_has_html(sheet_text):
                self.error(
                    location,
                    "a '<' here would reach the Markdown sheets as HTML (code spans that do not pair up line by line): "
                    "balance the backticks on each line, or use a fenced code block",
                    "raw-html",
                )
                return

    def lint_ignore(self, node: Mapping, scope: dict[str, str], what: str) -> frozenset[str]:
        """The rules silenced by a `lint: {ignore: [...], reason: ...}` entry."""
        value = node.get("lint")
        if value is None:
            return frozenset()
        entry = self.mapping(value, "'lint'", value.location)
        if entry is None:
            return frozenset()
        self.keys(entry, LINT_KEYS, "'lint'")
        self.text(entry, "reason")
        ignored = set()
        for rule in self.text_list(entry, "ignore") or []:
            if rule.value not in RULES:
                self.error(rule.location, f"unknown lint rule '{rule.value}'{_suggest(rule.value, RULES)}", "unknown-rule")
            elif rule.value not in scope:
                self.error(
                    rule.location,
                    f"lint rule '{rule.value}' does not apply to {what}; rules here: {', '.join(sorted(scope))}",
                    "unknown-rule",
                )
            else:
                ignored.add(rule.value)
        return frozenset(ignored)

    def images(self, text: str, found: tuple[str, ...], location: Location, context: _Context) -> None:
        """Check each image reference and record the file it packs."""
        written = image_targets(text)
        for target in found:
            if target not in written:
                self.error(location, f"image '{clipped(target)}' must be written as ![alt](path), with the path in the same text", "image")
        for target in written:
            packed = _image_problem(target, context)
            if isinstance(packed, str):
                self.error(location, packed, "image")
            else:
                context.media[target] = packed

    def url(self, node: Mapping, key: str, url: str) -> None:
        """A link that stands as it is in cards, templates and sheets: a checked http(s) URL."""
        if self.location_of(node, key) in self.flawed:
            return
        problem = url_problem(url)
        if problem is not None:
            self.error(self.location_of(node, key), f"{key} '{clipped(url)}' {problem}", "invalid-url")

    def deck_name(self, node: Mapping, key: str, title: str) -> None:
        """A title that becomes part of an Anki deck name, where `::` would nest a deck of its own."""
        if self.location_of(node, key) in self.flawed:
            return
        if "::" in title:
            self.error(self.location_of(node, key), f"{key} '{clipped(title)}' holds '::', which Anki reads as a deck inside a deck", "deck-name")
        if not title.isprintable():
            self.error(self.location_of(node, key), f"{key} '{clipped(title)}' holds a line break or tab; a deck name is one line", "deck-name")

    def unique(self, seen: dict[str, Location], value: str, location: Location, what: str, rule: str) -> None:
        first = seen.get(value)
        if first is not None:
            self.error(location, f"duplicate {what} '{value}' (first at {first})", rule)
        else:
            seen[value] = location


def _find(root: Path, stem: str) -> list[Path]:
    return [root / f"{stem}{suffix}" for suffix in YAML_SUFFIXES if (root / f"{stem}{suffix}").is_file()]


def _display(root: Path, path: Path) -> str:
    return (root / path.relative_to(root)).as_posix()


def _read_deck(checker: _Checker, loaded: LoadedFile) -> tuple[Deck | None, set[str]]:
    """The deck, and the section ids it defines even when the rest of it is broken."""
    top = checker.mapping(loaded.root, "deck.yaml", Location(loaded.display))
    if top is None:
        return None, set()
    checker.keys(top, DECK_KEYS, "deck.yaml")
    sections: list[Section] = []
    seen: dict[str, Location] = {}
    for node in checker.node_list(top, "sections", "sections"):
        entry = checker.mapping(node, "a section", node.location)
        if entry is None:
            continue
        checker.keys(entry, SECTION_KEYS, "a section")
        section_id = checker.ident(entry)
        title = checker.text(entry, "title")
        heading = checker.text(entry, "heading")
        if title is not None:
            checker.deck_name(entry, "title", title)
        if section_id is None or title is None or heading is None:
            continue
        checker.unique(seen, section_id, checker.location_of(entry, "id"), "section id", "duplicate-id")
        sections.append(Section(section_id, title, heading, entry.location))
    homepage = checker.text(top, "homepage")
    if homepage is not None:
        checker.url(top, "homepage", homepage)
    title = checker.text(top, "title")
    version = checker.text(top, "version")
    description = checker.text(top, "description")
    if title is not None:
        checker.deck_name(top, "title", title)
    if description is not None:
        checker.markdown(description, checker.location_of(top, "description"))
    section_ids = {s.id for s in sections}
    if title is None or version is None or description is None or homepage is None:
        return None, section_ids
    return Deck(title, version, description, homepage, tuple(sections)), section_ids


def _read_sources(checker: _Checker, loaded: LoadedFile, section_ids: set[str] | None) -> list[Source]:
    top = checker.mapping(loaded.root, "sources.yaml", Location(loaded.display))
    if top is None:
        return []
    checker.keys(top, SOURCES_KEYS, "sources.yaml")
    sources: list[Source] = []
    seen_ids: dict[str, Location] = {}
    seen_urls: dict[str, Location] = {}
    kinds = [k.value for k in SourceKind]
    for node in checker.node_list(top, "sources", "sources"):
        entry = checker.mapping(node, "a source", node.location)
        if entry is None:
            continue
        checker.keys(entry, SOURCE_KEYS, "a source")
        source_id = checker.ident(entry)
        title = checker.text(entry, "title")
        url = checker.text(entry, "url")
        section = checker.text(entry, "section")
        if source_id is not None:
            checker.unique(seen_ids, source_id, checker.location_of(entry, "id"), "source id", "duplicate-id")
        if url is not None:
            checker.url(entry, "url", url)
            checker.unique(seen_urls, url, checker.location_of(entry, "url"), "source url", "duplicate-url")
        if section is not None and section_ids is not None and section not in section_ids:
            checker.error(
                checker.location_of(entry, "section"),
                f"unknown section '{section}'{_suggest(section, section_ids)}; sections are listed in deck.yaml",
                "unknown-section",
            )
        kind = checker.text(entry, "kind", required=False) or SourceKind.ARTICLE.value
        if kind not in kinds:
            checker.error(
                checker.location_of(entry, "kind"),
                f"kind '{kind}' is not one of {', '.join(kinds)}{_suggest(kind, kinds)}",
                "invalid-value",
            )
            kind = SourceKind.ARTICLE.value
        lang = checker.text(entry, "lang", required=False)
        if lang is not None and not LANG_RE.fullmatch(lang):
            checker.error(checker.location_of(entry, "lang"), f"lang '{lang}' is not a language code such as 'en' or 'zh'", "invalid-value")
        year = checker.text(entry, "year", required=False)
        if year is not None and not YEAR_RE.fullmatch(year):
            checker.error(checker.location_of(entry, "year"), f"year '{year}' is not a four-digit year", "invalid-value")
        authors = checker.text_list(entry, "authors", required=False) or []
        lint_ignore = checker.lint_ignore(entry, SOURCE_RULES, "a source")
        if source_id is None or title is None or url is None or section is None:
            continue
        sources.append(
            Source(
                id=source_id,
                title=title,
                url=url,
                section=section,
                location=entry.location,
                kind=SourceKind(kind),
                lang=lang,
                authors=tuple(a.value for a in authors),
                year=year,
                lint_ignore=lint_ignore,
            )
        )
    return sources


@dataclass
class _Context:
    """What every topic is checked against."""

    section_ids: set[str] | None
    source_ids: set[str] | None
    root: Path = Path(".")
    folder: Path = Path(".")
    """The folder of the topic file being read: image paths are relative to it."""
    question_ids: dict[str, Location] = field(default_factory=dict)
    topic_ids: dict[str, Location] = field(default_factory=dict)
    media: dict[str, Path] = field(default_factory=dict)
    """Image targets of the current question, as written, to the files they name."""


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
MAX_IMAGE_BYTES = 1024 * 1024


def _image_problem(target: str, context: _Context) -> Path | str:
    """The image file a target names, or why it cannot be used."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
        return f"image '{target}' is not a file in the bank folder; a remote image would be fetched on every review"
    if target.startswith(("/", "\\")):
        return f"image '{target}' is an absolute path; write it relative to the YAML file"
    try:
        path = (context.folder / target).resolve()
        if not path.is_relative_to(context.root.resolve()):
            return f"image '{target}' is outside the bank folder"
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            return f"image '{target}' is not a {', '.join(s[1:] for s in IMAGE_SUFFIXES)} file"
        if not path.is_file():
            return f"image '{target}' not found"
        size = path.stat().st_size
    except (OSError, RuntimeError) as err:
        return f"image '{target}' cannot be read: {getattr(err, 'strerror', None) or err}"
    if size > MAX_IMAGE_BYTES:
        return f"image '{target}' is {-(-size // 1024)} KiB; at most {MAX_IMAGE_BYTES // 1024} KiB, so it stays quick on phones"
    if path.suffix.lower() == ".svg":
        try:
            problem = svg_problem(path.read_bytes())
        except OSError as err:
            return f"image '{target}' cannot be read: {err.strerror or err}"
        if problem is not None:
            return f"image '{target}': {problem}"
    return path


def _read_rows(checker: _Checker, entry: Mapping, item_count: int) -> list[CompareRow]:
    rows: list[CompareRow] = []
    seen: dict[str, Location] = {}
    live = [(node, False) for node in checker.node_list(entry, "rows", "rows")]
    retired = [(node, True) for node in (checker.node_list(entry, "retired_rows", "retired rows") if entry.get("retired_rows") else [])]
    for node, is_retired in live + retired:
        what = "a retired compare row" if is_retired else "a compare row"
        row = checker.mapping(node, what, node.location)
        if row is None:
            continue
        checker.keys(row, RETIRED_ROW_KEYS if is_retired else ROW_KEYS, what)
        reason = checker.text(row, "reason") if is_retired else None
        if reason is not None:
            checker.markdown(reason, checker.location_of(row, "reason"))
        row_id = checker.ident(row)
        aspect = checker.text(row, "aspect")
        values = checker.text_list(row, "values")
        extra = checker.text(row, "extra", required=False) or ""
        if extra:
            checker.markdown(extra, checker.location_of(row, "extra"))
        if row_id is not None:
            checker.unique(seen, row_id, checker.location_of(row, "id"), "row id", "duplicate-id")
        if values is not None and item_count and len(values) != item_count:
            checker.error(
                checker.location_of(row, "values"),
                f"row has {len(values)} values but the question compares {item_count} items",
                "compare-values",
            )
        for text, loc in [(aspect, checker.location_of(row, "aspect"))] + [(v.value, v.location) for v in values or []]:
            if text is not None:
                checker.markdown(text, loc)
        if row_id is None or aspect is None or values is None or (is_retired and reason is None):
            continue
        rows.append(CompareRow(row_id, aspect, tuple(v.value for v in values), row.location, reason, extra))
    return rows


MAX_CLOZE = 500
"""The highest cloze number a bank may write: Anki refuses a package past 65,536, and no real card needs more than a few."""


def _check_clozes(checker: _Checker, text: str, location: Location) -> None:
    """A cloze text's deletions as Anki will read them from the card deckgen writes: numbered 1 to
    MAX_CLOZE, not empty, not nested, and the same after rendering, so that every deletion makes a card."""
    found = clozes(text)
    if not found:
        checker.error(location, "cloze question has no deletion; mark one as {{c1::text}}", "cloze-deletion")
        return
    for cloze in found:
        number = int(cloze.ordinal) if len(cloze.ordinal) <= 6 else MAX_CLOZE + 1
        if number == 0:
            checker.error(location, "cloze numbers start at 1: Anki makes no card for {{c0::…}}", "cloze-deletion")
        elif number > MAX_CLOZE:
            checker.error(
                location,
                f"cloze number {clipped(cloze.ordinal, 20)} is too high: number deletions from 1 to {MAX_CLOZE} (no card needs more)",
                "cloze-deletion",
            )
        if not cloze.text.strip():
            checker.error(location, f"cloze deletion '{clipped(cloze.written)}' is empty: Anki makes no card for it", "cloze-deletion")
        if clozes(cloze.body + "}}"):
            checker.error(
                location,
                f"cloze deletion '{clipped(cloze.written)}' holds another deletion: write them side by side, not nested",
                "cloze-deletion",
            )
    written = markdown_facts(text)
    for form in (cloze_blank(text), cloze_reveal(text)):
        facts = markdown_facts(form)
        for target in dict.fromkeys(facts.links):
            if target not in written.links and not is_safe_url(target):
                checker.error(location, f"the review sheets would turn this cloze into a link to '{clipped(target)}'", "link-scheme")
        for target in dict.fromkeys(facts.images):
            if target not in written.images:
                checker.error(location, f"the review sheets would turn this cloze into an image of '{clipped(target)}'", "image")
    rendered = [c.ordinal for c in clozes(to_html(text))]
    if rendered != [c.ordinal for c in found]:
        checker.error(
            location,
            "the Markdown around a deletion changes it on the card (a '}}' or '::' inside code or a link?): "
            f"Anki would read deletions {', '.join(rendered) or 'none'} instead of {', '.join(c.ordinal for c in found)}",
            "cloze-deletion",
        )


def _question_type(checker: _Checker, entry: Mapping) -> QuestionType | None:
    raw = checker.text(entry, "type", required=False)
    if raw is None:
        return QuestionType.BASIC
    names = [t.value for t in QuestionType]
    if raw not in names:
        checker.error(
            checker.location_of(entry, "type"),
            f"type '{raw}' is not one of {', '.join(names)}{_suggest(raw, names)}",
            "invalid-value",
        )
        return None
    return QuestionType(raw)


def _read_question(
    checker: _Checker, entry: Mapping, topic_id: str, section: str, context: _Context, retired: bool = False
) -> Question | None:
    qtype = _question_type(checker, entry)
    extra_keys = ("reason",) if retired else ()
    if qtype is None:
        checker.keys(entry, ((), ALL_QUESTION_KEYS + extra_keys), "a question")
        return None
    what = f"a retired {qtype.value} question" if retired else f"a {qtype.value} question"
    checker.keys(entry, (QUESTION_REQUIRED[qtype] + extra_keys, QUESTION_OPTIONAL[qtype]), what)
    reason = checker.text(entry, "reason") if retired else None
    if reason is not None:
        checker.markdown(reason, checker.location_of(entry, "reason"))
    qid = checker.ident(entry)
    if qid is not None:
        checker.unique(context.question_ids, qid, checker.location_of(entry, "id"), "question id", "duplicate-id")
    question = checker.text(entry, "question")
    answer = checker.text(entry, "answer") if qtype is QuestionType.BASIC else None
    extra = checker.text(entry, "extra", required=False) or ""
    context.media = {}
    for key, text in (("question", question), ("answer", answer), ("extra", extra)):
        if text:
            checker.markdown(text, checker.location_of(entry, key), context)
    if qtype is QuestionType.CLOZE and question is not None and checker.location_of(entry, "question") not in checker.flawed:
        _check_clozes(checker, question, checker.location_of(entry, "question"))
    sources = checker.text_list(entry, "sources") or []
    for source in sources:
        if context.source_ids is not None and source.value not in context.source_ids:
            checker.error(
                source.location,
                f"unknown source '{source.value}'{_suggest(source.value, context.source_ids)}; sources are listed in sources.yaml",
                "unknown-source",
            )
    tags = checker.text_list(entry, "tags", required=False) or []
    for tag in tags:
        if any(ch.isspace() for ch in tag.value):
            checker.error(tag.location, f"tag '{tag.value}' contains a space; Anki tags cannot", "tag-format")
    items: list[Scalar] = []
    rows: list[CompareRow] = []
    if qtype is QuestionType.COMPARE:
        items = checker.text_list(entry, "items") or []
        for item in items:
            checker.markdown(item.value, item.location)
        if entry.get("items") is not None and 0 < len(items) < 2:
            checker.error(checker.location_of(entry, "items"), "a compare question needs at least two items", "compare-values")
        rows = _read_rows(checker, entry, len(items))
    lint_ignore = checker.lint_ignore(entry, QUESTION_RULES, "a question")
    if qid is None or question is None or (qtype is QuestionType.BASIC and answer is None) or not sources:
        return None
    if retired and reason is None:
        return None
    return Question(
        id=qid,
        type=qtype,
        question=question,
        location=entry.location,
        topic=topic_id,
        section=section,
        answer=answer or "",
        extra=extra,
        sources=tuple(s.value for s in sources),
        tags=tuple(t.value for t in tags),
        items=tuple(i.value for i in items),
        rows=tuple(rows),
        lint_ignore=lint_ignore,
        field_locations=tuple((key.value, value.location) for key, value in entry.items),
        retired=reason,
        images=tuple(sorted(context.media.items())),
    )


def _read_topic(checker: _Checker, loaded: LoadedFile, context: _Context) -> Topic | None:
    top = checker.mapping(loaded.root, "a topic file", Location(loaded.display))
    if top is None:
        return None
    checker.keys(top, TOPIC_KEYS, "a topic file")
    topic_id = checker.ident(top)
    title = checker.text(top, "topic")
    section = checker.text(top, "section")
    if title is not None:
        checker.deck_name(top, "topic", title)
    if topic_id is not None:
        checker.unique(context.topic_ids, topic_id, checker.location_of(top, "id"), "topic id", "duplicate-id")
    if section is not None and context.section_ids is not None and section not in context.section_ids:
        checker.error(
            checker.location_of(top, "section"),
            f"unknown section '{section}'{_suggest(section, context.section_ids)}; sections are listed in deck.yaml",
            "unknown-section",
        )
    lint_ignore = checker.lint_ignore(top, TOPIC_RULES, "a topic")
    questions: list[Question] = []
    retired: list[Question] = []
    live_nodes = [(node, False) for node in checker.node_list(top, "questions", "questions")]
    retired_nodes = [(node, True) for node in (checker.node_list(top, "retired", "retired questions") if top.get("retired") else [])]
    for node, is_retired in live_nodes + retired_nodes:
        entry = checker.mapping(node, "a retired question" if is_retired else "a question", node.location)
        if entry is None:
            continue
        question = _read_question(checker, entry, topic_id or "", section or "", context, is_retired)
        if question is not None:
            (retired if is_retired else questions).append(question)
    if topic_id is None or title is None or section is None:
        return None
    return Topic(topic_id, title, section, loaded.path, top.location, tuple(questions), lint_ignore, tuple(retired))


def _link_problem(root: Path, path: Path) -> str | None:
    """Why deckgen does not read the link `path`, or None for a link to a file inside the bank."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return "is a link to a file that does not exist"
    except (OSError, RuntimeError):
        return "is a link that leads nowhere (a loop of links)"
    if not target.is_relative_to(root.resolve()):
        return "is a link that leads outside the bank folder; deckgen reads only files inside it"
    if target.is_dir():
        return "is a link to a folder; deckgen does not follow links to folders: move the files into the bank"
    return None


def topic_files(root: Path) -> tuple[list[Path], list[Diagnostic]]:
    """Every topic bank under `root` (YAML files other than deck and sources, hidden ones skipped),
    and what stopped a file or folder from being read: nothing outside the bank is ever read."""
    found: list[Path] = []
    problems: list[Diagnostic] = []

    def problem(path: Path, message: str) -> None:
        problems.append(Diagnostic(Location(_display(root, path)), Severity.ERROR, message, "bank-file"))

    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            problem(folder, f"cannot read this folder: {err.strerror or err}")
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith(".") or (folder == root and path.stem in (DECK_FILE, SOURCES_FILE)):
                continue  # deck and sources are read, and checked, on their own
            is_yaml = path.suffix in YAML_SUFFIXES
            if entry.is_symlink():
                link = _link_problem(root, path)
                if link is not None and (is_yaml or path.is_dir()):
                    problem(path, link)
                    continue
            elif entry.is_dir(follow_symlinks=False):
                folders.append(path)
                continue
            if not is_yaml:
                continue
            if path.is_file():
                found.append(path)
            else:
                problem(path, "is not a regular file (a pipe, socket or device?); a topic file is a plain YAML file")
    return sorted(found, key=lambda p: p.relative_to(root).as_posix()), problems


def _load_one(checker: _Checker, root: Path, stem: str) -> LoadedFile | None:
    candidates = _find(root, stem)
    for candidate in candidates:
        link = _link_problem(root, candidate) if candidate.is_symlink() else None
        if link is not None:
            checker.error(Location(_display(root, candidate)), link, "bank-file")
            return None
    if not candidates:
        checker.error(
            Location((root / f"{stem}.yaml").as_posix()),
            f"missing {stem}.yaml: every bank folder needs one",
            "missing-file",
        )
        return None
    if len(candidates) > 1:
        checker.error(
            Location(_display(root, candidates[1])),
            f"both {candidates[0].name} and {candidates[1].name} exist; keep one",
            "duplicate-file",
        )
    loaded = load_file(candidates[0], _display(root, candidates[0]))
    checker.diagnostics.extend(loaded.diagnostics)
    return loaded


def _topic_key(data: bytes, display: str, context: _Context) -> str | None:
    """What a topic file's reading depends on, hashed: its bytes, its name, and the ids it may refer to."""
    if context.section_ids is None or context.source_ids is None:
        return None
    parts = [display, hashlib.sha256(data).hexdigest(), sorted(context.section_ids), sorted(context.source_ids)]
    return "topic:" + hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


def _cached_topic(checker: _Checker, cache: BuildCache, key: str, path: Path, context: _Context) -> Topic | None:
    """A topic file as the last build read it, if it is unchanged; its ids are checked
    against the other files' as if it had been read again."""
    data = cache.get(key)
    if not isinstance(data, dict):
        return None
    try:
        topic, id_location, warnings = topic_from_json(data, path)
    except (KeyError, TypeError, ValueError, RecursionError):
        return None
    questions = (*topic.questions, *topic.retired)
    if (
        context.section_ids is None
        or context.source_ids is None
        or topic.section not in context.section_ids
        or len({q.id for q in questions}) != len(questions)
        or any(q.topic != topic.id or q.section != topic.section or not context.source_ids.issuperset(q.sources) for q in questions)
    ):
        return None  # not what deckgen stored for a file that passed: read the file instead
    checker.diagnostics.extend(warnings)
    checker.unique(context.topic_ids, topic.id, id_location, "topic id", "duplicate-id")
    for question in questions:
        checker.unique(context.question_ids, question.id, question.location_of("id"), "question id", "duplicate-id")
    return topic


def validate_bank(root: Path, cache: BuildCache | None = None) -> tuple[Bank | None, list[Diagnostic]]:
    """Load and check every file of a bank folder; the bank is None when any error was found.

    With a build's cache, a topic file that is unchanged since the last build (and checked
    against the same sections and sources) is taken from it instead of being read again.
    """
    checker = _Checker()
    if not root.is_dir():
        checker.error(Location(root.as_posix()), "bank folder not found", "missing-file")
        return None, checker.diagnostics
    deck_file = _load_one(checker, root, DECK_FILE)
    sources_file = _load_one(checker, root, SOURCES_FILE)
    # When deck.yaml or sources.yaml cannot be read, ids that refer to them are not
    # checked: every reference would be reported as unknown, hiding the real problem.
    section_ids: set[str] | None = None
    deck = None
    if deck_file and deck_file.root is not None:
        deck, section_ids = _read_deck(checker, deck_file)
    source_ids: set[str] | None = None
    sources: list[Source] = []
    if sources_file and sources_file.root is not None:
        sources = _read_sources(checker, sources_file, section_ids)
        source_ids = {s.id for s in sources}
    context = _Context(section_ids, source_ids, root=root)
    paths, unreadable = topic_files(root)
    checker.diagnostics.extend(unreadable)
    if not paths:
        checker.error(Location(root.as_posix()), "no topic banks: add a YAML file with 'topic:' and 'questions:'", "no-banks")
    topics: list[Topic] = []
    for path in paths:
        context.folder = path.parent
        display = _display(root, path)
        # Read once: the bytes that are hashed for the cache are the bytes that are parsed.
        data = read_bank_file(path) if cache is not None else None
        key = _topic_key(data, display, context) if cache is not None and data is not None else None
        if cache is not None and key is not None:
            cached = _cached_topic(checker, cache, key, path, context)
            if cached is not None:
                topics.append(cached)
                continue
        start = len(checker.diagnostics)
        loaded = load_file(path, display, data)
        checker.diagnostics.extend(loaded.diagnostics)
        if loaded.root is None:
            continue
        topic = _read_topic(checker, loaded, context)
        if topic is not None:
            topics.append(topic)
            found = checker.diagnostics[start:]
            clean = all(d.severity is Severity.WARNING for d in found)
            if cache is not None and key is not None and clean and isinstance(loaded.root, Mapping):
                entry = topic_json(topic, checker.location_of(loaded.root, "id"), found)
                if entry is not None:
                    cache.put(key, entry)
    diagnostics = sorted(checker.diagnostics, key=Diagnostic.sort_key)
    if deck is None or any(d.severity is Severity.ERROR for d in diagnostics):
        return None, diagnostics
    bank = Bank(root, deck, tuple(sources), tuple(topics), tuple(diagnostics))
    return bank, diagnostics


def load_bank(root: Path) -> Bank:
    """The validated bank at `root`, or DeckgenError with every problem found."""
    bank, diagnostics = validate_bank(root)
    if bank is None:
        raise DeckgenError(diagnostics)
    return bank
