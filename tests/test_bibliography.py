"""Citation keys and each section's bibliography on the printed sheets."""

from __future__ import annotations

from dataclasses import replace

from deckgen.bibliography import cite_keys, family_name, site_name
from deckgen.load import load_bank
from deckgen.model import Location, Source
from tests.conftest import ROOT


def _source(id: str, url: str, year: str | None = None, authors: tuple[str, ...] = ()) -> Source:
    return Source(id, id, url, "s", Location("sources.yaml"), year=year, authors=authors)


def test_keys_are_author_or_site_then_year_told_apart_by_letters_or_numbers() -> None:
    sources = (
        _source("bert", "https://arxiv.org/abs/1810.04805", "2019", ("Jacob Devlin", "Ming-Wei Chang")),
        _source("rope", "https://arxiv.org/abs/2104.09864", "2021"),
        _source("alibi", "https://arxiv.org/abs/2108.12409", "2021"),
        _source("zh-1", "https://zhuanlan.zhihu.com/p/1"),
        _source("zh-2", "https://www.zhihu.com/question/2"),
        _source("wx", "https://mp.weixin.qq.com/s/x"),
        _source("su", "https://spaces.ac.cn/archives/7427"),
        _source("bitfit", "https://arxiv.org/abs/2106.10199", "2022", ("Ben Zaken, Elad", "Shauli Ravfogel")),
    )
    assert cite_keys(sources) == {
        "bert": "Devlin 2019",
        "rope": "Arxiv 2021a",
        "alibi": "Arxiv 2021b",
        "zh-1": "Zhihu 1",
        "zh-2": "Zhihu 2",
        "wx": "Weixin",
        "su": "Spaces",
        "bitfit": "Ben Zaken 2022",
    }
    assert site_name(replace(sources[0], url="https://github.com/google-research/bert")) == "Github"
    assert [family_name(n) for n in ("Jacob Devlin", "Ben Zaken, Elad", "Łukasz Kaiser", ", Elad", "")] == [
        "Devlin",
        "Ben Zaken",
        "Kaiser",
        "Elad",
        "",
    ]


def test_every_shipped_source_has_its_own_key_and_every_chinese_title_a_gloss() -> None:
    bank = load_bank(ROOT / "questions")
    keys = cite_keys(bank.sources)
    assert len(set(keys.values())) == len(bank.sources)
    chinese = [s for s in bank.sources if any("\u4e00" <= c <= "\u9fff" for c in s.title)]
    assert len(chinese) == 56 and all(s.title_en for s in chinese)
    assert all(not any("\u4e00" <= c <= "\u9fff" for c in s.title_en or "") for s in bank.sources)
