"""The shipped bank registers every link of the reading list, cleaned, in its sections."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from deckgen.load import load_bank
from tests.conftest import ROOT

READING_LIST = ROOT / "docs" / "reading-list.md"
WECHAT_KEEP = ["__biz", "mid", "idx", "sn"]


def reading_list() -> list[tuple[str, str, str]]:
    """(heading, title, url) for every link, in order; a bare URL is its own title."""
    links = []
    heading = ""
    for line in READING_LIST.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^# (.+)", line):
            heading = match.group(1).strip()
        for title, url in re.findall(r"\[([^\]]+)\]\((https?://[^)]+)\)", line):
            links.append((heading, title, url))
        if match := re.match(r"^\s*- (https?://\S+)$", line):
            links.append((heading, match.group(1), match.group(1)))
    return links


def clean(url: str) -> str:
    """The reading list's URL without WeChat's personal share tokens."""
    if not url.startswith("https://mp.weixin.qq.com/s?"):
        return url
    query = dict(parse_qsl(urlsplit(url).query.split("#")[0], keep_blank_values=True))
    raw = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("#")[0].split("&"))
    assert set(WECHAT_KEEP) <= set(query)
    return "https://mp.weixin.qq.com/s?" + "&".join(f"{k}={raw[k]}" for k in WECHAT_KEEP)


def test_reading_list_has_59_links_in_9_sections() -> None:
    links = reading_list()
    assert len(links) == 59
    assert len({heading for heading, _, _ in links}) == 9


def test_every_link_is_a_source_with_its_original_title_and_section() -> None:
    bank = load_bank(ROOT / "questions")
    by_url = {s.url: s for s in bank.sources}
    headings = {s.id: s.heading for s in bank.deck.sections}
    for heading, title, url in reading_list():
        source = by_url[clean(url)]
        assert headings[source.section] == heading, url
        if title != url:
            assert source.title == title, url
    listed = {clean(url) for _, _, url in reading_list()}
    # Articles come only from the reading list; papers and code repositories are added beside them.
    assert {s.url for s in bank.sources if s.kind.value == "article"} <= listed


def test_sections_follow_the_reading_list_headings_verbatim() -> None:
    bank = load_bank(ROOT / "questions")
    headings = list(dict.fromkeys(heading for heading, _, _ in reading_list()))
    assert [s.heading for s in bank.deck.sections] == headings
    assert "BERT fimaly" in headings


def test_no_share_tokens_remain() -> None:
    bank = load_bank(ROOT / "questions")
    for source in bank.sources:
        for token in ("exportkey", "pass_ticket", "sharer_", "srcid", "scene", "chksm", "mpshare"):
            assert token not in source.url, source.id


def test_the_article_listed_twice_keeps_both_links() -> None:
    bank = load_bank(ROOT / "questions")
    twice = [s for s in bank.sources if s.title == "层次分解位置编码，让BERT可以处理超长文本"]
    assert sorted((s.section, s.url.split("?")[0]) for s in twice) == [
        ("bert-family", "https://mp.weixin.qq.com/s"),
        ("long-sequence", "https://kexue.fm/archives/7947"),
    ]
